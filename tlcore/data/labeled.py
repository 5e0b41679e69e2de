"""Labeled texts and the train / validation / test split.

The split is the contract that makes runs comparable: with the same data, test size and
split seed every run evaluates on exactly the same test rows, whatever its method or shots.
(Reading files lives in ``tlcore.data.reading``; its public names are re-exported here.)
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DatasetError


@dataclass
class LabeledData:
    """Texts with one string label each (labels are always strings, whatever the file held)."""

    texts: list[str]
    labels: list[str]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise DatasetError(f"{len(self.texts)} texts but {len(self.labels)} labels; they must pair up.")

    def __len__(self) -> int:
        return len(self.texts)

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"text": self.texts, "label": self.labels})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "LabeledData":
        return cls(texts=frame["text"].astype(str).tolist(), labels=frame["label"].astype(str).tolist())

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels):
            digest.update(text.encode("utf-8") + b"\x1f" + label.encode("utf-8") + b"\x1e")
        return digest.hexdigest()[:16]


def guess_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """Guess (text column, label column): the longest free text, and a low-cardinality column."""
    columns = list(frame.columns)
    if len(columns) < 2:
        raise DatasetError(f"the table has {len(columns)} column ({', '.join(columns)}); it needs a text "
                           "column and a label column.")
    for text_name, label_name in (("text", "label"), ("sentence", "label"), ("text", "labels")):
        if text_name in columns and label_name in columns:
            return text_name, label_name
    as_text = frame.astype(str)
    mean_length = {c: as_text[c].str.len().mean() for c in columns}
    text_column = max(columns, key=lambda c: mean_length[c])
    others = [c for c in columns if c != text_column]
    # A label repeats across rows; an id column (unique per row) never is one.
    label_column = min(others, key=lambda c: (as_text[c].nunique() == len(frame), as_text[c].nunique()))
    return text_column, label_column


def to_labeled(frame: pd.DataFrame, text_column: str | None = None, label_column: str | None = None,
               name: str = "the data") -> LabeledData:
    """Pick the text and label columns, drop rows missing either, and return string labels."""
    if text_column is None or label_column is None:
        guessed_text, guessed_label = guess_columns(frame)
        text_column = text_column or guessed_text
        label_column = label_column or guessed_label
    found = ", ".join(map(str, frame.columns))
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in frame.columns:
            raise DatasetError(f"{name} has no {role} column {column!r}; the columns found are: {found}. "
                               f"Choose one with --{role}-column.")
    if text_column == label_column:
        raise DatasetError(f"the text and label columns are both {text_column!r}; choose two different columns.")
    subset = frame[[text_column, label_column]].copy()
    subset = subset[subset[text_column].notna() & subset[label_column].notna()]
    texts = subset[text_column].astype(str).str.strip()
    labels = subset[label_column].map(_label_string)
    keep = (texts != "") & (labels != "")
    if not keep.any():
        raise DatasetError(f"{name} has no rows with both a text ({text_column!r}) and a label "
                           f"({label_column!r}); check that the right columns are chosen.")
    return LabeledData(texts=texts[keep].tolist(), labels=labels[keep].tolist())


def _label_string(value) -> str:
    # Integers stored as floats by pandas ("1.0") read back as "1".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# A validation split needs at least this many rows to judge early stopping: at 30 rows one row moves its accuracy
# by 3.3 points, and epochs are compared on the same rows, so a real improvement shows. A fractional hold-out
# smaller than this is not taken out of rows that would otherwise train (a 10 % hold-out reaches 30 rows at 300
# training rows; below that each held-out row costs training data and buys a verdict that is mostly noise):
# every row trains, on the fixed "auto" schedule (tlcore.engine.training.plan_schedule reads this too).
MIN_VAL_ROWS = 30


@dataclass
class Split:
    """Train / validation / test parts of a dataset plus what identifies the split."""

    train: LabeledData
    val: LabeledData
    test: LabeledData
    labels: list[str]
    info: dict = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Identifies the test rows: runs with equal fingerprints are directly comparable."""
        return self.test.fingerprint()


