"""Helpers shared by the TransferLab pages: session-state keys, option widgets, charts, formatting.

Only Streamlit, plotly and tlcore's light facade are used here: no torch, transformers or peft (models run in
the worker processes that tlcore starts). Pages stay thin: they lay out widgets, call tlcore and these helpers.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

import tlcore

# -- pages (paths relative to app.py; Streamlit finds pages/ by itself) ---------------------------
HOME_PAGE = "app.py"
DATA_PAGE = "pages/1_Data.py"
TRAIN_PAGE = "pages/2_Train.py"
COMPARE_PAGE = "pages/3_Compare.py"
RUNS_PAGE = "pages/4_Runs.py"
NAVIGATION = ((HOME_PAGE, "Home", ":material/home:"), (DATA_PAGE, "Data", ":material/table:"),
              (TRAIN_PAGE, "Train", ":material/model_training:"),
              (COMPARE_PAGE, "Compare", ":material/leaderboard:"), (RUNS_PAGE, "Runs", ":material/history:"))

# -- session state: page-prefixed keys; values that outlive a page visit -------------------------
DATA_FRAME = "data_frame"  # the chosen table (pandas DataFrame) or None
DATA_NAME = "data_name"  # file name, recorded in each run's config
DATA_TEXT_COLUMN = "data_text_column"
DATA_LABEL_COLUMN = "data_label_column"
DATA_UPLOAD = "data_upload"  # (bytes, file name) of the last upload; the uploader forgets it on page change
DATA_TEST_UPLOAD = "data_test_upload"  # (bytes, file name) of the user's own test file, or None
# The own test file in the chosen columns, or None: {"data": LabeledData, "name": file name, "data_name",
# "text_column", "label_column": the training data it was read for (the Train page uses it only for those)}.
DATA_TEST = "data_test"
TRAIN_RUNS = "train_runs"  # ids of the runs started in this session, oldest first
TRAIN_PREFILLED = "train_prefilled"  # {run_id, data_name, data_ok} after "Duplicate into Train"
TRAIN_RECOMMENDATION = "train_recommendation"  # the Recommend button's last answer, with the split it was for
DATA_SOURCES = ("Sample dataset", "Upload a file")  # the Data page's source choice
# Widget keys that another page sets ("Duplicate into Train" on the Runs page fills the Train page's widgets).
DATA_W_SOURCE, DATA_W_SAMPLE = "data_w_source", "data_w_sample"
TRAIN_W_MODEL, TRAIN_W_METHOD = "train_w_model", "train_w_method"
TRAIN_W_TEST_SIZE, TRAIN_W_VAL_SIZE, TRAIN_W_SPLIT_SEED = "train_w_test_size", "train_w_val_size", "train_w_split_seed"
TRAIN_W_PER_CLASS, TRAIN_W_USE_ALL = "train_w_per_class", "train_w_use_all"

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
                         (DATA_LABEL_COLUMN, None), (DATA_UPLOAD, None), (DATA_TEST_UPLOAD, None),
                         (DATA_TEST, None), (TRAIN_RUNS, [])):
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


def own_test() -> dict | None:
    """The user's own test file (see DATA_TEST) when it was read for the data and columns chosen now."""
    test = st.session_state.get(DATA_TEST)
    if not test:
        return None
    chosen = tuple(st.session_state.get(key) for key in (DATA_NAME, DATA_TEXT_COLUMN, DATA_LABEL_COLUMN))
    if st.session_state.get(DATA_FRAME) is None or chosen != (test["data_name"], test["text_column"],
                                                                test["label_column"]):
        return None
    return test


def remembered(key: str, default: Any) -> Any:
    """The value of a ``remember``-ed widget, also while it is not drawn."""
    return st.session_state.get(key, st.session_state.get(_SAVED + key, default))


def set_widget(key: str, value: Any) -> None:
    """Give a ``remember``-ed widget a new value from code: in a callback, or on a page where it is not shown.

    Both the widget's key and its saved copy change, so the widget shows the value the next time it is drawn.
    (Streamlit refuses a change to the key of a widget already drawn in this script run: use a callback.)
    """
    st.session_state[key] = value
    st.session_state[_SAVED + key] = value


# -- method options, built generically from the registry ------------------------------------------
OPTION_LABELS = {
    "lr": "Learning rate", "batch_size": "Batch size", "epochs": "Epochs (0 = auto)", "shots": "Shots per class",
    "max_length": "Max length (tokens)", "r": "LoRA rank r", "alpha": "LoRA alpha", "dropout": "Dropout",
    "weight_decay": "Weight decay", "warmup_ratio": "Warm-up ratio", "seed": "Seed",
    "label_descriptions": "Label descriptions (JSON)", "class_weights": "Class weights",
    "early_stopping": "Early stopping (0 = off)", "C": "C (inverse regularisation)",
    "virtual_tokens": "Virtual tokens", "trainable_layers": "Trainable layers",
}


