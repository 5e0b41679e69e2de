"""Does the label-issue finder find planted label errors? Flipped labels on the shared datasets.

For each dataset and seed: ROWS rows drawn at random (seeded), FLIP_SHARE of them given a different label at
random (seeded: the flipped rows and their new labels), then ``tlcore.compare.label_issues.find_label_issues`` at its
defaults (minilm sentence vectors + logistic regression, 5-fold out of sample, cleanlab's confident learning), as
`tlcore label-issues` and the app's Label page run it. Against the flipped rows:

- **precision**: the share of the listed rows that were flipped; **recall**: the share of flipped rows listed
  (aim: both >= 0.5 at 500 rows);
- **precision at k**: of the k most suspicious listed rows (k = the number of flips), the share that were flipped
  (how good the ranking's top is, whatever the list's length);
- **agreement**: the share of rows whose out-of-sample prediction is their (noisy) label: how good the checking
  model is on this data; a flip can only stand out among rows the model gets right, so precision falls with it.

Nothing is tuned here: the finder runs at its defaults (the linear probe's C, cleanlab's defaults). The original
labels of these datasets hold some errors of their own: a listed row that was not flipped is counted as a false
positive even when its original label is wrong.

    .venv/bin/python bench/label_issues.py                      # sms_spam, trec, rt_polarity, subj x 3 seeds
    .venv/bin/python bench/label_issues.py --datasets subj --seeds 1

Results: bench/results/label_issues.json (every cell, the machine, the command) and a table printed at the end.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from tlcore.compare.label_issues import find_label_issues  # noqa: E402
from tlcore.data import to_labeled  # noqa: E402

ROWS = 500
FLIP_SHARE = 0.05
DATASETS = ("sms_spam", "trec", "rt_polarity", "subj")
OUT = common.RESULTS / "label_issues.json"
AIM = 0.5


def flip_labels(labels: list[str], share: float, seed: int) -> tuple[list[str], set[int]]:
    """A copy of ``labels`` with round(share * n) of them changed to another class at random; the flipped rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    flipped = {int(i) for i in rng.choice(len(labels), round(share * len(labels)), replace=False)}
    noisy = list(labels)
    for i in sorted(flipped):
        noisy[i] = str(rng.choice([c for c in classes if c != labels[i]]))
    return noisy, flipped


def cell(dataset: str, seed: int, rows: int, model: str) -> dict:
    pool, _ = common.read_dataset(dataset)
    frame = pool.sample(n=rows, random_state=seed).reset_index(drop=True)
    clean = to_labeled(frame, "text", "label")
    noisy_labels, flipped = flip_labels(clean.labels, FLIP_SHARE, seed)
    noisy = type(clean)(texts=clean.texts, labels=noisy_labels)
    started = time.perf_counter()
    report = find_label_issues(noisy, model, seed=seed)
    listed = [issue.row for issue in report.issues]
    hits = len(set(listed) & flipped)
    top = listed[:len(flipped)]
    return {"dataset": dataset, "seed": seed, "rows": len(noisy), "flipped": len(flipped), "listed": len(listed),
            "found": hits, "precision": hits / len(listed) if listed else 0.0, "recall": hits / len(flipped),
            "precision_at_k": len(set(top) & flipped) / len(flipped), "agreement": report.agreement,
            "folds": report.folds, "method": report.method, "seconds": time.perf_counter() - started}


def summarize(cells: list[dict]) -> list[dict]:
    rows = []
    for dataset in dict.fromkeys(c["dataset"] for c in cells):
        mine = [c for c in cells if c["dataset"] == dataset]
        row = {"dataset": dataset, "seeds": len(mine)}
        for key in ("precision", "recall", "precision_at_k", "agreement", "listed", "seconds"):
            values = [c[key] for c in mine]
            row[key] = statistics.mean(values)
            row[key + "_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        row["met"] = row["precision"] >= AIM and row["recall"] >= AIM
        rows.append(row)
    return rows


def table(summary: list[dict]) -> str:
    def pm(row: dict, key: str) -> str:
        return f"{row[key]:.2f} ± {row[key + '_std']:.2f}"

    return common.markdown_table(
        [{"dataset": r["dataset"], "precision": pm(r, "precision"), "recall": pm(r, "recall"),
          "p@k": pm(r, "precision_at_k"), "listed": f"{r['listed']:.0f}", "agreement": pm(r, "agreement"),
          "met": r["met"], "seconds": f"{r['seconds']:.0f}"} for r in summary],
        [("dataset", "dataset"), ("precision", "precision"), ("recall", "recall"), ("p@k", "precision at k"),
         ("listed", "rows listed"), ("agreement", "model agrees with labels"), ("met", "both >= 0.5"),
         ("seconds", "s per cell")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--model", default="minilm")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    machine = common.machine()
    cells = []
    for dataset in args.datasets.split(","):
        for seed in range(args.seeds):
            result = cell(dataset, seed, args.rows, args.model)
            common.say(f"{dataset} seed {seed}: precision {result['precision']:.2f} recall {result['recall']:.2f} "
                       f"({result['found']} of {result['flipped']} flips among {result['listed']} listed) "
                       f"in {result['seconds']:.0f} s")
            cells.append(result)
    summary = summarize(cells)
    command = "python bench/label_issues.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = {"name": "label_issues", "title": "label-issue finder on planted flips", "command": command.strip(),
               "rows": args.rows, "flip_share": FLIP_SHARE, "seeds": args.seeds, "model": args.model,
               "cells": cells, "summary": summary, "table": table(summary),
               "targets": [common.target(f"{r['dataset']}: precision and recall >= {AIM} at {args.rows} rows",
                                         r["met"], f"precision {r['precision']:.2f}, recall {r['recall']:.2f}")
                           for r in summary],
               "seconds": time.perf_counter() - started, "machine": machine,
               "measured": time.strftime("%Y-%m-%d %H:%M")}
    common.RESULTS.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(payload, indent=2))
    print(f"Measured {payload['measured']} with `{payload['command']}` on {machine.get('cpu')}, "
          f"{machine.get('logical_cpus')} logical CPUs, torch {machine.get('torch')}, load average "
          f"{machine.get('load_average_at_start')} at the start; {args.rows} rows, {FLIP_SHARE:.0%} flipped, "
          f"{args.seeds} seeds.\n")
    print(table(summary))
    print(f"\nResults: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
