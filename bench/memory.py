"""Target 4: peak memory (RSS) per (model, method), each a whole `tlcore run` in its own process.

Each run is the command a user types: rt_polarity, 8 training rows per class (one batch of 16),
16 test rows, one epoch for the training methods (weights, gradients and the optimizer's state all
exist from the first step on, so the peak is reached), K=4 for few-shot. The number is the process's peak resident
set size (ru_maxrss, as `tlcore run --json` reports it in peak_rss_mb): the Python interpreter, the libraries, the
model, gradients, optimizer state and activations together.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

METHODS = ("zero-shot", "few-shot", "linear-probe", "full", "freeze", "lora", "dora", "ia3", "prompt-tuning")
LIMIT_MB = {"minilm": 1536, "smollm2-135m": 3072}


def measure(model: str, method: str, data: Path, runs: Path) -> dict:
    from first_result import tlcore_command

    args = ["run", "--train", str(data), "--model", model, "--method", method, "--per-class", "8",
            "--test-size", "16", "--runs-dir", str(runs), "--json", "--quiet"]
    if method == "few-shot":
        args += ["--shots", "4"]
    elif method not in ("zero-shot", "linear-probe"):
        args += ["--epochs", "1"]
    started = time.perf_counter()
    proc = subprocess.run(tlcore_command() + args, capture_output=True, text=True, timeout=900, cwd=common.ROOT)
    if proc.returncode != 0:
        raise common.BenchError(f"tlcore run {model} {method} failed: {proc.stderr.strip()[-300:]}")
    result = json.loads(proc.stdout)
    return {"model": model, "method": method, "peak_rss_mb": result["peak_rss_mb"],
            "limit_mb": LIMIT_MB[model], "under_limit": result["peak_rss_mb"] < LIMIT_MB[model],
            "trainable_params": result["trainable_params"], "wall_s": time.perf_counter() - started}


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
    targets = []
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
    return {"name": "memory", "title": "4. Peak memory per run", "rows": rows, "table": table, "targets": targets}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
