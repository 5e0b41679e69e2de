"""Label: fix the labels that look wrong, label the rows that teach the model most, and re-run. Every change is
saved as a new version of the data (never over the original) with a change log."""
from __future__ import annotations

import streamlit as st

from tlui import label_page as view
from tlui.state import DATA_FRAME, DATA_LABEL_COLUMN, DATA_NAME, DATA_TEXT_COLUMN

st.title("Label")
st.caption("Better data is often the best next step: fix the labels that look wrong, and label the rows the model "
           "would learn most from. Changes are saved as a new version of the data; the original is never changed.")
view.flash()
frame, name = st.session_state.get(DATA_FRAME), st.session_state.get(DATA_NAME)
if frame is None or not name:
    view.no_data()
else:
    text_column, label_column = st.session_state[DATA_TEXT_COLUMN], st.session_state[DATA_LABEL_COLUMN]
    view.data_header(frame, name, text_column, label_column)
    view.issues_section(frame, name, text_column, label_column)
    st.divider()
    view.next_rows_section(frame, name, text_column, label_column)
