"""The Train page's parts (app_pages/2_Train.py lays them out): the data line, model and method choice with the
method's option widgets (built from its config fields), the split, the method panel (what it trains, how long,
Recommend), starting a run in a worker process, and the session's runs: live, finished, or followed after a
reload."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import tlcore
from tlcore.compare import advise_test_size
from tlcore.data import LabeledData, Split
from tlcore.engine import PRECISION_CHOICES, ModelSpec, estimate_memory, has_gpu
from tlcore.methods import portfolio, recommend
from tlcore.runs import MethodPlan, method_options, plan_method

from .adapt_view import adapt_section
from .best_view import search_live, start_search
from .fmt import fmt_count, fmt_estimate, fmt_params, model_tag, run_label, run_time
from .model_picker import choose_model
from .options import is_long_option, option_input
from .run_view import progress_info, run_charts, show_metrics, status_badge
from .state import (
    COMPARE_PAGE,
    DATA_FRAME,
    DATA_LABEL_COLUMN,
    DATA_NAME,
    DATA_PAGE,
    DATA_TEST_UPLOAD,
    DATA_TEXT_COLUMN,
    TRAIN_PREFILLED,
    TRAIN_RECOMMENDATION,
    TRAIN_RUNS,
    TRAIN_W_DEVICE,
    TRAIN_W_METHOD,
    TRAIN_W_MODEL,
    TRAIN_W_PER_CLASS,
    TRAIN_W_PRECISION,
    TRAIN_W_SPLIT_SEED,
    TRAIN_W_TEST_SIZE,
    TRAIN_W_USE_ALL,
    TRAIN_W_VAL_SIZE,
    own_test,
    remember,
    remembered,
    set_widget,
)
from .sweep_view import sweep_section
from .warm import preload

KEY_OPTIONS = ("shots", "epochs", "lr", "batch_size")  # shown up front; the rest go under "Advanced"
DEFAULT_PER_CLASS = 32
RECOMMENDATION = TRAIN_RECOMMENDATION
TOKENS_PER_WORD = 1.3  # WordPiece/BPE tokens per whitespace word in English text, roughly


@st.cache_data(show_spinner="Counting the parameters this method trains…", max_entries=128)
def plan(model: str, method: str, n_labels: int, n_train: int, n_test: int, mean_tokens: int,
         options_json: str) -> MethodPlan:
    """plan_method, cached: the first call per model and method imports torch and builds the model
    on the meta device (seconds); later calls are instant."""
    return plan_method(model, method, n_labels, n_train, n_test, mean_tokens=mean_tokens,
                              options=json.loads(options_json))


@st.cache_resource(show_spinner="Looking for a GPU…")
def gpu_available() -> bool:
    return has_gpu()


def choose_method(spec: ModelSpec):
    entries = tlcore.list_methods()
    usable = [entry for entry in entries if spec.kind in entry.kinds]
    other = [entry for entry in entries if spec.kind not in entry.kinds]
    if not usable:
        st.error(f"No registered method works with {spec.kind} models.")
        return None
    by_name = {entry.name: entry for entry in usable}
    names = list(by_name)
    name = st.selectbox("Method", names, **remember(TRAIN_W_METHOD, names[0], names))
    entry = by_name[name]
    if other:
        st.caption("Not available for " + spec.kind + " models: " + ", ".join(
            f"{entry.name} (needs {' or '.join(entry.kinds)})" for entry in other) + ".")
    return entry


def method_settings(entry, model_kind: str, area, advanced) -> tuple[dict, list[str]]:
    """The method's option widgets, generated from its config fields (those this kind of model uses)."""
    fields = entry.config_cls.describe_fields(model_kind)
    key_fields = [f for f in fields if f["name"] in KEY_OPTIONS]
    values: dict = {}
    errors: list[str] = []
    if key_fields:
        for column, field in zip(area.columns(4), key_fields):
            with column:
                values[field["name"]] = option_input(entry.name, field, errors)
    with advanced:
        st.markdown(f"**Method options ({entry.name})**")
        rest = [f for f in fields if f["name"] not in KEY_OPTIONS]
        small = [f for f in rest if not is_long_option(f)]
        for start in range(0, len(small), 4):  # numbers and choices in a grid, like the key options
            for column, field in zip(st.columns(4), small[start:start + 4]):
                with column:
                    values[field["name"]] = option_input(entry.name, field, errors)
        for field in rest:  # free text and JSON at full width
            if is_long_option(field):
                values[field["name"]] = option_input(entry.name, field, errors)
    options = method_options(entry.name, values, strict=False)
    if not errors:  # what the method itself refuses (e.g. an instruction without {labels}), before Start
        try:
            entry.config_cls.from_dict(options)
        except tlcore.TLCoreError as exc:
            errors.append(f"{entry.name}: {exc}")
    return options, errors


