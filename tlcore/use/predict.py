"""Use a finished run: rebuild its method from the run folder and label new texts in batch.

- ``load_method(run)`` rebuilds the run's method (model, method, options, labels from config.json)
  and restores ``artifacts/``; it predicts in the precision the run recorded (metrics.json), so a reload's
  probabilities are the run's own (predictions.csv), whatever "auto" would choose today.
- ``predict_frame(run, frame)`` adds ``predicted``, ``confidence`` and one ``p_<label>`` column per
  class to a table. Rows without text are kept, with empty prediction cells, and counted in the
  report: nothing is dropped silently.
- ``predict_texts(method, texts)`` scores texts with an already loaded method without changing it, so
  one loaded method can serve many callers (the app caches it across sessions).
- ``write_csv`` / ``csv_bytes`` write a table for spreadsheets, neutralising cells that would run as formulas.

Light at import time (no torch): models load inside the functions.
"""
from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..data import read_table
from ..engine.precision import Precision, compute_in, recorded_precision
from ..engine.runtime import torch_threads
from ..errors import DatasetError, RunError
from ..runs.store import Run
from .csv_safe import write_csv

# Column names that are taken to be the text when the run's own text column is not in the file.
_TEXT_NAMES = ("text", "sentence", "review", "content", "message", "body", "comment", "description")
# A method without a recorded precision computes in its caller's: fp32 adds no autocast of its own.
_AS_CALLER = Precision("fp32", "no recorded precision: the caller's")



@dataclass
class PredictionReport:
    """What ``predict_frame`` did: how many rows were scored, and which were not (and why)."""

    run_id: str
    text_column: str
    labels: list[str]
    rows: int
    scored: int
    unscored: int
    # Row numbers as the file shows them (CSV/Excel: the header is row 1, the first data row 2; JSONL: the line).
    unscored_rows: list[int] = field(default_factory=list)
    # File rows that reading skipped (blank, or malformed: see warnings); they are not in the output.
    skipped_rows: list[int] = field(default_factory=list)
    replaced_columns: list[str] = field(default_factory=list)  # input columns overwritten by predictions
    warnings: list[str] = field(default_factory=list)  # what reading the file changed or skipped
    seconds: float = 0.0

    def summary(self) -> str:
        line = f"{self.scored} of {self.rows} rows scored with run {self.run_id}"
        if self.unscored:
            shown = ", ".join(map(str, self.unscored_rows[:10])) + (" ..." if self.unscored > 10 else "")
            one = self.unscored == 1
            line += (f"; {self.unscored} {'row has' if one else 'rows have'} no text in column "
                     f"{self.text_column!r} ({'row' if one else 'rows'} {shown}) and {'was' if one else 'were'} "
                     "kept with empty predictions")
        if self.skipped_rows:
            one = len(self.skipped_rows) == 1
            shown = ", ".join(map(str, self.skipped_rows[:10])) + (" ..." if len(self.skipped_rows) > 10 else "")
            line += (f"; {len(self.skipped_rows)} blank or unreadable {'row' if one else 'rows'} of the file "
                     f"({shown}) {'was' if one else 'were'} skipped")
        if self.replaced_columns:
            line += f"; replaced existing columns {', '.join(self.replaced_columns)}"
        if self.warnings:
            line += f"; {len(self.warnings)} warning{'s' if len(self.warnings) > 1 else ''} while reading the file"
        return line

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "text_column": self.text_column, "labels": self.labels, "rows": self.rows,
                "scored": self.scored, "unscored": self.unscored, "unscored_rows": self.unscored_rows,
                "skipped_rows": self.skipped_rows, "replaced_columns": self.replaced_columns,
                "warnings": self.warnings, "seconds": self.seconds}


# -- runs -----------------------------------------------------------------------------------------

def check_usable(run: Run) -> dict:
    """The run's config, if the run finished and its artifacts are there; else a RunError saying why."""
    status = run.status()
    state = status.get("status", "damaged")
    if state != "succeeded":
        reason = f" ({status['error']})" if status.get("error") else ""
        hint = "wait for it to finish" if state in ("queued", "running") else "train it again"
        raise RunError(f"run {run.id} is {state}{reason}; only a succeeded run can predict or be exported, "
                       f"so {hint}.")
    config = run.config()
    for key in ("model", "method", "labels"):
        if key not in config:
            raise RunError(f"run {run.id}: config.json has no {key!r}; the run folder is damaged.")
    artifacts = run.path / "artifacts"
    missing = [name for name in _required_artifacts(config["method"]) if not (artifacts / name).exists()]
    if not artifacts.is_dir() or missing:
        what = ", ".join(f"artifacts/{m}" for m in missing) or "artifacts/"
        raise RunError(f"run {run.id} has no saved model ({what} is missing); the run folder is incomplete, "
                       "train the run again.")
    return config


