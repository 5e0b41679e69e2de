"""A run's status badge, progress line, training charts and headline metrics."""
from __future__ import annotations

import time

import streamlit as st

from .charts import CHART_CONFIG, X_AXES, loss_figure, rates_figure
from .fmt import fmt_count, fmt_seconds
from .state import remember

CHART_W_X_AXIS = "chart_w_x_axis"  # one choice per session, shared by the Train and Runs pages' charts

STATUS_BADGES = {"queued": ("queued", "gray", ":material/schedule:"),
                 "running": ("running", "blue", ":material/progress_activity:"),
                 "succeeded": ("succeeded", "green", ":material/check_circle:"),
                 "failed": ("failed", "red", ":material/error:"),
                 "cancelled": ("cancelled", "orange", ":material/cancel:"),
                 "damaged": ("damaged", "red", ":material/broken_image:")}


def status_badge(state: str) -> None:
    label, color, icon = STATUS_BADGES.get(state, (state, "gray", None))
    st.badge(label, color=color, icon=icon)


# -- progress ---------------------------------------------------------------------------------------
def progress_info(status: dict, events: list[dict], now: float | None = None,
                  queue_position: int | None = None) -> tuple[float | None, str]:
    """(fraction done or None when unknown, one line of text) for a live run.

    Time left comes from the run's own clock: training events carry the seconds since training began, and
    status.json records when the current stage began (``stage_started``).
    """
    now = time.time() if now is None else now
    state, stage = status.get("status"), status.get("stage") or "starting"
    if state == "queued":
        waiting = f" · waiting {fmt_seconds(now - status['created'])}" if status.get("created") else ""
        if status.get("executor") == "ray":
            return None, f"Queued on the Ray cluster: waiting for a node with the resources it asks for…{waiting}"
        if queue_position is None:
            return None, f"Queued: waiting for the worker process to start…{waiting}"
        ahead = ("next to start when a slot frees up" if queue_position == 1
                 else f"{queue_position - 1} queued run{'s' if queue_position > 2 else ''} ahead")
        return None, f"Queued — position {queue_position} ({ahead}){waiting}"
    started = status.get("started")
    elapsed = f"{fmt_seconds(now - started)} elapsed" if started else ""
    train = [e for e in events if e.get("type") == "train"]
    if stage == "training" and train:
        last = train[-1]
        done, total = int(last["step"]), int(last.get("total_steps") or last["step"])
        per_step = float(last.get("elapsed") or 0.0) / max(1, done)
        left = f" · about {fmt_seconds(per_step * (total - done))} left" if done < total else " · validating"
        return done / max(1, total), f"Training: step {done} of {total} · {elapsed}{left}"
    progress = status.get("progress") or {}
    done, total = progress.get("done"), progress.get("total")
    stage_started = status.get("stage_started")
    if total and done is not None and stage not in ("loading model", "training"):
        left = ""
        if stage_started and done > 0 and now > stage_started:
            rate = done / (now - stage_started)
            left = f" · about {fmt_seconds((total - done) / rate)} left" if done < total else ""
        return done / total, f"{stage.capitalize()}: {done} of {total} · {elapsed}{left}"
    # The stage's own clock, when it began well after the run did (otherwise "elapsed" already says it).
    in_stage = (f" ({fmt_seconds(now - stage_started)} in this stage)"
                if stage_started and started and stage_started - started > 1 else "")
    if stage == "training":
        return None, f"Training: starting…{in_stage} · {elapsed}"
    return None, f"{stage.capitalize()}…{in_stage} · {elapsed}"


def run_charts(events: list[dict], key: str, live: bool, kept_epoch: int | None = None) -> None:
    """A run's training charts: the loss curves, then learning rate and throughput, against steps or epochs.

    ``key`` makes the charts' element keys unique to the run; nothing is drawn before the first event. A live
    run's charts span its planned steps; a finished one's end at its last step (it may have been cancelled).
    """
    if not any(e.get("type") in ("train", "eval") for e in events):
        return
    x_axis = st.segmented_control(
        "X axis", X_AXES, required=True, format_func=str.capitalize,
        help="Plot the curves against training steps or epochs (fractions of an epoch between its ends); "
             "validation points sit at the end of their epoch either way.",
        **remember(CHART_W_X_AXIS, X_AXES[0], list(X_AXES)))
    planned = live and kept_epoch is None
    st.plotly_chart(loss_figure(events, kept_epoch, x_axis, planned), width="stretch", key=f"{key}::loss",
                    config=CHART_CONFIG)
    rates = rates_figure(events, x_axis, planned)
    if rates is not None:
        st.plotly_chart(rates, width="stretch", key=f"{key}::rates", config=CHART_CONFIG)


def early_stop_note(metrics: dict, events: list[dict]) -> str | None:
    """'Stopped early at epoch 5; kept epoch 3's weights …' for an early-stopped run, else None."""
    if not metrics.get("early_stopped"):
        return None
    evals = [e for e in events if e.get("type") == "eval"]
    stopped = metrics.get("epochs_completed") or (evals[-1].get("epoch") if evals else None)
    best = metrics.get("best_epoch")
    planned = metrics.get("epochs")
    at = f" at epoch {stopped}" if stopped is not None else ""
    of = f" of {planned}" if planned and stopped is not None and planned != stopped else ""
    kept = f"; kept epoch {best}'s weights" if best is not None else ""
    return f"Stopped early{at}{of}{kept} (the validation loss had stopped improving)."


def show_metrics(metrics: dict, events: list[dict]) -> None:
    """A finished run's headline numbers, the majority-class reference and an early-stopping note."""
    columns = st.columns(5)
    columns[0].metric("Accuracy", f"{metrics['accuracy']:.1%}")
    columns[1].metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    columns[2].metric("Train time", fmt_seconds(metrics.get("train_seconds")))
    columns[3].metric("Predict time / 1,000 texts", fmt_seconds(metrics.get("predict_seconds_per_1000")))
    columns[4].metric("Trainable params", fmt_count(metrics.get("trainable_params")))
    note = early_stop_note(metrics, events)
    if note:
        st.info(note, icon=":material/early_on:")
    baseline = metrics.get("majority_baseline") or {}
    text = f"{metrics.get('n_train', '?')} training rows, {metrics.get('n_test', '?')} test rows."
    if metrics.get("steps"):
        epochs = metrics.get("epochs")
        over = f" over {epochs} epoch{'s' if epochs != 1 else ''}" if epochs and not note else ""
        text = f"{metrics['steps']} training steps{over} · " + text
    if baseline:
        f1 = f", macro-F1 {baseline['macro_f1']:.3f}" if baseline.get("macro_f1") is not None else ""
        text = (f"Always predicting the majority class ({baseline['label']}) scores {baseline['accuracy']:.1%}{f1}. "
                + text)
    st.caption(text)
