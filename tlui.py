"""Helpers shared by the TransferLab pages: session-state keys, option widgets, charts, formatting.

Only Streamlit and plotly are used here: no torch, transformers or peft (models run in the worker
processes that tlcore starts). Pages stay thin: they lay out widgets, call tlcore and these helpers.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

# -- pages (paths relative to app.py; Streamlit finds pages/ by itself) ---------------------------
HOME_PAGE = "app.py"
DATA_PAGE = "pages/1_Data.py"
TRAIN_PAGE = "pages/2_Train.py"
COMPARE_PAGE = "pages/3_Compare.py"
NAVIGATION = ((HOME_PAGE, "Home", ":material/home:"), (DATA_PAGE, "Data", ":material/table:"),
              (TRAIN_PAGE, "Train", ":material/model_training:"),
              (COMPARE_PAGE, "Compare", ":material/leaderboard:"))

# -- session state: page-prefixed keys; values that outlive a page visit -------------------------
DATA_FRAME = "data_frame"  # the chosen table (pandas DataFrame) or None
DATA_NAME = "data_name"  # file name, recorded in each run's config
DATA_TEXT_COLUMN = "data_text_column"
DATA_LABEL_COLUMN = "data_label_column"
DATA_UPLOAD = "data_upload"  # (bytes, file name) of the last upload; the uploader forgets it on page change
TRAIN_RUNS = "train_runs"  # ids of the runs started in this session, oldest first

_SAVED = "_saved::"


def page_setup(title: str) -> None:
    """Call first on every page: page config, session defaults and the sidebar's page links.

    The built-in page list is hidden (client.showSidebarNavigation = false in .streamlit/config.toml) because
    it would label the home page "app"; these links give each page its name and icon instead.
    """
    st.set_page_config(page_title=f"{title} · TransferLab" if title != "Home" else "TransferLab",
                       page_icon=":material/science:", layout="wide")
    init_state()
    with st.sidebar:
        st.markdown("### :material/science: TransferLab")
        for page, label, icon in NAVIGATION:
            st.page_link(page, label=label, icon=icon, width="stretch")


def init_state() -> None:
    """Create the shared keys once per session (the setdefault pattern)."""
    for key, default in ((DATA_FRAME, None), (DATA_NAME, None), (DATA_TEXT_COLUMN, None),
                         (DATA_LABEL_COLUMN, None), (DATA_UPLOAD, None), (TRAIN_RUNS, [])):
        st.session_state.setdefault(key, default)


def _save_widget(key: str) -> None:
    st.session_state[_SAVED + key] = st.session_state[key]


def remember(key: str, default: Any, options: list | None = None) -> dict:
    """Widget kwargs that keep its value when the user leaves the page and comes back.

    Streamlit drops a widget's state when its page is not shown; we keep a copy under another key and
    seed the widget from it. Pass the result as ``**remember(...)`` and give the widget no default value.
    """
    value = st.session_state.get(key, st.session_state.get(_SAVED + key, default))
    if options is not None and value not in options:
        value = default
    st.session_state[key] = value
    st.session_state[_SAVED + key] = value
    return {"key": key, "on_change": _save_widget, "args": (key,)}


# -- method options, built generically from the registry ------------------------------------------
OPTION_LABELS = {
    "lr": "Learning rate", "batch_size": "Batch size", "epochs": "Epochs", "shots": "Shots per class",
    "max_length": "Max length (tokens)", "r": "LoRA rank r", "alpha": "LoRA alpha", "dropout": "Dropout",
    "weight_decay": "Weight decay", "warmup_ratio": "Warm-up ratio", "seed": "Seed",
    "label_descriptions": "Label descriptions (JSON)",
}


def option_label(name: str) -> str:
    return OPTION_LABELS.get(name, name.replace("_", " ").capitalize())


def _float_step(default: float) -> float:
    if not default:
        return 0.01
    exponent = math.floor(math.log10(abs(default)))
    leading = abs(default) / 10 ** exponent
    return 10.0 ** (exponent if leading >= 1.5 else exponent - 1)


def _option_kind(field: dict) -> str:
    return str(field.get("type", "str")).split("|")[0].strip().lower()


def is_long_option(field: dict) -> bool:
    """Free text or JSON, which needs a full-width box (numbers and choices fit a narrow column)."""
    return not field.get("choices") and _option_kind(field) not in ("int", "float", "bool")


def option_input(method: str, field: dict, errors: list[str]) -> Any:
    """One widget for one config field from ``describe_fields()``; returns its (parsed) value.

    A value that cannot be parsed (bad JSON) is reported in ``errors`` and returned as None.
    """
    name, default, help_text = field["name"], field.get("default"), field.get("help") or None
    kind = _option_kind(field)
    label = option_label(name)
    key = f"train_opt::{method}::{name}"
    low, high, choices = field.get("min"), field.get("max"), field.get("choices")
    if choices:
        options = list(choices)
        return st.selectbox(label, options, help=help_text, **remember(key, default, options))
    if kind == "bool":
        return st.checkbox(label, help=help_text, **remember(key, bool(default)))
    if kind == "int":
        return st.number_input(label, min_value=None if low is None else int(low),
                               max_value=None if high is None else int(high), step=1, help=help_text,
                               **remember(key, None if default is None else int(default)))
    if kind == "float":
        return st.number_input(label, min_value=None if low is None else float(low),
                               max_value=None if high is None else float(high),
                               step=_float_step(default or 0.0), format="%g", help=help_text,
                               **remember(key, None if default is None else float(default)))
    if kind == "str":
        text = "" if default is None else str(default)
        widget = st.text_area if len(text) > 60 else st.text_input
        return widget(label, help=help_text, **remember(key, text))
    # dict, list and anything else: JSON text
    raw = st.text_area(label, help=help_text, height=80, **remember(key, json.dumps(default)))
    try:
        value = json.loads(raw) if raw.strip() else default
    except ValueError as exc:
        errors.append(f"{label}: not valid JSON ({exc}); write it like {json.dumps(default) or '{}'}.")
        return None
    expected = {"dict": dict, "list": list}.get(kind)
    if expected and not isinstance(value, expected):
        errors.append(f"{label}: expected a JSON {'object' if expected is dict else 'list'}, got {raw!r}.")
        return None
    return value


# -- formatting -------------------------------------------------------------------------------------
def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d} h"


def fmt_count(n: int | float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f}"


def model_tag(model: str) -> str:
    return Path(model).name if "/" in model else model


def run_time(run_id: str) -> str:
    """'26 Nov 05:45:12' from a run id that starts with its creation stamp (20261126-054512-...)."""
    try:
        return time.strftime("%d %b %H:%M:%S", time.strptime(run_id[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return run_id


def run_label(method: str, model: str, run_id: str) -> str:
    return f"{method} · {model_tag(model)} · {run_time(run_id)}"


STATUS_BADGES = {"queued": ("queued", "gray", ":material/schedule:"),
                 "running": ("running", "blue", ":material/progress_activity:"),
                 "succeeded": ("succeeded", "green", ":material/check_circle:"),
                 "failed": ("failed", "red", ":material/error:"),
                 "cancelled": ("cancelled", "orange", ":material/cancel:"),
                 "damaged": ("damaged", "red", ":material/broken_image:")}


def status_badge(state: str) -> None:
    label, color, icon = STATUS_BADGES.get(state, (state, "gray", None))
    st.badge(label, color=color, icon=icon)


# -- progress ---------------------------------------------------------------------------------------
def progress_info(run_id: str, status: dict, events: list[dict], now: float | None = None) -> tuple[float | None, str]:
    """(fraction done or None when unknown, one line of text) for a live run."""
    now = time.time() if now is None else now
    state, stage = status.get("status"), status.get("stage") or "starting"
    if state == "queued":
        return None, "Queued: waiting for the worker process to start…"
    started = status.get("started")
    elapsed = f"{fmt_seconds(now - started)} elapsed" if started else ""
    train = [e for e in events if e.get("type") == "train"]
    if stage == "training" and train:
        last = train[-1]
        done, total = int(last["step"]), int(last.get("total_steps") or last["step"])
        per_step = float(last.get("elapsed") or 0.0) / max(1, done)
        left = f" · about {fmt_seconds(per_step * (total - done))} left" if done < total else " · validating"
        return done / max(1, total), f"Training: step {done} of {total} · {elapsed}{left}"
    progress = status.get("progress") or {}
    done, total = progress.get("done"), progress.get("total")
    if total and done is not None and stage not in ("loading model", "training"):
        # The status has no start time per stage: remember when this page first saw it.
        seen = st.session_state.setdefault("train_stage_seen", {})
        first = seen.get((run_id, stage))
        if first is None or first[0] > done:
            seen[(run_id, stage)] = first = (done, now)
        left = ""
        if done > first[0] and now > first[1]:
            rate = (done - first[0]) / (now - first[1])
            left = f" · about {fmt_seconds((total - done) / rate)} left"
        return done / total, f"{stage.capitalize()}: {done} of {total} · {elapsed}{left}"
    if stage == "training":
        return None, f"Training: starting… · {elapsed}"
    return None, f"{stage.capitalize()}… · {elapsed}"


# -- charts -----------------------------------------------------------------------------------------
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.02,
                                                                 xanchor="left", x=0))


def loss_figure(events: list[dict]) -> go.Figure | None:
    """Train loss per step and validation loss/accuracy per epoch, on one axis of steps."""
    train = [e for e in events if e.get("type") == "train"]
    evals = [e for e in events if e.get("type") == "eval"]
    if not train and not evals:
        return None
    total = max([int(e.get("total_steps") or 0) for e in train + evals] + [1])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[e["step"] for e in train], y=[e["train_loss"] for e in train],
                             name="train loss", mode="lines+markers" if len(train) <= 40 else "lines",
                             line=dict(color="#2563eb", width=1.5), marker=dict(size=4),
                             hovertemplate="step %{x}<br>train loss %{y:.4f}<extra></extra>"))
    if evals:
        fig.add_trace(go.Scatter(x=[e["step"] for e in evals], y=[e["val_loss"] for e in evals],
                                 name="validation loss", mode="lines+markers",
                                 line=dict(color="#f97316", width=2), marker=dict(size=8),
                                 customdata=[e.get("epoch") for e in evals],
                                 hovertemplate="epoch %{customdata} (step %{x})<br>validation loss %{y:.4f}"
                                               "<extra></extra>"))
        fig.add_trace(go.Scatter(x=[e["step"] for e in evals], y=[e["val_accuracy"] for e in evals],
                                 name="validation accuracy (right axis)", mode="lines+markers", yaxis="y2",
                                 line=dict(color="#16a34a", width=2, dash="dot"), marker=dict(size=8,
                                                                                           symbol="diamond"),
                                 customdata=[e.get("epoch") for e in evals],
                                 hovertemplate="epoch %{customdata} (step %{x})<br>validation accuracy "
                                               "%{y:.1%}<extra></extra>"))
    fig.update_layout(
        height=340, showlegend=True, **_LAYOUT,
        xaxis=dict(title=dict(text="training step"), range=[0, total + 0.5], rangemode="tozero",
                   dtick=1 if total <= 12 else None, tickformat="d"),
        yaxis=dict(title=dict(text="loss"), range=_loss_range(train, evals)),
        yaxis2=dict(title=dict(text="validation accuracy"), overlaying="y", side="right", range=[0, 1.02],
                    tickmode="array", tickvals=[0, 0.25, 0.5, 0.75, 1.0], tickformat=".0%", showgrid=False,
                    visible=bool(evals)))
    return fig


def _loss_range(train: list[dict], evals: list[dict]) -> list[float] | None:
    """Autoscale, but never zoom so far that a wiggle of 0.001 fills the chart: span at least 20 % of the top."""
    losses = [e["train_loss"] for e in train] + [e["val_loss"] for e in evals]
    losses = [float(v) for v in losses if v is not None and math.isfinite(float(v))]
    if not losses:
        return None
    low, high = min(losses), max(losses)
    span = max(high - low, 0.2 * abs(high), 1e-3)
    middle = (low + high) / 2
    pad = 0.08 * span
    return [max(0.0, middle - span / 2 - pad) if low >= 0 else middle - span / 2 - pad, middle + span / 2 + pad]


def class_counts_figure(counts: dict[str, int], limit: int = 40) -> go.Figure:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    fig = go.Figure(go.Bar(x=[str(k) for k, _ in items], y=[v for _, v in items], text=[v for _, v in items],
                           textposition="outside", marker_color="#2563eb", cliponaxis=False,
                           hovertemplate="%{x}: %{y} rows<extra></extra>"))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(title=dict(text="label"), type="category"),
                      yaxis=dict(title=dict(text="rows"), rangemode="tozero"))
    return fig


def confusion_figure(metrics: dict, title: str, subtitle: str = "") -> go.Figure:
    labels = [str(label) for label in metrics["labels"]]
    matrix = metrics["confusion_matrix"]
    fig = go.Figure(go.Heatmap(
        z=matrix, x=labels, y=labels, text=matrix, texttemplate="%{text}", textfont=dict(size=14),
        colorscale="Blues", showscale=False, xgap=2, ygap=2,
        hovertemplate="gold %{y}, predicted %{x}: %{z} examples<extra></extra>"))
    side = 220 + 28 * len(labels)
    fig.update_layout(
        title=dict(text=title, font=dict(size=15), subtitle=dict(text=subtitle, font=dict(size=12))),
        height=min(side, 700), margin=dict(l=10, r=10, t=70, b=10),
        xaxis=dict(title=dict(text="predicted"), type="category", side="bottom", constrain="domain"),
        yaxis=dict(title=dict(text="gold"), type="category", autorange="reversed", scaleanchor="x"))
    return fig
