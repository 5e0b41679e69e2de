"""Several finished runs side by side: metrics rows, per-class scores and a per-example table.

Runs are comparable only when they were scored on the same test rows, which their test-split
fingerprint (``config.json`` → ``split.test_fingerprint``) identifies. ``load_comparison`` refuses
anything else with a message that names the runs of each test set.

Every table here is what the Compare page, the HTML report and ``tlcore compare RUN_ID ...`` show,
so they always agree. Each run carries 95 % intervals for accuracy and macro-F1 (``accuracy_ci``,
``macro_f1_ci``; computed from predictions.csv for runs saved before intervals existed), and
``paired_with_best`` says whether the test set can tell the best run from each other one
(``tlcore.compare.paired``). Light at import time (pandas and numpy only; scipy when intervals are computed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..errors import ConfigError, RunError
from ..runs.intervals import run_intervals
from ..runs.metrics import classification_metrics, majority_label
from ..runs.store import Run, RunStore, RunSummary, model_tag, run_clock
from .paired import PairedComparison, compare_pair

# Display formats shared by the page's table and the report (Python format specs).
METRIC_FORMATS = {"Accuracy": "{:.1%}", "Macro-F1": "{:.3f}", "Trainable params": "{:,.0f}",
                  "Train time (s)": "{:.1f}", "Predict time / 1,000 (s)": "{:.2f}", "Training rows": "{:,.0f}",
                  "ECE": "{:.3f}"}
PER_CLASS_FORMAT = "{:.3f}"
# The intervals' columns in the metrics table: text ("62.5% – 85.0%"), formatted like the score beside them.
ACCURACY_CI, MACRO_F1_CI = "Accuracy 95 % interval", "Macro-F1 95 % interval"
MAJORITY = "majority class"

# The per-example views; "fixed"/"broke" compare runs without training (before) and with training (after).
VIEWS = {"all": "All examples", "all_wrong": "All runs wrong", "fixed": "Fine-tuning fixed it",
         "broke": "Fine-tuning broke it", "disagree": "Runs disagree"}
VIEW_HELP = {
    "all": "Every test example.",
    "all_wrong": "No selected run predicted the gold label: hard, ambiguous or mislabeled examples.",
    "fixed": "Every run without training (zero-shot, few-shot) got it wrong and every trained run got it right.",
    "broke": "Every run without training got it right and every trained run got it wrong.",
    "disagree": "The selected runs predicted different labels.",
}


@dataclass
class ComparedRun:
    """One finished run, with what a comparison needs from its folder."""

    id: str
    name: str  # unique among the compared runs: "lora · minilm", "lora · minilm · 16/class", ...
    config: dict
    metrics: dict
    predictions: pd.DataFrame
    path: Path | None = None

    @property
    def method(self) -> str:
        return str(self.config.get("method", self.metrics.get("method", "")))

    @property
    def model(self) -> str:
        return str(self.config.get("model", self.metrics.get("model", "")))

    @property
    def trained(self) -> bool:
        """Whether the run learned parameters from labeled rows (zero-shot and few-shot do not)."""
        return bool(self.metrics.get("trainable_params"))

    @property
    def group(self) -> str | None:
        return self.config.get("group")

    def correct(self) -> pd.Series:
        return self.predictions["gold"].astype(str) == self.predictions["predicted"].astype(str)


@dataclass
class Comparison:
    """Finished runs on one test split."""

    runs: list[ComparedRun]
    labels: list[str]
    test_fingerprint: str
    texts: list[str]
    gold: list[str]
    info: dict = field(default_factory=dict)  # the split settings of the first run (data name, sizes, seed)

    @property
    def n_test(self) -> int:
        return len(self.gold)

    def run(self, run_id: str) -> ComparedRun:
        for run in self.runs:
            if run.id == run_id:
                return run
        raise RunError(f"run {run_id} is not part of this comparison.")

    # -- column names of the per-example table ------------------------------------------------------
    @staticmethod
    def predicted_column(run: ComparedRun) -> str:
        return f"{run.name} · predicted"

    @staticmethod
    def confidence_column(run: ComparedRun) -> str:
        return f"{run.name} · confidence"

    @staticmethod
    def correct_column(run: ComparedRun) -> str:
        return f"{run.name} · correct"


def _run_names(runs: list[tuple[str, dict]]) -> dict[str, str]:
    """Readable, unique names: method · model, then the rows per class, then the creation time, then the id."""
    names = {}
    for run_id, config in runs:
        name = f"{config.get('method', '?')} · {model_tag(str(config.get('model', '?')))}"
        if config.get("group"):
            per_class = config.get("per_class")
            seed = (config.get("method_options") or {}).get("seed", 0)
            name += f" · {per_class if per_class else 'all'}/class · seed {seed}"
        names[run_id] = name
    for suffix in (run_clock, lambda rid: rid[-4:], lambda rid: rid):
        counts: dict[str, int] = {}
        for name in names.values():
            counts[name] = counts.get(name, 0) + 1
        if all(n == 1 for n in counts.values()):
            break
        names = {rid: f"{name} · {suffix(rid)}" if counts[name] > 1 else name for rid, name in names.items()}
    return names


def comparable_groups(summaries: Sequence[RunSummary]) -> dict[str, list[RunSummary]]:
    """Finished runs grouped by test split, in the order of ``summaries`` (newest first from the store)."""
    groups: dict[str, list[RunSummary]] = {}
    for summary in summaries:
        if summary.status == "succeeded" and summary.test_fingerprint:
            groups.setdefault(summary.test_fingerprint, []).append(summary)
    return groups


def load_comparison(run_ids: Sequence[str], store: RunStore | None = None) -> Comparison:
    """Load finished runs that share a test split (best accuracy first); refuse others with a message naming them."""
    store = store or RunStore()
    run_ids = list(dict.fromkeys(run_ids))
    if not run_ids:
        raise RunError("no runs to compare; give at least one finished run id (see `tlcore runs`).")
    loaded: list[tuple[Run, dict, dict, pd.DataFrame]] = []
    by_test: dict[str, list[str]] = {}
    for run_id in run_ids:
        run = store.get(run_id)
        state = run.status().get("status")
        if state != "succeeded":
            raise RunError(f"run {run_id} is {state}; only runs that succeeded can be compared.")
        config, metrics, predictions = run.config(), run.metrics(), run.predictions()
        if not metrics or predictions is None:
            raise RunError(f"run {run_id} has no {'metrics.json' if not metrics else 'predictions.csv'}; it is "
                           "damaged: run it again.")
        fingerprint = config.get("split", {}).get("test_fingerprint") or metrics.get("test_fingerprint") or "?"
        by_test.setdefault(fingerprint, []).append(run_id)
        loaded.append((run, config, metrics, predictions))
    if len(by_test) > 1:
        sets = "; ".join(f"test set {fp[:8]}: {', '.join(ids)}" for fp, ids in by_test.items())
        raise RunError(f"these runs were scored on different test rows, so they cannot be compared ({sets}). "
                       "Compare runs of one test set (same data, test size and split seed; `tlcore runs --json` "
                       "shows each run's test_fingerprint).")
    first_run, first_config, _, first_predictions = loaded[0]
    labels = list(first_config.get("labels") or [])
    gold = first_predictions["gold"].astype(str).tolist()
    texts = first_predictions["text"].astype(str).tolist()
    for run, config, _, predictions in loaded[1:]:
        if list(config.get("labels") or []) != labels:
            raise RunError(f"runs {first_run.id} and {run.id} have different label sets ({labels} and "
                           f"{config.get('labels')}); compare runs trained on the same labels.")
        if predictions["gold"].astype(str).tolist() != gold:
            raise RunError(f"run {run.id}'s predictions.csv does not list the same test rows as run "
                           f"{first_run.id}'s; one of them is damaged.")
    names = _run_names([(run.id, config) for run, config, _, _ in loaded])
    runs = [ComparedRun(id=run.id, name=names[run.id], config=config,
                        metrics={**metrics, **(run_intervals(metrics, predictions, labels) or {})},
                        predictions=predictions, path=run.path) for run, config, metrics, predictions in loaded]
    # Every table and chart: best first; ties by macro-F1, then name, so any selection order gives one order.
    runs.sort(key=lambda run: (-(run.metrics.get("accuracy") or 0.0), -(run.metrics.get("macro_f1") or 0.0), run.name))
    info = {**first_config.get("split", {}), "data_name": first_config.get("data_name"),
            "test_name": first_config.get("test_name")}
    return Comparison(runs=runs, labels=labels, test_fingerprint=next(iter(by_test)), texts=texts, gold=gold,
                      info=info)


# -- metrics tables ------------------------------------------------------------------------------------
def _per_class(run: ComparedRun, labels: list[str]) -> dict[str, dict]:
    per_class = run.metrics.get("per_class") or {}
    if all(label in per_class and "precision" in per_class[label] for label in labels):
        return per_class
    # Runs from before tlcore recorded per-class scores: the same arithmetic from the predictions.
    return classification_metrics(run.predictions["gold"].astype(str).tolist(),
                                  run.predictions["predicted"].astype(str).tolist(), labels)["per_class"]


def majority_metrics(comparison: Comparison) -> dict:
    """Scores of always predicting the test set's most common class (the floor every run should clear)."""
    label = majority_label(comparison.gold)
    return {"label": label,
            **classification_metrics(comparison.gold, [label] * comparison.n_test, comparison.labels)}


