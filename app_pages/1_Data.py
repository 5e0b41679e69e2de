"""Step 1 · Data: a bundled sample or an uploaded table, its text and label columns, its classes and a check."""
from __future__ import annotations

import streamlit as st

from tlui import data_page as view
from tlui.state import DATA_SOURCES, DATA_W_SOURCE, remember

st.title("1 · Data")
st.caption("Choose a labeled text dataset: one of the bundled samples, or your own file (up to 50 MB).")

source = st.radio("Source", DATA_SOURCES, horizontal=True, label_visibility="collapsed",
                  **remember(DATA_W_SOURCE, DATA_SOURCES[0], list(DATA_SOURCES)))
frame, name, source_key = view.choose_sample() if source == DATA_SOURCES[0] else view.choose_upload()
if frame is None:
    view.forget_data()
else:
    with st.expander(f"Preview of **{name}** ({len(frame):,} rows × {len(frame.columns)} columns)",
                     expanded=True):
        st.dataframe(frame.head(view.PREVIEW_ROWS), height=240, width="stretch")
        if len(frame) > view.PREVIEW_ROWS:
            st.caption(f"The first {view.PREVIEW_ROWS:,} rows are shown.")
    view.show_columns_and_classes(frame, name, source_key)
