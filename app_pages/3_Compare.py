"""Step 3 · Compare: finished runs that share a test set, side by side; learning curves; an HTML report."""
from __future__ import annotations

import streamlit as st

import tlcore
from tlui import compare_view
from tlui.checks_view import render_checks
from tlui.state import TRAIN_PAGE


def main() -> None:
    store = tlcore.RunStore()
    summaries = store.summaries()
    live = [s for s in summaries if s.status in tlcore.LIVE_STATES]
    if live:
        many = len(live) != 1
        st.caption(f":material/progress_activity: {len(live)} run{'s are' if many else ' is'} still going; "
                   f"{'they appear' if many else 'it appears'} here once finished.")
    selected = compare_view.choose_runs(store, summaries)
    if selected is None:
        st.info("No finished runs yet. Start one on the Train page; it appears here when it succeeds.")
        st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
        return
    if not selected:
        st.info("Select at least one run.")
        return
    try:
        comparison = tlcore.load_comparison(selected, store)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    compare_view.show(comparison, store)
    render_checks(selected, store)  # does it transfer, and is it fair? (tlui/checks_view.py)


st.title("3 · Compare")
main()
