"""Slice metrics: accuracy, macro-F1 and error rate of a run's test predictions per value of another column.

The run folder keeps the test texts and predictions (predictions.csv) but not the data file's other
columns, so the column comes from the data file, joined on the text: each test text is looked up in the
file's text column. A text found with two different values of the column cannot be placed and is counted
as ambiguous; a text the file lacks is counted as unmatched; neither is guessed. The built-in column
``TEXT_LENGTH`` needs no file. Slices with fewer test rows than ``min_size`` are marked too small to
judge and never called the worst.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import pandas as pd

from ...errors import DatasetError, RunError
from ...runs.store import Run
from . import store

TEXT_LENGTH = "text length (words)"  # a slice column every run has: buckets of the text's word count
LENGTH_BUCKETS = ((1, 10), (11, 20), (21, 40), (41, math.inf))
MIN_SLICE_SIZE = 20
MAX_SLICES = 50  # more distinct values than this is an id or free text, not a grouping
MISSING = "(missing)"


@dataclass
class SliceRow:
    value: str
    n: int
    correct: int
    accuracy: float
    macro_f1: float
    error_rate: float
    too_small: bool


@dataclass
class SliceReport:
    """One run's test predictions split by the values of one column."""

    run_id: str
    method: str
    model: str
    column: str
    min_size: int
    n_test: int
    n_matched: int
    n_unmatched: int = 0  # test texts the data file does not contain
    n_ambiguous: int = 0  # test texts the file holds with different values of the column
    rows: list[SliceRow] = field(default_factory=list)
    worst: str | None = None  # the judged slice with the lowest accuracy
    source: str = ""
    created: float = 0.0

    def row(self, value: str) -> SliceRow:
        return next(r for r in self.rows if r.value == value)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SliceReport":
        known = set(cls.__dataclass_fields__)
        rows = [SliceRow(**row) for row in values.get("rows", [])]
        return cls(**{**{k: v for k, v in values.items() if k in known}, "rows": rows})


def length_bucket(text: str) -> str:
    words = len(str(text).split())
    for low, high in LENGTH_BUCKETS:
        if low <= words <= high:
            return f"{low}+ words" if math.isinf(high) else f"{low}–{high} words"
    return "0 words"


def _cell(value) -> str:
    """A slice value as text; integers stored as floats by pandas ("3.0") read back as "3"."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or MISSING


def _join(texts: list[str], source: pd.DataFrame, column: str, text_column: str) -> list[str | None]:
    """The column's value for each test text; None when the file lacks the text or holds it with two values."""
    values: dict[str, set[str]] = {}
    for text, value in zip(source[text_column].tolist(), source[column].tolist()):
        if text is None or (isinstance(text, float) and math.isnan(text)):
            continue
        values.setdefault(str(text).strip(), set()).add(_cell(value))
    out: list[str | None] = []
    for text in texts:
        found = values.get(text)
        out.append(next(iter(found)) if found and len(found) == 1 else ("" if found else None))
    return out  # "" marks an ambiguous text


def _scores(gold: list[str], predicted: list[str]) -> tuple[int, float, float]:
    from sklearn.metrics import f1_score

    correct = sum(g == p for g, p in zip(gold, predicted))
    # Macro-F1 over the classes present in the slice: a class the slice lacks would count as F1 = 0.
    labels = sorted(set(gold) | set(predicted))
    return correct, correct / len(gold), float(f1_score(gold, predicted, labels=labels, average="macro",
                                                        zero_division=0))


def slice_metrics(run: Run, column: str, source: pd.DataFrame | None = None, *, text_column: str | None = None,
                  min_size: int = MIN_SLICE_SIZE, source_name: str = "", save: bool = True) -> SliceReport:
    """Per-slice accuracy, macro-F1 and error rate of ``run``'s test predictions.

    ``column`` is a column of ``source`` (the data file, joined on the text; ``text_column`` defaults to the
    run's) or ``TEXT_LENGTH``. Raises DatasetError for a missing column or file, or a column with more than
    ``MAX_SLICES`` values among the test rows.
    """
    import time

    if min_size < 1:
        raise DatasetError(f"the minimum slice size must be at least 1, not {min_size}.")
    predictions = run.predictions()
    if predictions is None:
        raise RunError(f"run {run.id} has no predictions.csv; only a finished run can be sliced.")
    config = run.config()
    texts = predictions["text"].astype(str).tolist()
    gold = predictions["gold"].astype(str).tolist()
    predicted = predictions["predicted"].astype(str).tolist()
    if column == TEXT_LENGTH:
        values: list[str | None] = [length_bucket(text) for text in texts]
    else:
        if source is None:
            raise DatasetError(f"slicing by {column!r} needs the data file that has that column; give it "
                               "(CLI: --data FILE), or slice by the built-in text length.")
        columns = [str(c) for c in source.columns]
        if column not in columns:
            raise DatasetError(f"the data file has no column {column!r}; the columns found are: "
                               f"{', '.join(columns)}.")
        text_column = text_column or config.get("text_column") or "text"
        if text_column not in columns:
            raise DatasetError(f"the data file has no text column {text_column!r} to find the test texts in; "
                               f"the columns found are: {', '.join(columns)}. Choose it with --text-column.")
        if column == text_column:
            raise DatasetError(f"{column!r} is the text column; slice by another column (a group, a source, ...).")
        values = _join(texts, source, column, text_column)
    matched = [i for i, v in enumerate(values) if v]
    if not matched:
        raise DatasetError(f"none of the run's {len(texts)} test texts were found in the data file's column "
                           f"{text_column!r}; give the file the run was trained on.")
    groups: dict[str, list[int]] = {}
    for i in matched:
        groups.setdefault(values[i], []).append(i)
    if len(groups) > MAX_SLICES:
        raise DatasetError(f"column {column!r} has {len(groups)} different values among the test rows; slices need "
                           f"a column with at most {MAX_SLICES} values (a region, a product, a group).")
    rows = []
    for value, indices in groups.items():
        correct, accuracy, macro_f1 = _scores([gold[i] for i in indices], [predicted[i] for i in indices])
        rows.append(SliceRow(value=value, n=len(indices), correct=correct, accuracy=accuracy, macro_f1=macro_f1,
                             error_rate=1.0 - accuracy, too_small=len(indices) < min_size))
    rows.sort(key=lambda r: (-r.n, r.value))
    judged = [r for r in rows if not r.too_small]
    worst = min(judged, key=lambda r: (r.accuracy, r.macro_f1, -r.n)).value if len(judged) > 1 else None
    report = SliceReport(run_id=run.id, method=config.get("method", ""), model=config.get("model", ""),
                         column=column, min_size=min_size, n_test=len(texts), n_matched=len(matched),
                         n_unmatched=sum(v is None for v in values), n_ambiguous=sum(v == "" for v in values),
                         rows=rows, worst=worst, source=source_name or ("" if column == TEXT_LENGTH else "data file"),
                         created=time.time())
    if save:
        store.save(run, store.CHECKS, f"slices-{store.slug(column, 'column')}", report.to_dict())
    return report


def load_slice_reports(run: Run) -> list[SliceReport]:
    return [SliceReport.from_dict(item) for item in store.load_all(run, store.CHECKS, "slices-")]
