"""The Use page's parts (app_pages/5_Use.py lays them out): the playground (finished runs on your own text), batch
prediction of a whole file, export of a run and import of an export. The helpers below them (finished runs to
pick from, cached models, the probability chart, zips) are in tlui/use_view.py."""
from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

import tlcore
from tlcore.use import csv_bytes, export_kind

from .charts import CHART_CONFIG
from .data_view import page_message
from .fmt import fmt_seconds, model_tag, run_time
from .state import DATA_NAME, TRAIN_PAGE, USE_RUN, kept_upload, remember, remembered, set_widget
from .use_view import (
    EXPORT_CONTENTS,
    USE_BATCH,
    USE_EXPORT,
    USE_FLASH,
    USE_TABS,
    USE_UPLOAD,
    USE_W_BATCH_RUN,
    USE_W_EXPORT_RUN,
    USE_W_IMPORT_PATH,
    USE_W_IMPORT_UPLOAD,
    USE_W_RUNS,
    USE_W_TAB,
    USE_W_TEXT,
    USE_W_UPLOAD,
    UsableRun,
    classify,
    default_selection,
    example_text,
    export_zip,
    fmt_bytes,
    fmt_latency,
    guess_text_column,
    import_upload,
    predict_table,
    probability_figure,
    read_upload,
    unscored_table,
)

PREVIEW_ROWS = 200
PER_ROW = 3  # playground result cards per row


def take_handoff(runs: list[UsableRun]) -> None:
    """'Use this run' on the Runs page: preselect that run everywhere on this page and open the playground."""
    run_id = st.session_state.pop(USE_RUN, None)
    if run_id and any(run.id == run_id for run in runs):
        set_widget(USE_W_RUNS, [run_id])
        set_widget(USE_W_BATCH_RUN, run_id)
        set_widget(USE_W_EXPORT_RUN, run_id)
        st.session_state[USE_W_TAB] = USE_TABS[0]


def no_runs() -> None:
    st.info("No finished runs yet. Train one on the Train page, or import an export on the **Export & import** "
            "tab.")
    st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")


def run_picker(label: str, key: str, runs: list[UsableRun], help_text: str) -> UsableRun:
    by_id = {run.id: run for run in runs}
    ids = list(by_id)
    default = next((i for i in remembered(USE_W_RUNS, []) or [] if i in by_id), ids[0])
    run_id = st.selectbox(label, ids, format_func=lambda i: by_id[i].label, help=help_text,
                          **remember(key, default, ids))
    return by_id[run_id]


# -- playground ----------------------------------------------------------------------------------------------
def _fill_example(run: UsableRun) -> None:
    text = example_text(run)
    if text:
        set_widget(USE_W_TEXT, text)


def show_prediction(run: UsableRun, text: str) -> None:
    st.markdown(f"**{run.method}** · {model_tag(run.model)}" + (" · imported" if run.imported else ""))
    accuracy = f"test accuracy {run.accuracy:.1%} · " if run.accuracy is not None else ""
    st.caption(f"{accuracy}{run.data_name} · {run_time(run.id)}")
    try:
        with st.spinner(f"Loading the {run.method} model (once)…"):
            prediction = classify(run, text)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    st.markdown(f"#### {prediction.predicted}")
    st.caption(f"confidence {prediction.confidence:.1%}")
    st.plotly_chart(probability_figure(prediction.labels, prediction.proba), width="stretch",
                    key=f"use_proba::{run.id}", config=CHART_CONFIG)
    st.caption(f":material/timer: {fmt_latency(prediction.seconds)} for this text · model loaded once in "
               f"{fmt_seconds(prediction.load_seconds)}")


def playground(runs: list[UsableRun]) -> None:
    if not runs:
        no_runs()
        return
    by_id = {run.id: run for run in runs}
    stored = remembered(USE_W_RUNS, None)
    chosen = (default_selection(runs, st.session_state.get(DATA_NAME)) if stored is None
              else [run_id for run_id in stored if run_id in by_id])
    set_widget(USE_W_RUNS, chosen)
    selected = st.multiselect(
        "Runs", list(by_id), format_func=lambda i: by_id[i].label, placeholder="Choose one or more finished runs",
        help="Each run shows its own prediction. By default: the most accurate zero-shot, few-shot and fine-tuned "
             "run on the data chosen on the Data page.", **remember(USE_W_RUNS, chosen))
    text = st.text_area("Text", height=110, placeholder="Type or paste a text, then press Ctrl+Enter (or click "
                                                        "outside the box).", **remember(USE_W_TEXT, ""))
    if selected:
        st.button("Example from the test set", icon=":material/shuffle:", key="use_example", on_click=_fill_example,
                  args=(by_id[selected[0]],), help="Fill the box with a random text from the first run's test split.")
    if not selected:
        st.info("Choose at least one run.")
        return
    if not text.strip():
        st.caption("Type a text to see what each run predicts, with the probability of every class.")
        return
    for start in range(0, len(selected), PER_ROW):
        chunk = selected[start:start + PER_ROW]
        for column, run_id in zip(st.columns(PER_ROW), chunk):
            with column.container(border=True):
                show_prediction(by_id[run_id], text)


