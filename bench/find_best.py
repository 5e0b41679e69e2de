"""Is the verdict right? "Find the best method" on the shared datasets, judged on rows it never saw.

For each dataset, rows per class and seed, the search runs the portfolio (tlcore.compare.best_method) at its
defaults on one split and picks on the validation rows. Then:

- **pick within 2 points**: is the picked method's test accuracy within 2 points of the best test accuracy of
  any portfolio method on the same test rows? (aim: >= 80 % of cells)
- **interval coverage**: the pick's 95 % interval is computed on the test rows; does it cover the pick's
  accuracy on a larger "population" set of rows of the same dataset that no run saw (training, validation or
  test)? (a well-calibrated interval covers it in about 95 % of cells)
- **the floor**: TF-IDF (word 1-2-grams) + logistic regression trained on the same training rows, scored on the
  same test rows, so every method's mean can be read against it.

The test rows are the same for every seed (split seed 0: a hold-out of TEST_ROWS rows, or trec's own test file);
the seed samples the training rows and seeds each method. Nothing is tuned here: the defaults are the app's.

    .venv/bin/python bench/find_best.py                                   # 5 datasets x 8, 64 per class x 5 seeds
    .venv/bin/python bench/find_best.py --sizes 8 --seeds 3 --datasets sms_spam,subj   # a part

Many processes (one machine with many cores, or a GPU) share the cells with ``--shard K/N --jsonl FILE``: each
appends its cells to FILE as they finish; ``--summarize FILE...`` then merges them into the results file and prints
the summary. ``--deadline S`` starts no new cell after S seconds (what finished is kept).

Results: bench/results/find_best.json (every cell, with the machine), and a summary printed at the end.
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
from accuracy import tfidf_accuracy  # noqa: E402

from tlcore.compare.best_method import create_search, search_result  # noqa: E402
from tlcore.data import to_labeled  # noqa: E402
from tlcore.runs import RunConfig, RunStore  # noqa: E402
from tlcore.runs.series import execute_series  # noqa: E402
from tlcore.use.predict import load_method, predict_texts  # noqa: E402

TEST_ROWS = 500  # the method table's hold-out
VAL_ROWS = 100  # what the search picks on
POPULATION_ROWS = 1000  # unseen rows the pick's interval should cover
OUT = common.RESULTS / "find_best.json"
FLOOR = "tf-idf+lr"


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


def cell(dataset: str, data, test, per_class: int, seed: int, methods, root: Path, model: str = "minilm") -> dict:
    base = RunConfig(model=model, method="", data_name=dataset,
                     test_size=TEST_ROWS, val_size=VAL_ROWS, per_class=per_class)
    store = RunStore(root / f"{dataset}-{per_class}-{seed}")
    started = time.perf_counter()
    runs = create_search(base, data, test, store=store, methods=methods, seed=seed)
    execute_series(runs)
    result = search_result(runs)
    if result.picked is None:
        raise common.BenchError(f"{dataset} {per_class}/class seed {seed}: nothing picked: {result.summary}")
    pick = result.picked
    split = next(run for run in runs if run.id == pick.run_id).split()
    floor_accuracy, _ = tfidf_accuracy(split.train, split.test)
    used = set(split.train.texts) | set(split.val.texts) | set(split.test.texts)
    population, n_population = population_accuracy(store.get(pick.run_id), data, used, seed)
    low, high = pick.accuracy_ci
    return {"dataset": dataset, "per_class": per_class, "seed": seed, "n_train": len(split.train),
            "n_val": result.n_val, "n_test": result.n_test,
            "candidates": {c.method: {"val_accuracy": c.val_accuracy, "accuracy": c.accuracy, "status": c.status,
                                      "error": c.error} for c in result.candidates},
            FLOOR: floor_accuracy,
            "picked": pick.method, "picked_accuracy": pick.accuracy, "picked_ci": pick.accuracy_ci,
            "best_on_test": result.best_on_test.method, "best_accuracy": result.best_on_test.accuracy,
            "within_2_points": result.best_on_test.accuracy - pick.accuracy <= 0.02 + 1e-9,
            "population_accuracy": population, "n_population": n_population,
            "interval_covers": low <= population <= high, "seconds": time.perf_counter() - started}


def planned_cells(datasets: list[str], sizes: list[int], seeds: int) -> list[tuple[str, int, int]]:
    """Seed-major, so that a deadline or a shard still leaves every dataset and size with some seeds."""
    return [(dataset, size, seed) for seed in range(seeds) for size in sizes for dataset in datasets]


def run_cells(args: argparse.Namespace) -> list[dict]:
    methods = args.methods.split(",") if args.methods else None
    shard, n_shards = (int(part) for part in args.shard.split("/"))
    plan = planned_cells(args.datasets.split(","), [int(s) for s in args.sizes.split(",")], args.seeds)
    mine = [c for index, c in enumerate(plan) if index % n_shards == shard]
    loaded: dict[str, tuple] = {}
    cells, started = [], time.monotonic()
    machine = common.machine()
    with tempfile.TemporaryDirectory(prefix="find-best-") as root:
        for dataset, per_class, seed in mine:
            if args.deadline and time.monotonic() - started > args.deadline:
                print(f"deadline: {len(mine) - len(cells)} cells of shard {args.shard} not started", flush=True)
                break
            if dataset not in loaded:
                pool, test = common.read_dataset(dataset)
                loaded[dataset] = (to_labeled(pool, "text", "label"),
                                   to_labeled(test, "text", "label") if test is not None else None)
            result = cell(dataset, *loaded[dataset], per_class, seed, methods, Path(root), args.model)
            result["machine"] = machine
            cells.append(result)
            if args.jsonl:
                with open(args.jsonl, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(result) + "\n")
            print(f"{dataset:<12} {per_class:>3}/class seed {seed}: picked {result['picked']:<13} "
                  f"{result['picked_accuracy']:.3f} [{result['picked_ci'][0]:.3f}, {result['picked_ci'][1]:.3f}]"
                  f"  best {result['best_on_test']:<13} {result['best_accuracy']:.3f}  population "
                  f"{result['population_accuracy']:.3f}  floor {result[FLOOR]:.3f}  ({result['seconds']:.0f} s)",
                  flush=True)
    return cells


def method_means(cells: list[dict]) -> dict[tuple[int, str], dict[str, float]]:
    """{(rows per class, dataset): {method: mean test accuracy over seeds}}, the floor and the pick included."""
    scores: dict[tuple[int, str], dict[str, list[float]]] = {}
    for c in cells:
        row = scores.setdefault((c["per_class"], c["dataset"]), {})
        for method, candidate in c["candidates"].items():
            if candidate["accuracy"] is not None:
                row.setdefault(method, []).append(candidate["accuracy"])
        row.setdefault(FLOOR, []).append(c[FLOOR])
        row.setdefault("picked", []).append(c["picked_accuracy"])
    return {key: {m: statistics.fmean(v) for m, v in row.items()} for key, row in scores.items()}


def summarize(cells: list[dict]) -> dict:
    """Print the verdict's scores and the mean accuracy of every method; return them for the results file."""
    within = sum(c["within_2_points"] for c in cells)
    covered = sum(c["interval_covers"] for c in cells)
    summary = {"cells": len(cells), "within_2_points": within, "interval_covers": covered,
               "within_2_points_share": within / len(cells), "interval_coverage": covered / len(cells),
               "by_size": {}}
    print(f"\npick within 2 points of the test-best: {within}/{len(cells)} cells ({within / len(cells):.0%}); "
          f"interval covers the population accuracy: {covered}/{len(cells)} ({covered / len(cells):.0%})")
    means = method_means(cells)
    for size in sorted({c["per_class"] for c in cells}):
        part = [c for c in cells if c["per_class"] == size]
        datasets = sorted({c["dataset"] for c in part})
        seeds = {d: sum(c["dataset"] == d for c in part) for d in datasets}
        methods = sorted({m for d in datasets for m in means[(size, d)]} - {FLOOR, "picked"})
        columns = methods + [FLOOR, "picked"]
        print(f"\n{size} per class: mean test accuracy over seeds (%)")
        print(f"| dataset (seeds) | {' | '.join(columns)} |")
        print("|" + "---|" * (len(columns) + 1))
        for d in datasets:
            cells_text = [f"{100 * means[(size, d)][m]:.1f}" if m in means[(size, d)] else "-" for m in columns]
            print(f"| {d} ({seeds[d]}) | {' | '.join(cells_text)} |")
        average = {m: statistics.fmean(means[(size, d)][m] for d in datasets) for m in columns
                   if all(m in means[(size, d)] for d in datasets)}
        print(f"| mean | {' | '.join(f'{100 * average[m]:.1f}' if m in average else '-' for m in columns)} |")
        best = max((m for m in average if m not in (FLOOR, "picked")), key=average.get)
        summary["by_size"][str(size)] = {
            "cells": len(part), "within_2_points": sum(c["within_2_points"] for c in part),
            "interval_covers": sum(c["interval_covers"] for c in part),
            "means": {d: means[(size, d)] for d in datasets}, "average": average, "best_method": best,
            "best_over_floor_points": 100 * (average[best] - average[FLOOR]),
            "picked_over_floor_points": 100 * (average["picked"] - average[FLOOR])}
        print(f"best method on average: {best}, {100 * (average[best] - average[FLOOR]):+.1f} points over "
              f"{FLOOR}; the pick {100 * (average['picked'] - average[FLOOR]):+.1f}; within 2 points "
              f"{summary['by_size'][str(size)]['within_2_points']}/{len(part)}, interval covers "
              f"{summary['by_size'][str(size)]['interval_covers']}/{len(part)}")
    return summary


