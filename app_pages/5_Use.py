"""Use: try finished runs on your own text (playground), label a whole file (batch prediction), take a model out
of TransferLab and bring an export back (export & import).

Only the open tab runs (st.tabs with on_change="rerun"), so typing in the playground never re-reads a batch file.
"""
from __future__ import annotations

import streamlit as st

import tlcore
from tlui import use_page as view
from tlui.use_view import USE_FLASH, USE_TABS, USE_W_TAB, usable_runs

st.title("Use")
st.caption("Try finished runs on your own text, label a whole file, or take a model out of TransferLab (and bring an "
           "export back).")

runs = usable_runs(tlcore.RunStore())
view.take_handoff(runs)
flash = st.session_state.pop(USE_FLASH, None)
if flash:
    {"success": st.success, "error": st.error}[flash[0]](flash[1])
playground_tab, batch_tab, export_tab = st.tabs(USE_TABS, key=USE_W_TAB, on_change="rerun")
if playground_tab.open:
    with playground_tab:
        view.playground(runs)
if batch_tab.open:
    with batch_tab:
        view.batch(runs)
if export_tab.open:
    with export_tab:
        view.export_section(runs)
        st.divider()
        view.import_section()
