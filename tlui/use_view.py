"""The Use page's helpers: finished runs to pick from, models cached for the playground, a probability chart,
batch prediction with a progress bar, export to a zip and import of one.

Models load through ``tlcore.load_method`` (torch is imported there, never here) and are cached with
``st.cache_resource`` keyed by the run folder and the run's finished time, so a deleted and re-created run
id never serves a stale model. A cached method is shared by every session and never changed:
``tlcore.predict_texts`` scores on a shallow copy.
"""
from __future__ import annotations

import random
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import tlcore
from tlcore.methods import Callback, get_method
from tlcore.use import PredictionReport, choose_text_column, predict_frame

from .fmt import model_tag, run_time

__all__ = ["USE_TABS", "USE_W_TAB", "USE_W_RUNS", "USE_W_TEXT", "USE_W_BATCH_RUN", "USE_W_UPLOAD", "USE_UPLOAD",
           "USE_BATCH", "USE_W_EXPORT_RUN", "USE_EXPORT", "USE_W_IMPORT_UPLOAD", "USE_W_IMPORT_PATH", "USE_FLASH",
           "KINDS", "PLAYGROUND_THREADS", "EXPORT_CONTENTS", "run_kind", "UsableRun", "usable_runs",
           "default_selection", "loaded_method", "Prediction", "classify", "fmt_latency", "probability_figure",
           "example_text", "read_upload", "guess_text_column", "ProgressBar", "predict_table",
           "unscored_table", "export_zip", "import_upload", "fmt_bytes"]

USE_TABS = ("Playground", "Batch prediction", "Export & import")
USE_W_TAB = "use_w_tab"
USE_W_RUNS = "use_w_runs"  # the playground's selected run ids
USE_W_TEXT = "use_w_text"
USE_W_BATCH_RUN = "use_w_batch_run"
USE_W_UPLOAD = "use_w_upload"
USE_UPLOAD = "use_upload"  # (bytes, file name) of the batch file; the uploader forgets it on page change
USE_BATCH = "use_batch"  # the last batch result: {"key", "frame", "report", "csv", "file"}
USE_W_EXPORT_RUN = "use_w_export_run"
USE_EXPORT = "use_export"  # the last built export: {"run_id", "name", "data"}
USE_W_IMPORT_UPLOAD = "use_w_import_upload"
USE_W_IMPORT_PATH = "use_w_import_path"
USE_FLASH = "use_flash"  # (kind, message) shown once after an import

KINDS = ("zero-shot", "few-shot", "fine-tuned")
# torch threads for one playground text: more gain nothing on one short text, and while a training worker keeps the
# cores busy they wait on each other (bench/playground_latency.py: 5-35x slower than one thread on 2 busy cores).
PLAYGROUND_THREADS = 1
MODELS_CACHED = 6  # loaded runs kept in memory (a SmolLM2 run holds ~0.55 GB)

EXPORT_CONTENTS = {
    "peft": "the PEFT adapter with the trained classification head, a reference to the base model, the tokenizer, "
            "`config.json` with the labels, and a model card: it loads with transformers + peft.",
    "model": "the whole fine-tuned model (`save_pretrained`, safetensors) with the tokenizer and the labels in "
            "`config.json`, and a model card: it loads with transformers alone.",
    "json": "`method.json` (label texts, prompt, shots, calibration or the linear head) and a model card whose "
            "snippet reproduces the predictions with transformers and the base model.",
}


def run_kind(method: str) -> str:
    """The method's family: 'zero-shot', 'few-shot' or 'fine-tuned' (every method that learns weights, the linear
    probe too; also a method not installed here)."""
    try:
        return get_method(method).family
    except tlcore.TLCoreError:
        return "fine-tuned"


@dataclass
class UsableRun:
    """A succeeded run, with what the Use page shows and keys its model cache by."""

    id: str
    path: Path
    method: str
    model: str
    data_name: str
    labels: list[str]
    text_column: str
    accuracy: float | None
    finished: float
    imported: bool

    @property
    def label(self) -> str:
        accuracy = f" · {self.accuracy:.1%}" if self.accuracy is not None else ""
        origin = " · imported" if self.imported else ""
        return f"{self.method} · {model_tag(self.model)} · {self.data_name}{accuracy} · {run_time(self.id)}{origin}"


def usable_runs(store: tlcore.RunStore) -> list[UsableRun]:
    """Succeeded runs, newest first; a run whose files cannot be read is left out (the Runs page shows why)."""
    runs = []
    for summary in store.summaries():
        if summary.status != "succeeded":
            continue
        try:
            run = store.get(summary.id)
            config, status = run.config(), run.status()
        except tlcore.TLCoreError:
            continue
        runs.append(UsableRun(
            id=run.id, path=run.path, method=config.get("method", ""), model=config.get("model", ""),
            data_name=config.get("data_name", ""), labels=list(config.get("labels") or []),
            text_column=config.get("text_column", "text"), accuracy=summary.accuracy,
            finished=float(status.get("finished") or status.get("created") or 0.0),
            imported=bool(config.get("imported_from"))))
    return runs


def default_selection(runs: list[UsableRun], data_name: str | None) -> list[str]:
    """The most accurate run of each kind (zero-shot, few-shot, fine-tuned) on the current data; without current
    data (or runs on it), on the data of the newest run."""
    pool = [r for r in runs if data_name and r.data_name == data_name]
    if not pool and runs:
        pool = [r for r in runs if r.data_name == runs[0].data_name and r.labels == runs[0].labels]
    best: dict[str, UsableRun] = {}
    for run in pool:  # newest first: a tie keeps the newer run
        kind = run_kind(run.method)
        if kind not in best or (run.accuracy or -1.0) > (best[kind].accuracy or -1.0):
            best[kind] = run
    return [best[kind].id for kind in KINDS if kind in best]


