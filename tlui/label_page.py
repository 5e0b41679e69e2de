"""The Label page's parts (app_pages/6_Label.py lays them out): suspected label errors to accept or reject, and the
rows a finished run's model would learn most from, labeled one key press at a time. Both save a new version of the
data (tlui/label_view.py: where, and how it becomes the current data) and never touch the original."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import tlcore
from tlcore.compare import LabelIssue, find_label_issues
from tlcore.data import Change, labeled_rows, list_versions, row_numbers, split_version, unlabeled_rows
from tlcore.engine import is_available
from tlcore.use import read_pool, suggest_report

from .data_view import page_message
from .fmt import run_label
from .label_view import current_version, parent_path, rerun_on, save_and_use, versions_folder
from .state import (
    COMPARE_PAGE,
    DATA_PAGE,
    LABEL_ANSWERS,
    LABEL_DECISIONS,
    LABEL_FLASH,
    LABEL_ISSUES,
    LABEL_POOL_UPLOAD,
    LABEL_RERUN,
    LABEL_SUGGESTIONS,
    LABEL_W_MODEL,
    LABEL_W_N,
    LABEL_W_POOL,
    LABEL_W_RUN,
    POLL_SECONDS,
    RUNS_PAGE,
    kept_upload,
    remember,
)
from .use_view import usable_runs

SHOWN_STEP = 20  # suspected errors shown at first, and added by "Show more"
MAX_KEYS = 9  # classes 1..9 get a key each


def data_key(frame: pd.DataFrame, name: str, text_column: str, label_column: str) -> str:
    """What the found issues and the suggestions were computed on: a change of file, column or label resets them."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame[[text_column, label_column]].astype(str),
                                                      index=False).values.tobytes()).hexdigest()[:16]
    return f"{name}::{text_column}::{label_column}::{digest}"


def flash() -> None:
    message = st.session_state.pop(LABEL_FLASH, None)
    if message:
        {"success": st.success, "error": st.error}[message[0]](message[1])


def data_header(frame: pd.DataFrame, name: str, text_column: str, label_column: str) -> None:
    labeled = len(labeled_rows(frame, text_column, label_column))
    unlabeled = len(unlabeled_rows(frame, text_column, label_column))
    st.markdown(f"Data: **{name}** · {labeled:,} labeled rows" + (f", {unlabeled:,} without a label" if unlabeled
                                                                    else "")
                + f" · text `{text_column}`, label `{label_column}`")
    versions = list_versions(parent_path(name), versions_folder())
    if any(v.number > 1 for v in versions):
        rows = [{"version": v.name, "changes": v.summary(), "from": v.parent or "",
                 "saved": (v.created or "")[:19].replace("T", " "), "rows": v.rows} for v in versions]
        if versions[0].number > 1 and versions[0].parent:  # the original was uploaded (or is a sample): not here
            rows.insert(0, {"version": versions[0].parent, "changes": "the original (as uploaded or bundled)",
                            "from": "", "saved": "", "rows": None})
        with st.expander(f"Versions of this data ({len(rows)})", icon=":material/history:"):
            st.caption(f"Saved in `{versions_folder()}`; the original file is never changed.")
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# -- suspected label errors ---------------------------------------------------------------------------------------
def _checking_models() -> list[str]:
    return [spec.name for spec in tlcore.list_models() if is_available(spec)]


def _find(frame: pd.DataFrame, name: str, text_column: str, label_column: str, model: str, key: str) -> None:
    data = tlcore.to_labeled(frame, text_column, label_column, name=name)
    rows = labeled_rows(frame, text_column, label_column)
    bar = st.progress(0.0, text="Reading the texts with the model…")

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "encoding":
            bar.progress(0.9 * done / max(total, 1), text=f"Reading the texts with the model: {done:,} of {total:,}")
        else:
            bar.progress(0.95, text="Scoring each row with a model that never saw its label…")

    report = find_label_issues(data, model, rows=rows, progress=progress)
    bar.empty()
    st.session_state[LABEL_ISSUES] = {"key": key, "report": report, "shown": SHOWN_STEP}
    st.session_state[LABEL_DECISIONS] = {}


