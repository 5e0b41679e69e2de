"""Step 2 · Train: choose a model, a method and its options, start a run and watch it live."""
from __future__ import annotations

import streamlit as st

from tlui import train_page as view
from tlui.best_view import search_panel
from tlui.state import POLL_SECONDS, TRAIN_RUNS

st.title("2 · Train")
st.caption("Pick a model and a transfer method; each run trains in its own process, so you can leave this page "
           "(or close the browser) while it works.")

session_runs = st.session_state[TRAIN_RUNS]
current_id, current_live, blocking = view.current_run(session_runs)

view.prefill_notice()
view.setup(blocking)
view.show_unfollowed_runs(session_runs)
search_panel()  # "Find the best method", once started
if current_id:
    st.subheader("Current run" if current_live else "Last run")
    st.fragment(view.show_run, run_every=POLL_SECONDS if current_live else None)(current_id, current_live)
if len(session_runs) > 1:
    st.subheader("Earlier runs in this session")
    view.show_earlier_runs(session_runs[:-1])
