"""Target 1: training throughput per (model, method, precision), and model FLOP utilisation (MFU).

Each (model, method) trains in its own process on the same real rows (rt_polarity, ~27 tokens per
text) through tlcore's own method classes and training loop, at their default settings (batch 16,
max length 128), once in fp32 and once in bf16 mixed precision (tlcore.engine.precision.compute_in,
as a run with --precision bf16 trains) where this CPU's bf16 matmuls are fast (bench/peaks.py's rule);
where they are not, the bf16 cells are skipped and the report says so. The first step is a warm-up
and is not counted.

MFU = model FLOPs per second / a matmul peak of the cell's own precision (fp32 for fp32, bf16 for
bf16), measured in the same process on the training's thread count (the better of a measurement just
before and just after training). Two peaks (bench/peaks.py): the 1024 x 1024 product, and the
model's own weight products at the cell's real tokens per forward slice (shape-matched). The target
is judged on the shape-matched peak: it is what the same products can reach on this machine. The
"CPU share" column says whether a cell had its cores (process CPU seconds per thread and wall second over
the measured steps): on a shared machine a cell well under 1 measured the other processes too.

Model FLOPs count the non-embedding weights N (attention's own FLOPs are left out: small at ~30
tokens), per non-padding token:
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
import peaks  # noqa: E402

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


def matmul_rows(tokenizer, model, texts: list[str], config, virtual: int) -> tuple[float, float]:
    """(mean padded rows of one forward slice: the M of its weight products; the padding share of all tokens),
    from the training loop's own batching of these texts for its first pass (same seed, same order)."""
    import numpy as np

    from tlcore.engine.batching import tokenize
    from tlcore.engine.training import length_grouped_batches, slice_tokens, slices

    lengths = [len(row["input_ids"]) for row in tokenize(tokenizer, texts, config.max_length)]
    batches = length_grouped_batches(lengths, config.batch_size, np.random.default_rng(config.seed))
    parts = [part for batch in batches for part in slices(batch, lengths, slice_tokens(model))]
    padded = [len(part) * (max(lengths[i] for i in part) + virtual) for part in parts]
    return sum(padded) / len(padded), 1 - (sum(lengths) + virtual * len(lengths)) / sum(padded)


def measure_peaks(model, tokens: int, dtype: str, counts: dict) -> dict:
    """Both peaks of ``dtype`` on the current torch threads (see bench/peaks.py)."""
    n = counts["n_nonembedding"]
    shaped = peaks.shape_matched_peak(peaks.layer_linears(model), tokens, dtype,
                                      counts["n_path"] / n, counts["n_trainable_nonembedding"] / n)
    return {"peak_1024": common.matmul_peak(dtype=dtype), "peak_shapes": shaped["gflops"],
            **{f"peak_{kind}": shaped[f"{kind}_gflops"] for kind in ("forward", "input_grad", "weight_grad")}}


def cell(spec: dict) -> dict:
    """Train one (model, method) in one precision for a few steps; tokens/s, examples/s, MFU."""
    import contextlib
    import os
    import time

    import torch

    if spec.get("threads"):
        os.environ["TLCORE_THREADS"] = str(spec["threads"])

    from tlcore.data import LabeledData
    from tlcore.engine import resolve_model
    from tlcore.engine.callbacks import Callback
    from tlcore.engine.models import model_folder
    from tlcore.engine.precision import Precision, compute_in
    from tlcore.engine.runtime import free_cores, torch_threads
    from tlcore.methods import get_method

    dtype = spec.get("precision", "fp32")
    rows = common.rt_sample(spec["rows"])
    train = LabeledData(list(rows.text), list(rows.label))
    model_spec = resolve_model(spec["model"])
    entry = get_method(spec["method"])
    config = entry.config_cls.from_dict({"epochs": 1, **spec.get("options", {})})
    method = entry.method_cls(config, model_spec, model_folder(model_spec), sorted(set(train.labels)))
    virtual = getattr(config, "virtual_tokens", 0) if spec["method"] == "prompt-tuning" else 0

    class Steps(Callback):
        def __init__(self) -> None:
            self.events: list[dict] = []

        def on_train_begin(self, model) -> None:
            self.counts = flop_counts(model)
            self.model = model

        def on_log(self, event: dict) -> None:
            self.events.append({**event, "cpu_s": time.process_time()})

    steps = Steps()
    with free_cores() as threads_before:  # 1024^2 only: the shapes are known once the model is prepared
        peak_before = common.matmul_peak(dtype=dtype)
    mixed = compute_in(Precision(dtype, "bench cell"), "cpu") if dtype != "fp32" else contextlib.nullcontext()
    with mixed:  # as tlcore's worker trains a run of this precision
        method.fit(train, LabeledData([], []), steps)
    tokens_per_slice, padding = matmul_rows(method.tokenizer, steps.model, train.texts, config, virtual)
    with torch_threads(method.training.threads):  # the better of two: another process may take a core for one
        tries = [measure_peaks(steps.model, round(tokens_per_slice), dtype, steps.counts) for _ in range(2)]
    measured = {key: max(t[key] for t in tries) for key in tries[0]}
    first, last = steps.events[0], steps.events[-1]
    seconds = last["elapsed"] - first["elapsed"]
    examples = (last["step"] - first["step"]) * config.batch_size  # every counted batch is full
    tokens = last["tokens"] - first["tokens"]
    counts = steps.counts
    flops_per_token = 2 * counts["n_nonembedding"] + 2 * counts["n_path"] + 2 * counts["n_trainable_nonembedding"]
    flops = flops_per_token * (tokens + virtual * examples)
    # the better of the two, if both ran on the training's thread count
    peak_1024 = max(peak_before, measured["peak_1024"]) if threads_before == method.training.threads \
        else measured["peak_1024"]
    gflops = flops / seconds / 1e9
    # The CPU time this process got over the measured steps, per thread and wall second: under 1 the cell waited for
    # cores other processes held (its figures understate the machine); 1 on one thread means it had its core.
    cpu_share = (last["cpu_s"] - first["cpu_s"]) / (seconds * method.training.threads)
    losses = [event["train_loss"] for event in steps.events[1:]]
    return {"model": spec["model"], "method": spec.get("label", spec["method"]), "precision": dtype,
            "steps_measured": last["step"] - first["step"],
            "batch_size": config.batch_size, "tokens_per_example": tokens / examples,
            "tokens_per_s": tokens / seconds, "examples_per_s": examples / seconds,
            "model_gflops_per_s": gflops, "flops_per_token": flops_per_token,
            "virtual_tokens": virtual, **counts, "tokens_per_slice": tokens_per_slice, "padding": padding,
            **measured, "peak_1024": peak_1024, "peak_1024_before": peak_before,
            "mfu_1024": gflops / peak_1024, "mfu": gflops / measured["peak_shapes"],
            "mean_train_loss": sum(losses) / len(losses), "last_train_loss": losses[-1],
            "threads": method.training.threads, "default_threads": torch.get_num_threads(), "cpu_share": cpu_share}


