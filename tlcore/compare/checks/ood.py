"""Out-of-domain evaluation: score a finished run on a second labeled file with the same label set.

The gap between the run's own test accuracy (in-domain) and the accuracy on the other file
(out-of-domain) says how well what the method learned transfers. Labels of the other file are matched
to the run's labels exactly, then ignoring case, spaces and punctuation, then by an explicit mapping
(``{"0": "negative", "1": "positive"}``); a label that matches none is refused before any model loads.
Results are saved in the run folder (``evaluations/<name>.json``), so the CLI and the app share them.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

from ...data import LabeledData, guess_columns, read_table, to_labeled
from ...data.samples import SAMPLES_DIR
from ...errors import DatasetError
from ...runs.store import Run
from . import store

# The built-in example: three review domains with the same two labels (tlcore/data/bundled/SAMPLES.md).
SENTIMENT_DOMAINS: dict[str, Path] = {
    "Amazon": SAMPLES_DIR / "amazon_reviews.csv",
    "IMDb": SAMPLES_DIR / "imdb_reviews.csv",
    "Yelp": SAMPLES_DIR / "yelp_reviews.csv",
}
MAX_ERRORS_KEPT = 10  # misclassified rows kept in the saved result, to show what went wrong


@dataclass
class OODResult:
    """One run scored on one other labeled file."""

    run_id: str
    method: str
    model: str
    name: str  # the evaluation's name (file stem by default); also its file name under evaluations/
    data_name: str
    text_column: str
    label_column: str
    label_mapping: dict[str, str]  # file label -> run label, for labels spelled differently
    n: int
    data_fingerprint: str
    in_domain: dict  # the run's own test metrics: accuracy, macro_f1, n, data_name
    out_of_domain: dict  # classification_metrics on the other file
    train_overlap: int | None = 0  # rows of the other file whose text is in the run's training data
    test_overlap: int | None = 0  # ... or in its test split (None: the run folder has no split to check)
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    created: float = 0.0

    @property
    def gap_accuracy(self) -> float | None:
        """Out-of-domain minus in-domain accuracy: negative when the run does worse on the other file."""
        if self.in_domain.get("accuracy") is None:
            return None
        return self.out_of_domain["accuracy"] - self.in_domain["accuracy"]

    @property
    def gap_macro_f1(self) -> float | None:
        if self.in_domain.get("macro_f1") is None:
            return None
        return self.out_of_domain["macro_f1"] - self.in_domain["macro_f1"]

    def notes(self) -> list[str]:
        """What makes this comparison less clean than it looks."""
        out = []
        if self.train_overlap is None:
            out.append("the run's training data is not in its folder (an imported run), so overlap with it was "
                       "not checked")
        if self.train_overlap:
            out.append(f"{self.train_overlap} of {self.n} rows of {self.data_name} are in the run's training data, "
                       "so this is not a clean out-of-domain test")
        if self.test_overlap:
            out.append(f"{self.test_overlap} of {self.n} rows are in the run's own test split")
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "gap_accuracy": self.gap_accuracy, "gap_macro_f1": self.gap_macro_f1,
                "notes": self.notes()}

    @classmethod
    def from_dict(cls, values: dict) -> "OODResult":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


def _label_key(label: str) -> str:
    from ...data.validation import _label_key as key

    return key(label)


def match_labels(found: list[str], known: list[str], explicit: Mapping[str, str] | None = None,
                 name: str = "the file") -> dict[str, str]:
    """Map every label of the other file onto one of the run's labels.

    ``explicit`` (file label -> run label) wins; then an exact match; then a match ignoring case, spaces
    and punctuation. Raises DatasetError listing both label sets when a label matches nothing.
    """
    explicit = {str(k).strip(): str(v).strip() for k, v in (explicit or {}).items()}
    for old, new in explicit.items():
        if old not in found:
            raise DatasetError(f"the label mapping names {old!r}, but {name} has no such label; its labels are: "
                               f"{', '.join(found)}.")
        if new not in known:
            raise DatasetError(f"the label mapping sends {old!r} to {new!r}, which is not one of the run's labels "
                               f"({', '.join(known)}).")
    by_key: dict[str, list[str]] = {}
    for label in known:
        by_key.setdefault(_label_key(label), []).append(label)
    mapping, unknown = {}, []
    for label in found:
        if label in explicit:
            mapping[label] = explicit[label]
        elif label in known:
            mapping[label] = label
        elif len(by_key.get(_label_key(label), [])) == 1:
            mapping[label] = by_key[_label_key(label)][0]
        else:
            unknown.append(label)
    if unknown:
        example = f"{unknown[0]}={known[0]}"
        raise DatasetError(f"{name} has labels the run never learned: {', '.join(unknown)}. The run's labels are: "
                           f"{', '.join(known)}; the file's labels are: {', '.join(found)}. Map each with "
                           f"--map FILE_LABEL=RUN_LABEL (for example --map {example}), or choose another label "
                           "column.")
    return mapping


@dataclass
class PreparedData:
    """The other file, read and mapped onto the run's labels: everything cheap, before a model loads."""

    data: LabeledData
    name: str
    data_name: str
    text_column: str
    label_column: str
    mapping: dict[str, str]

    @property
    def fingerprint(self) -> str:
        return self.data.fingerprint()