def option_label(name: str) -> str:
    return OPTION_LABELS.get(name, name.replace("_", " ").capitalize())


def option_key(method: str, name: str) -> str:
    return f"train_opt::{method}::{name}"


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
    key = option_key(method, name)
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


def option_widget_value(field: dict, value: Any) -> Any:
    """The value ``option_input``'s widget holds for a config value (numbers typed, JSON fields as text)."""
    kind = _option_kind(field)
    if value is None or field.get("choices"):
        return value
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "str":
        return str(value)
    return json.dumps(value)


def prefill_train(run_id: str, config: dict) -> None:
    """Set the Train page's widgets (and, for a bundled sample, the data) to reproduce a run's settings."""
    model, method = config.get("model", ""), config.get("method", "")
    set_widget(TRAIN_W_MODEL, model)
    set_widget(TRAIN_W_METHOD, method)
    try:
        fields = tlcore.get_method(method).config_cls.describe_fields()
    except tlcore.TLCoreError:
        fields = []
    given = config.get("method_options") or {}
    for field in fields:  # every option: the run's value, or the default it ran with
        value = given.get(field["name"], field.get("default"))
        set_widget(option_key(method, field["name"]), option_widget_value(field, value))
    set_widget(TRAIN_W_TEST_SIZE, float(config.get("test_size", 0.2)))
    set_widget(TRAIN_W_VAL_SIZE, float(config.get("val_size", 0.1)))
    set_widget(TRAIN_W_SPLIT_SEED, int(config.get("split_seed", 0)))
    per_class = config.get("per_class")
    set_widget(TRAIN_W_USE_ALL, per_class is None)
    if per_class is not None:
        set_widget(TRAIN_W_PER_CLASS, int(per_class))

    data_name = config.get("data_name")
    text_column, label_column = config.get("text_column", "text"), config.get("label_column", "label")
    sample = next((s for s in tlcore.list_samples() if s.file == data_name), None)
    if sample is not None:  # a bundled sample: load it, so the run can be repeated exactly
        st.session_state[DATA_FRAME] = tlcore.load_sample(sample.name)
        st.session_state[DATA_NAME] = sample.file
        set_widget(DATA_W_SOURCE, DATA_SOURCES[0])
        set_widget(DATA_W_SAMPLE, sample.name)
    frame = st.session_state.get(DATA_FRAME)
    data_ok = (st.session_state.get(DATA_NAME) == data_name and frame is not None
               and {text_column, label_column} <= set(frame.columns))
    if data_ok:
        st.session_state[DATA_TEXT_COLUMN], st.session_state[DATA_LABEL_COLUMN] = text_column, label_column
        set_widget(f"data_w_text::{data_name}", text_column)
        set_widget(f"data_w_label::{data_name}", label_column)
    st.session_state.pop(TRAIN_RECOMMENDATION, None)  # it was for other settings
    st.session_state[TRAIN_PREFILLED] = {"run_id": run_id, "data_name": data_name, "data_ok": data_ok,
                                         "method": method, "model": model}


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


