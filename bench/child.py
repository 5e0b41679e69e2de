"""Run one benchmark cell in this fresh process: ``python bench/child.py MODULE SPEC_JSON``.

Prints ``BENCH_RESULT {json}`` with the cell's result and this process's peak RSS, so every cell's
memory and import costs are its own.
"""
from __future__ import annotations

import importlib
import json
import sys
import time

STARTED = time.perf_counter()

if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    import common

    module, spec = sys.argv[1], json.loads(sys.argv[2])
    result = importlib.import_module(module).cell(spec)
    result["peak_rss_mb"] = common.peak_rss_mb()
    result["child_seconds"] = time.perf_counter() - STARTED
    print("BENCH_RESULT " + json.dumps(result), flush=True)
