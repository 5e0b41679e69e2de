"""Target 2: few-shot in-context inference on smollm2, with and without the shared prompt's KV cache.

One process, one LabelScorer, the same queries: K=4 demonstrations per class of rt_polarity (2
classes) in the prompt. "cached" computes the system message + demonstrations once and runs every
batch of queries on top of that key/value cache; "recomputed" runs the whole prompt for every query
(same token ids, same batching, same label scoring). Both include everything after the model is
loaded: the cached side pays for its one prefix pass. Predictions must be identical.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def cell(spec: dict) -> dict:
    import numpy as np

    from tlcore.engine.decoder_scoring import Demonstration, LabelScorer, load_causal_lm
    from tlcore.engine.models import model_folder, resolve_model

    folder = str(model_folder(resolve_model("smollm2-135m")))
    shots = common.rt_sample(2 * spec["shots"])
    queries = list(common.rt_sample(spec["queries"], skip=2 * spec["shots"]).text)  # rows the prompt lacks
    labels = sorted(set(shots.label))
    demonstrations = [Demonstration(t, y) for t, y in zip(shots.text, shots.label)]
    load_causal_lm(folder, "cpu")  # loading is not what is compared
    warm = LabelScorer(folder, labels, demonstrations=demonstrations)
    warm.score(queries[:2])  # first-call costs (thread pool, kernel selection) out of both timings

    scorer = LabelScorer(folder, labels, demonstrations=demonstrations)  # a fresh, empty prefix cache
    started = time.perf_counter()
    cached = scorer.score(queries)
    cached_s = time.perf_counter() - started
    started = time.perf_counter()
    recomputed = scorer.score(queries, reuse_prefix=False)
    recomputed_s = time.perf_counter() - started

    def predictions(scores):  # raw and batch-calibrated, as the few-shot method predicts
        return scores.argmax(1), (scores - scores.mean(0)).argmax(1)

    same = all((a == b).all() for a, b in zip(predictions(cached), predictions(recomputed)))
    query_tokens = float(np.mean([len(scorer._query_ids(q)) for q in queries]))
    return {"queries": len(queries), "shots_per_class": spec["shots"], "labels": labels,
            "prefix_tokens": len(scorer._prefix_ids), "query_tokens_mean": query_tokens,
            "cached_s": cached_s, "recomputed_s": recomputed_s,
            "cached_examples_per_s": len(queries) / cached_s, "recomputed_examples_per_s": len(queries) / recomputed_s,
            "speedup": recomputed_s / cached_s, "identical_predictions": bool(same),
            "max_abs_score_difference": float(np.abs(cached - recomputed).max())}


def run(quick: bool = False) -> dict:
    spec = {"shots": 4, "queries": 12 if quick else 32}
    common.say(f"kv cache: smollm2 few-shot, K={spec['shots']} per class, {spec['queries']} queries")
    row = common.run_cell("kv_cache", spec)
    row["method"] = "few-shot, smollm2-135m"
    targets = [common.target(
        "few-shot on smollm2, K=4 per class, 2 classes: >= 3x examples/s with the shared KV cache, identical "
        "predictions", row["speedup"] >= 3 and row["identical_predictions"],
        f"{row['speedup']:.1f}x ({row['cached_examples_per_s']:.2f} vs {row['recomputed_examples_per_s']:.2f} "
        f"examples/s), predictions identical: {row['identical_predictions']} (largest score difference "
        f"{row['max_abs_score_difference']:.1e})")]
    table = common.markdown_table([
        {"path": "shared prompt cached once", "examples_per_s": row["cached_examples_per_s"],
         "seconds": row["cached_s"]},
        {"path": "whole prompt recomputed per query", "examples_per_s": row["recomputed_examples_per_s"],
         "seconds": row["recomputed_s"]}],
        [("path", "path"), ("examples_per_s", "examples/s"), ("seconds", f"seconds for {row['queries']} queries")])
    table += (f"\n\nPrompt: {row['prefix_tokens']} shared tokens (system + {2 * row['shots_per_class']} "
              f"demonstrations), {row['query_tokens_mean']:.0f} tokens per query on average. Speed-up "
              f"{row['speedup']:.1f}x; identical predictions: {'yes' if row['identical_predictions'] else 'NO'} "
              f"(largest score difference {row['max_abs_score_difference']:.1e}).")
    return {"name": "kv_cache", "title": "2. Few-shot inference with a shared KV cache", "rows": [row],
            "table": table, "targets": targets}


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv), indent=2))
