"""Is the verdict right? "Find the best method" on the shared datasets, judged on rows it never saw.

For each dataset, rows per class and seed, the search runs the portfolio (tlcore.compare.best_method) at its
defaults on one split and picks on the validation rows. Then:

- **pick within 2 points**: is the picked method's test accuracy within 2 points of the best test accuracy of
  any portfolio method on the same test rows? (aim: >= 80 % of cells)
- **interval coverage**: the pick's 95 % interval is computed on the test rows; does it cover the pick's
  accuracy on a larger "population" set of rows of the same dataset that no run saw (training, validation or
  test)? (a well-calibrated interval covers it in about 95 % of cells)

The test rows are the same for every seed (split seed 0: a hold-out of TEST_ROWS rows, or trec's own test file);
the seed samples the training rows and seeds each method. Nothing is tuned here: the defaults are the app's.

    .venv/bin/python bench/find_best.py                                   # 5 datasets x 8, 64 per class x 5 seeds
    .venv/bin/python bench/find_best.py --sizes 8 --seeds 3 --datasets sms_spam,subj   # a part

Results: bench/results/find_best.json (every cell, with the machine), and a summary printed at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from tlcore.compare.best_method import create_search, search_result  # noqa: E402
from tlcore.data import read_table, to_labeled  # noqa: E402
from tlcore.runs import RunConfig, RunStore  # noqa: E402
from tlcore.runs.series import execute_series  # noqa: E402
from tlcore.use.predict import load_method, predict_texts  # noqa: E402

DATASETS = {**common.DATASET_FILES, "uci_yelp": ("uci_sentiment_labelled/yelp_all.csv", None)}
TEST_ROWS = 500  # the method table's hold-out
VAL_ROWS = 100  # what the search picks on
POPULATION_ROWS = 1000  # unseen rows the pick's interval should cover
OUT = common.RESULTS / "find_best.json"


def population_accuracy(run, data, used: set[str], seed: int) -> tuple[float, int]:
    """The run's accuracy on up to POPULATION_ROWS rows of ``data`` whose text no split of the run holds."""
    import numpy as np

    rows = [i for i, text in enumerate(data.texts) if text not in used]
    rows = sorted(np.random.default_rng(seed).permutation(rows)[:POPULATION_ROWS].tolist())
    method = load_method(run)
    proba = predict_texts(method, [data.texts[i] for i in rows])
    labels = run.config()["labels"]
    correct = sum(labels[int(p.argmax())] == data.labels[i] for p, i in zip(proba, rows))
    return correct / len(rows), len(rows)


def cell(dataset: str, data, test, per_class: int, seed: int, methods, root: Path) -> dict:
    base = RunConfig(model="minilm", method="", data_name=dataset, test_size=TEST_ROWS, val_size=VAL_ROWS,
                     per_class=per_class)
    store = RunStore(root / f"{dataset}-{per_class}-{seed}")
    started = time.perf_counter()
    runs = create_search(base, data, test, store=store, methods=methods, seed=seed)
    execute_series(runs)
    result = search_result(runs)
    if result.picked is None:
        raise common.BenchError(f"{dataset} {per_class}/class seed {seed}: nothing picked: {result.summary}")
    pick = result.picked
    split = next(run for run in runs if run.id == pick.run_id).split()
    used = set(split.train.texts) | set(split.val.texts) | set(split.test.texts)
    population, n_population = population_accuracy(store.get(pick.run_id), data, used, seed)
    low, high = pick.accuracy_ci
    return {"dataset": dataset, "per_class": per_class, "seed": seed, "n_val": result.n_val, "n_test": result.n_test,
            "candidates": {c.method: {"val_accuracy": c.val_accuracy, "accuracy": c.accuracy, "status": c.status}
                           for c in result.candidates},
            "picked": pick.method, "picked_accuracy": pick.accuracy, "picked_ci": pick.accuracy_ci,
            "best_on_test": result.best_on_test.method, "best_accuracy": result.best_on_test.accuracy,
            "within_2_points": result.best_on_test.accuracy - pick.accuracy <= 0.02 + 1e-9,
            "population_accuracy": population, "n_population": n_population,
            "interval_covers": low <= population <= high, "seconds": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--sizes", default="8,64", help="training rows per class")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", default=None, help="comma-separated (default: the minilm portfolio)")
    args = parser.parse_args()
    methods = args.methods.split(",") if args.methods else None
    cells = []
    with tempfile.TemporaryDirectory(prefix="find-best-") as root:
        for dataset in args.datasets.split(","):
            pool, test_file = DATASETS[dataset]
            data = to_labeled(read_table(common.DATASETS / pool), "text", "label")
            test = to_labeled(read_table(common.DATASETS / test_file), "text", "label") if test_file else None
            for per_class in (int(s) for s in args.sizes.split(",")):
                for seed in range(args.seeds):
                    result = cell(dataset, data, test, per_class, seed, methods, Path(root))
                    cells.append(result)
                    print(f"{dataset:<12} {per_class:>3}/class seed {seed}: picked {result['picked']:<13} "
                          f"{result['picked_accuracy']:.3f} "
                          f"[{result['picked_ci'][0]:.3f}, {result['picked_ci'][1]:.3f}]"
                          f"  best {result['best_on_test']:<13} {result['best_accuracy']:.3f}  population "
                          f"{result['population_accuracy']:.3f}  ({result['seconds']:.0f} s)", flush=True)
    within = sum(c["within_2_points"] for c in cells)
    covered = sum(c["interval_covers"] for c in cells)
    summary = {"cells": len(cells), "within_2_points": within, "interval_covers": covered,
               "within_2_points_share": within / len(cells), "interval_coverage": covered / len(cells)}
    OUT.write_text(json.dumps({"machine": common.machine(), "args": vars(args), "summary": summary, "cells": cells},
                              indent=1))
    print(f"\npick within 2 points of the test-best: {within}/{len(cells)} cells ({within / len(cells):.0%}); "
          f"interval covers the population accuracy: {covered}/{len(cells)} ({covered / len(cells):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
