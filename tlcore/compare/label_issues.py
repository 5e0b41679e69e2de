"""Suspected label errors: rows whose label the data itself argues against (confident learning).

1. Out-of-sample probabilities for every labeled row: the model's frozen sentence vectors (the linear probe's
   features, ``tlcore.engine.encoders.embed``: the same vectors, cached in the process) and a logistic regression,
   trained k times (stratified k-fold, k = 5 or the smallest class's number of different texts) so that no row is
   scored by a model that saw its label. Exact duplicate texts stay in one fold: a copy must not vouch for its twin's
   label. So a class counts its different texts, not its rows: one whose rows all share a text could never be in
   both a training fold and the scored fold, and is not checked.
2. Confident learning (``cleanlab.filter.find_label_issues``, Northcutt et al. 2021): per class, the average
   probability the model gives rows of that class is the threshold of "confidently that class"; rows confidently
   in another class than their label count towards the noise estimate, and the rows that fit their label worst
   (self-confidence: the probability of the given label) are listed, the most suspicious first.

Why here (tlcore.compare): it judges data with a model's out-of-sample predictions, as the checks judge runs; it
needs the engine (embeddings) and no run, and the CLI and the app reach it through this step's package.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..data import LabeledData
from ..errors import ConfigError, DatasetError

MAX_FOLDS = 5
MIN_ROWS_PER_CLASS = 2  # a class needs a (different) text to train on while its other one is scored
MAX_LENGTH = 128  # tokens per text, as the linear probe's default
PROBE_C = 1.0  # the linear probe's default regularisation (chosen by bench/defaults_grid.py on validation rows)


@dataclass
class LabelIssue:
    """A row whose label looks wrong. ``row`` indexes the rows given (or the table rows passed as ``rows``)."""

    row: int
    text: str
    given: str
    suggested: str
    confidence: float  # the out-of-sample probability of the suggested label
    given_probability: float  # ... and of the given one (the self-confidence the ranking sorts by)
    rank: int  # 1 = the most suspicious

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LabelIssueReport:
    """The suspected errors, most suspicious first, and what was checked with what."""

    issues: list[LabelIssue]
    n_rows: int  # labeled rows given
    n_checked: int  # rows that got an out-of-sample probability
    labels: list[str]
    model: str
    folds: int
    agreement: float  # share of checked rows whose out-of-sample prediction is their given label
    method: str
    seconds: float
    skipped_classes: dict[str, int] = field(default_factory=dict)  # classes too small to check: their row counts
    distinct_texts: dict[str, int] = field(default_factory=dict)  # ... and their numbers of different texts

    def to_dict(self) -> dict:
        return {"n_rows": self.n_rows, "n_checked": self.n_checked, "n_issues": len(self.issues),
                "labels": self.labels, "model": self.model, "folds": self.folds,
                "agreement": round(self.agreement, 4), "method": self.method, "seconds": round(self.seconds, 2),
                "skipped_classes": self.skipped_classes, "summary": self.summary(),
                "issues": [issue.to_dict() for issue in self.issues]}

    def summary(self) -> list[str]:
        """Plain-words lines: how many rows look mislabeled, and how far to trust the list."""
        lines = [f"{len(self.issues)} of {self.n_checked:,} rows look mislabeled (checked with {self.method})."]
        if self.skipped_classes:
            lines.append("Not checked: " + ", ".join(f"{label!r} ({n} row{'s' if n != 1 else ''})"
                                                     for label, n in self.skipped_classes.items())
                         + f": a class needs at least {MIN_ROWS_PER_CLASS} rows with different texts to be "
                           "checked (copies of one text are scored together).")
        if self.agreement < 0.8:
            lines.append(f"The checking model agrees with only {self.agreement:.0%} of the labels out of sample, so "
                         "many suspects may be hard rows rather than wrong labels: judge each one.")
        return lines


def out_of_sample_probabilities(features: np.ndarray, labels: Sequence[int], n_classes: int, folds: int,
                                seed: int = 0, groups: Sequence[str] | None = None, C: float = PROBE_C) -> np.ndarray:
    """(n, n_classes) probabilities, each row's from a logistic regression trained on the other folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(labels)
    if groups is not None and len(set(groups)) < len(groups):
        splits = StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(features, y, groups)
    else:
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(features, y)
    proba = np.zeros((len(y), n_classes))
    for train, held in splits:
        try:
            head = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(features[train], y[train])
        except ValueError as exc:  # e.g. a training fold with one class: copies of a text stay in one fold
            raise DatasetError(f"the labels cannot be checked {folds}-fold: a training fold has rows of only "
                               f"{len(set(y[train].tolist()))} class(es) ({exc}). Each class needs rows with at "
                               "least two different texts; label more rows or use fewer folds.") from None
        proba[np.ix_(held, head.classes_)] = head.predict_proba(features[held])
    return proba


