"""The method menu's table (issues 4, 18): every model x method on the shared datasets (sms_spam, trec, rt_polarity,
subj, yelp) at 64 training rows per class.

Each cell is the command a user types, run in its own process with the defaults the app uses:

    tlcore run --train sms_spam/sms_spam_all.csv --test-size 500 --model M --method X --per-class 64 --json
    tlcore run --train trec/trec_train.csv --test trec/trec_test.csv --model M --method X --per-class 64 --json

few-shot runs at its default too (minilm: a prototype of every training row; smollm2: K=4 examples per class in
its prompt), and zero-shot and few-shot get ``--label-description`` for each terse label name ("ham",
"DESC", ...), as the app's users write them; they were written once, not tuned on the test rows. Reported per cell:
accuracy, macro-F1, trainable / total parameters, wall time of the whole command (import, load, train, predict 500 test
rows) and the process's peak RSS; per dataset: the majority-class baseline on the same test rows.

    .venv/bin/python bench/method_table.py                        # everything (~1.5 h on 2 cores; smollm2 is most)
    .venv/bin/python bench/method_table.py --models minilm        # one model (~10 min)
    .venv/bin/python bench/method_table.py --methods lora,ia3 --datasets trec

Cells are added to bench/results/method_table.json as they finish (a later run replaces the cells it re-runs),
and the whole table is printed as markdown at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from first_result import tlcore_command  # noqa: E402

MODELS = ("minilm", "smollm2-135m")
METHODS = ("zero-shot", "few-shot", "linear-probe", "full", "freeze", "lora", "dora", "ia3", "prompt-tuning")
DESCRIPTIONS = {
    "sms_spam": {"ham": "a personal message from a friend or family member",
                 "spam": "an advertisement, prize offer or scam message"},
    "trec": {"ABBR": "a question asking what an abbreviation stands for",
             "DESC": "a question asking for a description, definition or reason",
             "ENTY": "a question asking for a thing, object or entity",
             "HUM": "a question asking who: a person or group",
             "LOC": "a question asking where: a place or location",
             "NUM": "a question asking how many, how much or when: a number or date"},
    "rt_polarity": {"negative": "a negative movie review", "positive": "a positive movie review"},
    "subj": {"objective": "an objective description of what happens in a movie's plot",
             "subjective": "a subjective opinion about a movie"},
    "yelp": {"negative": "a negative restaurant review", "positive": "a positive restaurant review"},
}
OUT = common.RESULTS / "method_table.json"


def data_args(dataset: str) -> list[str]:
    pool, test = common.DATASET_FILES[dataset]
    args = ["--train", str(common.DATASETS / pool)]
    return args + (["--test", str(common.DATASETS / test)] if test else ["--test-size", "500"])


def cell(dataset: str, model: str, method: str, runs: Path) -> dict:
    args = ["run", *data_args(dataset), "--model", model, "--method", method, "--per-class", "64",
            "--runs-dir", str(runs), "--json", "--quiet"]
    if method in ("zero-shot", "few-shot"):
        for label, text in DESCRIPTIONS[dataset].items():
            args += ["--label-description", f"{label}={text}"]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(tlcore_command() + args, capture_output=True, text=True, timeout=3600, cwd=common.ROOT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise common.BenchError(f"{dataset} {model} {method} failed: {proc.stderr.strip()[-400:]}")
    result = json.loads(proc.stdout)
    majority = result["majority_baseline"]
    return {**ranking(runs / result["run_id"]), "dataset": dataset, "model": model, "method": method,
            "accuracy": result["accuracy"],
            "macro_f1": result["macro_f1"], "majority_accuracy": majority["accuracy"],
            "majority_macro_f1": majority["macro_f1"],
            "beats_majority": result["accuracy"] > majority["accuracy"],
            "beats_majority_f1": result["macro_f1"] > majority["macro_f1"],
            "trainable_params": result["trainable_params"], "total_params": result["total_params"],
            "n_train": result["n_train"], "n_test": result["n_test"], "epochs": result.get("epochs"),
            "epochs_completed": result.get("epochs_completed"), "early_stopped": result.get("early_stopped"),
            "schedule": result.get("schedule"), "n_val": result.get("n_val"),
            "train_seconds": result["train_seconds"], "wall_s": wall, "peak_rss_mb": result["peak_rss_mb"],
            "load_average_at_start": round(load, 2), "command": "tlcore " + " ".join(
                a if " " not in a else repr(a) for a in args if not a.startswith(("/tmp", str(runs))))}


def ranking(run_folder: Path) -> dict:
    """Two-class data: how well the run's probabilities rank the rarer class, whatever threshold is used.

    ``roc_auc`` is 0.5 for a random ranking; ``best_threshold_accuracy`` is the accuracy of the best threshold
    on those probabilities, picked with the test labels: a ceiling that no calibration of these scores can pass
    (it shows whether a method below the majority class is miscalibrated or cannot tell the classes apart).
    """
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    frame = pd.read_csv(run_folder / "predictions.csv", keep_default_na=False)
    classes = frame["gold"].value_counts()
    if len(classes) != 2:
        return {}
    rare = classes.index[-1]
    positive, score = (frame["gold"] == rare).to_numpy(), frame[f"p_{rare}"].to_numpy(dtype=float)
    cuts = np.concatenate([np.unique(score), [np.inf]])
    best = max(float(((score >= cut) == positive).mean()) for cut in cuts)
    return {"roc_auc": float(roc_auc_score(positive, score)), "best_threshold_accuracy": best}


def table(rows: list[dict]) -> str:
    lines = []
    for dataset in sorted({r["dataset"] for r in rows}, key=list(common.DATASET_FILES).index):
        mine = [r for r in rows if r["dataset"] == dataset]
        first = mine[0]
        ranked = any("roc_auc" in r for r in mine)  # two-class data: how well each run ranks the rare class
        lines += ["", f"**{dataset}** ({first['n_test']} test rows; majority class: accuracy "
                      f"{first['majority_accuracy']:.1%}, macro-F1 {first['majority_macro_f1']:.3f})", "",
                  "| model | method | accuracy | macro-F1 | beats majority (acc / F1) | "
                  + ("ROC AUC (best threshold) | " if ranked else "") + "trainable params | "
                  "wall s | train s | peak RSS MB |", "|---|---|---|---|---|" + ("---|" if ranked else "")
                  + "---|---|---|---|"]
        for r in sorted(mine, key=lambda r: (MODELS.index(r["model"]), METHODS.index(r["method"]))):
            beats = f"{'yes' if r['beats_majority'] else '**no**'} / {'yes' if r['beats_majority_f1'] else '**no**'}"
            ranking = ""
            if ranked:
                ranking = (f"{r['roc_auc']:.2f} ({r['best_threshold_accuracy']:.1%}) | " if "roc_auc" in r
                           else "— | ")
            wall = f"{r['wall_s']:.0f}" + (" †" if r.get("shared_cpu") else "")
            lines.append(f"| {r['model']} | {r['method']} | {r['accuracy']:.1%} | {r['macro_f1']:.3f} | {beats} | "
                         f"{ranking}{r['trainable_params']:,} of {r['total_params'] / 1e6:.1f} M | {wall} | "
                         f"{r['train_seconds']:.0f} | {r['peak_rss_mb']:,.0f} |")
    return "\n".join(lines).strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="every model x method on the shared datasets at 64 rows per class")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--datasets", default=",".join(DESCRIPTIONS))
    args = parser.parse_args(argv)
    chosen = [(d, m, x) for d in args.datasets.split(",") for m in args.models.split(",")
              for x in args.methods.split(",")]
    for dataset, model, method in chosen:
        if dataset not in DESCRIPTIONS or model not in MODELS or method not in METHODS:
            parser.error(f"unknown cell {dataset} {model} {method}")
    saved = json.loads(OUT.read_text()) if OUT.exists() else {"rows": []}
    saved["machine"] = common.machine()
    with tempfile.TemporaryDirectory(prefix="tl-method-table-") as tmp:
        for dataset, model, method in chosen:
            common.say(f"method table: {dataset} {model} {method}")
            row = cell(dataset, model, method, Path(tmp) / "runs")
            common.say(f"  accuracy {row['accuracy']:.3f} macro-F1 {row['macro_f1']:.3f} wall {row['wall_s']:.0f} s "
                       f"RSS {row['peak_rss_mb']:.0f} MB")
            saved["rows"] = [r for r in saved["rows"] if (r["dataset"], r["model"], r["method"]) !=
                             (dataset, model, method)] + [row]
            OUT.parent.mkdir(exist_ok=True)
            OUT.write_text(json.dumps(saved, indent=2))
    print(table(saved["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