def _stratified_take(indices_by_label: dict[str, list[int]], fraction: float | None, count: int | None,
                     rng: np.random.Generator, min_per_class: int = 1, keep_per_class: int = 1) -> list[int]:
    """Take a stratified sample of row indices: a fraction of each class or a total count."""
    total = sum(len(v) for v in indices_by_label.values())
    taken: list[int] = []
    for label, indices in indices_by_label.items():
        share = fraction if fraction is not None else (count or 0) / total
        n = int(round(len(indices) * share))
        n = max(n, min_per_class)
        n = min(n, len(indices) - keep_per_class)
        if n <= 0:
            continue
        chosen = rng.permutation(indices)[:n]
        taken.extend(int(i) for i in chosen)
    return sorted(taken)


def _by_label(labels: Sequence[str], indices: Sequence[int]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for i in indices:
        grouped.setdefault(labels[i], []).append(i)
    return dict(sorted(grouped.items()))


def _subset(data: LabeledData, indices: Sequence[int]) -> LabeledData:
    return LabeledData([data.texts[i] for i in indices], [data.labels[i] for i in indices])


def _check_known_labels(part: LabeledData, counts: Counter, role: str) -> None:
    unseen = sorted(set(part.labels) - set(counts))
    if unseen:
        raise DatasetError(f"the {role} file has labels the training file lacks: {unseen}; "
                           "a model cannot predict labels it never saw.")


def make_split(data: LabeledData, test: LabeledData | None = None, *, test_size: float = 0.2,
               val_size: float = 0.1, split_seed: int = 0, per_class: int | None = None,
               sample_seed: int = 0, val: LabeledData | None = None) -> Split:
    """Split ``data`` into train/val/test, stratified and seeded.

    ``test_size`` is a fraction (< 1) or a row count (>= 1). Without ``test`` it is held out of ``data``.
    The validation part comes out of what is left, so it never overlaps the test rows. ``per_class``
    then samples N training rows per class (seeded by ``sample_seed``), after the test rows are set aside,
    so learning curves at different N share the same test rows. A separate ``val`` file replaces
    the validation hold-out (all of ``data`` is then available for training).
    """
    counts = Counter(data.labels)
    if len(counts) < 2:
        raise DatasetError(f"only one class ({next(iter(counts), 'none')!r}) in the label column; "
                           "a classifier needs at least two.")
    if test_size <= 0:
        raise DatasetError(f"test size must be a fraction between 0 and 1 or a row count, not {test_size}.")
    fraction, count = (test_size, None) if test_size < 1 else (None, int(test_size))
    rng = np.random.default_rng(split_seed)
    all_indices = list(range(len(data)))
    if test is None:
        too_small = sorted(label for label, n in counts.items() if n < 2)
        if too_small:
            raise DatasetError(f"classes {too_small} have fewer than 2 rows, so they cannot appear in both the "
                               "training and the test split; add rows or remove those classes.")
        test_indices = _stratified_take(_by_label(data.labels, all_indices), fraction, count, rng)
        test_part = _subset(data, test_indices)
        held = set(test_indices)
        pool = [i for i in all_indices if i not in held]
    else:
        _check_known_labels(test, counts, "test")
        test_part, pool = test, all_indices
    val_indices: list[int] = []
    if val is not None:
        _check_known_labels(val, counts, "validation")
        val_choice, val_policy = "file", f"a separate validation file of {len(val)} rows."
    else:
        val_indices, val_choice, val_policy = _validation_rows(data.labels, pool, val_size, per_class, rng)
    held_val = set(val_indices)
    train_indices = [i for i in pool if i not in held_val]
    if per_class is not None:
        if per_class < 1:
            raise DatasetError(f"--per-class must be at least 1, not {per_class}.")
        sampler = np.random.default_rng(sample_seed)
        sampled: list[int] = []
        for label, indices in _by_label(data.labels, train_indices).items():
            sampled.extend(int(i) for i in sampler.permutation(indices)[:per_class])
        train_indices = sorted(sampled)
    labels = sorted(counts)
    split = Split(train=_subset(data, train_indices), val=val if val is not None else _subset(data, val_indices),
                  test=test_part, labels=labels)
    split.info = {"data_fingerprint": data.fingerprint(), "test_fingerprint": split.fingerprint,
                  "split_seed": split_seed, "sample_seed": sample_seed, "test_size": test_size,
                  "val_size": val_size, "per_class": per_class, "n_train": len(split.train),
                  "n_val": len(split.val), "n_test": len(split.test), "separate_test_file": test is not None,
                  "separate_val_file": val is not None, "val_choice": val_choice, "val_policy": val_policy}
    return split


def _validation_rows(labels: Sequence[str], pool: list[int], val_size: float, per_class: int | None,
                     rng: np.random.Generator) -> tuple[list[int], str, str]:
    """(row indices, choice, plain sentence): the validation hold-out out of ``pool``, and why it is that size.

    Choices: "spare" (rows the per-class sample leaves unused: no training row is spent), "asked" (a row count
    the caller gave), "held-out" (a fraction large enough to judge early stopping), "none" (no rows taken).
    """
    if val_size <= 0:
        return [], "none", "no validation rows (validation size 0): training runs its fixed schedule."
    by_label = _by_label(labels, pool)
    if not all(len(v) >= 3 for v in by_label.values()):
        short = sorted(label for label, v in by_label.items() if len(v) < 3)
        return [], "none", (f"no validation rows: classes {short} have fewer than 3 rows left for training, so every "
                            "row trains, on the fixed schedule.")
    taken = _stratified_take(by_label, val_size if val_size < 1 else None, None if val_size < 1 else int(val_size),
                             rng, keep_per_class=2)
    taken_per_class = Counter(labels[i] for i in taken)
    # Rows of class c that training would have used without the hold-out, and with it.
    spends = any(len(rows) - taken_per_class[c] < min(len(rows), per_class or len(rows))
                 for c, rows in by_label.items())
    n_pool = len(pool)
    if not spends:
        return taken, "spare", (f"{len(taken)} validation rows, held out of rows that the sample of {per_class} per "
                                "class leaves unused (no training row spent).")
    if val_size >= 1:
        return taken, "asked", f"{len(taken)} validation rows held out of {n_pool} training rows, as asked."
    if len(taken) >= MIN_VAL_ROWS:
        return taken, "held-out", (f"{len(taken)} validation rows ({val_size:.0%} of {n_pool}) held out to stop "
                                   "training when it stops improving.")
    return [], "none", (f"no validation rows: a {val_size:.0%} hold-out would be {len(taken)} of only {n_pool} "
                        f"training rows, too few to judge early stopping ({MIN_VAL_ROWS} needed), so every row "
                        "trains, on the fixed schedule.")


def rows_taken(split: Split) -> str:
    """Where the data's rows went, for error messages: which split took how many rows per class."""
    def per_class(part: LabeledData) -> str:
        counts = part.class_counts()
        values = set(counts.values())
        if len(values) == 1:
            n = values.pop()
            return f"{n} row{'s' if n != 1 else ''} per class"
        return ", ".join(f"{label} {n}" for label, n in counts.items())

    info = split.info
    parts = ["the test rows come from the separate test file" if info.get("separate_test_file")
             else f"the test split took {per_class(split.test)}"]
    if info.get("separate_val_file"):
        parts.append("the validation rows come from the separate validation file")
    elif len(split.val):
        parts.append(f"the validation hold-out took {per_class(split.val)}")
    else:
        parts.append("no validation rows were held out")
    if info.get("per_class") is not None:
        parts.append(f"--per-class kept at most {info['per_class']} per class for training")
    return "; ".join(parts)