# -- models -------------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=MODELS_CACHED, show_spinner=False)
def _cached_method(path: str, finished: float):
    """(method, seconds it took to load); ``finished`` only keys the cache (a re-created run id reloads)."""
    started = time.perf_counter()
    method = tlcore.load_method(tlcore.Run(Path(path)))
    return method, time.perf_counter() - started


def loaded_method(run: UsableRun):
    """The run's fitted method (loaded once per run and server process), and how long that load took."""
    return _cached_method(str(Path(run.path).resolve()), run.finished)


@dataclass
class Prediction:
    labels: list[str]
    proba: list[float]
    seconds: float  # this text
    load_seconds: float  # the model's one-time load

    @property
    def predicted(self) -> str:
        return self.labels[max(range(len(self.proba)), key=self.proba.__getitem__)]

    @property
    def confidence(self) -> float:
        return max(self.proba)


def classify(run: UsableRun, text: str) -> Prediction:
    method, load_seconds = loaded_method(run)
    started = time.perf_counter()
    proba = tlcore.predict_texts(method, [text], threads=PLAYGROUND_THREADS)[0]
    return Prediction(list(run.labels), [float(p) for p in proba], time.perf_counter() - started, load_seconds)


def fmt_latency(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def probability_figure(labels: list[str], proba: list[float]) -> go.Figure:
    """Horizontal bars, one per class in the run's label order (first on top); the predicted class in blue."""
    top = max(range(len(proba)), key=proba.__getitem__)
    colors = ["#2563eb" if i == top else "#cbd5e1" for i in range(len(labels))]
    fig = go.Figure(go.Bar(
        x=proba, y=[str(label) for label in labels], orientation="h", marker_color=colors,
        text=[f"{p:.1%}" for p in proba], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(height=60 + 30 * len(labels), margin=dict(l=10, r=40, t=10, b=10), showlegend=False,
                      xaxis=dict(range=[0, 1.0], tickformat=".0%", showgrid=True, fixedrange=True),
                      yaxis=dict(type="category", autorange="reversed", fixedrange=True), bargap=0.3)
    return fig


def example_text(run: UsableRun, seed: int | None = None) -> str | None:
    """A random text from the run's test split (its predictions.csv), or None when it has none."""
    try:
        frame = tlcore.Run(run.path).predictions()
    except (OSError, ValueError, tlcore.TLCoreError):
        return None
    if frame is None or frame.empty or "text" not in frame:
        return None
    return str(frame["text"].iloc[random.Random(seed).randrange(len(frame))])


# -- batch prediction ---------------------------------------------------------------------------------------
@st.cache_data(show_spinner="Reading the file…", max_entries=4)
def read_upload(raw: bytes, name: str) -> pd.DataFrame:
    with warnings.catch_warnings():  # what reading changed is in frame.attrs and ends up in the report
        warnings.simplefilter("ignore")
        return tlcore.read_table(raw, name=name)


def guess_text_column(frame: pd.DataFrame, preferred: str | None) -> str | None:
    try:
        return choose_text_column(frame, None, preferred)
    except tlcore.TLCoreError:
        return None


class ProgressBar(Callback):
    """Drives an ``st.progress`` bar from tlcore's progress events (scoring, encoding, predicting)."""

    def __init__(self, bar) -> None:
        self.bar = bar

    def on_progress(self, stage: str, done: int, total: int) -> None:
        self.bar.progress(min(1.0, done / max(1, total)), text=f"{stage.capitalize()}: {done:,} of {total:,} texts")


def predict_table(run: UsableRun, frame: pd.DataFrame, text_column: str, bar) -> tuple[pd.DataFrame,
                                                                                       PredictionReport]:
    bar.progress(0.0, text="Loading the model…")
    method, _ = loaded_method(run)
    bar.progress(0.0, text=f"Predicting {len(frame):,} rows…")
    return predict_frame(tlcore.Run(run.path), frame, text_column, callback=ProgressBar(bar), method=method)


def unscored_table(frame: pd.DataFrame, report: PredictionReport) -> pd.DataFrame:
    """The rows that got no prediction, with their row number in the file first."""
    rows = frame[frame["predicted"].isna()].drop(columns=["predicted", "confidence",
                                                          *[f"p_{label}" for label in report.labels]])
    rows.insert(0, "file row", report.unscored_rows)
    return rows


# -- export and import --------------------------------------------------------------------------------------
def export_zip(run_id: str) -> tuple[bytes, str]:
    """The run exported as a zip (built in a temporary folder): (bytes, file name)."""
    run = tlcore.RunStore().get(run_id)
    with tempfile.TemporaryDirectory() as tmp:
        path = tlcore.export_run(run, Path(tmp) / f"{run.id}-export", zip=True)
        return path.read_bytes(), path.name


def import_upload(raw: bytes, name: str) -> tlcore.Run:
    """Import an uploaded export zip (written to a temporary file first)."""
    safe_name = Path(name).name or "export.zip"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.zip"
        path.write_bytes(raw)
        return tlcore.import_export(path, tlcore.RunStore(), source_name=safe_name)


def fmt_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
