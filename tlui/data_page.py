"""The Data page's parts (app_pages/1_Data.py lays them out): a bundled sample or an uploaded table, the user's
own test file, the text and label columns, the validation report, and the classes and text lengths."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

import tlcore
from tlcore.data import LabeledData, ValidationReport, guess_columns, list_samples, merge_labels

from .charts import CHARS_PER_TOKEN, CHART_CONFIG, TOKEN_LIMIT, data_overview_figure
from .data_view import DATA_LABEL_MERGES, page_message, show_validation
from .reading_view import chosen_reading, reading_options
from .state import (
    DATA_FRAME,
    DATA_LABEL_COLUMN,
    DATA_NAME,
    DATA_TEST,
    DATA_TEST_UPLOAD,
    DATA_TEXT_COLUMN,
    DATA_UPLOAD,
    DATA_W_SAMPLE,
    TRAIN_PAGE,
    kept_upload,
    remember,
)

PREVIEW_ROWS = 1000


@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def parse_upload(raw: bytes, name: str, sheet: str | None = None, encoding: str | None = None,
                 delimiter: str | None = None) -> pd.DataFrame:
    return tlcore.read_table(raw, name=name, sheet=sheet, encoding=encoding, delimiter=delimiter)


@st.cache_data(show_spinner=False)
def sample_frame(name: str) -> pd.DataFrame:
    return tlcore.load_sample(name)


@st.cache_data(show_spinner="Checking the data…", max_entries=32)
def validation_report(_frame: pd.DataFrame, source_key: str, text_column: str | None, label_column: str | None,
                      name: str, _test_frame: pd.DataFrame | None = None, test_key: str = "",
                      test_name: str | None = None) -> ValidationReport:
    """The validation report, cached on the file (bytes digest, name, sheet, merges) and the chosen columns,
    and on the user's own test file (``test_key``: its bytes digest and name) when there is one.

    ``_frame`` and ``_test_frame`` are not hashed (the leading underscore): ``source_key`` and ``test_key``
    identify them.
    """
    return tlcore.validate(_frame, text_column, label_column, test_frame=_test_frame, name=name,
                           test_name=test_name)


def forget_data() -> None:
    st.session_state[DATA_FRAME] = None
    st.session_state[DATA_NAME] = None
    st.session_state[DATA_TEST] = None


def _remove_test_file() -> None:
    st.session_state[DATA_TEST_UPLOAD] = None
    st.session_state[DATA_TEST] = None


def _merge_key(source_key: str, label_column: str) -> str:
    return f"{source_key}::{label_column}"


def _merge_variants(key: str, mapping: dict) -> None:
    merges = dict(st.session_state.get(DATA_LABEL_MERGES) or {})
    merges[key] = {**merges.get(key, {}), **mapping}
    st.session_state[DATA_LABEL_MERGES] = merges


def choose_sample() -> tuple[pd.DataFrame, str, str]:
    samples = {sample.name: sample for sample in list_samples()}
    names = list(samples)
    name = st.selectbox("Sample dataset", names, format_func=lambda n: samples[n].title,
                        **remember(DATA_W_SAMPLE, names[0], names))
    sample = samples[name]
    st.caption(f"{sample.description}  \n**Source:** {sample.source}  \n**License:** {sample.license}")
    return sample_frame(name), sample.file, f"sample::{name}"


def choose_upload() -> tuple[pd.DataFrame | None, str | None, str | None]:
    stored, fresh = kept_upload(
        "Labeled table", "data_w_upload", DATA_UPLOAD,
        help="One row per example: a column with the text and a column with its label. CSV/TSV/TXT in "
             "any common encoding (detected; choose it under Reading options when it is not); JSON as a list "
             "of records; JSONL one record per line.")
    if stored is None:
        st.info("Upload a table with a text column and a label column, e.g. a CSV with a header row "
                "`text,label`.")
        return None, None, None
    raw, name = stored
    if not fresh:
        st.caption(f"Using **{name}**, uploaded earlier. Upload another file to replace it.")
    digest = hashlib.sha256(raw).hexdigest()[:16]
    reading = chosen_reading(name)  # the Reading options below, as chosen before this script run
    try:
        frame = parse_upload(raw, name, **reading)
        sheets = list(frame.attrs.get("sheets") or [])
        sheet = frame.attrs.get("sheet")
        if len(sheets) > 1:
            sheet = st.selectbox("Sheet", sheets, help="This workbook has several sheets: choose the one with "
                                                      "the labeled texts.",
                                 **remember(f"data_w_sheet::{name}", sheet, sheets))
            if sheet != frame.attrs.get("sheet"):
                frame = parse_upload(raw, name, sheet)
    except tlcore.TLCoreError as exc:
        frame = None
        st.error(page_message(str(exc)))
    reading_options(name, frame)  # after the error, so a refused file shows where to fix it
    if frame is None:
        return None, None, None
    return frame, name, f"upload::{digest}::{name}::{sheet or ''}::{json.dumps(reading, sort_keys=True)}"


def choose_test_file(text_column: str, label_column: str, merged: dict | None, reading: dict | None = None
                     ) -> tuple[pd.DataFrame | None, LabeledData | None, str, str | None]:
    """The optional expander "Use your own test file": (test frame, its labeled rows, cache key, file name).
    ``reading`` holds the encoding and delimiter chosen for the training file: they apply to this file too.

    The test file must have the training file's text and label columns; without one (or when it cannot be
    read) the frame and rows are None and the Train page holds out a stratified share of the data instead.
    """
    with st.expander("Use your own test file", icon=":material/fact_check:",
                     expanded=st.session_state.get(DATA_TEST_UPLOAD) is not None):
        st.caption(f"Score every run on a file of your own instead of a stratified hold-out of the data above. "
                   f"It needs the same columns: text in `{text_column}`, label in `{label_column}`.")
        stored, fresh = kept_upload(
            "Test file", "data_w_test_upload", DATA_TEST_UPLOAD,
            help="Labeled rows kept apart for testing, in the same format as the training file. Leave empty to "
                 "hold out test rows from the data.")
        if stored is None:
            return None, None, "", None
        raw, test_name = stored
        if not fresh:
            st.caption(f"Using **{test_name}**, uploaded earlier.")
            st.button("Remove the test file", icon=":material/delete:", key="data_test_remove",
                      on_click=_remove_test_file)
        reading = reading or {}
        test_key = (f"test::{hashlib.sha256(raw).hexdigest()[:16]}::{test_name}::"
                    f"{json.dumps(reading, sort_keys=True)}")
        try:
            test_frame = parse_upload(raw, test_name, **reading)
            # the label merges of the training file apply to its test file too
            if merged and label_column in test_frame.columns:
                test_frame = merge_labels(test_frame, label_column, merged)
            test_data = tlcore.to_labeled(test_frame, text_column, label_column, name=test_name)
        except tlcore.TLCoreError as exc:
            st.error(page_message(str(exc)), icon=":material/error:")
            return None, None, "", test_name
        skipped = len(test_frame) - len(test_data)
        st.caption(f"Test rows: **{len(test_data):,}** from **{test_name}**"
                   + (f" ({skipped:,} rows without a text or a label are skipped)" if skipped else "")
                   + ". Runs are scored on these rows; the data above is split into training and validation only.")
        return test_frame, test_data, f"{test_key}::merged={json.dumps(merged, sort_keys=True) if merged else ''}", \
            test_name


def show_columns_and_classes(frame: pd.DataFrame, name: str, source_key: str) -> None:
    try:
        guess_text, guess_label = guess_columns(frame)
    except tlcore.TLCoreError as exc:
        try:  # the library's report says more (e.g. that a workbook has another sheet)
            report = validation_report(frame, source_key, None, None, name)
        except tlcore.TLCoreError:
            report = None
        if report is not None and report.errors:
            show_validation(report)
        else:
            st.error(page_message(str(exc)))
        forget_data()
        return
    columns = list(frame.columns)
    left, right = st.columns(2)
    text_column = left.selectbox("Text column", columns, help="The column holding the text to classify.",
                                 **remember(f"data_w_text::{name}", guess_text, columns))
    label_column = right.selectbox("Label column", columns, help="The column holding each text's class.",
                                   **remember(f"data_w_label::{name}", guess_label, columns))

    merge_key = _merge_key(source_key, str(label_column))
    merged = (st.session_state.get(DATA_LABEL_MERGES) or {}).get(merge_key)
    if merged:
        frame = merge_labels(frame, label_column, merged)
    check_key = f"{source_key}::merged={json.dumps(merged, sort_keys=True) if merged else ''}"
    test_frame, test_data, test_key, test_name = choose_test_file(str(text_column), str(label_column), merged,
                                                                  chosen_reading(name))

    st.subheader("Check")
    try:
        report = validation_report(frame, check_key, text_column, label_column, name, test_frame, test_key,
                                   test_name if test_frame is not None else None)
    except tlcore.TLCoreError as exc:
        report = None
        st.error(page_message(str(exc)))
    if report is not None:
        show_validation(report)
        variants = report.issue("label_variants")
        mapping = (variants.details or {}).get("mapping") if variants else None
        if mapping:
            st.button("Merge label variants", icon=":material/merge:", on_click=_merge_variants,
                      args=(merge_key, dict(mapping)),
                      help="Rename " + ", ".join(f"{old!r} → {new!r}" for old, new in mapping.items()) + ".")
        if merged:
            st.caption("Merged label variants: " + ", ".join(f"{old!r} → {new!r}" for old, new in merged.items())
                       + " (in this session; the file is unchanged).")
    try:
        data = tlcore.to_labeled(frame, text_column, label_column, name=name)
    except tlcore.TLCoreError as exc:
        if report is None or not report.errors:
            st.error(page_message(str(exc)))
        forget_data()
        return

    st.session_state[DATA_FRAME] = frame
    st.session_state[DATA_NAME] = name
    st.session_state[DATA_TEXT_COLUMN] = text_column
    st.session_state[DATA_LABEL_COLUMN] = label_column
    st.session_state[DATA_TEST] = None if test_data is None else {
        "data": test_data, "name": test_name, "data_name": name, "text_column": text_column,
        "label_column": label_column}

    counts = data.class_counts()
    st.subheader("Classes and text lengths")
    summary, chart = st.columns([1, 2])
    with summary:
        st.metric("Rows used", f"{len(data):,}")
        st.metric("Classes", len(counts))
        smallest = min(counts, key=counts.get)
        st.metric("Smallest class", f"{counts[smallest]:,}", help=f"class {smallest!r}")
        skipped = len(frame) - len(data)
        if skipped:
            st.caption(f"{skipped:,} of {len(frame):,} rows have no text or no label and are skipped.")
    with chart:
        # One figure (class counts, then text lengths) keeps the page to a single chart element.
        st.plotly_chart(data_overview_figure(counts, data.texts), width="stretch",
                        config=CHART_CONFIG)
        if len(counts) > 40:
            st.caption(f"The 40 largest of {len(counts)} classes are shown.")
        longer = sum(len(text) / CHARS_PER_TOKEN > TOKEN_LIMIT for text in data.texts)
        st.caption(f"Text lengths are an estimate: characters / {CHARS_PER_TOKEN} (the model's tokenizer "
                   f"counts differently). {longer:,} of {len(data):,} texts are longer than {TOKEN_LIMIT} "
                   "tokens, the training default max length (dashed line), and would be cut.")

    unusable_test = test_name is not None and test_data is None  # a test file that cannot be read
    if (report is not None and report.errors) or unusable_test:
        st.page_link(TRAIN_PAGE, label="This data cannot be used for training until the errors above are "
                                             "fixed", icon=":material/block:", disabled=True)
    else:
        st.page_link(TRAIN_PAGE, label="Next: train a model on this data", icon=":material/arrow_forward:")