def _required_artifacts(method: str) -> list[str]:
    """Files the method's save() writes (the method says which); checked before anything loads."""
    from ..methods import get_method

    return list(get_method(method).method_cls.required_artifacts)


def load_method(run: Run, device: str = "auto"):
    """Rebuild the run's method (model, method, options, labels) and restore its saved state.

    Raises RunError when the run did not succeed or its artifacts are missing or damaged.
    """
    from ..engine.models import choose_device, model_folder, resolve_model
    from ..methods import check_supported, get_method

    config = check_usable(run)
    spec = resolve_model(config["model"], config.get("model_revision"))
    entry = get_method(config["method"])
    check_supported(entry, spec)
    method_config = entry.config_cls.from_dict(config.get("method_options", {}))
    method = entry.method_cls(method_config, spec, model_folder(spec), config["labels"], choose_device(device))
    # bf16 when the run predicted in bf16 (a CPU that measured it faster, tlcore.engine.precision): predict_texts
    # computes in it; a method built elsewhere (the worker's own) has none and computes in the caller's precision.
    method.inference_precision = recorded_precision(run.metrics(), method.device)
    try:
        with compute_in(method.inference_precision, method.device):  # whatever load recomputes, as the run did
            method.load(run.path / "artifacts")
    except (OSError, ValueError, KeyError) as exc:
        raise RunError(f"run {run.id}: its saved model in artifacts/ could not be loaded "
                       f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                       "the run folder is damaged, train the run again.") from exc
    return method


def predict_texts(method, texts: Sequence[str], callback=None, threads: int | None = None) -> np.ndarray:
    """Class probabilities (one row per text, columns in the run's label order) from a loaded method.

    The method is left as it was: decoder batch calibration recomputes its label means from any batch of
    16+ texts and keeps them on the method, so a method shared by the app's sessions would otherwise
    score one user's single text with the means of another user's file. Each call works on a shallow
    copy (the weights and tokenizer are shared, not copied).

    ``threads`` caps torch's CPU threads in the calling thread for this call. One short text gains
    nothing from more; and when the cores are busy (a training worker beside the app) torch's threads
    wait on each other: bench/playground_latency.py measured one text 5-35x faster with one thread.

    A method from ``load_method`` computes in the precision its run recorded (``inference_precision``).
    """
    precision = getattr(method, "inference_precision", None) or _AS_CALLER
    with torch_threads(threads), compute_in(precision, getattr(method, "device", "cpu")):
        return np.asarray(copy.copy(method).predict_proba(list(texts), callback), dtype=float)


# -- tables ---------------------------------------------------------------------------------------

def choose_text_column(frame: pd.DataFrame, text_column: str | None = None, preferred: str | None = None,
                       name: str = "the input") -> str:
    """The column to classify: the one asked for; else the run's own text column when the file has it;
    else a column with a usual text name; else the only column that holds free text."""
    columns = [str(c) for c in frame.columns]
    found = ", ".join(columns)
    if text_column is not None:
        if text_column not in columns:
            raise DatasetError(f"{name} has no text column {text_column!r}; the columns found are: {found}. "
                               "Choose one with --text-column.")
        return text_column
    if preferred and preferred in columns:
        return preferred
    for candidate in _TEXT_NAMES:
        if candidate in columns:
            return candidate
    if len(columns) == 1:
        return columns[0]
    texty = [c for c in columns if _looks_like_text(frame[c])]
    if len(texty) == 1:
        return texty[0]
    raise DatasetError(f"cannot tell which column of {name} holds the text (columns found: {found}); "
                       "choose one with --text-column.")


def _looks_like_text(column: pd.Series) -> bool:
    values = column.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty or pd.to_numeric(values, errors="coerce").notna().mean() > 0.5:
        return False
    return values.str.len().mean() >= 20 or values.str.split().str.len().mean() >= 3


