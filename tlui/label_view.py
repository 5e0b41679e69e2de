"""The Label page's helpers: where versions are written, saving one and making it the current data, re-running.

Where versions live: the app holds an uploaded file only in memory (and a sample inside the package), so there is
no "beside the original" on disk. Versions go to ``<runs folder>/.data/`` (``versions_folder``): one place per app
that outlives the session, next to the runs that train on them; the dot keeps the run list from taking it for a
run folder (as ``.slots``). The page shows each saved file's full path.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path

import pandas as pd
import streamlit as st

import tlcore
from tlcore.data import (
    Change,
    DataVersion,
    LabeledData,
    apply_changes,
    changes_since,
    prepared_from_file,
    save_version,
)

from .state import (
    DATA_FRAME,
    DATA_LABEL_COLUMN,
    DATA_NAME,
    DATA_SOURCES,
    DATA_TEST,
    DATA_TEXT_COLUMN,
    DATA_UPLOAD,
    DATA_W_SOURCE,
    LABEL_VERSION,
    set_widget,
)

VERSIONS_FOLDER = ".data"


def versions_folder() -> Path:
    return Path(tlcore.RunStore().root) / VERSIONS_FOLDER


def current_version() -> dict | None:
    """{"name", "path"} when the current data is a version saved here (else None: a sample or an upload)."""
    version = st.session_state.get(LABEL_VERSION)
    if version and version.get("name") == st.session_state.get(DATA_NAME) and Path(version["path"]).is_file():
        return version
    return None


def parent_path(name: str) -> Path:
    """The file a new version descends from: the saved version that is the current data, else the data's name in
    the versions folder (the original is not on disk: it was uploaded, or is a bundled sample)."""
    version = current_version()
    return Path(version["path"]) if version else versions_folder() / name


def save_and_use(frame: pd.DataFrame, name: str, text_column: str, label_column: str,
                 changes: list[Change]) -> DataVersion:
    """Make the changes on a copy, save it as the next version with its change log, and make it the current data
    (as if it had been uploaded on the Data page, so that page and the Train page see it too)."""
    new = apply_changes(frame, text_column, label_column, changes)
    version = save_version(new, parent_path(name), changes, folder=versions_folder(),
                           based_on=prepared_from_file(frame, label_column))
    raw = version.path.read_bytes()
    st.session_state[DATA_UPLOAD] = (raw, version.name)
    set_widget(DATA_W_SOURCE, DATA_SOURCES[1])
    set_widget(f"data_w_text::{version.name}", text_column)
    set_widget(f"data_w_label::{version.name}", label_column)
    test = st.session_state.get(DATA_TEST)
    if test and test.get("data_name") == name:  # the own test file goes on with the new version
        st.session_state[DATA_TEST] = {**test, "data_name": version.name}
    st.session_state[DATA_FRAME] = tlcore.read_table(raw, name=version.name)
    st.session_state[DATA_NAME] = version.name
    st.session_state[DATA_TEXT_COLUMN] = text_column
    st.session_state[DATA_LABEL_COLUMN] = label_column
    st.session_state[LABEL_VERSION] = {"name": version.name, "path": str(version.path)}
    return version


def rerun_training_rows(reference: tlcore.Run, data: LabeledData, version_path: str | None) -> LabeledData:
    """What the re-run trains on: the reference run's own training rows, with their labels in ``data`` now (accepted
    fixes applied), plus every row labeled or added in the versions since the reference's data; never a row whose
    text is one of the reference's test or validation rows. Not a new draw: a per-class sample would draw N per
    class again from the new data and leave most new labels out."""
    config, split = reference.config(), reference.split()
    data_name = str(config.get("data_name", ""))
    changes = changes_since(version_path, data_name) if version_path else None
    if changes is None:
        raise tlcore.DatasetError(f"run {reference.id} was trained on {data_name!r}, which is not an earlier version "
                                  "of the current data; choose a run trained on this data or one of its earlier "
                                  "versions.")
    held = set(split.test.texts) | set(split.val.texts)
    positions: dict[str, deque[int]] = {}
    for i, text in enumerate(data.texts):
        positions.setdefault(text, deque()).append(i)
    texts, labels, taken = [], [], set()
    for text, label in zip(split.train.texts, split.train.labels):
        queue = positions.get(text)
        if queue:  # the row is still in the data: its label now
            i = queue.popleft()
            taken.add(i)
            label = data.labels[i]
        texts.append(text)  # a row no longer found keeps the label the reference trained on
        labels.append(label)
    new = {str(c.text).strip() for c in changes if c.kind in ("labeled", "added")}
    for i, text in enumerate(data.texts):
        if i not in taken and text in new and text not in held:
            texts.append(text)
            labels.append(data.labels[i])
    return LabeledData(texts, labels)


def rerun_on(reference_id: str, data: LabeledData, name: str, version_path: str | None) -> tlcore.Run:
    """Start ``reference``'s method again, same model and options, on its own training rows plus the rows labeled
    since (``rerun_training_rows``, every one of them: no per-class draw), scored on the very test rows the
    reference was scored on (so Compare puts the two side by side) and stopped early on its validation rows, if it
    had any (kept out of training). A test or validation row keeps the label the reference had for it."""
    store = tlcore.RunStore()
    reference = store.get(reference_id)
    config = reference.config()
    split = reference.split()
    train = rerun_training_rows(reference, data, version_path)
    settings = tlcore.RunConfig.from_dict(config)
    settings.data_name, settings.data_version = name, version_path
    settings.test_name = config.get("test_name") or f"the test rows of run {reference.id}"
    settings.group = settings.search = settings.sweep = None
    settings.per_class = None
    val = split.val if len(split.val) else None
    if val is not None:
        settings.val_name = config.get("val_name") or f"the validation rows of run {reference.id}"
    else:
        settings.val_size = 0.0  # the reference had none: neither does the re-run (no training row taken)
    run = tlcore.create_run(settings, train, test=split.test, store=store,
                            sample_seed=int(config.get("split", {}).get("sample_seed", 0)), val=val)
    try:
        tlcore.start_worker(run)
    except tlcore.TLCoreError:  # e.g. TLCORE_EXECUTOR=ray and no cluster: the run's status says why
        pass
    return run
