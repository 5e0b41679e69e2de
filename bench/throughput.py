"""Target 1: training throughput per (model, method), and model FLOP utilisation (MFU).

Each (model, method) trains in its own process on the same real rows (rt_polarity, ~27 tokens per
text) through tlcore's own method classes and training loop, at their default settings (batch 16,
max length 128). The first step is a warm-up and is not counted.

MFU = model FLOPs per second / the fp32 1024x1024 matmul peak measured in the same process, on the
same number of threads (the better of a measurement just before and just after training). Model
FLOPs count the non-embedding
weights N (attention's own FLOPs are left out: small at ~30 tokens), per non-padding token:
  forward 2N + gradient w.r.t. activations 2 x N_path + gradient w.r.t. trainable weights 2 x N_train,
where N_path is the weights between the output and the lowest trainable parameter. That gives
6N for full fine-tuning, ~4N for LoRA/DoRA/IA3/prompt tuning (frozen weights need no weight
gradient), and 2N + 4 x N_top for freeze (no backward below the trainable top layers).
Prompt tuning also processes its virtual tokens; they count as tokens in its FLOPs only.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TRAINING_METHODS = ("full", "freeze", "lora", "dora", "ia3", "prompt-tuning")
ADAPTERS = ("lora", "dora", "ia3", "prompt-tuning")


def flop_counts(model) -> dict:
    """N (non-embedding weights), N_path and N_train of a prepared model, from requires_grad."""
    from tlcore.methods.full import transformer_layers

    def is_embedding(name: str) -> bool:
        return "embed" in name and "prompt_encoder" not in name

    named = [(n, p) for n, p in model.named_parameters() if "original_module" not in n]  # peft's frozen head copy
    n_all = sum(p.numel() for n, p in named if not is_embedding(n) and "prompt_encoder" not in n)
    n_train = sum(p.numel() for n, p in named if p.requires_grad and not is_embedding(n)
                  and "prompt_encoder" not in n)
    _, layers = transformer_layers(model)
    trainable_input = any(p.requires_grad and (is_embedding(n) or "prompt_encoder" in n) for n, p in named)
    trainable_layers = [i for i, layer in enumerate(layers) if any(p.requires_grad for p in layer.parameters())]
    lowest = 0 if trainable_input else (trainable_layers[0] if trainable_layers else len(layers))
    frozen_below = sum(p.numel() for layer in layers[:lowest] for p in layer.parameters())
    return {"n_nonembedding": n_all, "n_path": n_all - frozen_below, "n_trainable_nonembedding": n_train}


def cell(spec: dict) -> dict:
    """Train one (model, method) for a few steps; tokens/s, examples/s, MFU."""
    import os

    import torch

    if spec.get("threads"):
        os.environ["TLCORE_THREADS"] = str(spec["threads"])

    from tlcore.data import LabeledData
    from tlcore.engine import resolve_model
    from tlcore.engine.callbacks import Callback
    from tlcore.engine.models import model_folder
    from tlcore.engine.runtime import free_cores, torch_threads
    from tlcore.methods import get_method

    with free_cores() as threads_before:  # the peak on as many threads as training is likely to get
        peak_before = common.matmul_peak()
    rows = common.rt_sample(spec["rows"])
    train = LabeledData(list(rows.text), list(rows.label))
    model_spec = resolve_model(spec["model"])
    entry = get_method(spec["method"])
    config = entry.config_cls.from_dict({"epochs": 1, **spec.get("options", {})})
    method = entry.method_cls(config, model_spec, model_folder(model_spec), sorted(set(train.labels)))

    class Steps(Callback):
        def __init__(self) -> None:
            self.events: list[dict] = []

        def on_train_begin(self, model) -> None:
            self.counts = flop_counts(model)

        def on_log(self, event: dict) -> None:
            self.events.append(event)

    steps = Steps()
    method.fit(train, LabeledData([], []), steps)
    with torch_threads(method.training.threads):
        peak_after = common.matmul_peak()
    first, last = steps.events[0], steps.events[-1]
    seconds = last["elapsed"] - first["elapsed"]
    examples = (last["step"] - first["step"]) * config.batch_size  # every counted batch is full
    tokens = last["tokens"] - first["tokens"]
    virtual = getattr(config, "virtual_tokens", 0) if spec["method"] == "prompt-tuning" else 0
    counts = steps.counts
    flops_per_token = 2 * counts["n_nonembedding"] + 2 * counts["n_path"] + 2 * counts["n_trainable_nonembedding"]
    flops = flops_per_token * (tokens + virtual * examples)
    # the better of the two, if both ran on the training's thread count
    peak = max(peak_before, peak_after) if threads_before == method.training.threads else peak_after
    return {"model": spec["model"], "method": spec.get("label", spec["method"]),
            "steps_measured": last["step"] - first["step"],
            "batch_size": config.batch_size, "tokens_per_example": tokens / examples,
            "tokens_per_s": tokens / seconds, "examples_per_s": examples / seconds,
            "model_gflops_per_s": flops / seconds / 1e9, "flops_per_token": flops_per_token,
            "virtual_tokens": virtual, **counts,
            "matmul_peak_gflops": peak, "peak_before": peak_before, "peak_after": peak_after,
            "mfu": flops / seconds / 1e9 / peak, "threads": method.training.threads,
            "default_threads": torch.get_num_threads()}


def plan(quick: bool) -> list[dict]:
    if quick:
        return [{"model": "minilm", "method": m, "rows": 128} for m in ("full", "lora", "ia3")] + \
               [{"model": "smollm2-135m", "method": "lora", "rows": 48}]
    return [{"model": "minilm", "method": m, "rows": 208} for m in TRAINING_METHODS] + \
           [{"model": "smollm2-135m", "method": m, "rows": 64} for m in TRAINING_METHODS]


def run(quick: bool = False) -> dict:
    import os

    import torch

    rows = []
    cells = plan(quick)
    threads, default = int(os.environ.get("TLCORE_THREADS") or 0), torch.get_num_threads()
    if 0 < threads < default:  # what the thread choice buys: the same cell on torch's default thread count
        cells.append({"model": "minilm", "method": "full", "rows": 144, "threads": default,
                      "label": f"full, {default} threads (torch's default)"})
    for spec in cells:
        common.say(f"throughput: {spec['model']} {spec['method']}")
        rows.append(common.run_cell("throughput", spec))
    for row in rows:  # adapters against full fine-tuning of the same model, in the same run
        full = next((r for r in rows if r["model"] == row["model"] and r["method"] == "full"), None)
        row["speed_vs_full"] = row["examples_per_s"] / full["examples_per_s"] if full else None
    targets = []
    full_minilm = next((r for r in rows if r["model"] == "minilm" and r["method"] == "full"), None)
    if full_minilm:
        targets.append(common.target(
            "full fine-tuning of minilm at >= 60 % of the matmul peak", full_minilm["mfu"] >= 0.60,
            f"{full_minilm['mfu']:.0%} ({full_minilm['model_gflops_per_s']:.1f} of "
            f"{full_minilm['matmul_peak_gflops']:.1f} GFLOP/s)"))
    for row in rows:
        if row["method"] in ADAPTERS and row["speed_vs_full"] is not None:
            targets.append(common.target(
                f"{row['method']} on {row['model']}: >= 1.5x the examples/s of full fine-tuning",
                row["speed_vs_full"] >= 1.5, f"{row['speed_vs_full']:.2f}x"))
    table = common.markdown_table(rows, [
        ("model", "model"), ("method", "method"), ("examples_per_s", "examples/s"), ("tokens_per_s", "tokens/s"),
        ("speed_vs_full", "× full"), ("flops_per_token", "FLOPs/token"), ("model_gflops_per_s", "GFLOP/s"),
        ("matmul_peak_gflops", "matmul peak GFLOP/s"), ("mfu", "MFU"), ("threads", "threads"),
        ("peak_rss_mb", "peak RSS MB")])
    return {"name": "throughput", "title": "1. Training throughput and MFU", "rows": rows, "table": table,
            "targets": targets}


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv), indent=2))