# -- batch prediction ----------------------------------------------------------------------------------------
def show_batch_result(result: dict) -> None:
    frame, report = result["frame"], result["report"]
    (st.warning if report.unscored or report.skipped_rows else st.success)(report.summary() + ".")
    counts = frame["predicted"].value_counts()
    st.caption("Predicted: " + " · ".join(f"{label} {count:,}" for label, count in counts.items())
               + f" · {fmt_seconds(report.seconds)}")
    st.download_button("Download predictions (CSV)", data=result["csv"], file_name=result["file"], mime="text/csv",
                       icon=":material/download:", type="primary", on_click="ignore", key="use_batch_download",
                       help="Every row of your file, in order, with `predicted`, `confidence` and one `p_<label>` "
                            "column per class. Cells that would run as spreadsheet formulas are prefixed with '.")
    if report.unscored:
        with st.expander(f"{report.unscored:,} unscored row{'s' if report.unscored != 1 else ''} (no text)",
                         expanded=True, icon=":material/warning:"):
            st.caption("These rows are in the download with empty prediction cells.")
            st.dataframe(unscored_table(frame, report), hide_index=True, width="stretch", placeholder="—")
    for warning in report.warnings:
        st.caption(f":material/info: {warning}")
    shown = min(PREVIEW_ROWS, len(frame))
    st.caption(f"Preview: the first {shown:,} of {len(frame):,} rows.")
    st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True, width="stretch", placeholder="—", column_config={
        "confidence": st.column_config.NumberColumn(format="percent"),
        **{f"p_{label}": st.column_config.NumberColumn(format="percent") for label in report.labels}})


def batch(runs: list[UsableRun]) -> None:
    stored, fresh = kept_upload(
        "Unlabeled table", USE_W_UPLOAD, USE_UPLOAD,
        help="Any file the Data page takes (CSV, TSV, TXT, JSONL, JSON, Excel, Parquet). It needs a text column; "
             "a label column is not needed and is kept as it is.")
    if stored is None:
        st.info("Upload a table of texts to label. You get the same file back with the predicted label, its "
                "confidence and one probability column per class. Larger files: `tlcore predict --run RUN --input "
                "FILE --output scored.csv`.")
        return
    raw, name = stored
    if not fresh:
        st.caption(f"Using **{name}**, uploaded earlier. Upload another file to replace it.")
    try:
        frame = read_upload(raw, name)
    except tlcore.TLCoreError as exc:
        st.error(page_message(str(exc)))
        return
    if not runs:
        no_runs()
        return
    digest = hashlib.sha256(raw).hexdigest()[:16]
    run_column, text_column_box = st.columns(2)
    with run_column:
        run = run_picker("Run", USE_W_BATCH_RUN, runs, "The finished run whose model labels the file.")
    columns = [str(c) for c in frame.columns]
    guess = guess_text_column(frame, run.text_column)
    text_column = text_column_box.selectbox(
        "Text column", columns, index=columns.index(guess) if guess in columns else 0,
        key=f"use_w_batch_column::{digest}", help="The column to classify (guessed: the run's own text column, "
                                                  "else the column that holds free text).")
    st.caption(f"**{name}** · {len(frame):,} rows · {len(columns)} column{'s' if len(columns) != 1 else ''}")
    key = (digest, run.id, run.finished, text_column)
    if st.button("Predict", type="primary", icon=":material/play_arrow:", key="use_predict"):
        bar = st.progress(0.0, text="Starting…")
        try:
            out, report = predict_table(run, frame, text_column, bar)
        except tlcore.TLCoreError as exc:
            st.error(page_message(str(exc)))
            return
        finally:
            bar.empty()
        st.session_state[USE_BATCH] = {"key": key, "frame": out, "report": report, "csv": csv_bytes(out),
                                            "file": f"{Path(name).stem}_predictions.csv"}
    result = st.session_state.get(USE_BATCH)
    if result and result["key"] == key:
        show_batch_result(result)


