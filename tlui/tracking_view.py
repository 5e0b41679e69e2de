"""The Runs page's "Log to MLflow / TensorBoard" popover: the opened run into a team's experiment tracker
(``tlcore.use.export_tracking``, as ``tlcore export-tracking`` does), and a message saying where it went."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

import tlcore
from tlcore.runs import FINAL_STATES
from tlcore.use import DEFAULT_EXPERIMENT, DEFAULT_LOGDIR, export_tracking

from .state import remember

TRACKERS = {"MLflow": "mlflow", "TensorBoard": "tensorboard"}
TO = "runs_w_track_to"
URI = "runs_w_track_uri"
EXPERIMENT = "runs_w_track_experiment"
LOGDIR = "runs_w_track_logdir"
RESULT = "runs_tracked"  # (run id, "success" or "error", message) of the last logging, shown while that run is open


def tracking_popover(row, run: tlcore.Run, state: str) -> None:
    """On the actions row ``row``: where to log the run, and the button that logs it (a finished run only)."""
    with row.popover("Log to MLflow / TensorBoard", icon=":material/monitoring:", disabled=state not in FINAL_STATES,
                     help="Send this run's settings, training curves, final metrics and export to an experiment "
                          "tracker."):
        tracker = st.radio("Tracker", list(TRACKERS), horizontal=True, **remember(TO, "MLflow", list(TRACKERS)))
        if tracker == "MLflow":
            st.text_input("Tracking URI", placeholder="MLflow's default", **remember(URI, ""),
                          help="A tracking server (http://host:5000) or a store on the machine that runs the app. "
                               "Empty: $MLFLOW_TRACKING_URI, else MLflow's default, sqlite:///mlflow.db in "
                               f"`{Path.cwd()}`.")
            st.text_input("Experiment", placeholder=DEFAULT_EXPERIMENT, **remember(EXPERIMENT, ""))
        else:
            st.text_input("Log folder", placeholder=DEFAULT_LOGDIR, **remember(LOGDIR, ""),
                          help=f"A folder on the machine that runs the app (relative to `{Path.cwd()}`); the run's "
                               "event files go in a folder named after the run inside it.")
        if st.button("Log this run", type="primary", icon=":material/upload:", key="runs_track"):
            _log(run, TRACKERS[tracker])
        st.caption(f"Command line: `tlcore export-tracking --run {run.id} --to {TRACKERS[tracker]}`")


def _log(run: tlcore.Run, to: str) -> None:
    def given(key: str) -> str | None:
        return (st.session_state.get(key) or "").strip() or None

    with st.spinner("Logging the run (the first time, MLflow sets up its store)…"):
        try:
            result = export_tracking(run, to, uri=given(URI), experiment=given(EXPERIMENT), logdir=given(LOGDIR))
        except (tlcore.TLCoreError, OSError) as exc:
            st.session_state[RESULT] = (run.id, "error", f"Not logged: {exc}")
        else:
            st.session_state[RESULT] = (run.id, "success", result.message)


def tracking_message(run_id: str) -> None:
    """The last logging of this run, under its actions, until another run is logged."""
    shown = st.session_state.get(RESULT)
    if shown and shown[0] == run_id:
        if shown[1] == "success":
            st.success(shown[2], icon=":material/monitoring:")
        else:
            st.error(shown[2])
