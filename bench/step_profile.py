"""Where a training step of MiniLM full fine-tuning goes: torch.profiler over a few real steps, by kind of work.

`.venv/bin/python bench/step_profile.py [--variant bf16] [--steps 8] [--threads 1] [--dataset rt_polarity]`

Each profiled operation's own time goes to the kind of its innermost enclosing operation that has one (a fill_
inside the embedding's backward is embedding-gradient time; a bernoulli_ inside attention is dropout time), so the
kinds add up to the profiled time. The profiler's own overhead inflates the many small operations; the step time
without it is measured first, on the same batches' kind, and printed beside.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from train_step import Step, texts_and_labels  # noqa: E402

# (kind, substrings of operation names); the first match wins, so composite operations come before their parts.
KINDS = (
    ("optimizer (fused AdamW)", ("Optimizer.step",)),
    ("zero_grad / freeing grads", ("Optimizer.zero_grad", "zero_grads")),
    ("gradient clipping", ("clip_grad_norm",)),
    ("embedding gradient", ("EmbeddingBackward", "embedding_dense_backward", "embedding_sparse_backward")),
    ("embedding lookup", ("aten::embedding",)),
    ("dropout", ("dropout", "bernoulli")),
    ("layer norm", ("layer_norm", "LayerNorm")),
    ("GELU", ("gelu", "Gelu")),
    ("loss", ("cross_entropy", "nll_loss", "NllLoss", "log_softmax", "LogSoftmax")),
    ("autocast casts", ("_to_copy", "ToCopyBackward")),
    ("attention (scores, softmax, masks)", ("scaled_dot_product", "ScaledDotProduct", "bmm", "Bmm", "softmax",
                                            "Softmax", "isneginf", "aten::where", "aten::all", "masked_fill")),
    ("weight matmuls (forward and backward)", ("aten::addmm", "aten::mm", "AddmmBackward", "MmBackward",
                                               "aten::linear")),
    ("gradient accumulation", ("AccumulateGrad",)),
    ("batch collation", ("collate",)),
)


def kind_of(name: str) -> str | None:
    return next((kind for kind, parts in KINDS if any(part in name for part in parts)), None)


def breakdown(events) -> dict[str, float]:
    """Seconds of self time per kind (see the module docstring)."""
    totals: dict[str, float] = {}
    for event in events:
        kind, node = None, event
        while node is not None and kind is None:
            kind, node = kind_of(node.name), node.cpu_parent
        kind = kind or "other (elementwise: residual adds, bias grads, views)"
        totals[kind] = totals.get(kind, 0.0) + event.self_cpu_time_total / 1e6
    return totals


def profile(variant: str, steps: int, dataset: str) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, record_function

    texts, labels = texts_and_labels(208, dataset)
    step = Step(variant, texts, labels)
    # record_function names for the loop's own parts that are no single aten operation
    original_clip = torch.nn.utils.clip_grad_norm_

    def clip(*args, **kwargs):
        with record_function("clip_grad_norm"):
            return original_clip(*args, **kwargs)

    torch.nn.utils.clip_grad_norm_ = clip
    for batch in step.batches(3):
        step.run(batch)  # warm-up
    batches = step.batches(2 * steps)
    plain = [step.run(batch) for batch in batches[:steps]]  # the same kind of batches, without the profiler
    with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
        profiled = [step.run(batch) for batch in batches[steps:]]
    totals = breakdown(prof.events())
    seconds = sum(r["wall"] for r in profiled)
    tokens = sum(r["tokens"] for r in profiled)
    return {"variant": variant, "steps": steps, "threads": torch.get_num_threads(),
            "ms_per_step": 1000 * sum(r["wall"] for r in plain) / steps,
            "gflops": step.flops_per_token * sum(r["tokens"] for r in plain) / sum(r["wall"] for r in plain) / 1e9,
            "profiled_ms_per_step": 1000 * seconds / steps, "tokens_per_step": tokens / steps,
            "padding": 1 - tokens / sum(r["padded"] for r in profiled),
            "kinds": {k: 1000 * v / steps for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="bf16", help="train_step.py flags, e.g. bf16 or fp32,eager")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--dataset", default="rt_polarity", choices=sorted(common.DATASET_FILES))
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    result = profile(args.variant, args.steps, args.dataset)
    total = sum(result["kinds"].values())
    print(f"{result['variant']} on {args.dataset}, {result['threads']} threads: {result['ms_per_step']:.0f} ms/step "
          f"without the profiler ({result['gflops']:.1f} model GFLOP/s), {result['profiled_ms_per_step']:.0f} with it; "
          f"{result['tokens_per_step']:.0f} real tokens a step, {result['padding']:.0%} padding")
    print(common.markdown_table([{"kind": k, "ms": v, "share": v / total} for k, v in result["kinds"].items()],
                                [("kind", "kind of work"), ("ms", "ms per step (profiled)"), ("share", "share")]))


if __name__ == "__main__":
    main()