# -- export and import ---------------------------------------------------------------------------------------
def _build_export(run_id: str) -> None:
    try:
        data, name = export_zip(run_id)
    except (tlcore.TLCoreError, OSError) as exc:  # OSError: a full disk or an unreadable run folder
        st.session_state[USE_EXPORT] = {"run_id": run_id, "error": str(exc)}
    else:
        st.session_state[USE_EXPORT] = {"run_id": run_id, "name": name, "data": data}


def _imported(run: tlcore.Run, source: str) -> None:
    config, metrics = run.config(), run.metrics() or {}
    accuracy = f", test accuracy {metrics['accuracy']:.1%}" if metrics.get("accuracy") is not None else ""
    st.session_state[USE_FLASH] = ("success", f"Imported **{source}** as run `{run.id}` ({config['method']}, "
                                                   f"{model_tag(config['model'])}{accuracy}). It is selected in "
                                                   "the Playground and listed on the Runs and Compare pages.")
    selected = [i for i in remembered(USE_W_RUNS, None) or [] if i != run.id]
    set_widget(USE_W_RUNS, [run.id, *selected])


def _import_upload() -> None:
    uploaded = st.session_state.get(USE_W_IMPORT_UPLOAD)
    if uploaded is None:
        st.session_state[USE_FLASH] = ("error", "Choose an export .zip file first.")
        return
    try:
        _imported(import_upload(uploaded.getvalue(), uploaded.name), uploaded.name)
    except (tlcore.TLCoreError, OSError) as exc:
        st.session_state[USE_FLASH] = ("error", f"Not imported: {exc}")


def _import_folder() -> None:
    path = (st.session_state.get(USE_W_IMPORT_PATH) or "").strip()
    if not path:
        st.session_state[USE_FLASH] = ("error", "Type the path of an export folder or .zip file first.")
        return
    try:
        _imported(tlcore.import_export(path, tlcore.RunStore()), path)
    except (tlcore.TLCoreError, OSError) as exc:  # OSError: a folder this app may not read
        st.session_state[USE_FLASH] = ("error", f"Not imported: {exc}")


def export_section(runs: list[UsableRun]) -> None:
    st.subheader("Export a run")
    if not runs:
        st.caption("No finished run to export yet.")
        return
    run = run_picker("Run to export", USE_W_EXPORT_RUN, runs, "A finished run.")
    kind = export_kind(run.method)
    st.caption(f"A zip with {EXPORT_CONTENTS[kind]} No TransferLab needed to use it; its `transferlab/` folder "
               "lets you import it back here.")
    built = st.session_state.get(USE_EXPORT)
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    row.button("Build export", icon=":material/inventory_2:", key="use_build_export", on_click=_build_export,
               args=(run.id,), type="secondary" if built and built.get("run_id") == run.id else "primary",
               help="Writes the export into a temporary folder and zips it (a few seconds; longer for full models).")
    if built and built.get("run_id") == run.id:
        if built.get("error"):
            st.error(f"Not exported: {built['error']}")
        else:
            row.download_button(f"Download {built['name']} ({fmt_bytes(len(built['data']))})", data=built["data"],
                                file_name=built["name"], mime="application/zip", icon=":material/download:",
                                type="primary", on_click="ignore", key="use_export_download")
    st.caption(f"Command line: `tlcore export --run {run.id} --to DIR` (add `--zip` for one file).")


def import_section() -> None:
    st.subheader("Import an export")
    st.caption("A folder or .zip written by `tlcore export` or the button above. It comes back as a finished run: "
               "predict with it here and compare it on the Compare page. Archives are checked first (paths, file "
               "types, sizes); only safetensors weights are accepted.")
    upload_column, folder_column = st.columns(2)
    with upload_column:
        st.file_uploader("Export (.zip)", type=["zip"], key=USE_W_IMPORT_UPLOAD,
                         help="Up to the app's upload limit (50 MB); import larger exports (full fine-tuned models) "
                              "from a folder path or with `tlcore import PATH`.")
        st.button("Import zip", icon=":material/upload:", key="use_import_zip", on_click=_import_upload)
    with folder_column:
        st.text_input("…or a folder or .zip on this machine", key=USE_W_IMPORT_PATH,
                      placeholder="/path/to/export", help="A path on the machine that runs the app.")
        st.button("Import from path", icon=":material/folder_open:", key="use_import_path", on_click=_import_folder)