def prepare(run: Run, data: pd.DataFrame | str | Path, *, name: str | None = None, data_name: str | None = None,
            text_column: str | None = None, label_column: str | None = None,
            label_map: Mapping[str, str] | None = None) -> PreparedData:
    """Read the other file, pick its columns (the run's own names when present) and map its labels."""
    from ...use.predict import check_usable

    config = check_usable(run)
    if isinstance(data, (str, Path)):
        data_name = data_name or Path(data).name
        frame = read_table(data)
    else:
        frame = data
        data_name = data_name or str(frame.attrs.get("name") or "data")
    if text_column is None or label_column is None:
        columns = [str(c) for c in frame.columns]
        own = (config.get("text_column"), config.get("label_column"))
        if own[0] in columns and own[1] in columns:
            guessed = own
        else:
            guessed = guess_columns(frame)
        text_column, label_column = text_column or guessed[0], label_column or guessed[1]
    labeled = to_labeled(frame, text_column, label_column, name=data_name)
    labels = list(config["labels"])
    found = sorted(set(labeled.labels))
    mapping = match_labels(found, labels, label_map, name=data_name)
    mapped = LabeledData(labeled.texts, [mapping[label] for label in labeled.labels])
    return PreparedData(mapped, store.slug(name or data_name), data_name, text_column, label_column,
                        {k: v for k, v in mapping.items() if k != v})


def evaluate_ood(run: Run, data: pd.DataFrame | str | Path, *, name: str | None = None, data_name: str | None = None,
                 text_column: str | None = None, label_column: str | None = None,
                 label_map: Mapping[str, str] | None = None, method=None, device: str = "auto", callback=None,
                 reuse: bool = True, save: bool = True) -> OODResult:
    """Score ``run`` on another labeled file and compare with its in-domain test metrics.

    ``data`` is a path or a DataFrame (give ``data_name`` for a frame). With ``reuse`` a saved evaluation of
    the same rows (same fingerprint) under the same name is returned without loading the model. Pass an
    already loaded ``method`` (``load_method(run)``) to reuse it across calls.
    """
    from ...runs.metrics import classification_metrics, predicted_labels
    from ...use.predict import load_method, predict_texts

    prepared = prepare(run, data, name=name, data_name=data_name, text_column=text_column,
                       label_column=label_column, label_map=label_map)
    if reuse:
        saved = store.load(run, store.EVALUATIONS, prepared.name)
        if saved and saved.get("data_fingerprint") == prepared.fingerprint and saved.get("run_id") == run.id:
            return OODResult.from_dict(saved)
    config, metrics = run.config(), run.metrics() or {}
    labels = list(config["labels"])
    started = time.perf_counter()
    method = method or load_method(run, device)
    proba = predict_texts(method, prepared.data.texts, callback)
    predicted = predicted_labels(proba, labels)
    gold = prepared.data.labels
    split = store.split_or_none(run)
    train_texts = set(split.train.texts) | set(split.val.texts) if split else None
    test_texts = set(split.test.texts) if split else None
    errors = [{"text": text, "gold": g, "predicted": p, "confidence": float(row.max())}
              for text, g, p, row in zip(prepared.data.texts, gold, predicted, proba) if g != p]
    errors.sort(key=lambda e: -e["confidence"])  # the most confident mistakes say the most
    result = OODResult(
        run_id=run.id, method=config["method"], model=config["model"], name=prepared.name,
        data_name=prepared.data_name, text_column=prepared.text_column, label_column=prepared.label_column,
        label_mapping=prepared.mapping, n=len(prepared.data), data_fingerprint=prepared.fingerprint,
        in_domain={"accuracy": metrics.get("accuracy"), "macro_f1": metrics.get("macro_f1"),
                   "n": metrics.get("n_test"), "data_name": config.get("test_name") or config.get("data_name")},
        out_of_domain=classification_metrics(gold, predicted, labels),
        train_overlap=None if split is None else sum(text in train_texts for text in prepared.data.texts),
        test_overlap=None if split is None else sum(text in test_texts for text in prepared.data.texts),
        errors=errors[:MAX_ERRORS_KEPT], seconds=time.perf_counter() - started, created=time.time())
    if save:
        store.save(run, store.EVALUATIONS, result.name, result.to_dict())
    return result


def load_evaluations(run: Run) -> list[OODResult]:
    """The run's saved out-of-domain evaluations, oldest first."""
    return [OODResult.from_dict(item) for item in store.load_all(run, store.EVALUATIONS) if "out_of_domain" in item]
