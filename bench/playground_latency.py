"""Playground latency: how long the Use page's playground takes to answer one text, per run.

For three runs trained on a small sample (MiniLM zero-shot, MiniLM LoRA, SmolLM2-135M zero-shot) this measures,
through the code path the page uses (``tlui.classify``: the st.cache_resource-cached ``tlcore.load_method``, then
``tlcore.predict_texts`` on one text with ``tlui.PLAYGROUND_THREADS`` torch threads):

- the first load of each run's model (once per server process), and
- the latency of one-text predictions over ~30 texts from the run's test split, once the model is loaded:
  the first text, the median, the 95th percentile and the maximum.

For comparison it also times the same texts with torch's default thread count (one call each, interleaved with
the page's, so both see the same machine load): on cores busy with other work (a training worker beside the
app) torch's threads wait on each other, which is why the page uses one thread.

Run: .venv/bin/python bench/playground_latency.py [--texts 30] [--runs-dir DIR]
Prints a table and writes bench/results/playground_latency.json. Timings depend on the machine and on what else
runs on it: the JSON records the CPU count and the load average before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tlui lives beside app.py
os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # no "missing ScriptRunContext" lines (bare mode)

RUNS = (  # (name, model, method, method options)
    ("minilm zero-shot", "minilm", "zero-shot", {"max_length": 64}),
    ("minilm LoRA", "minilm", "lora", {"epochs": 2, "max_length": 64}),
    ("smollm2-135m zero-shot", "smollm2-135m", "zero-shot", {"max_length": 64}),
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(latencies: list[float]) -> dict:
    return {"first_text_ms": round(1000 * latencies[0], 1), "median_ms": round(1000 * statistics.median(latencies), 1),
            "p95_ms": round(1000 * percentile(latencies, 0.95), 1), "max_ms": round(1000 * max(latencies), 1)}


def train(store, name: str, model: str, method: str, options: dict, n_texts: int):
    import tlcore

    data = tlcore.to_labeled(tlcore.load_sample("yelp"), "text", "label")
    config = tlcore.RunConfig(model=model, method=method, method_options=options, per_class=16, test_size=n_texts,
                              data_name="yelp_reviews.csv")
    run = tlcore.create_run(config, data, store=store)
    started = time.perf_counter()
    tlcore.execute(run)
    print(f"trained {name} in {time.perf_counter() - started:.1f} s (run {run.id})", file=sys.stderr, flush=True)
    return run


def measure(runs_dir: Path, n_texts: int) -> dict:
    started = time.perf_counter()
    import torch  # what the first load in a fresh server process pays once, whatever the run

    import tlcore
    import tlui  # imports streamlit, not torch

    imports = time.perf_counter() - started
    store = tlcore.RunStore(runs_dir)
    trained = {name: train(store, name, model, method, options, n_texts) for name, model, method, options in RUNS}
    usable = {run.id: run for run in tlui.usable_runs(store)}
    # Start like a fresh server process: no model cached by the training above.
    from tlcore.engine import decoder_scoring as lm_scoring
    from tlcore.engine import encoders

    encoders.load_encoder.cache_clear()
    lm_scoring.load_causal_lm.cache_clear()
    # tlcore keeps sentence vectors of texts it has seen in this process; a typed text is new, so forget them
    # before every timed call (the training above embedded these very test texts).
    forget = getattr(encoders, "clear_cache", lambda: None)
    rows = []
    for name, model, method, _ in RUNS:
        run = usable[trained[name].id]
        texts = trained[name].predictions()["text"].astype(str).tolist()[:n_texts]
        forget()
        started = time.perf_counter()
        first = tlui.classify(run, texts[0])  # loads the model (cached from then on), then predicts one text
        first_call = time.perf_counter() - started
        method_object, _ = tlui.loaded_method(run)
        page, default = [], []
        for text in texts:
            forget()
            started = time.perf_counter()
            tlui.classify(run, text)  # what the page does for each run and text
            page.append(time.perf_counter() - started)
            forget()
            started = time.perf_counter()
            tlcore.predict_texts(method_object, [text])  # torch's default threads
            default.append(time.perf_counter() - started)
        rows.append({"run": name, "model": model, "method": method, "run_id": run.id, "texts": len(texts),
                     "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
                     "first_load_s": round(first.load_seconds, 3), "first_call_s": round(first_call, 3),
                     "page": summary(page), "default_threads": summary(default)})
    return {"imports_s": round(imports, 3), "torch": torch.__version__, "page_threads": tlui.PLAYGROUND_THREADS,
            "default_threads": torch.get_num_threads(), "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=30, help="one-text predictions per run (default 30)")
    parser.add_argument("--runs-dir", help="where to train the runs (default: a temporary folder)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "playground_latency.json"))
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.runs_dir:
        result = measure(Path(args.runs_dir), args.texts)
    else:
        with tempfile.TemporaryDirectory(prefix="playground-bench-") as tmp:
            result = measure(Path(tmp), args.texts)
    result.update({"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.platform(),
                   "cpu_count": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                   "command": " ".join(["python", "bench/playground_latency.py", *sys.argv[1:]])})
    print(f"imports (streamlit + torch, once per process): {result['imports_s']:.2f} s; {result['cpu_count']} CPUs, "
          f"load average {load_before[0]:.1f} before, {result['loadavg_after'][0]:.1f} after")
    print(f"{'':<24} {'':>10} {'page: ' + str(result['page_threads']) + ' thread':^36} "
          f"{'torch default: ' + str(result['default_threads']) + ' threads':^27}")
    print(f"{'run':<24} {'first load':>10} {'first text':>10} {'median':>8} {'p95':>8} {'max':>8} "
          f"{'median':>8} {'p95':>8} {'max':>8}")
    for row in result["rows"]:
        page, default = row["page"], row["default_threads"]
        print(f"{row['run']:<24} {row['first_load_s']:>9.2f}s {page['first_text_ms']:>8.0f}ms "
              f"{page['median_ms']:>6.0f}ms {page['p95_ms']:>6.0f}ms {page['max_ms']:>6.0f}ms "
              f"{default['median_ms']:>6.0f}ms {default['p95_ms']:>6.0f}ms {default['max_ms']:>6.0f}ms")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