def plan(quick: bool, models: tuple[str, ...] = (), methods: tuple[str, ...] = ()) -> list[dict]:
    if quick:
        cells = [{"model": "minilm", "method": m, "rows": 128} for m in ("full", "lora", "ia3")] + \
                [{"model": "smollm2-135m", "method": "lora", "rows": 48}]
    else:
        cells = [{"model": "minilm", "method": m, "rows": 208} for m in TRAINING_METHODS] + \
                [{"model": "smollm2-135m", "method": m, "rows": 64} for m in TRAINING_METHODS]
    return [c for c in cells if (not models or c["model"] in models) and (not methods or c["method"] in methods)]


def auto_precision(model: str) -> tuple[str | None, str]:
    """What tlcore's "auto" picks for a CPU run of ``model``, and its reason (None: it could not say). Only the
    keywords its signature has are passed: the rule is free to grow (it may time the model itself, once)."""
    import inspect

    from tlcore.engine import resolve_model
    from tlcore.engine.models import model_folder
    from tlcore.engine.precision import choose_precision

    spec = resolve_model(model)
    offered = {"folder": model_folder(spec), "kind": spec.kind, "name": spec.name}
    accepted = inspect.signature(choose_precision).parameters
    try:
        chosen = choose_precision("cpu", "auto", spec.params, **{k: v for k, v in offered.items() if k in accepted})
    except Exception as error:  # noqa: BLE001 - the bench reports it rather than failing
        return None, f"choose_precision failed: {error}"
    return chosen.name, chosen.reason


def precision_note(check: dict, auto: tuple[str | None, str], chosen: str) -> str:
    """The paragraph above the table: what was measured, what the rule says, what tlcore's auto says."""
    speeds = (f"bf16 {check['bf16_rule_shape']:.0f} vs fp32 {check['fp32_rule_shape']:.0f} GFLOP/s at the rule's "
              f"shape ({check['bf16_speedup']:.2f}x)")
    if "bf16_1024" in check:
        speeds += f", {check['bf16_1024']:.0f} vs {check['fp32_1024']:.0f} at 1024^2"
    verdict = ("bf16 cells measured" if check["bf16_fast"] else
               "bf16 is slow here: its cells are skipped")
    name, reason = auto
    rule = "bf16" if check["bf16_fast"] else "fp32"
    agrees = "" if name in (None, rule) else f" (the bench's matmul rule alone says {rule})"
    return (f"Precision: matmuls measured {speeds}; the bench's rule: {check['rule']}; {verdict}. tlcore's auto "
            f"for minilm on this CPU: {name or 'unknown'} ({reason}){agrees}; the target is judged in {chosen}. "
            "MFU is against the peak of each "
            "cell's own precision; the target uses the shape-matched peak (the model's own products at its "
            "tokens per slice); the 1024^2 one is shown beside it.\n\n")


