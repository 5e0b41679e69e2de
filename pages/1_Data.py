"""Step 1 · Data: a bundled sample or an uploaded table, its text and label columns, its classes."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import tlcore
import tlui

SOURCES = tlui.DATA_SOURCES
PREVIEW_ROWS = 1000


@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def parse_upload(raw: bytes, name: str) -> pd.DataFrame:
    return tlcore.read_table(raw, name=name)


@st.cache_data(show_spinner=False)
def sample_frame(name: str) -> pd.DataFrame:
    return tlcore.load_sample(name)


def _forget_data() -> None:
    st.session_state[tlui.DATA_FRAME] = None
    st.session_state[tlui.DATA_NAME] = None


def _on_upload_change() -> None:
    uploaded = st.session_state.get("data_w_upload")
    st.session_state[tlui.DATA_UPLOAD] = None if uploaded is None else (uploaded.getvalue(), uploaded.name)


def choose_sample() -> tuple[pd.DataFrame, str]:
    samples = {sample.name: sample for sample in tlcore.list_samples()}
    names = list(samples)
    name = st.selectbox("Sample dataset", names, format_func=lambda n: samples[n].title,
                        **tlui.remember(tlui.DATA_W_SAMPLE, names[0], names))
    sample = samples[name]
    st.caption(f"{sample.description}  \n**Source:** {sample.source}  \n**License:** {sample.license}")
    return sample_frame(name), sample.file


def choose_upload() -> tuple[pd.DataFrame | None, str | None]:
    suffixes = [suffix.lstrip(".") for suffix in tlcore.data.SUPPORTED_SUFFIXES]
    uploaded = st.file_uploader(
        "Labeled table", type=suffixes, key="data_w_upload", on_change=_on_upload_change,
        help="One row per example: a column with the text and a column with its label. CSV/TSV/TXT in "
             "UTF-8, UTF-16 or Windows-1252; JSON as a list of records; JSONL one record per line.")
    if uploaded is not None:
        st.session_state[tlui.DATA_UPLOAD] = (uploaded.getvalue(), uploaded.name)
    stored = st.session_state.get(tlui.DATA_UPLOAD)
    if stored is None:
        st.info("Upload a table with a text column and a label column, e.g. a CSV with a header row "
                "`text,label`.")
        return None, None
    raw, name = stored
    if uploaded is None:
        st.caption(f"Using **{name}**, uploaded earlier. Upload another file to replace it.")
    try:
        return parse_upload(raw, name), name
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return None, None


def show_columns_and_classes(frame: pd.DataFrame, name: str) -> None:
    try:
        guess_text, guess_label = tlcore.guess_columns(frame)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        _forget_data()
        return
    columns = list(frame.columns)
    left, right = st.columns(2)
    text_column = left.selectbox("Text column", columns, help="The column holding the text to classify.",
                                 **tlui.remember(f"data_w_text::{name}", guess_text, columns))
    label_column = right.selectbox("Label column", columns, help="The column holding each text's class.",
                                   **tlui.remember(f"data_w_label::{name}", guess_label, columns))
    try:
        data = tlcore.to_labeled(frame, text_column, label_column, name=name)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        _forget_data()
        return

    st.session_state[tlui.DATA_FRAME] = frame
    st.session_state[tlui.DATA_NAME] = name
    st.session_state[tlui.DATA_TEXT_COLUMN] = text_column
    st.session_state[tlui.DATA_LABEL_COLUMN] = label_column

    counts = data.class_counts()
    st.subheader("Classes")
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
        st.plotly_chart(tlui.class_counts_figure(counts), width="stretch", config={"displayModeBar": False})
        if len(counts) > 40:
            st.caption(f"The 40 largest of {len(counts)} classes are shown.")
    if len(counts) > 50 or len(counts) > len(data) / 2:
        st.warning(f"The label column {label_column!r} has {len(counts):,} different values for {len(data):,} "
                   "rows: is it really the label? Choose the column that holds the classes.")
    single = sorted(label for label, n in counts.items() if n < 2)
    if single:
        st.warning(f"{len(single)} class(es) have a single row ({', '.join(map(repr, single[:5]))}"
                   f"{'…' if len(single) > 5 else ''}); a class needs at least two rows to be in both the "
                   "training and the test split.")
    st.page_link(tlui.TRAIN_PAGE, label="Next: train a model on this data", icon=":material/arrow_forward:")


tlui.page_setup("Data")
st.title("1 · Data")
st.caption("Choose a labeled text dataset: one of the bundled samples, or your own file (up to 50 MB).")

source = st.radio("Source", SOURCES, horizontal=True, label_visibility="collapsed",
                  **tlui.remember(tlui.DATA_W_SOURCE, SOURCES[0], list(SOURCES)))
frame, name = choose_sample() if source == SOURCES[0] else choose_upload()
if frame is None:
    _forget_data()
else:
    with st.expander(f"Preview of **{name}** ({len(frame):,} rows × {len(frame.columns)} columns)",
                     expanded=True):
        st.dataframe(frame.head(PREVIEW_ROWS), height=240, width="stretch")
        if len(frame) > PREVIEW_ROWS:
            st.caption(f"The first {PREVIEW_ROWS:,} rows are shown.")
    show_columns_and_classes(frame, name)
