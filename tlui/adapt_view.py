"""The Train page's "Adapt the base model to your texts": continue pre-training the chosen model on unlabeled texts
of the analyst's domain (an adaptation job of tlcore.runs, in its own process), watch its loss live, cancel it, and
use the adapted model as the base model of the next run.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import tlcore
from tlcore.engine import ModelSpec
from tlcore.runs import (
    MIN_TEXTS,
    AdaptConfig,
    cancel_adapt_job,
    clean_texts,
    create_adapt_job,
    get_adapt_job,
    start_adapt_job,
    texts_from_frame,
)

from .charts import CHART_CONFIG, RAW_COLOR, SMOOTH_COLOR, smooth, smoothing_weight
from .fmt import fmt_seconds
from .run_view import status_badge
from .state import POLL_SECONDS, TRAIN_W_MODEL, kept_upload, remember, remembered, set_widget

ADAPT_JOB = "adapt_job"  # id of the adaptation job this session follows
ADAPT_UPLOAD = "adapt_upload"  # (bytes, file name) of an uploaded file of texts
ADAPT_W_SOURCE, ADAPT_W_UPLOAD, ADAPT_W_COLUMN = "adapt_w_source", "adapt_w_upload", "adapt_w_column"
ADAPT_W_NAME, ADAPT_W_MODE, ADAPT_W_STEPS = "adapt_w_name", "adapt_w_mode", "adapt_w_steps"
SOURCES = ("The data's texts", "A file of texts")
MODE_LABELS = {"full-weights": "Every weight", "lora-merged": "LoRA, merged"}
_FIELDS = {f.name: f.metadata for f in AdaptConfig.__dataclass_fields__.values()}


def adapt_section(spec: ModelSpec, frame: pd.DataFrame, text_column: str, data_name: str) -> None:
    """The expander under the model choice: settings and Start, then the followed job, live while it runs."""
    job_id = st.session_state.get(ADAPT_JOB)
    live = False
    if job_id:
        try:
            live = get_adapt_job(job_id).status().get("status") in tlcore.LIVE_STATES
        except tlcore.TLCoreError:
            st.session_state.pop(ADAPT_JOB, None)
            job_id = None
    with st.expander("Adapt the base model to your texts", icon=":material/auto_stories:", expanded=bool(job_id)):
        st.caption(f"Continue {spec.name}'s own pre-training on unlabeled texts of your domain ("
                   f"{'masked-word prediction' if spec.kind == 'encoder' else 'next-word prediction'}; labels are "
                   "never used). The result is a new base model in the Model list that every method can use. It runs "
                   "in its own process: you can leave the page.")
        _settings(spec, frame, text_column, data_name, blocked=live)
        if job_id:
            st.fragment(_show_job, run_every=POLL_SECONDS if live else None)(job_id, live)


def _texts(frame: pd.DataFrame, text_column: str, data_name: str) -> tuple[list | None, str]:
    """(texts or None, where they come from) as the source radio says."""
    source = st.radio("Texts", SOURCES, horizontal=True, **remember(ADAPT_W_SOURCE, SOURCES[0], list(SOURCES)),
                      help="The data's own texts (all rows, with or without a label), or a file of unlabeled texts "
                           "(the rest of the ticket queue, last year's reviews): the more, the better.")
    if source == SOURCES[0]:
        st.caption("The data's texts include the rows a run will hold out for testing (their labels are never used); "
                   "for a strictly clean comparison, adapt on a separate file of texts.")
        return frame[text_column].tolist(), data_name
    kept, _ = kept_upload("File of texts", ADAPT_W_UPLOAD, ADAPT_UPLOAD,
                          help="CSV, TSV, TXT, JSONL, JSON, Excel or Parquet with a column of texts.")
    if kept is None:
        return None, ""
    content, name = kept
    try:
        table = tlcore.read_table(content, name=name)
        columns = [str(c) for c in table.columns]
        guessed = "text" if "text" in columns else None
        column = st.selectbox("Text column", columns, **remember(ADAPT_W_COLUMN, guessed or columns[0], columns))
        return texts_from_frame(table, column, name=name), name
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return None, name


def _settings(spec: ModelSpec, frame: pd.DataFrame, text_column: str, data_name: str, blocked: bool) -> None:
    texts, source = _texts(frame, text_column, data_name)
    distinct = len(clean_texts(texts)) if texts is not None else 0
    name_col, mode_col, steps_col = st.columns([3, 2, 1])
    default = f"{spec.name if not spec.path or getattr(spec, 'source', '') == 'adapted' else Path(spec.name).name}" \
              f" + {Path(source or 'my texts').stem.replace('_', ' ')}"
    name = name_col.text_input("Name of the new model", max_chars=80, **remember(ADAPT_W_NAME, default),
                               help="How it appears in the Model list, e.g. 'minilm + support tickets'.")
    modes = list(MODE_LABELS)
    mode = mode_col.radio("Train", modes, format_func=MODE_LABELS.get, horizontal=True,
                          help=_FIELDS["mode"]["help"], **remember(ADAPT_W_MODE, modes[0], modes))
    steps = steps_col.number_input("Steps", min_value=10, max_value=20_000, step=50, help=_FIELDS["steps"]["help"],
                                   **remember(ADAPT_W_STEPS, AdaptConfig().steps))
    reason = None
    if blocked:
        reason = "An adaptation is running: wait for it or cancel it first."
    elif texts is None:
        reason = "Upload a file of texts first."
    elif distinct < MIN_TEXTS:
        reason = f"Adapting needs at least {MIN_TEXTS} distinct texts; these have {distinct:,}."
    elif not name.strip():
        reason = "Give the new model a name."
    elif " ".join(name.split()) in _adapted_names():
        reason = f"A model named {' '.join(name.split())!r} exists already: choose another name."
    if texts is not None:
        st.caption(f"{distinct:,} distinct texts (blanks and repeats are dropped) · {int(steps)} steps of "
                   f"{AdaptConfig().batch_size} texts ≈ {int(steps) * AdaptConfig().batch_size / max(1, distinct):.1f} "
                   "passes over them.")
    if st.button("Start adapting", icon=":material/play_arrow:", disabled=reason is not None, key="adapt_start"):
        try:
            job = create_adapt_job(spec.name, texts, AdaptConfig(mode=mode, steps=int(steps)), name=name,
                                   source=source)
            start_adapt_job(job)
        except (OSError, tlcore.TLCoreError) as exc:
            st.error(str(exc))
            return
        st.session_state[ADAPT_JOB] = job.id
        st.rerun()
    if reason:
        st.caption(reason)


def _adapted_names() -> set[str]:
    from .model_picker import catalog

    return {spec.name for spec in catalog() if getattr(spec, "source", "") == "adapted"}


def loss_chart(events: list[dict]) -> go.Figure | None:
    """Masked-/next-token loss per step (raw and smoothed; the head warm-up shaded) and the held-out loss."""
    train = [e for e in events if e.get("type") == "train"]
    held = [e for e in events if e.get("type") == "held_out"]
    if not train and not held:
        return None
    total = max([int(e.get("total_steps") or 0) for e in train + held] + [1])
    fig = go.Figure()
    steps, losses = [e["step"] for e in train], [e["train_loss"] for e in train]
    fig.add_trace(go.Scatter(x=steps, y=losses, name="training loss", mode="lines",
                             line=dict(color=RAW_COLOR, width=1)))
    if len(train) > 1:
        fig.add_trace(go.Scatter(x=steps, y=smooth(losses, smoothing_weight(total)), name="smoothed",
                                 mode="lines", line=dict(color=SMOOTH_COLOR, width=2.5)))
    if held:
        fig.add_trace(go.Scatter(x=[e["step"] for e in held], y=[e["val_loss"] for e in held],
                                 name="held-out texts", mode="lines+markers",
                                 line=dict(color="#f97316", width=2), marker=dict(size=8)))
    head = [e["step"] for e in train if e.get("phase") == "head"]
    if head:
        fig.add_vrect(x0=0, x1=max(head), fillcolor="#e5e7eb", opacity=0.5, line_width=0,
                      annotation_text="new head only", annotation_position="top left")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
                      xaxis=dict(title=dict(text="step"), range=[0, total + 0.5]),
                      yaxis=dict(title=dict(text="loss (cross-entropy)")))
    return fig


def _use_model(name: str) -> None:
    """Callback of "Use it": the Model box (drawn above in this run) shows the adapted model next time."""
    from .model_picker import _catalog

    _catalog.clear()  # the catalog is cached for a minute; the new model must be listed now
    set_widget(TRAIN_W_MODEL, name)


def _show_job(job_id: str, polling: bool) -> None:
    try:
        job = get_adapt_job(job_id)
        status, config, events = job.status(), job.config(), job.events()
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    state = status.get("status", "damaged")
    if polling and state not in tlcore.LIVE_STATES:
        st.rerun()  # the whole page: the settings unlock and the model list gains the new model
    title, badge = st.columns([5, 1])
    title.markdown(f"**{config.get('name')}** · {config.get('model')} on {config.get('texts', 0):,} texts of "
                   f"{config.get('source') or 'your data'}")
    with badge:
        status_badge(state)
    train = [e for e in events if e.get("type") == "train"]
    if state in tlcore.LIVE_STATES:
        if train:
            last = train[-1]
            done, total = int(last["step"]), int(last.get("total_steps") or last["step"])
            left = float(last.get("elapsed") or 0) / max(1, done) * (total - done)
            phase = "training the new prediction head" if last.get("phase") == "head" else "adapting"
            st.progress(min(1.0, done / max(1, total)),
                        text=f"Step {done} of {total} ({phase}) · about {fmt_seconds(left)} left")
        else:
            started = status.get("started")
            waited = f" · {fmt_seconds(time.time() - started)}" if started else ""
            st.progress(0, text=f"{str(status.get('stage') or 'starting').capitalize()}…{waited}")
        if not job.cancel_requested and st.button("Cancel adapting", icon=":material/stop:",
                                                  key=f"adapt_cancel::{job.id}"):
            cancel_adapt_job(job)
            st.rerun()
        if job.cancel_requested:
            st.caption("Cancel requested: it stops at its next step; nothing is saved.")
    figure = loss_chart(events)
    if figure is not None:
        st.plotly_chart(figure, width="stretch", key=f"adapt_chart::{job.id}", config=CHART_CONFIG)
    if state == "succeeded":
        record = status.get("record") or {}
        losses = record.get("held_out_loss") or {}
        first, last = losses.get("after_head_warmup", losses.get("before")), losses.get("after")
        change = f" Held-out loss {first:.2f} → {last:.2f}." if first is not None and last is not None else ""
        st.success(f"**{status.get('name')}** is ready: {record.get('steps')} steps on {record.get('texts', 0):,} "
                   f"texts in {fmt_seconds(record.get('seconds') or 0)}.{change} It is in the Model list.",
                   icon=":material/check_circle:")
        if remembered(TRAIN_W_MODEL, None) == status.get("name"):
            st.caption(":material/check: It is the Model chosen above: pick a method and start a run.")
        else:
            st.button("Use it as the base model", icon=":material/swap_horiz:", key=f"adapt_use::{job.id}",
                      on_click=_use_model, args=(status.get("name"),), type="primary")
    elif state == "failed":
        st.error(f"Adapting failed: {status.get('error') or 'no reason was recorded'}")
    elif state == "cancelled":
        st.warning("Adapting was cancelled; no model was saved.")