def interval_text(interval, spec: str) -> str | None:
    """An interval as display text, each end formatted with ``spec`` ("62.5% – 85.0%"); None when missing."""
    if not interval or len(interval) != 2:
        return None
    return f"{spec.format(interval[0])} – {spec.format(interval[1])}"


def metrics_table(comparison: Comparison, ece: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per run, best accuracy first, and the majority-class reference row last.

    ``ece``: expected calibration error per run id, shown as a column when given. The 95 % intervals of
    accuracy and macro-F1 follow (text, formatted like the scores; empty for the reference row).
    """
    rows = []
    for run in comparison.runs:
        m = run.metrics
        row = {"Run": run.name, "Accuracy": m.get("accuracy"), "Macro-F1": m.get("macro_f1")}
        if ece is not None:
            row["ECE"] = ece.get(run.id, float("nan"))
        row.update({ACCURACY_CI: interval_text(m.get("accuracy_ci"), METRIC_FORMATS["Accuracy"]),
                    MACRO_F1_CI: interval_text(m.get("macro_f1_ci"), METRIC_FORMATS["Macro-F1"])})
        row.update({"Trainable params": m.get("trainable_params"), "Train time (s)": m.get("train_seconds"),
                    "Predict time / 1,000 (s)": m.get("predict_seconds_per_1000"), "Training rows": m.get("n_train"),
                    "Run id": run.id})
        rows.append(row)
    majority = majority_metrics(comparison)
    row = {"Run": f"{MAJORITY} ({majority['label']})", "Accuracy": majority["accuracy"],
           "Macro-F1": majority["macro_f1"]}
    if ece is not None:
        row["ECE"] = float("nan")  # not a probability model: no calibration (NaN keeps the column numeric)
    row.update({ACCURACY_CI: None, MACRO_F1_CI: None})
    row.update({"Trainable params": 0, "Train time (s)": 0.0, "Predict time / 1,000 (s)": 0.0, "Training rows": 0,
                "Run id": "reference: always predicts the test set's most common class"})
    rows.append(row)
    return pd.DataFrame(rows)


def per_class_table(comparison: Comparison) -> pd.DataFrame:
    """Precision, recall and F1 of each class: one row per run (and the majority row), columns 'label · F1'."""
    majority = majority_metrics(comparison)
    rows = []
    for name, per_class in [(run.name, _per_class(run, comparison.labels)) for run in comparison.runs] + [
            (f"{MAJORITY} ({majority['label']})", majority["per_class"])]:
        row = {"Run": name}
        for label in comparison.labels:
            scores = per_class.get(label, {})
            row[f"{label} · precision"] = scores.get("precision")
            row[f"{label} · recall"] = scores.get("recall")
            row[f"{label} · F1"] = scores.get("f1")
        rows.append(row)
    return pd.DataFrame(rows)


def per_class_f1(comparison: Comparison) -> dict[str, dict[str, float]]:
    """{run name: {label: F1}} for the grouped bar chart."""
    return {run.name: {label: float(_per_class(run, comparison.labels)[label]["f1"]) for label in comparison.labels}
            for run in comparison.runs}


def format_table(frame: pd.DataFrame, formats: dict[str, str] | None = None,
                 default: str | None = None) -> pd.DataFrame:
    """The table as display strings (missing values as '–'), formatted as the page formats them."""
    formats = formats or {}
    out = frame.copy().astype(object)
    for column in out.columns:
        spec = formats.get(column, default if pd.api.types.is_float_dtype(frame[column]) else None)
        if spec:
            out[column] = [("–" if value is None or pd.isna(value) else spec.format(value))
                           for value in frame[column]]
        else:
            out[column] = ["–" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
                           for value in frame[column]]
    return out


def _test_size(info: dict) -> str:
    size = info.get("test_size")
    if info.get("test_name") or size is None:
        return "a separate test file"
    return f"{size:.0%} of the data" if size < 1 else f"{int(size):,} rows held out of the data"


def dataset_summary(comparison: Comparison) -> dict:
    """What a reader of the comparison should know about the data: file, test rows, classes, split."""
    counts = pd.Series(comparison.gold).value_counts()
    info = comparison.info
    return {"data": info.get("data_name") or "data", "test file": info.get("test_name") or "hold-out of the data",
            "test rows": comparison.n_test,
            "test rows per class": {label: int(counts.get(label, 0)) for label in comparison.labels},
            "labels": comparison.labels, "test size": _test_size(info), "split seed": info.get("split_seed"),
            "test set": comparison.test_fingerprint[:8],
            "training rows": {run.name: run.metrics.get("n_train") for run in comparison.runs}}


# -- per-example table ---------------------------------------------------------------------------------
def examples_table(comparison: Comparison) -> pd.DataFrame:
    """One row per test example: its row number, text, gold label, and each run's prediction and confidence."""
    frame = pd.DataFrame({"Row": range(1, comparison.n_test + 1), "Text": comparison.texts, "Gold": comparison.gold})
    for run in comparison.runs:
        frame[comparison.predicted_column(run)] = run.predictions["predicted"].astype(str).to_numpy()
        frame[comparison.confidence_column(run)] = run.predictions["confidence"].astype(float).to_numpy()
        frame[comparison.correct_column(run)] = run.correct().to_numpy()
    return frame


def view_problem(comparison: Comparison, view: str) -> str | None:
    """Why a view cannot be used with these runs, or None when it can."""
    if view not in VIEWS:
        return f"unknown view {view!r}; choose one of: {', '.join(VIEWS)}."
    if view in ("fixed", "broke"):
        before = [run for run in comparison.runs if not run.trained]
        after = [run for run in comparison.runs if run.trained]
        if not before or not after:
            return (f"'{VIEWS[view]}' needs at least one run without training (zero-shot or few-shot) and one "
                    "trained run among the selected runs.")
    if view == "disagree" and len(comparison.runs) < 2:
        return f"'{VIEWS[view]}' needs at least two runs."
    return None


def filter_examples(frame: pd.DataFrame, comparison: Comparison, view: str = "all", label: str | None = None,
                    search: str = "") -> pd.DataFrame:
    """The rows of ``examples_table`` in one view, of one gold class, containing a text (case-insensitive)."""
    problem = view_problem(comparison, view)
    if problem:
        raise ConfigError(problem)
    correct = frame[[comparison.correct_column(run) for run in comparison.runs]].astype(bool)
    if view == "all_wrong":
        keep = ~correct.any(axis=1)
    elif view in ("fixed", "broke"):
        before = correct[[comparison.correct_column(run) for run in comparison.runs if not run.trained]]
        after = correct[[comparison.correct_column(run) for run in comparison.runs if run.trained]]
        keep = (~before.any(axis=1) & after.all(axis=1)) if view == "fixed" else (
            before.all(axis=1) & ~after.any(axis=1))
    elif view == "disagree":
        keep = frame[[comparison.predicted_column(run) for run in comparison.runs]].nunique(axis=1) > 1
    else:
        keep = pd.Series(True, index=frame.index)
    if label:
        if label not in comparison.labels:
            raise ConfigError(f"no class {label!r} in these runs; the classes are: {', '.join(comparison.labels)}.")
        keep &= frame["Gold"] == label
    if search:
        keep &= frame["Text"].str.contains(search, case=False, regex=False)
    return frame[keep]


def sort_examples(frame: pd.DataFrame, comparison: Comparison, by: str | None = None,
                  ascending: bool = True) -> pd.DataFrame:
    """Sort by one run's confidence (``by`` = its id), by the mean confidence of all runs (``by='mean'``),
    or keep the test order (``by=None``)."""
    if by is None:
        return frame.sort_values("Row", ascending=ascending)
    if by == "mean":
        key = frame[[comparison.confidence_column(run) for run in comparison.runs]].mean(axis=1)
    else:
        key = frame[comparison.confidence_column(comparison.run(by))]
    return frame.loc[key.sort_values(ascending=ascending, kind="stable").index]


def examples_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes with formula-like cells neutralised (what ``tlcore.write_csv`` writes), for a download."""
    from ..use.csv_safe import csv_bytes

    return csv_bytes(frame)


# -- can the test set tell them apart? -------------------------------------------------------------------
def paired_with_best(comparison: Comparison) -> dict[str, PairedComparison]:
    """Each run other than the best (the first: best accuracy) compared with the best on the same rows,
    {run id: comparison}; differences are that run − the best run. Empty for a single run.

    Against the best rather than every pair: the question a comparison answers is "is the top run really
    ahead of each other one?", and k runs give k − 1 verdicts instead of k(k − 1)/2.
    """
    if len(comparison.runs) < 2:
        return {}
    best = comparison.runs[0]
    best_predicted = best.predictions["predicted"].astype(str).tolist()
    return {run.id: compare_pair(comparison.gold, run.predictions["predicted"].astype(str).tolist(), best_predicted,
                                 comparison.labels, run.name, best.name, run_id=run.id, against_run_id=best.id)
            for run in comparison.runs[1:]}


def comparison_records(comparison: Comparison) -> list[dict]:
    """One JSON-ready object per run (the CLI's ``compare --json`` shape), in the order given.

    Each carries ``accuracy_ci`` and ``macro_f1_ci`` ([low, high], 95 %) and ``paired``: the paired comparison
    with the best run (``PairedComparison.to_dict``; null for the best run itself).
    """
    keys = ("run_id", "model", "method", "n_train", "n_test", "labels", "accuracy", "macro_f1", "accuracy_ci",
            "macro_f1_ci", "train_seconds", "predict_seconds", "predict_seconds_per_1000", "trainable_params",
            "total_params")
    paired = paired_with_best(comparison)
    records = []
    for run in comparison.runs:
        record = {key: run.metrics.get(key) for key in keys}
        record.update(run_id=run.id, name=run.name, test_fingerprint=comparison.test_fingerprint,
                      per_class=_per_class(run, comparison.labels), group=run.group,
                      paired=paired[run.id].to_dict() if run.id in paired else None)
        records.append(record)
    return records