def _decide(row: int, decision: str) -> None:
    decisions = st.session_state.setdefault(LABEL_DECISIONS, {})
    decisions[row] = None if decisions.get(row) == decision else decision  # a second click takes it back


def _show_more() -> None:
    st.session_state[LABEL_ISSUES]["shown"] += SHOWN_STEP


def _issue_row(issue: LabelIssue, decision: str | None, file_row: int) -> None:
    with st.container(border=True):
        text, labels, buttons = st.columns([6, 3, 2], vertical_alignment="center")
        text.text(issue.text)
        labels.markdown(f"Given **{issue.given}** → suggested **{issue.suggested}**  \n"
                        f":gray[row {file_row} of the file · confidence {issue.confidence:.0%}]")
        buttons.button("Accept", key=f"label_accept_{issue.row}", icon=":material/check:", width="stretch",
                       type="primary" if decision == "accept" else "secondary", on_click=_decide,
                       args=(issue.row, "accept"), help=f"Change the label to {issue.suggested!r} in the new version.")
        buttons.button("Reject", key=f"label_reject_{issue.row}", icon=":material/close:", width="stretch",
                       type="primary" if decision == "reject" else "secondary", on_click=_decide,
                       args=(issue.row, "reject"), help="Keep the given label.")


def _save_fixes(frame: pd.DataFrame, name: str, text_column: str, label_column: str,
                issues: list[LabelIssue], decisions: dict) -> None:
    accepted = [issue for issue in issues if decisions.get(issue.row) == "accept"]
    numbers = row_numbers(frame)
    changes = [Change(row=issue.row, text=issue.text, old_label=issue.given, new_label=issue.suggested,
                      kind="relabeled", reason=f"suspected label error, confidence {issue.confidence:.2f}",
                      file_row=int(numbers[issue.row]))
               for issue in accepted]
    try:
        version = save_and_use(frame, name, text_column, label_column, changes)
    except tlcore.TLCoreError as exc:
        st.session_state[LABEL_FLASH] = ("error", page_message(str(exc)))
        return
    st.session_state[LABEL_ISSUES] = None
    st.session_state[LABEL_DECISIONS] = {}
    st.session_state[LABEL_FLASH] = (
        "success", f"Saved **{version.name}** ({version.summary()}) in `{version.path.parent}`, with its change log "
                   f"`{version.log_path.name}`. It is now the current data (the Data and Train pages use it); "
                   f"**{name}** is unchanged.")


def issues_section(frame: pd.DataFrame, name: str, text_column: str, label_column: str) -> None:
    st.subheader("Suspected label errors")
    st.caption("Each labeled row is scored by a model that never saw its label (the model's sentence vectors and a "
               "logistic regression, 5-fold). Rows whose label the model confidently disagrees with are listed, "
               "the most suspicious first. Accept the fixes you agree with, then save them as a new version.")
    key = data_key(frame, name, text_column, label_column)
    models = _checking_models()
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    model = left.selectbox("Checking model", models, help="Whose sentence vectors judge the labels: minilm takes "
                                                          "seconds; a larger model may judge better and takes longer.",
                           **remember(LABEL_W_MODEL, models[0] if models else None, models))
    if right.button("Find suspected label errors", type="primary", icon=":material/search:", disabled=not models):
        try:
            _find(frame, name, text_column, label_column, model, key)
        except tlcore.TLCoreError as exc:
            st.error(page_message(str(exc)))
            return
    found = st.session_state.get(LABEL_ISSUES)
    if not found or found["key"] != key:
        return
    report = found["report"]
    lines = report.summary()
    st.markdown(f"**{lines[0]}**")
    for line in lines[1:]:
        st.caption(line)
    if not report.issues:
        st.success("No label looks wrong to the model.")
        return
    decisions = st.session_state.setdefault(LABEL_DECISIONS, {})
    numbers = row_numbers(frame)  # the rows as the file numbers them (header row 1), not positions
    for issue in report.issues[:found["shown"]]:
        _issue_row(issue, decisions.get(issue.row), numbers[issue.row])
    if len(report.issues) > found["shown"]:
        st.button(f"Show {min(SHOWN_STEP, len(report.issues) - found['shown'])} more "
                  f"({len(report.issues) - found['shown']} not shown)", on_click=_show_more, key="label_more")
    accepted = sum(d == "accept" for d in decisions.values())
    rejected = sum(d == "reject" for d in decisions.values())
    st.caption(f"{accepted} accepted, {rejected} rejected, {len(report.issues) - accepted - rejected} undecided. "
               "Undecided and rejected rows keep their label.")
    st.button(f"Save as new version ({accepted} fix{'es' if accepted != 1 else ''})", type="primary",
              icon=":material/save:", disabled=not accepted, key="label_save_fixes", on_click=_save_fixes,
              args=(frame, name, text_column, label_column, report.issues, dict(decisions)))