def fmt_estimate(seconds: float) -> str:
    """A rough duration in words: 'a few seconds', 'about 40 s', 'about 2 min', 'about 1.5 h'."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 55:
        return f"about {round(seconds / 5.0) * 5} s"
    if seconds < 90:
        return "about 1 min"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def fmt_params(trainable: int, total: int) -> str:
    """'338,690 of 23.1 M (1.5 %)'."""
    share = 100 * trainable / total if total else 0.0
    digits = 1 if share >= 0.1 or share == 0 else 2 if share >= 0.01 else 3
    return f"{trainable:,} of {fmt_count(total)} ({share:.{digits}f} %)"


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
def progress_info(status: dict, events: list[dict], now: float | None = None,
                  queue_position: int | None = None) -> tuple[float | None, str]:
    """(fraction done or None when unknown, one line of text) for a live run.

    Time left comes from the run's own clock: training events carry the seconds since training began, and
    status.json records when the current stage began (``stage_started``).
    """
    now = time.time() if now is None else now
    state, stage = status.get("status"), status.get("stage") or "starting"
    if state == "queued":
        waiting = f" · waiting {fmt_seconds(now - status['created'])}" if status.get("created") else ""
        if queue_position is None:
            return None, f"Queued: waiting for the worker process to start…{waiting}"
        ahead = ("next to start when a slot frees up" if queue_position == 1
                 else f"{queue_position - 1} queued run{'s' if queue_position > 2 else ''} ahead")
        return None, f"Queued — position {queue_position} ({ahead}){waiting}"
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
    stage_started = status.get("stage_started")
    if total and done is not None and stage not in ("loading model", "training"):
        left = ""
        if stage_started and done > 0 and now > stage_started:
            rate = done / (now - stage_started)
            left = f" · about {fmt_seconds((total - done) / rate)} left" if done < total else ""
        return done / total, f"{stage.capitalize()}: {done} of {total} · {elapsed}{left}"
    # The stage's own clock, when it began well after the run did (otherwise "elapsed" already says it).
    in_stage = (f" ({fmt_seconds(now - stage_started)} in this stage)"
                if stage_started and started and stage_started - started > 1 else "")
    if stage == "training":
        return None, f"Training: starting…{in_stage} · {elapsed}"
    return None, f"{stage.capitalize()}…{in_stage} · {elapsed}"


def early_stop_note(metrics: dict, events: list[dict]) -> str | None:
    """'Stopped early at epoch 5; kept epoch 3's weights …' for an early-stopped run, else None."""
    if not metrics.get("early_stopped"):
        return None
    evals = [e for e in events if e.get("type") == "eval"]
    stopped = metrics.get("epochs_completed") or (evals[-1].get("epoch") if evals else None)
    best = metrics.get("best_epoch")
    planned = metrics.get("epochs")
    at = f" at epoch {stopped}" if stopped is not None else ""
    of = f" of {planned}" if planned and stopped is not None and planned != stopped else ""
    kept = f"; kept epoch {best}'s weights" if best is not None else ""
    return f"Stopped early{at}{of}{kept} (the validation loss had stopped improving)."


def show_metrics(metrics: dict, events: list[dict]) -> None:
    """A finished run's headline numbers, the majority-class reference and an early-stopping note."""
    columns = st.columns(5)
    columns[0].metric("Accuracy", f"{metrics['accuracy']:.1%}")
    columns[1].metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    columns[2].metric("Train time", fmt_seconds(metrics.get("train_seconds")))
    columns[3].metric("Predict time / 1,000 texts", fmt_seconds(metrics.get("predict_seconds_per_1000")))
    columns[4].metric("Trainable params", fmt_count(metrics.get("trainable_params")))
    note = early_stop_note(metrics, events)
    if note:
        st.info(note, icon=":material/early_on:")
    baseline = metrics.get("majority_baseline") or {}
    text = f"{metrics.get('n_train', '?')} training rows, {metrics.get('n_test', '?')} test rows."
    if metrics.get("steps"):
        epochs = metrics.get("epochs")
        over = f" over {epochs} epoch{'s' if epochs != 1 else ''}" if epochs and not note else ""
        text = f"{metrics['steps']} training steps{over} · " + text
    if baseline:
        f1 = f", macro-F1 {baseline['macro_f1']:.3f}" if baseline.get("macro_f1") is not None else ""
        text = (f"Always predicting the majority class ({baseline['label']}) scores {baseline['accuracy']:.1%}{f1}. "
                + text)
    st.caption(text)


# -- charts -----------------------------------------------------------------------------------------
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.02,
                                                                 xanchor="left", x=0))


def loss_figure(events: list[dict], kept_epoch: int | None = None) -> go.Figure | None:
    """Train loss per step and validation loss/accuracy per epoch, on one axis of steps.

    ``kept_epoch``: the epoch whose weights early stopping kept, marked with a dashed line.
    """
    train = [e for e in events if e.get("type") == "train"]
    evals = [e for e in events if e.get("type") == "eval"]
    if not train and not evals:
        return None
    total = max([int(e.get("total_steps") or 0) for e in train + evals] + [1])
    if kept_epoch is not None:  # stopped early: the steps it never took would be an empty half of the chart
        total = max([int(e["step"]) for e in train + evals] + [1])
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
    kept = next((e for e in evals if e.get("epoch") == kept_epoch), None) if kept_epoch is not None else None
    if kept is not None:
        fig.add_vline(x=kept["step"], line=dict(color="#6b7280", width=1.5, dash="dash"),
                      annotation=dict(text=f"kept epoch {kept_epoch}", font=dict(size=11, color="#374151")),
                      annotation_position="top left")
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