def split_settings(area, advanced, test: dict | None = None) -> dict:
    """The split widgets; with the user's own test file (``test``) there is no test size to choose."""
    first, second, third, fourth = area.columns(4, vertical_alignment="bottom")
    if test is None:
        test_size = first.number_input(
            "Test size", min_value=0.01, max_value=1_000_000.0, step=0.05, format="%g",
            help="Rows held out for testing: a fraction (below 1) or a number of rows (1 or more). Runs are "
                 "comparable only when they are scored on the same test rows (same data, test size and split "
                 "seed).", **remember(TRAIN_W_TEST_SIZE, 0.2))
    else:  # the widget is not drawn: its saved value stays for when the test file is removed
        test_size = remembered(TRAIN_W_TEST_SIZE, 0.2)
        first.markdown(f"**Test rows:** your file {test['name']}",
                       help="Set on the Data page (Use your own test file); remove it there to hold out "
                            "test rows from the data instead.")
    split_seed = second.number_input("Split seed", min_value=0, step=1,
                                     help="Seed of the stratified train/validation/test split.",
                                     **remember(TRAIN_W_SPLIT_SEED, 0))
    with fourth:
        # On by default: every row the user labeled is used. The automatic schedule plans about the same number
        # of steps whatever the row count (tlcore.engine.training), so more rows cost little more time.
        use_all = st.checkbox("Use all training rows",
                              help="Train on every training row. Untick to sample N rows per class instead (a "
                                   "learning curve, or a quick trial on a large file).",
                              **remember(TRAIN_W_USE_ALL, True))
    per_class = third.number_input(
        "Training rows per class", min_value=1, step=1, disabled=use_all,
        help="With 'Use all training rows' unticked: sample N training rows per class after the test rows are "
             "set aside. The test rows do not change with N.",
        **remember(TRAIN_W_PER_CLASS, DEFAULT_PER_CLASS))
    with advanced:
        st.markdown("**Split options**")
        val_size = st.columns(4)[0].number_input(
            "Validation size", min_value=0.0, max_value=0.9, step=0.05, format="%g",
            help="Share of the non-test rows used for validation (loss and accuracy after each epoch).",
            **remember(TRAIN_W_VAL_SIZE, 0.1))
        device, precision = compute_settings()
    return {"test_size": float(test_size), "val_size": float(val_size), "split_seed": int(split_seed),
            "per_class": None if use_all else int(per_class), "device": device, "precision": precision}


def compute_settings() -> tuple[str, str]:
    """Where and in which number format runs compute (Advanced): the GPU choice only where there is one."""
    st.markdown("**Compute**")
    left, right = st.columns(4)[:2]
    devices = ["auto", "cpu", *gpu_devices()]
    device = left.selectbox("Device", devices, disabled=len(devices) == 2,
                            help="auto: a GPU when torch sees one (the one with the most free memory), else the CPU."
                                 + (" No GPU here." if len(devices) == 2 else ""),
                            **remember(TRAIN_W_DEVICE, "auto", devices))
    precision = right.selectbox("Precision", list(PRECISION_CHOICES),
                                help="auto: measured. On a CPU, bf16 mixed precision when this CPU and this model "
                                     "run faster in bf16 with outputs that agree with fp32 (timed once per machine "
                                     "and model), else fp32; on a CUDA GPU, bf16 (or fp16) for models of 1B "
                                     "parameters or more, where 16 bits pay. The run's page says which and why.",
                                **remember(TRAIN_W_PRECISION, "auto", list(PRECISION_CHOICES)))
    return device, precision


@st.cache_resource(show_spinner=False)
def gpu_devices() -> list[str]:
    """The CUDA GPUs torch sees (it imports torch: once per app process)."""
    return tlcore.engine.gpu_devices()