# -- label the next rows ------------------------------------------------------------------------------------------
def data_labels(frame: pd.DataFrame, text_column: str, label_column: str) -> set[str]:
    """The labels of the data's labeled rows, as ``to_labeled`` reads them (empty when it cannot)."""
    try:
        return set(tlcore.to_labeled(frame, text_column, label_column).labels)
    except tlcore.TLCoreError:
        return set()


def runs_for(runs: list, name: str, labels: set[str]) -> list:
    """The runs whose model can choose rows of this data: trained on this file or a version of it (same stem), on
    labels this data has (its suggestions are labeled with this data's classes; its re-run is scored on its test)."""
    family = split_version(name)[0]
    return [run for run in runs if split_version(run.data_name)[0] == family and set(run.labels) <= labels]


def _pool(frame: pd.DataFrame, name: str, text_column: str, label_column: str, run) -> dict | None:
    """{"texts", "rows" (table rows, or None for a file), "source"} of the chosen unlabeled pool, or None."""
    own = unlabeled_rows(frame, text_column, label_column)
    choices = [f"Rows of {name} without a label ({len(own):,})", "A file of unlabeled texts"]
    choice = st.radio("Unlabeled rows to choose from", choices, horizontal=True,
                      **remember(LABEL_W_POOL, choices[0] if own else choices[1], choices))
    if choice == choices[0]:
        if not own:
            st.info(f"Every row of {name} has a label. Add rows with an empty label to the file, or upload a file of "
                    "unlabeled texts.")
            return None
        return {"texts": frame[text_column].iloc[own].astype(str).str.strip().tolist(), "rows": own,
                "source": name}
    stored, _ = kept_upload("Unlabeled texts", "label_w_pool_upload", LABEL_POOL_UPLOAD,
                            help="A table with a text column (the run's text column name is tried first); rows with "
                                 "a filled label column are left out.")
    if stored is None:
        return None
    raw, file_name = stored
    with tempfile.TemporaryDirectory() as folder:  # read_pool reads a path, and names the file in its messages
        path = Path(folder) / Path(file_name).name
        path.write_bytes(raw)
        try:
            pool = read_pool(path, run=run.id)
        except tlcore.TLCoreError as exc:
            st.error(page_message(str(exc)))
            return None
    st.caption(f"{len(pool.texts):,} texts from **{file_name}** (column `{pool.text_column}`): labeled ones are "
               "added to the data as new rows.")
    return {"texts": pool.texts, "rows": None, "source": file_name}


def _answer(label: str | None) -> None:
    answers = st.session_state.setdefault(LABEL_ANSWERS, [])
    items = st.session_state[LABEL_SUGGESTIONS]["items"]
    if len(answers) < len(items):
        answers.append((len(answers), label))


def _undo() -> None:
    answers = st.session_state.get(LABEL_ANSWERS) or []
    if answers:
        answers.pop()


