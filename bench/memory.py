"""Target 4: peak memory (RSS) per (model, method), each a whole `tlcore run` in its own process.

Each run is the command a user types: rt_polarity, 8 training rows per class (one batch of 16),
16 test rows, one epoch for the training methods (weights, gradients and the optimizer's state all
exist from the first step on, so the peak is reached), K=4 for few-shot. The number is the process's peak resident
set size (VmHWM, as `tlcore run --json` reports it in peak_rss_mb): the Python interpreter, the libraries, the
model, gradients, optimizer state and activations together.

The realistic cells (issue 22: < 1.2 GB) are whole runs at the defaults: minilm LoRA and DoRA on sms_spam, 64 training
rows per class, 500 test rows and 100 validation rows, in the run's default precision ("auto": bf16 where this CPU
computes it fast, else fp32) and in fp32. Their texts reach 128 tokens and their ~120-300 steps see batches of many
shapes, which is where a run's memory grows: the short cells above never show it.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

METHODS = ("zero-shot", "few-shot", "linear-probe", "full", "freeze", "lora", "dora", "ia3", "prompt-tuning")
LIMIT_MB = {"minilm": 1536, "smollm2-135m": 3072}
REALISTIC_LIMIT_MB = 1200
REALISTIC_DATA = "sms_spam/sms_spam_all.csv"
REALISTIC_PRECISIONS = ("auto", "fp32")  # auto: what a run does when no --precision is given


def measure(model: str, method: str, data: Path, runs: Path) -> dict:
    """One short cell. Each run starts with an empty embedding store (``run_tlcore``); the linear probe keeps its own
    feature cache in tlcore's cache folder (tlcore.methods.linear_probe), which this leaves alone (the converted models
    live there too): its cells measure ~500 MB, without a model, once an earlier run probed the same rows
    (bench/precision.py does)."""
    from first_result import run_tlcore

    args = ["run", "--train", str(data), "--model", model, "--method", method, "--per-class", "8",
            "--test-size", "16", "--runs-dir", str(runs), "--json", "--quiet"]
    if method == "few-shot":
        args += ["--shots", "4"]
    elif method not in ("zero-shot", "linear-probe"):
        args += ["--epochs", "1"]
    wall_s, result = run_tlcore(args, timeout=900, what=f"tlcore run {model} {method}")
    return {"model": model, "method": method, "peak_rss_mb": result["peak_rss_mb"],
            "limit_mb": LIMIT_MB[model], "under_limit": result["peak_rss_mb"] < LIMIT_MB[model],
            "trainable_params": result["trainable_params"], "wall_s": wall_s}


def measure_realistic(method: str, precision: str, runs: Path) -> dict:
    """One realistic cell: the exact command a user types (``--precision`` only when it is not the default)."""
    from first_result import run_tlcore

    data = common.DATASETS / REALISTIC_DATA
    if not data.exists():
        raise common.BenchError(f"dataset file {data} is missing; set TL_DATASETS to the folder that holds sms_spam/.")
    args = ["run", "--train", str(data), "--model", "minilm", "--method", method, "--per-class", "64",
            "--test-size", "500", "--val-size", "100", "--runs-dir", str(runs), "--json", "--quiet"]
    if precision != "auto":
        args += ["--precision", precision]
    wall_s, result = run_tlcore(args, timeout=1800, what=f"tlcore run minilm {method} on sms_spam")
    return {"model": "minilm", "method": method, "asked": precision, "precision": result["precision"],
            "peak_rss_mb": result["peak_rss_mb"], "limit_mb": REALISTIC_LIMIT_MB,
            "under_limit": result["peak_rss_mb"] < REALISTIC_LIMIT_MB, "train_seconds": result["train_seconds"],
            "steps": result["steps"], "accuracy": result["accuracy"], "wall_s": wall_s}


def plan_realistic(quick: bool) -> list[tuple[str, str]]:
    if quick:
        return [("lora", "auto")]
    return [(method, precision) for method in ("lora", "dora") for precision in REALISTIC_PRECISIONS]


def realistic_targets(rows: list[dict]) -> list[dict]:
    """One target per method: every precision measured under the limit."""
    targets = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        measured = "; ".join(f"{r['peak_rss_mb']:,.0f} MB in {r['precision']}"
                             f"{' (the default)' if r['asked'] == 'auto' else ''}, "
                             f"{r['steps']} steps in {r['train_seconds']:.0f} s" for r in mine)
        targets.append(common.target(
            f"minilm {method} on sms_spam, 64 per class (the exact `tlcore run`): peak RSS < "
            f"{REALISTIC_LIMIT_MB / 1000:.1f} GB", all(r["under_limit"] for r in mine), measured, headline=True))
    return targets


def plan(quick: bool) -> list[tuple[str, str]]:
    if quick:
        return [("minilm", m) for m in ("zero-shot", "full", "lora")] + [("smollm2-135m", "zero-shot")]
    return [("minilm", m) for m in METHODS] + [("smollm2-135m", m) for m in METHODS]


def run(quick: bool = False) -> dict:
    rows = []
    with tempfile.TemporaryDirectory(prefix="tl-bench-") as tmp:
        data = Path(tmp) / "rt_polarity_600.csv"
        common.rt_sample(600).to_csv(data, index=False)
        for model, method in plan(quick):
            common.say(f"memory: {model} {method}")
            rows.append(measure(model, method, data, Path(tmp) / "runs"))
        realistic = []
        for method, precision in plan_realistic(quick):
            common.say(f"memory: minilm {method} on sms_spam, 64 per class, precision {precision}")
            realistic.append(measure_realistic(method, precision, Path(tmp) / "runs"))
    targets = realistic_targets(realistic)
    for model, limit in LIMIT_MB.items():
        mine = [r for r in rows if r["model"] == model]
        if mine:
            worst = max(mine, key=lambda r: r["peak_rss_mb"])
            targets.append(common.target(
                f"every {model} run under {limit / 1024:.1f} GB peak RSS", all(r["under_limit"] for r in mine),
                f"largest {worst['peak_rss_mb']:,.0f} MB ({worst['method']})"))
    table = common.markdown_table(rows, [("model", "model"), ("method", "method"), ("peak_rss_mb", "peak RSS MB"),
                                         ("limit_mb", "target MB"), ("under_limit", "under target"),
                                         ("wall_s", "run wall s")])
    table += ("\n\nRealistic runs: minilm on sms_spam, 64 training rows per class, 500 test and 100 validation rows, "
              "at the defaults (auto schedule with early stopping):\n\n")
    table += common.markdown_table(realistic, [("method", "method"), ("precision", "precision"),
                                               ("asked", "--precision"), ("peak_rss_mb", "peak RSS MB"),
                                               ("limit_mb", "target MB"), ("under_limit", "under target"),
                                               ("train_seconds", "train s"), ("steps", "steps"),
                                               ("accuracy", "accuracy"), ("wall_s", "run wall s")])
    return {"name": "memory", "title": "4. Peak memory per run", "rows": rows, "realistic": realistic, "table": table,
            "targets": targets}


if __name__ == "__main__":
    if "--realistic" in sys.argv:  # only the realistic cells (~15 min), each in its own process as in run()
        with tempfile.TemporaryDirectory(prefix="tl-bench-") as folder:
            cells = [measure_realistic(m, p, Path(folder) / "runs") for m, p in plan_realistic("--quick" in sys.argv)]
        print(json.dumps({"realistic": cells, "targets": realistic_targets(cells)}, indent=2))
    else:
        print(json.dumps(run("--quick" in sys.argv), indent=2))