def split_preview(data: LabeledData, split: dict, test: dict | None = None) -> Split | None:
    """One line on what the split will hold; None (with the reason shown) when it cannot be made.

    With the user's own test file (``test``) the test rows are that file's and ``data`` gives training and
    validation rows only.
    """
    try:
        made = tlcore.make_split(data, None if test is None else test["data"], test_size=split["test_size"],
                                 val_size=split["val_size"], split_seed=split["split_seed"],
                                 per_class=split["per_class"])
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return None
    per_class = ", ".join(f"{label} {n}" for label, n in made.train.class_counts().items())
    if test is None:
        tests = f"**{len(made.test):,}** test rows"
    else:
        tests = f"Test rows: your file **{test['name']}** ({len(made.test):,} rows)"
    st.caption(f"Split: **{len(made.train):,}** training rows ({per_class}) · **{len(made.val):,}** validation · "
               f"{tests}.")
    if made.info.get("val_policy"):  # why the validation split has this size (none at all for small data)
        st.caption(f"Validation: {made.info['val_policy']}")
    advice = advise_test_size(len(made.test), n_available=len(data) + (len(test["data"]) if test else 0))
    if advice.few:  # one row moves the accuracy by more than a point: worth saying before anything runs
        st.info(f"Test size: {advice.text}", icon=":material/straighten:")
    else:
        st.caption(f"Test size: {advice.text}")
    return made


def _recommend(n_train: int, n_labels: int) -> None:
    """The Recommend button's callback: runs before the page is drawn again, so it may set the widgets."""
    gpu = gpu_available()
    answer = recommend(n_train, n_labels, has_gpu=gpu)
    set_widget(TRAIN_W_MODEL, answer.model)
    set_widget(TRAIN_W_METHOD, answer.method)
    st.session_state[RECOMMENDATION] = {"model": answer.model, "method": answer.method, "reason": answer.reason,
                                        "n_train": n_train, "n_labels": n_labels, "gpu": gpu}


def method_panel(spec: ModelSpec, entry, options: dict, made: Split | None) -> None:
    """What the chosen method does, when to use it, what it trains and roughly how long it takes here."""
    about, numbers = st.columns([5, 4], gap="medium")
    with about:
        st.markdown(f"**{entry.name}** · {entry.description}")
        if entry.when_to_use:
            st.markdown(f":material/lightbulb: _{entry.when_to_use}_")
    with numbers:
        if made is None:
            st.caption("Parameter count and time estimate appear once the split can be made.")
        else:
            show_plan(spec, entry, options, made)
    button, answer = st.columns([1, 4], vertical_alignment="center")
    n_train, n_labels = len(made.train) if made else 0, len(made.labels) if made else 0
    button.button("Recommend", icon=":material/recommend:", key="train_recommend", disabled=made is None,
                  on_click=_recommend, args=(n_train, n_labels),
                  help="Suggest a model and method for this split's training size and number of classes "
                       "(rules drawn from our benchmark runs).")
    shown = st.session_state.get(RECOMMENDATION)
    if shown and (shown["n_train"], shown["n_labels"]) != (n_train, n_labels):
        shown = None  # made for another split: ask again
    with answer:
        if shown:
            where = "GPU" if shown["gpu"] else "CPU"
            chosen = (shown["model"], shown["method"]) == (spec.name, entry.name)
            text = (f"**Recommended for {shown['n_train']:,} training rows in {shown['n_labels']} classes on a "
                    f"{where}: {shown['method']} on {shown['model']}.** {shown['reason']}")
            if chosen:
                st.success(text, icon=":material/recommend:")
            else:
                st.caption(text + " You have chosen otherwise since.")
        else:
            st.caption(f"Not sure? Recommend picks a model and method for {n_train:,} training rows in "
                       f"{n_labels} classes.")