# -- data validation (the Data page) ------------------------------------------------------------------
DATA_LABEL_MERGES = "data_label_merges"  # {"file::label column": mapping} label merges applied on the Data page
TOKEN_LIMIT = 128  # the training methods' default max_length (tlcore.validation.DEFAULT_TOKEN_LIMIT)
CHARS_PER_TOKEN = 4  # rough estimate without a tokenizer

_CLI_HINTS = ((" (--text-column, --label-column)", ""), ("choose one with --sheet", "choose one in the Sheet box"),
              ("Choose one of them with --sheet", "Choose one of them in the Sheet box"),
              ("with --sheet", "in the Sheet box"), ("Choose one with --text-column.", "Choose it in the Text column box."),
              ("Choose one with --label-column.", "Choose it in the Label column box."),
              ("a separate test file (--test)", "a separate test file (tlcore validate --test)"), ("raise --max-length", "raise Max length on the Train page"),
              ("lower --shots", "lower Shots per class"))


def page_message(message: str) -> str:
    """A library message worded for the page: command-line option hints point at the page's widgets."""
    for old, new in _CLI_HINTS:
        message = message.replace(old, new)
    return message


def validation_info_line(info: dict) -> str:
    """'CSV · utf-8 · delimiter comma · 40 rows read, 38 usable · majority class 'ham' is 90.0% …'."""
    parts = []
    if info.get("format"):
        parts.append(str(info["format"]).upper())
    if info.get("encoding"):
        parts.append(f"encoding {info['encoding']}")
    if info.get("delimiter_name"):
        parts.append(f"delimiter {info['delimiter_name']}")
    if info.get("sheet"):
        parts.append(f"sheet {info['sheet']!r}")
    rows = f"{info.get('rows_read', 0):,} rows read, {info.get('rows_usable', 0):,} usable"
    parts.append(rows)
    if info.get("majority_class") is not None and info.get("majority_class_accuracy") is not None:
        parts.append(f"always predicting the majority class {info['majority_class']!r} scores "
                     f"{info['majority_class_accuracy']:.1%}: the accuracy to beat")
    return " · ".join(parts)


def show_validation(report: Any) -> None:
    """A ``tlcore.validate`` report: errors (st.error), warnings (st.warning), then one info line."""
    for issue in report.errors:
        st.error(page_message(issue.message), icon=":material/error:")
    for issue in report.warnings:
        st.warning(page_message(issue.message), icon=":material/warning:")
    st.caption(validation_info_line(report.info))


def text_length_figure(texts: list[str], limit: int = TOKEN_LIMIT) -> go.Figure:
    """Histogram of text lengths in estimated tokens (characters / 4) with a line at the training max length."""
    tokens = [len(text) / CHARS_PER_TOKEN for text in texts]
    fig = go.Figure(go.Histogram(x=tokens, nbinsx=40, marker_color="#2563eb",
                                 hovertemplate="≈%{x} tokens: %{y} texts<extra></extra>"))
    fig.add_vline(x=limit, line=dict(color="#dc2626", width=1.5, dash="dash"),
                  annotation=dict(text=f"{limit} tokens (default max length)", font=dict(size=11, color="#991b1b")),
                  annotation_position="top right")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), bargap=0.05,
                      xaxis=dict(title=dict(text="estimated tokens (characters / 4)"), rangemode="tozero"),
                      yaxis=dict(title=dict(text="texts"), rangemode="tozero"))
    return fig


def data_overview_figure(counts: dict[str, int], texts: list[str], limit: int = 40,
                         token_limit: int = TOKEN_LIMIT) -> go.Figure:
    """One figure for the Data page: rows per class on top, the text length histogram below."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2,
                        subplot_titles=("Rows per class",
                                        f"Text length in estimated tokens (characters / {CHARS_PER_TOKEN})"))
    for trace in class_counts_figure(counts, limit).data:
        fig.add_trace(trace, row=1, col=1)
    for trace in text_length_figure(texts, token_limit).data:
        fig.add_trace(trace, row=2, col=1)
    fig.add_vline(x=token_limit, row=2, col=1, line=dict(color="#dc2626", width=1.5, dash="dash"),
                  annotation=dict(text=f"{token_limit} tokens (default max length)",
                                  font=dict(size=11, color="#991b1b")), annotation_position="top right")
    fig.update_layout(height=600, margin=dict(l=10, r=10, t=40, b=10), showlegend=False, bargap=0.05)
    fig.update_xaxes(type="category", title=dict(text="label"), row=1, col=1)
    fig.update_yaxes(title=dict(text="rows"), rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title=dict(text="estimated tokens"), rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title=dict(text="texts"), rangemode="tozero", row=2, col=1)
    return fig
