"""Runs: every run in the runs folder — filter, sort, open one; delete, duplicate into Train, download settings,
log it to MLflow or TensorBoard (tlui/tracking_view.py)."""
from __future__ import annotations

import streamlit as st

import tlcore
from tlui import runs_page as view
from tlui.fmt import run_label
from tlui.links import show_run_in_address
from tlui.run_view import STATUS_BADGES
from tlui.state import TRAIN_PAGE, remember


def main() -> None:
    store = tlcore.RunStore()
    flash = st.session_state.pop(view.FLASH, None)
    if flash:
        {"success": st.success, "error": st.error, "info": st.info}[flash[0]](flash[1])
    summaries = store.summaries()
    if not summaries:
        st.info("No runs yet. Start one on the Train page; every run is kept here until you delete it.")
        st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
        return
    shown = view.filter_runs(summaries)
    counts = {state: sum(s.status == state for s in summaries) for state in STATUS_BADGES}
    st.caption(f"{len(shown)} of {len(summaries)} runs shown · "
               + " · ".join(f"{n} {state}" for state, n in counts.items() if n)
               + f" · folder `{store.root.resolve()}`")
    if not shown:
        st.info("No run matches these filters.")
        return
    view.runs_table(shown, store)

    by_id = {s.id: s for s in shown}
    ids = list(by_id)
    view.open_linked_run(ids)
    run_id = st.selectbox(
        "Open a run", ids, index=None, placeholder="Choose a run to see its settings, results and actions",
        format_func=lambda i: f"{run_label(by_id[i].method or '?', by_id[i].model or '?', i)} · {by_id[i].status}",
        **remember(view.OPEN, None, ids))
    show_run_in_address("runs", run_id)
    if run_id is not None:
        with st.container(border=True):
            view.details(run_id, by_id.get(run_id))


st.title("Runs")
st.caption("Every run saved in the runs folder, whether started here, in another tab or from the command line.")
main()
