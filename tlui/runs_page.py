"""The Runs page's parts (app_pages/4_Runs.py lays them out): filters and sorting, the table of runs, one run's
details with its live progress or results, and its actions (duplicate into Train, use, download the config,
cancel, log to MLflow or TensorBoard (tracking_view.py), delete after a confirmation).

Everything here reads the run folders (tlcore.RunStore); a damaged folder is listed with its error and never
breaks the page.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

import tlcore
from tlcore.cli import run_command
from tlcore.runs import RunSummary

from .fmt import fmt_seconds, model_tag
from .links import new_linked_run
from .options import prefill_train
from .run_view import progress_info, run_charts, show_metrics, status_badge
from .state import POLL_SECONDS, TRAIN_PAGE, USE_PAGE, USE_RUN, set_widget
from .tracking_view import tracking_message, tracking_popover

OPEN = "runs_w_open"  # the opened run's id (a selectbox, also set by selecting a table row)
TABLE = "runs_w_table"
TABLE_IDS = "runs_table_ids"  # the run id of each table row, for the row-selection callback
CONFIRM = "runs_confirm_delete"  # the run id waiting for "Yes, delete it"
FLASH = "runs_flash"  # (kind, message) to show once after an action
SORTS = ("Newest first", "Oldest first", "Accuracy (best first)", "Macro-F1 (best first)")


def created_at(summary: RunSummary) -> datetime | None:
    """When the run was created: from its config, else from the timestamp its id starts with."""
    if summary.created:
        return datetime.fromtimestamp(summary.created)
    try:
        return datetime.strptime(summary.id[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        return None


def sort_runs(summaries: list[RunSummary], order: str) -> list[RunSummary]:
    def when(s: RunSummary) -> tuple:
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


def filter_runs(summaries: list[RunSummary]) -> list[RunSummary]:
    def choices(attribute: str) -> list[str]:
        return sorted({getattr(s, attribute) for s in summaries if getattr(s, attribute)})

    status_col, method_col, model_col, sort_col = st.columns(4)
    statuses = status_col.multiselect("Status", choices("status"), placeholder="All", key="runs_w_status")
    methods = method_col.multiselect("Method", choices("method"), placeholder="All", key="runs_w_method")
    models = model_col.multiselect("Model", choices("model"), placeholder="All", key="runs_w_model",
                                   format_func=model_tag)
    order = sort_col.selectbox("Sort", SORTS, key="runs_w_sort")
    shown = [s for s in summaries if (not statuses or s.status in statuses)
             and (not methods or s.method in methods) and (not models or s.model in models)]
    return sort_runs(shown, order)


def note(summary: RunSummary, store: tlcore.RunStore) -> str:
    if summary.status == "queued":
        position = store.queue_position(summary.id)
        return f"queued — position {position}" if position else ""
    return (summary.error or "").removeprefix(f"run {summary.id}: ")  # tlcore's messages name the run; so does the row


def open_linked_run(ids: list[str]) -> None:
    """?run=ID (a shared link) opens that run, or says why it cannot."""
    wanted = new_linked_run("runs")
    if wanted is None:
        return
    if wanted in ids:
        set_widget(OPEN, wanted)
    else:
        st.warning(f"The link asks for run `{wanted}`, which is not among the runs shown here (deleted, in "
                   "another runs folder, or hidden by the filters).", icon=":material/link_off:")


def _open_selected_row() -> None:
    rows = st.session_state[TABLE].selection.rows
    ids = st.session_state.get(TABLE_IDS) or []
    if rows and rows[0] < len(ids):
        set_widget(OPEN, ids[rows[0]])


def runs_table(shown: list[RunSummary], store: tlcore.RunStore) -> None:
    rows = [{"Created": created_at(s), "Status": s.status, "Method": s.method or None,
             "Model": model_tag(s.model) if s.model else None, "Accuracy": s.accuracy, "Macro-F1": s.macro_f1,
             "Duration": fmt_seconds(s.seconds) if s.seconds is not None else None, "Note": note(s, store),
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
        prefill_train(run.id, config)
        st.switch_page(TRAIN_PAGE)
    if row.button("Use this run", icon=":material/play_circle:", key="runs_use", disabled=state != "succeeded",
                  help="Open the Use page with this run: try it on your own text, label a file, export it."):
        st.session_state[USE_RUN] = run.id
        st.switch_page(USE_PAGE)
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
    tracking_popover(row, run, state)
    row.button("Delete", icon=":material/delete:", key="runs_delete", on_click=_ask_delete, args=(run.id,),
               help="Delete the run folder (settings, metrics, predictions, weights) after a confirmation.")
    tracking_message(run.id)
    if st.session_state.get(CONFIRM) == run.id:
        with st.container(border=True):
            st.warning(f"Delete run `{run.id}` and all its files (settings, metrics, predictions, trained "
                       "weights)? This cannot be undone."
                       + (" It is still " + state + ": cancel it first." if live else ""), icon=":material/delete:")
            choice = st.container(horizontal=True, gap="small")
            choice.button("Yes, delete it", type="primary", key="runs_delete_yes", on_click=_delete, args=(run.id,))
            choice.button("Keep it", key="runs_delete_no", on_click=_keep, args=(run.id,))


# -- one run ---------------------------------------------------------------------------------------------------
def where(status: dict) -> str:
    """"on the Ray cluster, node host (ip)" for a run a cluster executes (TLCORE_EXECUTOR=ray); "" for one that
    runs on this machine."""
    if status.get("executor") != "ray":
        return ""
    node = status.get("node")
    return "on the Ray cluster" + (f", node `{node}`" if node else " (not placed on a node yet)")


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
    # Ray queues its tasks itself: the runs folder's slot queue says nothing about when a Ray run starts
    position = store.queue_position(run_id) if state == "queued" and status.get("executor") != "ray" else None
    fraction, text = progress_info(status, events, queue_position=position)
    st.progress(0 if fraction is None else min(1.0, max(0.0, fraction)), text=text)
    if where(status):  # here, not in the caption above: the node is known only once the run is placed
        st.caption(f"Runs {where(status)}" + (f"; it asks for {status['requested']}" if status.get("requested")
                                              else "") + ".")
    if run.cancel_requested:
        st.caption("Cancel requested: the run stops at its next step.")
    run_charts(events, key=f"runs_live::{run_id}", live=True)


def details(run_id: str, summary: RunSummary | None) -> None:
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
        title.markdown(f"#### {config.get('method')} · {model_tag(config.get('model', ''))} on "
                       f"{config.get('data_name')}")
    else:
        title.markdown(f"#### {run.id}")
    with badge:
        status_badge(state)
    created = created_at(summary) if summary else None
    st.caption(f"Run `{run.id}`" + (f" · created {created:%d %b %Y %H:%M:%S}" if created else "")
               + f" · folder `{run.path.resolve()}`"
               + (f" · ran {where(status)}" if where(status) and state not in tlcore.LIVE_STATES else ""))

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
                show_metrics(metrics, events)
            else:
                st.warning("The run succeeded but wrote no metrics.json.")
        run_charts(events, key=f"runs_charts::{run_id}", live=False,
                        kept_epoch=metrics.get("best_epoch") if metrics.get("early_stopped") else None)
        if state == "succeeded" and metrics.get("trainable_params") == 0:
            st.caption("No training curve: this method does not train.")

    if config is not None:
        with st.expander("Repeat it from the command line", icon=":material/terminal:"):
            try:
                command = run_command(config)
            except tlcore.TLCoreError as exc:  # e.g. a method this version no longer has
                st.caption(f"No command: {exc}")
            else:
                st.code(command, language="bash")  # the copy button is in the block's corner
                st.caption("Run it where the data file is. Options left at their defaults are not written out; "
                           "the run's YAML (Download config) holds every setting.")
        with st.expander("Settings (config.json)", icon=":material/data_object:"):
            st.json(config, expanded=2)
        if state == "succeeded":
            with st.expander("Full metrics (metrics.json)", icon=":material/analytics:"):
                st.json(run.metrics() or {}, expanded=1)
