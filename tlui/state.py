"""Page paths, session-state keys and the helpers that keep widget values (and uploads) across page visits."""
from __future__ import annotations

from typing import Any

import streamlit as st

from tlcore.data import SUPPORTED_SUFFIXES

# -- pages (scripts relative to app.py, which lists them with st.navigation) ----------------------
HOME_PAGE = "app_pages/Home.py"
DATA_PAGE = "app_pages/1_Data.py"
TRAIN_PAGE = "app_pages/2_Train.py"
COMPARE_PAGE = "app_pages/3_Compare.py"
RUNS_PAGE = "app_pages/4_Runs.py"
USE_PAGE = "app_pages/5_Use.py"
LABEL_PAGE = "app_pages/6_Label.py"
POLL_SECONDS = 1.5  # how often a page showing a live run (or learning curve) reads its folder again

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
USE_RUN = "use_run"  # a run id handed to the Use page ("Use this run" on the Runs page); the Use page pops it
TRAIN_RECOMMENDATION = "train_recommendation"  # the Recommend button's last answer, with the split it was for
DATA_SOURCES = ("Sample dataset", "Upload a file")  # the Data page's source choice
# Widget keys that another page sets ("Duplicate into Train" on the Runs page fills the Train page's widgets).
DATA_W_SOURCE, DATA_W_SAMPLE = "data_w_source", "data_w_sample"
TRAIN_W_MODEL, TRAIN_W_METHOD = "train_w_model", "train_w_method"
TRAIN_W_MODEL_OTHER = "train_w_model_other"  # the Hub id or folder typed under "Another model"
TRAIN_W_DEVICE, TRAIN_W_PRECISION = "train_w_device", "train_w_precision"  # Advanced: where runs compute
TRAIN_W_TEST_SIZE, TRAIN_W_VAL_SIZE, TRAIN_W_SPLIT_SEED = "train_w_test_size", "train_w_val_size", "train_w_split_seed"
TRAIN_W_PER_CLASS, TRAIN_W_USE_ALL = "train_w_per_class", "train_w_use_all"
# The Label page (tlui/label_page.py): found label issues, the analyst's decisions, suggested rows and answers.
LABEL_ISSUES = "label_issues"  # {"key": the data it was found on, "report": LabelIssueReport, "shown": rows shown}
LABEL_DECISIONS = "label_decisions"  # {table row: "accept" | "reject"} for the issues above
LABEL_SUGGESTIONS = "label_suggestions"  # {"key", "run_id", "labels", "items": [Suggestion], "rows", "source", ...}
LABEL_ANSWERS = "label_answers"  # [(suggestion position, label or None for skipped)], in the order given
LABEL_VERSION = "label_version"  # {"name", "path"} of the saved version that is the current data
LABEL_RERUN = "label_rerun"  # {"run_id", "reference", "version"} of the last "Re-run"
LABEL_FLASH = "label_flash"  # (kind, message) shown once after a save
LABEL_POOL_UPLOAD = "label_pool_upload"  # (bytes, file name) of an uploaded pool of unlabeled texts
LABEL_W_MODEL, LABEL_W_RUN, LABEL_W_POOL, LABEL_W_N = "label_w_model", "label_w_run", "label_w_pool", "label_w_n"

_SAVED = "_saved::"


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


def upload_types() -> list[str]:
    """The suffixes tlcore reads, plus .xls: taken so that tlcore can say how to convert it."""
    return [suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES] + ["xls"]


def _keep_upload(widget_key: str, store_key: str) -> None:
    uploaded = st.session_state.get(widget_key)
    st.session_state[store_key] = None if uploaded is None else (uploaded.getvalue(), uploaded.name)


def kept_upload(label: str, widget_key: str, store_key: str, help: str) -> tuple[tuple[bytes, str] | None, bool]:
    """A file uploader whose file outlives the page: Streamlit forgets an uploader's file when its page is left.

    The file's bytes and name are kept under ``store_key``; removing the file in the widget forgets them.
    Returns the kept ``(bytes, name)`` or None, and whether the widget holds it in this script run (False: it
    was uploaded on an earlier visit, which the page may say).
    """
    uploaded = st.file_uploader(label, type=upload_types(), key=widget_key, on_change=_keep_upload,
                                args=(widget_key, store_key), help=help)
    if uploaded is not None:
        st.session_state[store_key] = (uploaded.getvalue(), uploaded.name)
    return st.session_state.get(store_key), uploaded is not None
