"""What every benchmark shares: paths, the machine, the matmul peak, child processes, data, tables.

Each benchmark module has ``run(quick) -> dict`` (called by run_all.py in the parent process) and,
when it measures something that must be isolated (peak memory, a cold import), ``cell(spec) -> dict``,
which ``run_cell`` executes in a fresh Python process (bench/child.py).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
DATASETS = Path(os.environ.get("TL_DATASETS", ROOT.parent / "shared" / "datasets"))
if str(ROOT) not in sys.path:  # the scripts run as `python bench/x.py`: make `import tlcore` work from a checkout
    sys.path.insert(0, str(ROOT))

DATASET_FILES = {  # name -> (file with the training pool, separate test file or None)
    "sms_spam": ("sms_spam/sms_spam_all.csv", None),
    "trec": ("trec/trec_train.csv", "trec/trec_test.csv"),
    "rt_polarity": ("rt_polarity/rt_polarity_all.csv", None),
    "subj": ("subj/subj_all.csv", None),
    "yelp": ("uci_sentiment_labelled/yelp_all.csv", None),
}


class BenchError(RuntimeError):
    """A benchmark could not run (missing data, a child process failed)."""


def machine() -> dict:
    """The machine and software the numbers were measured on."""
    import torch

    info = {"cpu": platform.processor() or platform.machine(), "logical_cpus": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average_at_start": round(os.getloadavg()[0], 2)}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info["cpu"] = fields.get("Model name", info["cpu"])
        cores = int(fields.get("Core(s) per socket", 0)) * int(fields.get("Socket(s)", 1))
        info["physical_cores"] = cores or None
        flags = fields.get("Flags", "").split()
        info["simd"] = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    for package in ("transformers", "peft"):
        try:
            info[package] = __import__(package).__version__
        except ImportError:
            info[package] = None
    return info


def matmul_peak(seconds: float = 0.6, size: int = 1024, dtype: str = "fp32") -> float:
    """``size x size`` matrix-multiply speed in this process (fp32 or bf16), GFLOP/s: the best of ``seconds`` of
    tries."""
    a, b = random_matrix(size, size, dtype), random_matrix(size, size, dtype)
    return 2 * size**3 / best_seconds(lambda: a @ b, seconds) / 1e9


def random_matrix(rows: int, cols: int, dtype: str = "fp32"):
    import torch

    return torch.randn(rows, cols).to({"fp32": torch.float32, "bf16": torch.bfloat16}[dtype])


def best_seconds(work, seconds: float) -> float:
    """The fastest of repeated calls of ``work`` during ``seconds``: the best is the least disturbed by other
    processes on a shared machine."""
    work()  # warm-up: thread pool and kernel selection
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def peak_rss_mb() -> float:
    from tlcore.engine.memory import peak_rss_mb as peak  # this process's own peak, not its parent's

    return peak()


def run_cell(module: str, spec: dict, timeout: float = 900) -> dict:
    """Run ``bench/<module>.py``'s ``cell(spec)`` in a fresh Python process; its dict, plus its peak RSS."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(BENCH / "child.py"), module, json.dumps(spec)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise BenchError(f"{module} cell {spec} failed (exit {proc.returncode}): " + " | ".join(tail))
    result = json.loads(lines[-1][len("BENCH_RESULT "):])
    result["cell_wall_s"] = time.perf_counter() - started
    return result


def read_dataset(name: str):
    """(pool, test or None) DataFrames with columns text, label."""
    import pandas as pd

    pool_file, test_file = DATASET_FILES[name]
    if not (DATASETS / pool_file).exists():
        raise BenchError(f"dataset file {DATASETS / pool_file} is missing; set TL_DATASETS to the folder that "
                         "holds sms_spam/, trec/, rt_polarity/ and subj/.")
    pool = pd.read_csv(DATASETS / pool_file)
    test = pd.read_csv(DATASETS / test_file) if test_file else None
    return pool, test


def rt_sample(n: int, seed: int = 0, skip: int = 0):
    """n rows of rt_polarity (balanced, shuffled with seed), after skipping ``skip`` rows of the same order."""
    pool, _ = read_dataset("rt_polarity")
    shuffled = pool.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    per_class = [group.iloc[skip // 2: skip // 2 + n // 2] for _, group in shuffled.groupby("label", sort=True)]
    import pandas as pd

    return pd.concat(per_class).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def markdown_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """A GitHub table; ``columns`` are (key, header) pairs; floats get a sensible number of digits."""
    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(header for _, header in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines)


def target(name: str, met: bool | None, measured: str, note: str = "", headline: bool = False) -> dict:
    """One target line: met is None when the benchmark could not measure it. ``headline``: one of the speed
    targets of issue 22, which run_all.py prints first."""
    return {"target": name, "met": met, "measured": measured, "note": note, "headline": headline}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
