"""Mixed precision on a GPU: LoRA on minilm and smollm2-135m in fp32 and bf16, side by side.

For each model, dataset and seed the same run (same split, same training rows, same seed) trains once per
precision through the app's own path (``create_run`` + ``execute``: the worker's ``compute_in`` autocast, the
training loop's loss scaling for fp16). Printed per cell: training throughput (examples/s, non-padding tokens/s),
peak GPU memory (``torch.cuda.max_memory_allocated``), wall time, test accuracy; then, per precision against
fp32, the speed-up, the memory ratio, the share of test rows predicted the same and the accuracy difference.
``--cpu-reference`` adds the fp32 run on the CPU (the same rows): a GPU run should agree with it within seed noise.

Nothing depends on a GPU: without one it says so and exits 0 (``--device cpu`` runs the same table on the CPU).

    .venv/bin/python bench/gpu.py                                     # sms_spam, rt_polarity x 2 seeds, 64/class
    .venv/bin/python bench/gpu.py --models minilm --precisions fp32,bf16,fp16 --seeds 1

Test rows: a stratified hold-out of TEST_ROWS rows (split seed 0), the same for every seed and precision; the
seed samples the training rows and seeds LoRA. Results: bench/results/gpu.json (every run, with the machine).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from tlcore.data import to_labeled  # noqa: E402
from tlcore.runs import RunConfig, RunStore  # noqa: E402
from tlcore.runs.create import create_run  # noqa: E402
from tlcore.runs.worker import execute  # noqa: E402

TEST_ROWS = 500
OUT = common.RESULTS / "gpu.json"


def gpu_info(device: str) -> dict:
    import torch

    if not device.startswith("cuda"):
        return {}
    props = torch.cuda.get_device_properties(device)
    return {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2**30, 1),
            "bf16_supported": bool(torch.cuda.is_bf16_supported()), "cuda": torch.version.cuda}


def one_run(store: RunStore, data, model: str, method: str, per_class: int, seed: int, device: str,
            precision: str) -> dict:
    """Train and test one run; its metrics plus peak GPU memory and the test predictions."""
    import torch

    config = RunConfig(model=model, method=method, method_options={"seed": seed}, data_name="bench",
                       test_size=TEST_ROWS, split_seed=0, per_class=per_class, device=device, precision=precision)
    run = create_run(config, data, store=store, sample_seed=seed)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    metrics = execute(run)
    wall = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    import pandas as pd

    predicted = pd.read_csv(run.path / "predictions.csv")["predicted"].astype(str).tolist()
    return {"model": model, "precision": metrics["precision"], "device": metrics["device"], "seed": seed,
            "accuracy": metrics["accuracy"], "examples_per_s": metrics["examples_per_s"],
            "tokens_per_s": metrics.get("tokens_per_s"), "train_seconds": metrics["train_seconds"],
            "steps": metrics["steps"], "wall_seconds": wall, "peak_gpu_mb": peak,
            "peak_rss_mb": metrics["peak_rss_mb"], "predicted": predicted}


def compare(rows: list[dict]) -> list[dict]:
    """Per (model, dataset, precision/device) against the fp32 run of the same cell on the same device."""
    out = []
    keys = sorted({(r["model"], r["dataset"]) for r in rows})
    for model, dataset in keys:
        cell = [r for r in rows if r["model"] == model and r["dataset"] == dataset]
        for variant in sorted({(r["device_kind"], r["precision"]) for r in cell}):
            mine = {r["seed"]: r for r in cell if (r["device_kind"], r["precision"]) == variant}
            # The reference is the GPU's fp32 run when there is one (the CPU run is then checked against it too).
            base_kind = "gpu" if any(r["device_kind"] == "gpu" for r in cell) else variant[0]
            base = {r["seed"]: r for r in cell if (r["device_kind"], r["precision"]) == (base_kind, "fp32")}
            seeds = sorted(set(mine) & set(base))
            if not seeds:
                continue
            same = [sum(a == b for a, b in zip(mine[s]["predicted"], base[s]["predicted"])) / len(base[s]["predicted"])
                    for s in seeds]
            out.append({
                "model": model, "dataset": dataset, "run": f"{variant[0]} {variant[1]}", "seeds": len(seeds),
                "accuracy": statistics.mean(mine[s]["accuracy"] for s in seeds),
                "accuracy_vs_fp32_pts": 100 * statistics.mean(mine[s]["accuracy"] - base[s]["accuracy"] for s in seeds),
                "same_predictions": statistics.mean(same),
                "tokens_per_s": statistics.mean(mine[s]["tokens_per_s"] or 0 for s in seeds),
                "speedup_vs_fp32": statistics.mean(base[s]["train_seconds"] / mine[s]["train_seconds"] for s in seeds),
                "peak_gpu_mb": (statistics.mean(mine[s]["peak_gpu_mb"] for s in seeds)
                                if mine[seeds[0]]["peak_gpu_mb"] is not None else None),
            })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="minilm,smollm2-135m")
    parser.add_argument("--datasets", default="sms_spam,rt_polarity")
    parser.add_argument("--method", default="lora")
    parser.add_argument("--per-class", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--cpu-reference", action="store_true", help="also the fp32 run on the CPU (minilm only)")
    parser.add_argument("--deadline", type=float, default=0, help="start no new run after this many seconds")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to measure (bench/gpu.py --device cpu runs the same table on the CPU).")
        return 0
    begin = time.perf_counter()
    rows: list[dict] = []
    plan = [(model, dataset, seed, args.device, precision)
            for model in args.models.split(",") for dataset in args.datasets.split(",")
            for seed in range(args.seeds) for precision in args.precisions.split(",")]
    if args.cpu_reference:
        plan += [("minilm", dataset, seed, "cpu", "fp32") for dataset in args.datasets.split(",")
                 for seed in range(args.seeds) if "minilm" in args.models.split(",")]
    with tempfile.TemporaryDirectory(prefix="tl-gpu-") as tmp:
        store = RunStore(Path(tmp) / "runs")
        frames = {name: to_labeled(common.read_dataset(name)[0], "text", "label", name=name)
                  for name in args.datasets.split(",")}
        for model, dataset, seed, device, precision in plan:
            if args.deadline and time.perf_counter() - begin > args.deadline:
                print(f"deadline: {len(rows)} of {len(plan)} runs done", flush=True)
                break
            row = one_run(store, frames[dataset], model, args.method, args.per_class, seed, device, precision)
            row.update(dataset=dataset, device_kind="cpu" if device == "cpu" else "gpu")
            rows.append(row)
            print(f"{model:13} {dataset:12} seed {seed} {row['device']:6} {row['precision']:5} "
                  f"acc {row['accuracy']:.3f}  {row['tokens_per_s'] or 0:8.0f} tok/s  "
                  f"train {row['train_seconds']:6.1f}s  peak GPU {row['peak_gpu_mb'] or 0:7.0f} MB", flush=True)
    summary = compare(rows)
    print()
    print(common.markdown_table(summary, [
        ("model", "model"), ("dataset", "dataset"), ("run", "run"), ("seeds", "seeds"), ("accuracy", "accuracy"),
        ("accuracy_vs_fp32_pts", "vs fp32 (pts)"), ("same_predictions", "same predictions as fp32"),
        ("tokens_per_s", "tokens/s"), ("speedup_vs_fp32", "training speed-up"), ("peak_gpu_mb", "peak GPU MB")]))
    machine = {**common.machine(), **gpu_info(args.device)}
    print(f"\nmachine: {machine.get('gpu', '-')} / {machine.get('cpu')}; {args.method}, {args.per_class} per class, "
          f"{TEST_ROWS} test rows (split seed 0), seeds 0..{args.seeds - 1}; {time.perf_counter() - begin:.0f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": machine, "method": args.method, "per_class": args.per_class,
                                          "test_rows": TEST_ROWS, "summary": summary,
                                          "runs": [{k: v for k, v in r.items() if k != "predicted"} for r in rows]},
                                         indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
