"""Versions of a data file (tlcore.data.versions): fixes and new labels go to a new file with a change log; nothing
existing is ever overwritten, and a file's versions can be listed."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import tlcore
from tlcore.data import (
    Change,
    apply_changes,
    changes_since,
    labeled_rows,
    list_versions,
    prepared_from_file,
    read_version,
    save_version,
    split_version,
    unlabeled_rows,
)
from tlcore.data.versions import change_log_path


@pytest.fixture
def tickets(tmp_path):
    frame = pd.DataFrame({"id": [1, 2, 3, 4, 5], "text": ["refund please", "app crashes", "  ", "where is my order",
                                                          "charged twice"],
                          "label": ["billing", "bug", "bug", None, "bug"]})
    path = tmp_path / "tickets.xlsx"
    frame.to_excel(path, index=False)
    return path, tlcore.read_table(path)


def test_names_of_versions():
    assert split_version("tickets.csv") == ("tickets", 1)
    assert split_version("tickets.v12.csv") == ("tickets", 12)
    assert split_version("my.data.v2.csv") == ("my.data", 2)
    assert split_version("v2") == ("v2", 1)


def test_labeled_and_unlabeled_rows_follow_to_labeled(tickets):
    _, frame = tickets
    assert labeled_rows(frame, "text", "label") == [0, 1, 4]  # row 2 has a blank text, row 3 no label
    assert unlabeled_rows(frame, "text", "label") == [3]
    assert len(tlcore.to_labeled(frame, "text", "label")) == 3


def test_a_version_is_a_new_file_with_its_log_and_the_original_is_untouched(tickets):
    path, frame = tickets
    before = path.read_bytes()
    changes = [Change(row=4, text="charged twice", old_label="bug", new_label="billing",
                      reason="suspected label error, confidence 0.93"),
               Change(row=3, text="where is my order", new_label="shipping", kind="labeled",
                      reason="labeled by the analyst"),
               Change(row=5, text="cancel my plan", new_label="billing", kind="added", reason="labeled by the analyst")]
    version = save_version(apply_changes(frame, "text", "label", changes), path, changes)
    assert version.path == path.parent / "tickets.v2.csv" and version.number == 2 and path.read_bytes() == before
    data = tlcore.to_labeled(tlcore.read_table(version.path), "text", "label")
    assert data.texts[-3:] == ["where is my order", "charged twice", "cancel my plan"]
    assert data.labels == ["billing", "bug", "shipping", "billing", "billing"]
    log = json.loads((path.parent / "tickets.v2.changes.json").read_text())
    assert log["parent"] == "tickets.xlsx" and log["version"] == "tickets.v2.csv" and log["rows"] == 6
    assert [(c["row"], c["old_label"], c["new_label"], c["kind"]) for c in log["changes"]] == [
        (4, "bug", "billing", "relabeled"), (3, None, "shipping", "labeled"), (5, None, "billing", "added")]
    assert log["changes"][0]["reason"] == "suspected label error, confidence 0.93" and log["changes"][0]["when"]
    assert version.summary() == "1 label fixed, 1 row labeled, 1 row added"


def test_saving_never_overwrites_and_lists_every_version(tickets, tmp_path):
    path, frame = tickets
    squatter = tmp_path / "tickets.v3.csv"
    squatter.write_text("text,label\nmine,mine\n")  # a file someone put there by hand
    fix = [Change(row=0, text="refund please", old_label="billing", new_label="refund")]
    second = save_version(apply_changes(frame, "text", "label", fix), path, fix)
    third = save_version(apply_changes(frame, "text", "label", fix), second.path, fix)
    assert (second.number, third.number) == (4, 5)  # v3 is taken: skipped, not replaced
    assert squatter.read_text() == "text,label\nmine,mine\n"
    assert read_version(third.path).parent == "tickets.v4.csv"
    listed = list_versions(third.path)
    assert [v.name for v in listed] == ["tickets.xlsx", "tickets.v3.csv", "tickets.v4.csv", "tickets.v5.csv"]
    assert [v.summary() for v in listed] == ["the original", "no changes", "1 label fixed", "1 label fixed"]
    elsewhere = save_version(frame, path, fix, folder=tmp_path / "versions")
    assert elsewhere.path == tmp_path / "versions" / "tickets.v6.csv"  # numbers continue across both places


def test_bad_changes_are_refused(tickets):
    _, frame = tickets
    with pytest.raises(tlcore.DatasetError, match="row 9 is not in the table"):
        apply_changes(frame, "text", "label", [Change(row=9, text="x", new_label="bug")])
    with pytest.raises(tlcore.DatasetError, match="changed twice"):
        apply_changes(frame, "text", "label", [Change(row=0, text="x", new_label="a"),
                                              Change(row=0, text="x", new_label="b")])
    with pytest.raises(tlcore.DatasetError, match="new label of row 0 is empty"):
        Change(row=0, text="x", new_label=" ")
    with pytest.raises(tlcore.DatasetError, match="no changes to save"):
        save_version(frame, "tickets.csv", [])


def test_the_log_records_how_the_data_was_prepared(tmp_path):
    """A version built from the table the Data page prepared (a row the reader skipped, a label merged) says so in
    its log, so the log explains every difference from the original file."""
    path = tmp_path / "tickets.csv"
    path.write_text("text,label\nrefund please,billing\napp crashes,bug,extra\nwhere is my order,Billing\n"
                    "charged twice,bug\nlogin fails,bug\nlost card,billing\n"
                    + "".join(f"question {i},other\n" for i in range(20)))
    with pytest.warns(tlcore.data.DataWarning):
        frame = tlcore.read_table(path)
    merged = tlcore.data.merge_labels(frame, "label", {"Billing": "billing"})
    assert tlcore.data.row_numbers(merged)[:5] == [2, 4, 5, 6, 7]  # file row 3 was skipped
    fix = [Change(row=2, text="charged twice", old_label="bug", new_label="billing", file_row=5)]
    version = save_version(apply_changes(merged, "text", "label", fix), path, fix,
                           based_on=prepared_from_file(merged, "label"))
    log = json.loads(version.log_path.read_text())
    assert log["changes"][0]["file_row"] == 5
    assert log["based_on"]["merged_labels"] == [{"row": 1, "column": "label", "old_label": "Billing",
                                                 "new_label": "billing", "file_row": 4,
                                                 "reason": "label merged on the Data page"}]
    assert log["based_on"]["skipped_rows"] == 1 and log["based_on"]["skipped_file_rows"] == [[3, 3]]
    assert read_version(version.path).summary() == (
        "1 label fixed (on the data as prepared: 1 label merged on the Data page, 1 row skipped by the reader)")
    assert prepared_from_file(pd.DataFrame({"text": ["a"], "label": ["b"]}), "label") == {}


def test_the_log_is_written_before_the_data_file(tickets, monkeypatch):
    path, frame = tickets
    fix = [Change(row=0, text="refund please", old_label="billing", new_label="refund")]
    link, seen = os.link, []

    def watching_link(source, target):
        seen.append((Path(target).name, change_log_path(target).exists()))
        return link(source, target)

    monkeypatch.setattr(os, "link", watching_link)
    save_version(apply_changes(frame, "text", "label", fix), path, fix)
    assert seen[-1] == ("tickets.v2.csv", True)  # when the data file appears, its log is already there


def test_without_hard_links_a_version_is_still_written_and_never_overwrites(tickets, tmp_path, monkeypatch):
    path, frame = tickets

    def no_links(source, target):
        raise PermissionError(errno.EPERM, "Operation not permitted")  # what FAT and some shares answer

    monkeypatch.setattr(os, "link", no_links)
    squatter = tmp_path / "tickets.v2.csv"
    squatter.write_text("text,label\nmine,mine\n")
    fix = [Change(row=0, text="refund please", old_label="billing", new_label="refund")]
    version = save_version(apply_changes(frame, "text", "label", fix), path, fix)
    assert version.name == "tickets.v3.csv" and squatter.read_text() == "text,label\nmine,mine\n"
    assert pd.read_csv(version.path)["label"].iloc[0] == "refund" and read_version(version.path).changes == fix
    assert not list(tmp_path.glob(".*.tmp"))


def test_changes_since_an_earlier_version(tickets, tmp_path):
    path, frame = tickets
    first = [Change(row=3, text="where is my order", new_label="shipping", kind="labeled")]
    v2 = save_version(apply_changes(frame, "text", "label", first), path, first, folder=tmp_path / "v")
    second = [Change(row=5, text="cancel my plan", new_label="billing", kind="added")]
    v3 = save_version(apply_changes(tlcore.read_table(v2.path), "text", "label", second), v2.path, second)
    assert changes_since(v3.path, "tickets.xlsx") == first + second
    assert changes_since(v3.path, "tickets.v2.csv") == second
    assert changes_since(v3.path, "tickets.v3.csv") == []
    assert changes_since(v2.path, "tickets.v3.csv") is None and changes_since(v3.path, "other.csv") is None