def _labeling(state: dict, frame: pd.DataFrame) -> None:
    """One suggested row at a time: a button (and a key) per class, skip, undo."""
    items, labels = state["items"], state["labels"]
    numbers = row_numbers(frame) if state["rows"] is not None else None
    answers = st.session_state.setdefault(LABEL_ANSWERS, [])
    position = len(answers)
    st.progress(position / len(items), text=f"{position} of {len(items)} answered "
                                             f"({sum(label is not None for _, label in answers)} labeled)")
    if position < len(items):
        item = items[position]
        with st.container(border=True):
            where = f" (row {numbers[state['rows'][item.index]]} of the file)" if numbers else ""
            st.caption(f"Row {position + 1} of {len(items)}{where} · the model says **{item.predicted}** "
                       f"({item.confidence:.0%}): {item.reason}")
            st.text(item.text)
            keys = st.columns(min(len(labels), MAX_KEYS) + 2)
            for k, label in enumerate(labels):
                shortcut = str(k + 1) if k < MAX_KEYS else None
                keys[min(k, MAX_KEYS - 1)].button(  # Streamlit shows the key on the button
                    label, key=f"label_class_{k}", on_click=_answer,
                    args=(label,), shortcut=shortcut, width="stretch",
                    help=f"Label this row {label!r}" + (f" (key {shortcut})" if shortcut else ""))
            keys[-2].button("Skip", key="label_skip", icon=":material/skip_next:", on_click=_answer, args=(None,),
                            shortcut="S", width="stretch", help="Leave this row unlabeled (key S).")
            keys[-1].button("Undo", key="label_undo", icon=":material/undo:", on_click=_undo, shortcut="U",
                            disabled=not answers, width="stretch", help="Take back the last answer (key U).")
    else:
        st.success(f"All {len(items)} suggested rows answered.")
        if answers:
            st.button("Undo the last answer", key="label_undo_last", icon=":material/undo:", on_click=_undo)
    if answers:
        st.dataframe(pd.DataFrame([{"text": items[i].text, "your label": label or "(skipped)",
                                    "model said": items[i].predicted} for i, label in answers]),
                     hide_index=True, width="stretch", height=min(38 + 35 * len(answers), 300))


def _save_labels(frame: pd.DataFrame, name: str, text_column: str, label_column: str, state: dict) -> None:
    answers = [(i, label) for i, label in st.session_state.get(LABEL_ANSWERS) or [] if label is not None]
    numbers = row_numbers(frame)
    changes = []
    for n, (i, label) in enumerate(answers):
        item = state["items"][i]
        if state["rows"] is not None:  # a row of the data file whose label was empty
            row = state["rows"][item.index]
            changes.append(Change(row=row, text=item.text, old_label=None, new_label=label, kind="labeled",
                                  reason="labeled by the analyst", file_row=int(numbers[row])))
        else:
            changes.append(Change(row=len(frame) + n, text=item.text, new_label=label, kind="added",
                                  reason=f"labeled by the analyst (from {state['source']})"))
    try:
        version = save_and_use(frame, name, text_column, label_column, changes)
    except tlcore.TLCoreError as exc:
        st.session_state[LABEL_FLASH] = ("error", page_message(str(exc)))
        return
    st.session_state[LABEL_SUGGESTIONS] = {**state, "key": None, "saved": version.name}
    st.session_state[LABEL_ANSWERS] = []
    st.session_state[LABEL_FLASH] = (
        "success", f"Saved **{version.name}** ({version.summary()}) in `{version.path.parent}`. It is now the current "
                   f"data; **{name}** is unchanged. Re-run the method below to see what the new labels bought.")


def _rerun(run_id: str, frame: pd.DataFrame, name: str, text_column: str, label_column: str) -> None:
    version = current_version()
    try:
        data = tlcore.to_labeled(frame, text_column, label_column, name=name)
        run = rerun_on(run_id, data, name, version["path"] if version else None)
    except tlcore.TLCoreError as exc:
        st.session_state[LABEL_FLASH] = ("error", page_message(str(exc)))
        return
    st.session_state[LABEL_RERUN] = {"run_id": run.id, "reference": run_id, "version": name}


def rerun_status() -> None:
    """The last re-run: where it stands (read again every POLL_SECONDS while it is queued or running) and links."""
    rerun = st.session_state.get(LABEL_RERUN)
    if not rerun:
        return
    try:
        live = tlcore.RunStore().get(rerun["run_id"]).status().get("status") in tlcore.LIVE_STATES
    except tlcore.TLCoreError:
        return
    st.fragment(_rerun_box, run_every=POLL_SECONDS if live else None)(rerun)


def _rerun_box(rerun: dict) -> None:
    try:
        status = tlcore.RunStore().get(rerun["run_id"]).status().get("status", "")
    except tlcore.TLCoreError:
        return
    compare = "Compare puts the two side by side" if status == "succeeded" else \
        "Once it has finished, Compare puts the two side by side"
    st.info(f"Run `{rerun['run_id']}` trains on **{rerun['version']}** and is scored on the same test rows as "
            f"`{rerun['reference']}` ({status}). {compare}; its Learning curve tab shows accuracy against the labels "
            "spent.", icon=":material/replay:")
    links = st.columns(2)
    links[0].page_link(COMPARE_PAGE, label="Compare the runs", icon=":material/leaderboard:")
    links[1].page_link(RUNS_PAGE, label="Watch it on the Runs page", icon=":material/history:")


