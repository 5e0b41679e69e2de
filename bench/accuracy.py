"""Target 5: accuracy at 8 and 64 training examples per class, with TF-IDF + logistic regression as the floor.

Per dataset (sms_spam, trec, rt_polarity, subj) one process runs every cell on the same test rows:
a stratified sample of 200 rows (trec: of its official test file; the others: held out of the
data with ``tlcore.make_split``, split seed 0), a 200-row stratified validation sample whose label
counts give the prompt methods their class prior (its texts are never used), and training rows
drawn per class with ``make_split(per_class=N, sample_seed=seed)`` from the rest. Every method runs
through tlcore's own method classes at its default settings. The scope fits the 30-minute budget:

- minilm: every method. zero-shot uses no examples (one number per dataset); few-shot (prototypes
  of all N examples) and linear-probe with 3 seeds at both sizes; LoRA with 1 seed at both sizes;
  full, freeze, DoRA, IA3 and prompt tuning with 1 seed at 8 per class (each fine-tuning run is
  ~60 optimisation steps: 10-45 s here; full fine-tuning at 64 per class, ~45 s a dataset, was cut
  to keep the suite under 30 minutes).
- smollm2-135m: zero-shot; few-shot with 4 of the 8 examples per class in the prompt (K=4, as in
  kv_cache.py) and linear-probe (mean-pooled decoder states), 1 seed at 8 per class. Its fine-tuning is left out
  (~1-3 min per run on 2 cores; the throughput table has its speed).
- TF-IDF (word 1-2-grams, sublinear tf) + logistic regression with 3 seeds at both sizes.

Feature caches start empty (a fresh TLCORE_CACHE holding only the converted models), so the time
is what a first run costs.
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DATASETS = ("sms_spam", "trec", "rt_polarity", "subj")
SIZES = (8, 64)
VAL_ROWS = 200


def plan(quick: bool) -> dict:
    """What runs: test rows, and (model, method) -> {size: number of seeds}; size 0 means "uses no examples"."""
    if quick:
        return {"test_rows": 60, "sizes": (8,), "tfidf_seeds": 1, "cells": [
            ("minilm", "zero-shot", {0: 1}), ("minilm", "few-shot", {8: 1}), ("minilm", "linear-probe", {8: 1}),
            ("minilm", "lora", {8: 1}), ("smollm2-135m", "zero-shot", {0: 1})]}
    cells = [("minilm", "zero-shot", {0: 1}), ("minilm", "few-shot", {8: 3, 64: 3}),
             ("minilm", "linear-probe", {8: 3, 64: 3}), ("minilm", "lora", {8: 1, 64: 1})]
    cells += [("minilm", method, {8: 1}) for method in ("full", "freeze", "dora", "ia3", "prompt-tuning")]
    cells += [("smollm2-135m", "zero-shot", {0: 1}), ("smollm2-135m", "few-shot", {8: 1}),
              ("smollm2-135m", "linear-probe", {8: 1})]
    return {"test_rows": 200, "sizes": SIZES, "tfidf_seeds": 3, "cells": cells}


def _options(model: str, method: str, size: int) -> dict:
    if method == "few-shot":
        return {"shots": size if model == "minilm" else min(size, 4)}
    return {}


def tfidf_accuracy(train, test) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    head = LogisticRegression(max_iter=2000).fit(vectorizer.fit_transform(train.texts), train.labels)
    predicted = head.predict(vectorizer.transform(test.texts))
    return (float(accuracy_score(test.labels, predicted)),
            float(f1_score(test.labels, predicted, average="macro", zero_division=0)))


def cell(spec: dict) -> dict:
    """Every (model, method, size, seed) of one dataset, in this process."""
    import tlcore
    from tlcore.engine.callbacks import Callback
    from tlcore.engine.models import model_folder
    from tlcore.runs.metrics import classification_metrics, predicted_labels

    name, setup = spec["dataset"], spec["plan"]
    pool_frame, test_frame = common.read_dataset(name)
    data = tlcore.to_labeled(pool_frame, "text", "label")
    test = None
    if test_frame is not None:  # trec: a stratified sample of its own test file
        test = tlcore.make_split(tlcore.to_labeled(test_frame, "text", "label"), test_size=setup["test_rows"],
                                 val_size=0).test

    def split(size: int | None, seed: int):
        return tlcore.make_split(data, test, test_size=setup["test_rows"], val_size=VAL_ROWS, split_seed=0,
                                 per_class=size, sample_seed=seed)

    base = split(None, 0)
    records = []
    for size in setup["sizes"]:
        for seed in range(setup["tfidf_seeds"]):
            started = time.perf_counter()
            accuracy, macro_f1 = tfidf_accuracy(split(size, seed).train, base.test)
            records.append({"model": "tf-idf", "method": "logistic regression", "size": size, "seed": seed,
                            "accuracy": accuracy, "macro_f1": macro_f1, "seconds": time.perf_counter() - started})
    for model, method, seeds_by_size in setup["cells"]:
        spec_model = tlcore.engine.resolve_model(model)
        folder = model_folder(spec_model)
        entry = tlcore.methods.get_method(method)
        for size, n_seeds in ((int(k), v) for k, v in seeds_by_size.items()):  # JSON made the sizes strings
            for seed in range(n_seeds):
                part = split(size or 8, seed)  # size 0: no examples used; the split still gives the prior
                config = entry.config_cls.from_dict({**_options(model, method, size), "seed": seed})
                instance = entry.method_cls(config, spec_model, folder, base.labels)
                val = part.val if not entry.trains else tlcore.data.LabeledData([], [])  # no early stopping: no val
                started = time.perf_counter()
                instance.fit(part.train, val, Callback())
                fitted = time.perf_counter()
                proba = instance.predict_proba(base.test.texts)
                done = time.perf_counter()
                metrics = classification_metrics(base.test.labels, predicted_labels(proba, base.labels), base.labels)
                records.append({"model": model, "method": method, "size": size, "seed": seed,
                                "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                                "fit_seconds": fitted - started, "predict_seconds": done - fitted,
                                "seconds": done - started})
                common.say(f"  {name} {model} {method} n={size} seed={seed}: {metrics['accuracy']:.3f} "
                           f"({done - started:.1f} s)")
                del instance
                gc.collect()
    majority = classification_metrics(base.test.labels, [max(set(base.test.labels), key=base.test.labels.count)]
                                      * len(base.test), base.labels)["accuracy"]
    return {"dataset": name, "n_test": len(base.test), "labels": base.labels, "majority_accuracy": majority,
            "test_fingerprint": base.fingerprint, "records": records}


def summarize(results: list[dict], sizes) -> tuple[list[dict], list[dict]]:
    """Mean/std accuracy per (model, method) and dataset/size, and the target per dataset."""
    rows: dict[tuple[str, str], dict] = {}
    targets = []
    for result in results:
        groups: dict[tuple[str, str, int], list[dict]] = {}
        for record in result["records"]:
            groups.setdefault((record["model"], record["method"], record["size"]), []).append(record)
        for (model, method, size), records in groups.items():
            accuracies = [r["accuracy"] for r in records]
            value = {"mean": statistics.fmean(accuracies), "std": statistics.pstdev(accuracies) if len(records) > 1
                     else None, "seeds": len(records),
                     "macro_f1": statistics.fmean(r["macro_f1"] for r in records),
                     "seconds": statistics.fmean(r["seconds"] for r in records)}
            row = rows.setdefault((model, method), {"model": model, "method": method})
            for target_size in (sizes if size == 0 else (size,)):  # no examples: the same at every size
                row[f"{result['dataset']}@{target_size}"] = value
        at8 = {key: row.get(f"{result['dataset']}@8") for key, row in rows.items()}
        floor = at8.get(("tf-idf", "logistic regression"))
        others = {k: v for k, v in at8.items() if v and k[0] != "tf-idf"}
        if floor and others:
            best_key = max(others, key=lambda k: others[k]["mean"])
            margin = others[best_key]["mean"] - floor["mean"]
            targets.append(common.target(
                f"{result['dataset']}: at 8 per class the best method beats TF-IDF + LR by >= 10 points",
                margin >= 0.10 - 1e-9, f"{best_key[1]} ({best_key[0]}) {others[best_key]['mean']:.1%} vs "
                f"{floor['mean']:.1%}: {100 * margin:+.1f} points",
                f"majority class {result['majority_accuracy']:.1%}"))
    return list(rows.values()), targets


def cell_text(value: dict | None) -> str:
    if not value:
        return "–"
    text = f"{100 * value['mean']:.1f}"
    if value["std"] is not None:
        text += f" ± {100 * value['std']:.1f}"
    return text


def run(quick: bool = False) -> dict:
    setup = plan(quick)
    results = []
    with tempfile.TemporaryDirectory(prefix="tl-bench-cache-") as cache:
        from tlcore.engine.models import cache_dir

        models = cache_dir() / "models"
        if models.exists():  # converted models yes, cached features no
            os.symlink(models, Path(cache) / "models")
        previous = os.environ.get("TLCORE_CACHE")
        os.environ["TLCORE_CACHE"] = cache
        try:
            for name in DATASETS:
                common.say(f"accuracy: {name}")
                started = time.perf_counter()
                result = common.run_cell("accuracy", {"dataset": name, "plan": setup}, timeout=3600)
                result["seconds"] = time.perf_counter() - started
                results.append(result)
        finally:
            if previous is None:
                os.environ.pop("TLCORE_CACHE", None)
            else:
                os.environ["TLCORE_CACHE"] = previous
    rows, targets = summarize(results, setup["sizes"])
    columns = [(f"{d}@{s}", f"{d} {s}/class") for d in DATASETS for s in setup["sizes"]]
    table_rows = [{"model": r["model"], "method": r["method"], **{key: cell_text(r.get(key)) for key, _ in columns}}
                  for r in rows]
    table = common.markdown_table(table_rows, [("model", "model"), ("method", "method"), *columns])
    table += "\n\nAccuracy in % on the same test rows per dataset (mean ± std over seeds; no ± where one run). " + \
        "Test rows: " + ", ".join(f"{r['dataset']} {r['n_test']} (majority class {r['majority_accuracy']:.0%})"
                                  for r in results) + "."
    return {"name": "accuracy", "title": "5. Accuracy at 8 and 64 examples per class", "rows": rows,
            "per_dataset": results, "table": table, "targets": targets}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2, default=str))
