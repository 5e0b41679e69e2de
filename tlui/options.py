"""Method option widgets built from the tlcore registry, and filling the Train page from a run's config."""
from __future__ import annotations

import json
import math
from typing import Any

import streamlit as st

import tlcore
from tlcore.data import list_samples
from tlcore.methods import get_method

from .state import (
    DATA_FRAME,
    DATA_LABEL_COLUMN,
    DATA_NAME,
    DATA_SOURCES,
    DATA_TEXT_COLUMN,
    DATA_W_SAMPLE,
    DATA_W_SOURCE,
    TRAIN_PREFILLED,
    TRAIN_RECOMMENDATION,
    TRAIN_W_METHOD,
    TRAIN_W_MODEL,
    TRAIN_W_PER_CLASS,
    TRAIN_W_SPLIT_SEED,
    TRAIN_W_TEST_SIZE,
    TRAIN_W_USE_ALL,
    TRAIN_W_VAL_SIZE,
    remember,
    set_widget,
)

# -- method options, built generically from the registry ------------------------------------------
OPTION_LABELS = {
    "lr": "Learning rate", "batch_size": "Batch size", "epochs": "Epochs (0 = auto)",
    "shots": "Shots per class (0 = auto)",
    "max_length": "Max length (tokens)", "r": "LoRA rank r", "alpha": "LoRA alpha", "dropout": "Dropout",
    "weight_decay": "Weight decay", "warmup_ratio": "Warm-up ratio", "seed": "Seed",
    "label_descriptions": "Label descriptions (JSON)", "class_weights": "Class weights",
    "early_stopping": "Early stopping (-1 = auto, 0 = off)", "C": "C (inverse regularisation)",
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
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands of levels deep
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


def _saved_options(run_id: str, method: str) -> dict:
    """What a run ran with that its config may not say, defaults of its day included (an option added since may
    have a different default today: the method knows); {} when there is nothing or the run cannot be read."""
    try:
        return get_method(method).method_cls.options_ran_with(tlcore.RunStore().get(run_id).path / "artifacts")
    except (tlcore.TLCoreError, OSError, ValueError):
        return {}


def prefill_train(run_id: str, config: dict) -> None:
    """Set the Train page's widgets (and, for a bundled sample, the data) to reproduce a run's settings."""
    model, method = config.get("model", ""), config.get("method", "")
    set_widget(TRAIN_W_MODEL, model)
    set_widget(TRAIN_W_METHOD, method)
    try:
        fields = get_method(method).config_cls.describe_fields()
    except tlcore.TLCoreError:
        fields = []
    given = {**(config.get("method_options") or {}), **_saved_options(run_id, method)}
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
    sample = next((s for s in list_samples() if s.file == data_name), None)
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