def next_rows_section(frame: pd.DataFrame, name: str, text_column: str, label_column: str) -> None:
    st.subheader("Label the next rows")
    st.caption("A finished run's model picks the unlabeled rows it is least sure about (the smallest gap between its "
               "two likeliest labels). Label them here, one key per class; they are saved as a new version of the "
               "data, and re-running the method shows what they bought.")
    every = usable_runs(tlcore.RunStore())
    if not every:
        st.info("No finished run yet: train one on the Train page first; its model chooses the rows.")
        return
    runs = runs_for(every, name, data_labels(frame, text_column, label_column))
    if not runs:
        st.info(f"No finished run was trained on **{name}** or a version of it with its labels "
                f"({len(every)} finished run{'s' if len(every) != 1 else ''} on other data). A run's model knows "
                "only its own data's labels, and its re-run is scored on its own test rows: train one on this data "
                "on the Train page first.")
        return
    by_id = {run.id: run for run in runs}
    ids = list(by_id)
    default = ids[0]
    left, right = st.columns([3, 1])
    run_id = left.selectbox(
        "Run whose model chooses", ids, help="A finished run; its method is re-run on the new version.",
        format_func=lambda i: run_label(by_id[i].method, by_id[i].model, i) + f" · {by_id[i].data_name}"
        + (f" · {by_id[i].accuracy:.0%}" if by_id[i].accuracy is not None else ""),
        **remember(LABEL_W_RUN, default, ids))
    n = right.number_input("Rows to suggest", min_value=1, max_value=200, step=1, **remember(LABEL_W_N, 20))
    run = by_id[run_id]
    pool = _pool(frame, name, text_column, label_column, run)
    key = f"{data_key(frame, name, text_column, label_column)}::{run_id}::{pool['source'] if pool else ''}::{n}"
    if st.button(f"Suggest {n} rows to label", icon=":material/lightbulb:", disabled=pool is None,
                 key="label_suggest"):
        with st.spinner("The run's model reads the pool…"):
            try:
                labeled = frame[text_column].iloc[labeled_rows(frame, text_column, label_column)]
                report = suggest_report(run_id, pool["texts"], n=int(n),  # rows labeled since the run, too
                                        exclude=labeled.astype(str).str.strip().tolist())
            except tlcore.TLCoreError as exc:
                st.error(page_message(str(exc)))
                return
        if not report.suggestions:
            st.info("Nothing to suggest: every text of the pool is empty, repeated or already labeled.")
            return
        st.session_state[LABEL_SUGGESTIONS] = {"key": key, "run_id": run_id, "labels": report.labels,
                                               "items": report.suggestions, "rows": pool["rows"],
                                               "source": pool["source"]}
        st.session_state[LABEL_ANSWERS] = []
    state = st.session_state.get(LABEL_SUGGESTIONS)
    if state and state.get("key") == key:
        _labeling(state, frame)
        labeled = sum(label is not None for _, label in st.session_state.get(LABEL_ANSWERS) or [])
        st.button(f"Save {labeled} labeled row{'s' if labeled != 1 else ''} as a new version", type="primary",
                  icon=":material/save:", disabled=not labeled, key="label_save_rows", on_click=_save_labels,
                  args=(frame, name, text_column, label_column, state))
    if current_version():
        reference = by_id[run_id]
        st.button(f"Re-run {reference.method} on {name}", icon=":material/replay:", key="label_rerun_button",
                  on_click=_rerun, args=(run_id, frame, name, text_column, label_column),
                  help=f"Trains {reference.method} on {reference.model} again, with the same options and split "
                       f"settings, on {name}, and scores it on the test rows of the chosen run.")
    rerun_status()


def no_data() -> None:
    st.info("Choose the data first: a sample or your own file on the Data page.")
    st.page_link(DATA_PAGE, label="Go to Data", icon=":material/table:")
