"""Which changes to the training step pay: step time and loss curve of variants of bench/train_step.py.

`.venv/bin/python bench/step_variants.py bf16 bf16,keep_emb_grad [--steps 26] [--threads 1] [--separate]`

Interleaved (the default): every variant trains its own copy of MiniLM in this one process, step by step on the
same batches, so a busy shared machine slows them alike; time is CPU seconds of this process (with one torch thread
it excludes the time other processes hold the core) and wall seconds. Variants that change the whole process
(``trim``: the heap is shared) need --separate: each variant in a fresh process, in turn, repeated.

Then each variant's loss curve and held-out accuracy, every one alone in a fresh process from the same seed (in one
process they would draw each other's dropout masks): an exact change gives the same losses to 4 digits.
"""
from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from train_step import Step, parse, texts_and_labels  # noqa: E402

ROWS, HELD_OUT = 208, 400


def summarise(variant: str, results: list[dict], flops_per_token: int) -> dict:
    tokens = sum(r["tokens"] for r in results)
    wall, cpu = sum(r["wall"] for r in results), sum(r["cpu"] for r in results)
    return {"variant": variant, "steps": len(results), "wall_ms": 1000 * wall / len(results),
            "cpu_ms": 1000 * cpu / len(results), "gflops_per_cpu_s": flops_per_token * tokens / cpu / 1e9,
            "gflops_per_wall_s": flops_per_token * tokens / wall / 1e9,
            "minor_faults": sum(r["faults"] for r in results) / len(results)}


def timed(step: Step, batch) -> dict:
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    result = step.run(batch)
    return {**result, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults}


def interleaved(variants: list[str], steps: int) -> list[dict]:
    texts, labels = texts_and_labels(ROWS)
    models = [Step(v, texts, labels) for v in variants]
    batches = models[0].batches(steps + 2)
    results: list[list[dict]] = [[] for _ in models]
    for i, batch in enumerate(batches):
        order = range(len(models)) if i % 2 == 0 else reversed(range(len(models)))  # neither always goes first
        for j in order:
            results[j].append(timed(models[j], batch))
    return [summarise(v, r[2:], m.flops_per_token) for v, r, m in zip(variants, results, models)]  # 2 warm-up steps


def cell(spec: dict) -> dict:
    """One variant alone in this process: step times, its loss curve and held-out accuracy."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    texts, labels = texts_and_labels(ROWS)
    step = Step(spec["variant"], texts, labels, seed=spec.get("seed", 0))
    results = [timed(step, batch) for batch in step.batches(spec["steps"])]
    held_texts, held_labels = texts_and_labels(HELD_OUT, skip=ROWS)
    return {**summarise(spec["variant"], results[2:], step.flops_per_token),
            "losses": [r["loss"] for r in results], "held_out_accuracy": step.accuracy(held_texts, held_labels)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="train_step.py flags per variant, e.g. bf16 bf16,eager")
    parser.add_argument("--steps", type=int, default=26, help="timed steps (2 more warm up)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: robust on a shared machine)")
    parser.add_argument("--separate", action="store_true", help="time each variant in its own process")
    parser.add_argument("--repeats", type=int, default=2, help="with --separate: rounds over the variants")
    parser.add_argument("--curve-steps", type=int, default=39, help="steps of each loss curve (0: none)")
    args = parser.parse_args()
    for variant in args.variants:
        parse(variant)  # refuse a typo before any work
    import torch

    torch.set_num_threads(args.threads)
    if args.separate:
        rows = [common.run_cell("step_variants", {"variant": v, "steps": args.steps + 2, "threads": args.threads})
                for _ in range(args.repeats) for v in args.variants]
    else:
        rows = interleaved(args.variants, args.steps)
    print(common.markdown_table(rows, [("variant", "variant"), ("cpu_ms", "CPU ms/step"), ("wall_ms", "wall ms/step"),
                                       ("gflops_per_cpu_s", "GFLOP per CPU-s"), ("minor_faults", "page faults/step")]))
    if args.curve_steps:
        curves = [common.run_cell("step_variants", {"variant": v, "steps": args.curve_steps, "threads": args.threads})
                  for v in args.variants]
        for c in curves:
            losses = c["losses"]
            print(f"{c['variant']:24s} held-out accuracy {c['held_out_accuracy']:.3f}; mean loss of the first 13 steps "
                  f"{sum(losses[:13]) / 13:.4f}, the last 13 {sum(losses[-13:]) / 13:.4f}; every 6th: "
                  + " ".join(f"{x:.4f}" for x in losses[::6]))


if __name__ == "__main__":
    main()