def show_plan(spec: ModelSpec, entry, options: dict, made: Split) -> None:
    texts = made.train.texts or made.test.texts
    words = sum(len(str(text).split()) for text in texts) / max(1, len(texts))
    mean_tokens = max(4, round(words * TOKENS_PER_WORD))
    try:
        result = plan(spec.name, entry.name, len(made.labels), len(made.train), len(made.test), mean_tokens,
                      json.dumps(options, sort_keys=True, default=str))
    except tlcore.TLCoreError as exc:
        st.caption(f":material/warning: No estimate: {exc}")
        return
    except Exception as exc:  # an estimate must never break the page
        st.caption(f":material/warning: No estimate ({type(exc).__name__}: {exc}).")
        return
    if result.trainable_params:
        trains = f"**{fmt_params(result.trainable_params, result.total_params)}**"
    else:
        trains = f"**none** — no training (0 of {fmt_count(result.total_params)})"
    st.markdown(f":material/tune: Trainable parameters: {trains}",
                help="Counted on the model as this method prepares it, with these options and "
                     f"{len(made.labels)} classes.")
    memory = estimate_memory(result.total_params, result.trainable_params)
    free = f" of {memory.available_bytes / 2**30:,.1f} GB free" if memory.available_bytes else ""
    st.markdown(f":material/memory: Memory: **at least {memory.needed_bytes / 2**30:,.2f} GB**{free}"
                + ("" if memory.fits else " — :red[more than is free now]"),
                help="A floor, before anything loads: the runtime, the weights in fp32 and, for training, the "
                     "gradients and optimizer state of the trainable weights. Activations add more, growing with "
                     "the batch size and max length.")
    rows = f"{len(made.train):,} training and {len(made.test):,} test rows"
    st.markdown(f":material/schedule: **{fmt_estimate(result.estimated_seconds)}** on this machine for "
                f"{rows}", help=f"A rough estimate (within a factor of about 2): {result.how_estimated}, at this "
                               f"machine's measured speed, with about {mean_tokens} tokens per text. Starting the "
                               "worker process and loading the model add some seconds, more while other runs use "
                               "the CPU.")


def start_run(config: tlcore.RunConfig, data: LabeledData, test: LabeledData | None = None) -> None:
    store = tlcore.RunStore()
    try:
        run = tlcore.create_run(config, data, test=test, store=store, sample_seed=0)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    try:
        tlcore.start_worker(run)
    except tlcore.TLCoreError:  # e.g. TLCORE_EXECUTOR=ray and no cluster: the run's status says why
        pass
    st.session_state[TRAIN_RUNS].append(run.id)
    st.rerun()


def prefill_notice() -> None:
    """Once, after "Duplicate into Train" on the Runs page: say where the settings came from."""
    prefilled = st.session_state.pop(TRAIN_PREFILLED, None)
    if not prefilled:
        return
    text = (f"Settings copied from run `{prefilled['run_id']}` ({prefilled['method']} on "
            f"{model_tag(prefilled['model'])}): change what you like and start a new run.")
    try:
        tlcore.engine.resolve_model(prefilled["model"])
    except tlcore.TLCoreError as exc:
        st.warning(f"That run used the model `{prefilled['model']}`, which cannot be loaded here ({exc}).")
    if prefilled["data_ok"]:
        st.info(f"{text} Data: {prefilled['data_name']}, as in that run.", icon=":material/content_copy:")
    else:
        st.warning(f"{text} That run used **{prefilled['data_name']}**, which is not the data chosen now: choose it "
                   "on the Data page to repeat the run on the same rows.", icon=":material/content_copy:")


