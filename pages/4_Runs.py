"""Runs: every run in the runs folder — filter, sort, open one; delete, duplicate into Train, download settings.

Everything here reads the run folders (tlcore.RunStore); a damaged folder is listed with its error and never
breaks the page.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

import tlcore
import tlui

OPEN = "runs_w_open"  # the opened run's id (a selectbox, also set by selecting a table row)
TABLE = "runs_w_table"
TABLE_IDS = "runs_table_ids"  # the run id of each table row, for the row-selection callback
CONFIRM = "runs_confirm_delete"  # the run id waiting for "Yes, delete it"
FLASH = "runs_flash"  # (kind, message) to show once after an action
SORTS = ("Newest first", "Oldest first", "Accuracy (best first)", "Macro-F1 (best first)")
POLL_SECONDS = 2.0


def created_at(summary: tlcore.RunSummary) -> datetime | None:
    """When the run was created: from its config, else from the timestamp its id starts with."""
    if summary.created:
        return datetime.fromtimestamp(summary.created)
    try:
        return datetime.strptime(summary.id[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        return None


def sort_runs(summaries: list[tlcore.RunSummary], order: str) -> list[tlcore.RunSummary]:
    def when(s: tlcore.RunSummary) -> tuple:
        stamp = created_at(s)
        return (stamp.timestamp() if stamp else 0.0, s.id)

    if order == "Oldest first":
        return sorted(summaries, key=when)
    newest = sorted(summaries, key=when, reverse=True)
    if order.startswith("Accuracy"):
        return sorted(newest, key=lambda s: (s.accuracy is None, -(s.accuracy or 0.0)))
    if order.startswith("Macro-F1"):
        return sorted(newest, key=lambda s: (s.macro_f1 is None, -(s.macro_f1 or 0.0)))
    return newest


def filter_runs(summaries: list[tlcore.RunSummary]) -> list[tlcore.RunSummary]:
    def choices(attribute: str) -> list[str]:
        return sorted({getattr(s, attribute) for s in summaries if getattr(s, attribute)})

    status_col, method_col, model_col, sort_col = st.columns(4)
    statuses = status_col.multiselect("Status", choices("status"), placeholder="All", key="runs_w_status")
    methods = method_col.multiselect("Method", choices("method"), placeholder="All", key="runs_w_method")
    models = model_col.multiselect("Model", choices("model"), placeholder="All", key="runs_w_model",
                                   format_func=tlui.model_tag)
    order = sort_col.selectbox("Sort", SORTS, key="runs_w_sort")
    shown = [s for s in summaries if (not statuses or s.status in statuses)
             and (not methods or s.method in methods) and (not models or s.model in models)]
    return sort_runs(shown, order)


def note(summary: tlcore.RunSummary, store: tlcore.RunStore) -> str:
    if summary.status == "queued":
        position = store.queue_position(summary.id)
        return f"queued — position {position}" if position else ""
    return (summary.error or "").removeprefix(f"run {summary.id}: ")  # tlcore's messages name the run; so does the row


def _open_selected_row() -> None:
    rows = st.session_state[TABLE].selection.rows
    ids = st.session_state.get(TABLE_IDS) or []
    if rows and rows[0] < len(ids):
        tlui.set_widget(OPEN, ids[rows[0]])


def runs_table(shown: list[tlcore.RunSummary], store: tlcore.RunStore) -> None:
    rows = [{"Created": created_at(s), "Status": s.status, "Method": s.method or None,
             "Model": tlui.model_tag(s.model) if s.model else None, "Accuracy": s.accuracy, "Macro-F1": s.macro_f1,
             "Duration": tlui.fmt_seconds(s.seconds) if s.seconds is not None else None, "Note": note(s, store),
             "Data": s.data_name or None, "Test set": s.test_fingerprint[:8] or None, "Test rows": s.n_test,
             "Run": s.id} for s in shown]
    st.session_state[TABLE_IDS] = [s.id for s in shown]
    st.dataframe(
        pd.DataFrame(rows), hide_index=True, width="stretch", key=TABLE, on_select=_open_selected_row,
        selection_mode="single-row", height=min(38 + 35 * len(rows), 420), placeholder="—",
        column_config={
            "Created": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm:ss"),
            "Test set": st.column_config.TextColumn(
                help="Fingerprint of the test rows: runs with the same one were scored on the same rows."),
            "Test rows": st.column_config.NumberColumn(format="%d"),
            "Accuracy": st.column_config.NumberColumn(format="percent", help="Share of test rows predicted right."),
            "Macro-F1": st.column_config.NumberColumn(format="%.3f", help="F1 averaged over classes."),
            "Duration": st.column_config.TextColumn(help="Wall time of the whole run (load, train, predict)."),
            "Note": st.column_config.TextColumn(width="medium", help="Why a run failed, or its place in the queue."),
            "Run": st.column_config.TextColumn(help="The run's folder name; `tlcore` commands take it as --run."),
        })
    damaged = [s for s in shown if s.status == "damaged"]
    if damaged:
        st.warning(f"{len(damaged)} damaged run folder{'s' if len(damaged) != 1 else ''} (unreadable files); open one "
                   "to see what is wrong or to delete it:  \n"
                   + "  \n".join(f"`{s.id}`: {note(s, store)}" for s in damaged[:5])
                   + ("  \n…" if len(damaged) > 5 else ""), icon=":material/broken_image:")
    st.caption("Select a row (the box at its left) or pick the run below to open it.")


# -- actions (callbacks run before the page is drawn again) ----------------------------------------------------
def _ask_delete(run_id: str) -> None:
    st.session_state[CONFIRM] = run_id


def _keep(run_id: str) -> None:
    st.session_state.pop(CONFIRM, None)


def _delete(run_id: str) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        tlcore.RunStore().delete(run_id)
    except tlcore.TLCoreError as exc:
        st.session_state[FLASH] = ("error", f"Not deleted: {exc}")
    except OSError as exc:
        st.session_state[FLASH] = ("error", f"Not deleted: {exc}")
    else:
        st.session_state[FLASH] = ("success", f"Deleted run {run_id}.")


def _cancel(run_id: str) -> None:
    try:
        tlcore.RunStore().get(run_id).request_cancel()
    except (tlcore.TLCoreError, OSError) as exc:
        st.session_state[FLASH] = ("error", f"Could not cancel: {exc}")
    else:
        st.session_state[FLASH] = ("info", f"Cancel requested for {run_id}: it stops at its next step.")


def actions(run: tlcore.Run, state: str, config: dict | None) -> None:
    live = state in tlcore.LIVE_STATES
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    if row.button("Duplicate into Train", icon=":material/content_copy:", key="runs_duplicate",
                  disabled=config is None, type="primary",
                  help="Open the Train page with this run's model, method, options and split."):
        tlui.prefill_train(run.id, config)
        st.switch_page(tlui.TRAIN_PAGE)
    if row.button("Use this run", icon=":material/play_circle:", key="runs_use", disabled=state != "succeeded",
                  help="Open the Use page with this run: try it on your own text, label a file, export it."):
        st.session_state[tlui.USE_RUN] = run.id
        st.switch_page(tlui.USE_PAGE)
    try:
        yaml_text, yaml_problem = run.config_yaml(), None
    except Exception as exc:  # damaged config, or no YAML library: say so on the button
        yaml_text, yaml_problem = "", f"No YAML: {exc}"
    row.download_button(
        "Download config (YAML)", data=yaml_text, file_name=f"{run.id}.yaml", mime="application/x-yaml",
        icon=":material/download:", key="runs_download", on_click="ignore", disabled=yaml_problem is not None,
        help=yaml_problem or "The run's settings as YAML: `tlcore run --config FILE --train DATA` repeats it.")
    if live:
        row.button("Cancel run", icon=":material/stop:", key="runs_cancel", on_click=_cancel, args=(run.id,),
                   disabled=run.cancel_requested, help="Ask the worker to stop at its next step.")
    row.button("Delete", icon=":material/delete:", key="runs_delete", on_click=_ask_delete, args=(run.id,),
               help="Delete the run folder (settings, metrics, predictions, weights) after a confirmation.")
    if st.session_state.get(CONFIRM) == run.id:
        with st.container(border=True):
            st.warning(f"Delete run `{run.id}` and all its files (settings, metrics, predictions, trained "
                       "weights)? This cannot be undone."
                       + (" It is still " + state + ": cancel it first." if live else ""), icon=":material/delete:")
            choice = st.container(horizontal=True, gap="small")
            choice.button("Yes, delete it", type="primary", key="runs_delete_yes", on_click=_delete, args=(run.id,))
            choice.button("Keep it", key="runs_delete_no", on_click=_keep, args=(run.id,))


# -- one run ---------------------------------------------------------------------------------------------------
def live_view(run_id: str, polling: bool) -> None:
    """Progress and loss chart of a live run; polled while it runs, the whole page reruns when it ends."""
    store = tlcore.RunStore()
    try:
        run = store.get(run_id)
        status, events = run.status(), run.events()
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    state = status.get("status", "damaged")
    if polling and state not in tlcore.LIVE_STATES:
        st.rerun()
    position = store.queue_position(run_id) if state == "queued" else None
    fraction, text = tlui.progress_info(status, events, queue_position=position)
    st.progress(0 if fraction is None else min(1.0, max(0.0, fraction)), text=text)
    if run.cancel_requested:
        st.caption("Cancel requested: the run stops at its next step.")
    tlui.run_charts(events, key=f"runs_live::{run_id}", live=True)


def details(run_id: str, summary: tlcore.RunSummary | None) -> None:
    store = tlcore.RunStore()
    try:
        run = store.get(run_id)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    config, problem = None, None
    try:
        config = run.config()
        status = run.status()
    except tlcore.TLCoreError as exc:
        status, problem = {"status": "damaged", "error": str(exc)}, str(exc)
    state = status.get("status", "damaged")

    title, badge = st.columns([6, 1], vertical_alignment="center")
    if config is not None:
        title.markdown(f"#### {config.get('method')} · {tlui.model_tag(config.get('model', ''))} on "
                       f"{config.get('data_name')}")
    else:
        title.markdown(f"#### {run.id}")
    with badge:
        tlui.status_badge(state)
    created = created_at(summary) if summary else None
    st.caption(f"Run `{run.id}`" + (f" · created {created:%d %b %Y %H:%M:%S}" if created else "")
               + f" · folder `{run.path.resolve()}`")

    if state == "damaged":
        st.error(f"This run folder is damaged: {problem or status.get('error') or 'no reason recorded'}. Its files "
                 "are kept as they are; delete the run when you no longer need them.", icon=":material/broken_image:")
    elif state == "failed":
        st.error(f"The run failed: {status.get('error') or 'no reason was recorded'}")
    elif state == "cancelled":
        st.warning(f"The run was cancelled{': ' + status['error'] if status.get('error') else '.'}")

    actions(run, state, config)

    if state in tlcore.LIVE_STATES:
        st.fragment(live_view, run_every=POLL_SECONDS)(run_id, True)
    elif config is not None:
        events = run.events()
        try:
            metrics = run.metrics() or {}
        except tlcore.TLCoreError as exc:
            st.error(str(exc))
            metrics = {}
        if state == "succeeded":
            if metrics:
                tlui.show_metrics(metrics, events)
            else:
                st.warning("The run succeeded but wrote no metrics.json.")
        tlui.run_charts(events, key=f"runs_charts::{run_id}", live=False,
                        kept_epoch=metrics.get("best_epoch") if metrics.get("early_stopped") else None)
        if state == "succeeded" and metrics.get("trainable_params") == 0:
            st.caption("No training curve: this method does not train.")

    if config is not None:
        with st.expander("Settings (config.json)", icon=":material/data_object:"):
            st.json(config, expanded=2)
        if state == "succeeded":
            with st.expander("Full metrics (metrics.json)", icon=":material/analytics:"):
                st.json(run.metrics() or {}, expanded=1)


def main() -> None:
    store = tlcore.RunStore()
    flash = st.session_state.pop(FLASH, None)
    if flash:
        {"success": st.success, "error": st.error, "info": st.info}[flash[0]](flash[1])
    summaries = store.summaries()
    if not summaries:
        st.info("No runs yet. Start one on the Train page; every run is kept here until you delete it.")
        st.page_link(tlui.TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
        return
    shown = filter_runs(summaries)
    counts = {state: sum(s.status == state for s in summaries) for state in tlui.STATUS_BADGES}
    st.caption(f"{len(shown)} of {len(summaries)} runs shown · "
               + " · ".join(f"{n} {state}" for state, n in counts.items() if n)
               + f" · folder `{store.root.resolve()}`")
    if not shown:
        st.info("No run matches these filters.")
        return
    runs_table(shown, store)

    by_id = {s.id: s for s in shown}
    ids = list(by_id)
    run_id = st.selectbox(
        "Open a run", ids, index=None, placeholder="Choose a run to see its settings, results and actions",
        format_func=lambda i: f"{tlui.run_label(by_id[i].method or '?', by_id[i].model or '?', i)} · {by_id[i].status}",
        **tlui.remember(OPEN, None, ids))
    if run_id is not None:
        with st.container(border=True):
            details(run_id, by_id.get(run_id))


tlui.page_setup("Runs")
st.title("Runs")
st.caption("Every run saved in the runs folder, whether started here, in another tab or from the command line.")
main()