def rank_label_issues(labels: Sequence[int], proba: np.ndarray) -> np.ndarray:
    """Indexes of rows with a label issue, most suspicious first (cleanlab's confident learning)."""
    from cleanlab.filter import find_label_issues

    # n_jobs=1: no process pool (the app calls this from a script thread; the rows are few)
    return np.asarray(find_label_issues(np.asarray(labels), proba, return_indices_ranked_by="self_confidence",
                                        n_jobs=1), dtype=int)


def find_label_issues(data: LabeledData, model: str = "minilm", *, rows: Sequence[int] | None = None,
                      folds: int = MAX_FOLDS, seed: int = 0, device: str = "auto", max_length: int = MAX_LENGTH,
                      progress: Callable[[str, int, int], None] | None = None) -> LabelIssueReport:
    """Rows of ``data`` whose label looks wrong, with the label the model suggests and its confidence.

    ``rows``: the table row of each item of ``data`` (to report rows as the file has them); default 0, 1, ...
    ``progress(stage, done, total)``: "encoding" while texts are embedded, then "checking".
    """
    from ..engine.models import choose_device, model_folder, resolve_model

    if rows is not None and len(rows) != len(data):
        raise ConfigError(f"{len(rows)} row numbers were given for {len(data)} labeled rows; give one per row.")
    if not 2 <= folds <= 20:
        raise ConfigError(f"folds must be from 2 to 20, not {folds}.")
    started = time.perf_counter()
    rows = list(range(len(data))) if rows is None else list(rows)
    counts = Counter(data.labels)
    # Copies of a text are scored in one fold (below), so what a class can spare for training is its texts.
    distinct = Counter(label for _, label in set(zip(data.texts, data.labels)))
    skipped = {label: n for label, n in sorted(counts.items()) if distinct[label] < MIN_ROWS_PER_CLASS}
    checked = [i for i, label in enumerate(data.labels) if label not in skipped]
    labels = sorted(label for label in counts if label not in skipped)
    if len(labels) < 2:
        found = ", ".join(f"{label!r}: {counts[label]} row{'s' if counts[label] != 1 else ''}, {distinct[label]} "
                          f"different text{'s' if distinct[label] != 1 else ''}" for label in sorted(counts))
        raise DatasetError(f"checking labels needs at least 2 classes with {MIN_ROWS_PER_CLASS} or more rows of "
                           f"different texts each; found {found}. Label more rows first.")
    smallest = min(distinct[label] for label in labels)
    k = min(folds, smallest)

    spec = resolve_model(model)
    folder = model_folder(spec)
    texts = [data.texts[i] for i in checked]
    encode_progress = (lambda done, total: progress("encoding", done, total)) if progress else None
    from ..engine.encoders import embed

    features = embed(texts, str(folder), choose_device(device), max_length=max_length, progress=encode_progress)
    if progress:
        progress("checking", 0, 1)
    y = np.array([labels.index(data.labels[i]) for i in checked])
    proba = out_of_sample_probabilities(features, y, len(labels), k, seed, groups=texts)
    ranked = rank_label_issues(y, proba)
    if progress:
        progress("checking", 1, 1)
    issues = []
    for rank, j in enumerate(ranked, start=1):
        i = checked[int(j)]
        suggested = int(np.argmax(np.where(np.arange(len(labels)) == y[j], -1.0, proba[j])))  # best other label
        issues.append(LabelIssue(row=int(rows[i]), text=data.texts[i], given=data.labels[i],
                                 suggested=labels[suggested], confidence=round(float(proba[j, suggested]), 4),
                                 given_probability=round(float(proba[j, y[j]]), 4), rank=rank))
    method = (f"{spec.name} sentence vectors + logistic regression, {k}-fold out of sample, confident learning "
              "(cleanlab)")
    return LabelIssueReport(issues=issues, n_rows=len(data), n_checked=len(checked), labels=labels,
                            model=spec.name, folds=k, agreement=float(np.mean(proba.argmax(1) == y)), method=method,
                            seconds=time.perf_counter() - started, skipped_classes=skipped,
                            distinct_texts={label: distinct[label] for label in skipped})