def setup(blocking: bool) -> None:
    frame = st.session_state.get(DATA_FRAME)
    name = st.session_state.get(DATA_NAME)
    text_column = st.session_state.get(DATA_TEXT_COLUMN)
    label_column = st.session_state.get(DATA_LABEL_COLUMN)
    if frame is None:
        st.info("No data chosen yet: pick a sample dataset or upload your own labeled table first.")
        st.page_link(DATA_PAGE, label="Choose data", icon=":material/table:")
        return
    try:
        data = tlcore.to_labeled(frame, text_column, label_column, name=name)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        st.page_link(DATA_PAGE, label="Fix the data choice", icon=":material/table:")
        return
    counts = data.class_counts()
    test = own_test()
    info, link = st.columns([4, 1])
    tested = "" if test is None else f" · test file {test['name']} ({len(test['data']):,} rows)"
    info.markdown(f"**Data:** {name} — {len(data):,} rows, {len(counts)} classes · text column `{text_column}` · "
                  f"label column `{label_column}`{tested}")
    if test is None and st.session_state.get(DATA_TEST_UPLOAD) is not None:
        info.caption(":material/warning: Your own test file cannot be used with this data (see the Data page): "
                     "test rows are held out from the data instead.")
    with link:
        st.page_link(DATA_PAGE, label="Change data", icon=":material/edit:")

    left, right = st.columns(2)
    with left:
        spec, available = choose_model()
        if available:
            preload(spec.name)
    with right:
        entry = choose_method(spec)
    adapt_section(spec, frame, text_column, name)  # tlui/adapt_view.py
    if entry is None:
        return
    panel = st.container(border=True)  # filled once the split is known (it needs the training size)
    method_area, split_area = st.container(), st.container()
    advanced = st.expander("Advanced", icon=":material/tune:")
    options, errors = method_settings(entry, spec.kind, method_area, advanced)
    split = split_settings(split_area, advanced, test)
    for error in errors:
        st.error(error)
    made = split_preview(data, split, test)
    splittable = made is not None
    with panel:
        method_panel(spec, entry, options, made)

    reason = None
    if blocking:
        reason = "This session's run is still going: wait for it or cancel it first."
    elif not available:
        reason = f"Model {spec.name!r} is not installed."
    elif errors or not splittable:
        reason = "Fix the settings above first."
    start, find = st.columns([1, 3])
    config = tlcore.RunConfig(model=spec.name, method=entry.name, method_options=options, data_name=name,
                              text_column=text_column, label_column=label_column,
                              test_name=None if test is None else test["name"], **split)
    if start.button("Start run", type="primary", icon=":material/play_arrow:", disabled=reason is not None):
        start_run(config, data, None if test is None else test["data"])
    searching = reason is not None or search_live()
    if find.button("Find the best method", icon=":material/travel_explore:", disabled=searching,
                   help=f"Runs {', '.join(portfolio(spec.kind))} at their defaults on this split, one after "
                        "another, picks the best on the validation rows and reports it on the test rows."):
        start_search(config, data, None if test is None else test["data"])
    if reason:
        st.caption(reason)
    sweep_section(spec, entry, config, data, None if test is None else test["data"], made, reason)


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
    title.markdown(f"**{config.get('method')}** · {model_tag(config.get('model', ''))} on "
                   f"{config.get('data_name')} · `{run.id}`")
    with badge:
        status_badge(state)

    if state in tlcore.LIVE_STATES:
        position = store.queue_position(run.id) if state == "queued" and status.get("executor") != "ray" else None
        fraction, text = progress_info(status, events, queue_position=position)
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

    metrics = (run.metrics() or {}) if state == "succeeded" else {}
    evals = [e for e in events if e.get("type") == "eval"]
    if evals:
        st.caption(f"Validation after epoch {evals[-1]['epoch']}: loss {evals[-1]['val_loss']:.4f}, "
                   f"accuracy {evals[-1]['val_accuracy']:.1%}")
    run_charts(events, key=f"train_charts::{run.id}", live=state in tlcore.LIVE_STATES,
                    kept_epoch=metrics.get("best_epoch") if metrics.get("early_stopped") else None)

    if state == "succeeded":
        show_finished(metrics, events)
    elif state == "failed":
        st.error(f"The run failed: {status.get('error') or 'no reason was recorded'}")
    elif state == "cancelled":
        st.warning("The run was cancelled.")
    elif state == "damaged":
        st.error(status.get("error") or "The run folder is damaged.")


def show_finished(metrics: dict, events: list[dict]) -> None:
    if not metrics:
        st.warning("The run succeeded but wrote no metrics.json.")
        return
    show_metrics(metrics, events)
    st.page_link(COMPARE_PAGE, label="Compare with other runs", icon=":material/leaderboard:")


def show_earlier_runs(run_ids: list[str]) -> None:
    store = tlcore.RunStore()
    rows = []
    for run_id in reversed(run_ids):
        try:
            run = store.get(run_id)
            config, status, metrics = run.config(), run.status(), run.metrics() or {}
        except tlcore.TLCoreError:
            continue  # deleted or damaged: nothing to show
        rows.append({"Started": run_time(run_id), "Method": config.get("method"),
                     "Model": model_tag(config.get("model", "")), "Status": status.get("status"),
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
            text.write(f"{run_label(summary.method, summary.model, summary.id)} · {summary.status} · "
                       f"{summary.data_name}")
            if button.button("Follow", key=f"train_follow::{summary.id}", icon=":material/visibility:"):
                session_runs.append(summary.id)
                st.rerun()


def current_run(session_runs: list[str]) -> tuple[str | None, bool, bool]:
    """(id, live, blocking) of the session's newest run: blocking while it is live and not asked to cancel."""
    current_id = session_runs[-1] if session_runs else None
    if not current_id:
        return None, False, False
    try:
        current = tlcore.RunStore().get(current_id)
        live = current.status().get("status") in tlcore.LIVE_STATES
    except tlcore.TLCoreError:
        return current_id, False, False
    # After a cancel request, allow a new run even if this one never reports back (a worker that died while
    # still 'queued' is not detected as dead by tlcore).
    return current_id, live, live and not current.cancel_requested