def _texts(column: pd.Series) -> tuple[list[str], list[int]]:
    """(stripped texts of the rows that have one, positions of those rows)."""
    texts, keep = [], []
    for position, value in enumerate(column.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            continue
        text = str(value).strip()
        if text:
            texts.append(text)
            keep.append(position)
    return texts, keep


def prediction_columns(labels: Sequence[str]) -> list[str]:
    return ["predicted", "confidence", *[f"p_{label}" for label in labels]]


def predict_frame(run: Run, frame: pd.DataFrame, text_column: str | None = None, callback=None,
                  method=None, device: str = "auto") -> tuple[pd.DataFrame, PredictionReport]:
    """Label every row of ``frame`` with the run's model.

    Returns a copy of the frame (same rows, same order) with ``predicted``, ``confidence`` and
    ``p_<label>`` columns added, and a PredictionReport. Rows with an empty or missing text keep
    their place with empty prediction cells and are listed in the report. Pass an already loaded
    ``method`` (from ``load_method``) to reuse it across calls.
    """
    config = check_usable(run)
    labels = list(config["labels"])
    column = choose_text_column(frame, text_column, config.get("text_column"))
    texts, keep = _texts(frame[column])
    started = time.perf_counter()
    proba = np.zeros((0, len(labels)))
    if texts:
        method = method or load_method(run, device)
        proba = predict_texts(method, texts, callback)
    out = frame.copy()
    new_columns = prediction_columns(labels)
    replaced = [c for c in new_columns if c in out.columns]
    predicted = np.full(len(frame), None, dtype=object)
    confidence = np.full(len(frame), np.nan)
    per_class = np.full((len(frame), len(labels)), np.nan)
    if texts:
        rows = np.asarray(keep)
        predicted[rows] = [labels[i] for i in proba.argmax(axis=1)]
        confidence[rows] = proba.max(axis=1)
        per_class[rows] = proba
    out["predicted"] = predicted
    out["confidence"] = confidence
    for i, label in enumerate(labels):
        out[f"p_{label}"] = per_class[:, i]
    kept = set(keep)
    numbers = _file_row_numbers(frame)
    unscored_rows = [numbers[position] for position in range(len(frame)) if position not in kept]
    load_warnings = [str(w.get("message", w)) if isinstance(w, dict) else str(w)
                     for w in frame.attrs.get("load_warnings", [])]
    report = PredictionReport(run_id=run.id, text_column=column, labels=labels, rows=len(frame), scored=len(keep),
                              unscored=len(unscored_rows), unscored_rows=unscored_rows,
                              skipped_rows=_skipped_rows(frame), replaced_columns=replaced,
                              warnings=load_warnings, seconds=time.perf_counter() - started)
    return out, report


def _skipped_rows(frame: pd.DataFrame, limit: int = 10_000) -> list[int]:
    """File rows read_table skipped (it keeps them in frame.attrs as runs [first, last])."""
    rows: list[int] = []
    for item in frame.attrs.get("skipped_rows", []) or []:
        first, last = (item, item) if isinstance(item, int) else (int(item[0]), int(item[-1]))
        rows.extend(range(first, min(last, first + limit) + 1))
        if len(rows) >= limit:
            break
    return rows[:limit]


def _file_row_numbers(frame: pd.DataFrame) -> list[int]:
    """Each frame row's number as its file shows it; a frame read_table did not make counts like CSV: 2, 3, ..."""
    from ..data import row_numbers

    return [int(n) for n in row_numbers(frame)]


def predict_file(run: Run, source: str | Path, output: str | Path, text_column: str | None = None,
                 callback=None, device: str = "auto", encoding: str | None = None,
                 delimiter: str | None = None) -> PredictionReport:
    """Read a data file (any format ``read_table`` reads, with its ``encoding`` and ``delimiter`` when given),
    label it, write the result as CSV.

    Everything cheap is checked first (run, output path, input file, text column) so bad input fails
    before a model loads.
    """
    config = check_usable(run)
    source, output = Path(source), Path(output)
    check_output_path(output, source)
    with warnings.catch_warnings():  # what reading changed goes into the report (frame.attrs), not stderr
        warnings.simplefilter("ignore")
        frame = read_table(source, encoding=encoding, delimiter=delimiter)
    choose_text_column(frame, text_column, config.get("text_column"), name=source.name)  # name the file
    out, report = predict_frame(run, frame, text_column, callback, device=device)
    write_csv(out, output)
    return report


def check_output_path(output: Path, source: Path | None = None) -> None:
    """Refuse an output that is a folder, not a .csv file, sits in no folder, or would replace the input."""
    if output.suffix.lower() != ".csv":
        raise DatasetError(f"output {str(output)!r} must be a .csv file (predictions are written as CSV).")
    if output.is_dir():
        raise DatasetError(f"output {str(output)!r} is a folder; give a file name such as predictions.csv.")
    if not output.parent.is_dir():
        raise DatasetError(f"the folder of output {str(output)!r} does not exist; create it first.")
    if source is not None and source.exists() and output.exists() and output.resolve() == source.resolve():
        raise DatasetError(f"output {str(output)!r} is the input file; write the predictions to another file.")


# -- writing --------------------------------------------------------------------------------------