def write_results(cells: list[dict], args: dict) -> None:
    summary = summarize(cells)
    machine = cells[0].get("machine") if cells else common.machine()
    for c in cells:
        c.pop("machine", None)
    OUT.write_text(json.dumps({"machine": machine, "args": args, "summary": summary, "cells": cells}, indent=1))
    print(f"\nwrote {OUT.relative_to(common.ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(common.DATASET_FILES))
    parser.add_argument("--sizes", default="8,64", help="training rows per class")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--model", default="minilm", help="a bundled model or a model folder")
    parser.add_argument("--methods", default=None, help="comma-separated (default: the model's portfolio)")
    parser.add_argument("--shard", default="0/1", help="K/N: run every N-th cell from the K-th (0-based)")
    parser.add_argument("--jsonl", default=None, help="append each finished cell to this file")
    parser.add_argument("--deadline", type=float, default=0.0, help="seconds after which no cell starts")
    parser.add_argument("--summarize", nargs="+", default=None, metavar="JSONL",
                        help="merge these cell files into the results file and print the summary; run nothing")
    args = parser.parse_args()
    if args.summarize:
        cells = [json.loads(line) for name in args.summarize for line in Path(name).read_text().splitlines()
                 if line.strip()]
        if not cells:
            raise SystemExit("error: the cell files hold no cells")
        write_results(cells, {"summarized": [str(name) for name in args.summarize]})
        return 0
    cells = run_cells(args)
    if args.shard == "0/1" and cells:
        write_results(cells, {k: v for k, v in vars(args).items() if k != "summarize"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
