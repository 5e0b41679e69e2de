"""The parts the TransferLab pages are made of: session state, widgets, charts, formatting, one module per page.

Only Streamlit, plotly and tlcore (its facade and step packages) are used here: no torch, transformers or peft
(models run in the worker processes that tlcore starts). A page in app_pages/ lays out its parts: it imports
its module (``from tlui import train_page as view``) and what it needs from ``tlui.state``.

| module | job |
| --- | --- |
| ``state`` | page paths, session-state keys, widgets that keep their value across pages, kept uploads |
| ``auth`` | the optional password / single sign-on gate for a team server (app.py puts it before every page) |
| ``fmt`` | durations, counts, shares, run labels |
| ``charts`` | plotly figures of a run: loss (raw and smoothed, steps or epochs), learning rate, throughput |
| ``run_view`` | a run's status badge, progress line, headline metrics and live charts (``run_charts``) |
| ``options`` | method option widgets built from the registry; filling the Train page from a run |
| ``data_view`` | a validation report; library messages worded for the page |
| ``data_page`` | the Data page: sample or upload, own test file, columns, check, classes |
| ``train_page`` | the Train page: model, method and options, split, method panel, starting and watching a run |
| ``compare_view`` | the Compare page's tabs: tables, figures, per-example browser, learning curve, report |
| ``checks_view`` | the Compare page's transfer checks: out-of-domain, slices, counterfactual probe, footprint |
| ``runs_page`` | the Runs page: filters, table, one run's details and actions |
| ``tracking_view`` | the Runs page's "Log to MLflow / TensorBoard" popover and its message |
| ``use_view`` | the Use page's helpers: finished runs to pick from, cached models, batch prediction, zips |
| ``use_page`` | the Use page: playground, batch prediction, export and import |

Re-exported below: the page paths and session keys other code (and the tests) address, and the chart helpers.
"""
from .charts import RAW_COLOR, loss_figure, rates_figure, smooth, smoothing_weight
from .data_view import page_message
from .fmt import run_label
from .options import option_key
from .run_view import CHART_W_X_AXIS
from .state import (
    COMPARE_PAGE,
    DATA_FRAME,
    DATA_LABEL_COLUMN,
    DATA_NAME,
    DATA_PAGE,
    DATA_TEST,
    DATA_TEXT_COLUMN,
    HOME_PAGE,
    POLL_SECONDS,
    RUNS_PAGE,
    TRAIN_PAGE,
    TRAIN_RUNS,
    TRAIN_W_DEVICE,
    TRAIN_W_METHOD,
    TRAIN_W_MODEL,
    TRAIN_W_MODEL_OTHER,
    TRAIN_W_PER_CLASS,
    TRAIN_W_PRECISION,
    TRAIN_W_SPLIT_SEED,
    TRAIN_W_TEST_SIZE,
    TRAIN_W_USE_ALL,
    TRAIN_W_VAL_SIZE,
    USE_PAGE,
)
from .use_view import (
    USE_BATCH,
    USE_EXPORT,
    USE_W_BATCH_RUN,
    USE_W_EXPORT_RUN,
    USE_W_IMPORT_PATH,
    USE_W_IMPORT_UPLOAD,
    USE_W_RUNS,
    USE_W_TAB,
    USE_W_TEXT,
    USE_W_UPLOAD,
)

__all__ = [
    # pages (scripts in app_pages/, listed by app.py)
    "HOME_PAGE", "DATA_PAGE", "TRAIN_PAGE", "COMPARE_PAGE", "RUNS_PAGE", "USE_PAGE", "POLL_SECONDS",
    # session state shared between pages, and the widget keys other pages (or tests) set
    "DATA_FRAME", "DATA_NAME", "DATA_TEXT_COLUMN", "DATA_LABEL_COLUMN", "DATA_TEST", "TRAIN_RUNS",
    "TRAIN_W_MODEL", "TRAIN_W_MODEL_OTHER", "TRAIN_W_DEVICE", "TRAIN_W_PRECISION",
    "TRAIN_W_METHOD", "TRAIN_W_TEST_SIZE", "TRAIN_W_VAL_SIZE",
    "TRAIN_W_SPLIT_SEED",
    "TRAIN_W_PER_CLASS", "TRAIN_W_USE_ALL", "CHART_W_X_AXIS", "USE_W_TAB", "USE_W_RUNS", "USE_W_TEXT",
    "USE_W_BATCH_RUN", "USE_W_UPLOAD", "USE_W_EXPORT_RUN", "USE_W_IMPORT_UPLOAD", "USE_W_IMPORT_PATH",
    "USE_BATCH", "USE_EXPORT", "option_key",
    # charts and wording
    "RAW_COLOR", "loss_figure", "rates_figure", "smooth", "smoothing_weight", "page_message", "run_label",
]