def run(quick: bool = False, models: tuple[str, ...] = (), methods: tuple[str, ...] = ()) -> dict:
    import os

    import torch

    check = peaks.precision_check()
    auto = auto_precision("minilm")  # the target's model
    # The target is judged in the precision a run trains in: auto's choice, or the measured rule's without one.
    chosen = auto[0] or ("bf16" if check["bf16_fast"] else "fp32")
    common.say(f"throughput: bf16 matmul {check['bf16_speedup']:.2f}x fp32; auto on this CPU: {auto[0]}")
    precisions = ("fp32", "bf16") if check["bf16_fast"] or chosen == "bf16" else ("fp32",)
    rows = []
    cells = [{**spec, "precision": p} for spec in plan(quick, models, methods) for p in precisions]
    threads, default = int(os.environ.get("TLCORE_THREADS") or 0), torch.get_num_threads()
    if 0 < threads < default and (not models or "minilm" in models):  # what the thread choice buys
        cells.append({"model": "minilm", "method": "full", "rows": 144, "threads": default, "precision": chosen,
                      "label": f"full, {default} threads (torch's default)"})
    for spec in cells:
        common.say(f"throughput: {spec['model']} {spec['method']} {spec['precision']}")
        rows.append(common.run_cell("throughput", spec))

    def find(model: str, method: str, precision: str) -> dict | None:
        return next((r for r in rows if (r["model"], r["method"], r["precision"]) == (model, method, precision)),
                    None)

    for row in rows:  # adapters against full fine-tuning of the same model in the same precision; bf16 against fp32
        full = find(row["model"], "full", row["precision"])
        row["speed_vs_full"] = row["examples_per_s"] / full["examples_per_s"] if full else None
        fp32 = find(row["model"], row["method"], "fp32")
        row["speed_vs_fp32"] = row["examples_per_s"] / fp32["examples_per_s"] if fp32 else None
    targets = []
    full_minilm = find("minilm", "full", chosen)
    if full_minilm:
        other = find("minilm", "full", "fp32" if chosen == "bf16" else "bf16")
        note = (f"{chosen}: {'what tlcore auto picks here' if auto[0] else 'the bench rule (auto said nothing)'}; "
                f"shape-matched peak at "
                f"{full_minilm['tokens_per_slice']:.0f} rows ({full_minilm['padding']:.0%} padding)")
        if other:
            note += (f"; {other['precision']}: {other['mfu']:.0%} of its shape-matched peak "
                     f"({other['model_gflops_per_s']:.1f} of {other['peak_shapes']:.0f}), {other['mfu_1024']:.0%} "
                     f"of its 1024^2 peak, {other['examples_per_s']:.1f} examples/s")
        targets.append(common.target(
            "full fine-tuning of minilm at >= 60 % of the matmul peak of its precision", full_minilm["mfu"] >= 0.60,
            f"{full_minilm['mfu']:.0%} of the shape-matched {chosen} peak ({full_minilm['model_gflops_per_s']:.1f} "
            f"of {full_minilm['peak_shapes']:.0f} GFLOP/s); {full_minilm['mfu_1024']:.0%} of the 1024^2 peak "
            f"({full_minilm['peak_1024']:.0f}); {full_minilm['examples_per_s']:.1f} examples/s", note, headline=True))
    for row in rows:
        if row["method"] in ADAPTERS and row["precision"] == chosen and row["speed_vs_full"] is not None:
            targets.append(common.target(
                f"{row['method']} on {row['model']}: >= 1.5x the examples/s of full fine-tuning",
                row["speed_vs_full"] >= 1.5, f"{row['speed_vs_full']:.2f}x", f"both in {chosen}"))
    table = precision_note(check, auto, chosen) + common.markdown_table(rows, [
        ("model", "model"), ("method", "method"), ("precision", "precision"), ("examples_per_s", "examples/s"),
        ("tokens_per_s", "tokens/s"), ("speed_vs_full", "× full"), ("speed_vs_fp32", "× fp32"),
        ("model_gflops_per_s", "GFLOP/s"), ("peak_shapes", "shape peak GFLOP/s"), ("mfu", "MFU (shapes)"),
        ("peak_1024", "1024² peak GFLOP/s"), ("mfu_1024", "MFU (1024²)"), ("tokens_per_slice", "rows/matmul"),
        ("padding", "padding"), ("mean_train_loss", "mean loss"), ("threads", "threads"), ("cpu_share", "CPU share"),
        ("peak_rss_mb", "peak RSS MB")])
    return {"name": "throughput", "title": "1. Training throughput and MFU", "rows": rows, "table": table,
            "targets": targets, "precision_check": check, "precision_chosen": chosen,
            "auto_precision": {"name": auto[0], "reason": auto[1]}}


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Training throughput and MFU, fp32 and bf16.")
    parser.add_argument("--quick", action="store_true", help="fewer cells and rows")
    parser.add_argument("--models", default="", help="comma-separated subset, e.g. minilm")
    parser.add_argument("--methods", default="", help="comma-separated subset, e.g. full,lora")
    parser.add_argument("--json", action="store_true", help="also print every measured row as JSON")
    args = parser.parse_args()
    split = lambda text: tuple(x for x in text.split(",") if x)  # noqa: E731
    result = run(args.quick, split(args.models), split(args.methods))
    print(result["table"])
    for t in result["targets"]:
        print(f"- {t['target']}: {'met' if t['met'] else 'MISSED'}; {t['measured']}. {t['note']}")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
