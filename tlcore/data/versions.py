"""Versions of a data file: fixed labels and newly labeled rows are saved as a NEW file, never over the old one.

tickets.csv            the original (version 1), never written by tlcore
tickets.v2.csv         the data after the first set of changes (always CSV, UTF-8, whatever the original was)
tickets.v2.changes.json  what changed from its parent: per change the row (and the file's own row number), the old
                       label (null when the row had none or was added), the new label, the kind (relabeled /
                       labeled / added), the reason ("suspected label error, confidence 0.93", "labeled by the
                       analyst") and when; and, under "based_on", how the table the changes were made on differed
                       from the parent file (labels merged on the Data page, rows the reader skipped, texts cut)

``save_version`` picks the next free number beside the file it is given (or in ``folder``), writes the change log
first (a version is never on disk without its log) and creates each file with a hard link from a finished temporary
file (or ``open(path, "x")`` where the file system has no hard links), so an existing version is never replaced, not
even by two saves at the same moment. ``list_versions`` lists a file's versions with their change logs.
"""
from __future__ import annotations

import errno
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..errors import DatasetError
from .reading import row_numbers

CHANGE_KINDS = ("relabeled", "labeled", "added")  # a wrong label fixed; an empty label filled; a new row appended
_VERSIONED = re.compile(r"^(?P<stem>.+)\.v(?P<number>\d+)$")
LOG_SUFFIX = ".changes.json"


@dataclass
class Change:
    """One change to a data file. ``row`` is the row's position in the parent table (0-based, header not counted);
    for an added row, its position in the new table. ``file_row``: the row as the parent file numbers it (a
    spreadsheet row, a JSONL line), for people; None for an added row."""

    row: int
    text: str
    new_label: str
    old_label: str | None = None  # None: the row had no label, or was added
    kind: str = "relabeled"
    reason: str = ""
    when: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    file_row: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in CHANGE_KINDS:
            raise DatasetError(f"a change is one of {', '.join(CHANGE_KINDS)}, not {self.kind!r}.")
        if not str(self.new_label).strip():
            raise DatasetError(f"the new label of row {self.row} is empty; give the class the row belongs to.")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DataVersion:
    """A file and, for a saved version, where it came from and what changed."""

    path: Path
    number: int  # 1 for the original
    parent: str | None = None  # the file name it was made from
    changes: list[Change] = field(default_factory=list)
    created: str | None = None
    rows: int | None = None
    based_on: dict = field(default_factory=dict)  # how the table changed differed from the parent file (prepared)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def log_path(self) -> Path:
        return change_log_path(self.path)

    def summary(self) -> str:
        """"3 labels fixed, 5 rows labeled" (or "the original")."""
        if self.number == 1 and not self.changes:
            return "the original"
        counts = {kind: sum(c.kind == kind for c in self.changes) for kind in CHANGE_KINDS}
        parts = [f"{counts['relabeled']} label{'s' if counts['relabeled'] != 1 else ''} fixed"] * bool(
            counts["relabeled"])
        parts += [f"{counts['labeled']} row{'s' if counts['labeled'] != 1 else ''} labeled"] * bool(counts["labeled"])
        parts += [f"{counts['added']} row{'s' if counts['added'] != 1 else ''} added"] * bool(counts["added"])
        text = ", ".join(parts) or "no changes"
        prepared = _describe_prepared(self.based_on)
        return f"{text} (on the data as prepared: {prepared})" if prepared else text

    def to_dict(self) -> dict:
        return {"path": str(self.path), "name": self.name, "number": self.number, "parent": self.parent,
                "created": self.created, "rows": self.rows, "summary": self.summary(),
                "changes": [c.to_dict() for c in self.changes], "based_on": self.based_on}


def _describe_prepared(based_on: dict) -> str:
    """"2 labels merged on the Data page, 3 rows skipped by the reader" ("" when the table was the file as is)."""
    merged = len(based_on.get("merged_labels") or [])
    skipped = int(based_on.get("skipped_rows") or 0)
    cut = int(based_on.get("truncated_texts") or 0)
    parts = [f"{merged} label{'s' if merged != 1 else ''} merged on the Data page"] * bool(merged)
    parts += [f"{skipped} row{'s' if skipped != 1 else ''} skipped by the reader"] * bool(skipped)
    parts += [f"{cut} long text{'s' if cut != 1 else ''} cut"] * bool(cut)
    return ", ".join(parts)


def prepared_from_file(frame: pd.DataFrame, label_column: str) -> dict:
    """How ``frame`` differs from the file it was read from, as its ``attrs`` record it (``read_table``: rows skipped,
    long texts cut; ``merge_labels``: labels renamed): the "based_on" section of a version's change log, so that the
    log explains every difference between a version and its parent file. Empty when the table is the file as is."""
    attrs = frame.attrs or {}
    numbers = row_numbers(frame)
    merged = [{**m, "file_row": int(numbers[m["row"]]) if 0 <= m["row"] < len(numbers) else None,
               "reason": "label merged on the Data page"}
              for m in attrs.get("merged_labels") or [] if m.get("column", label_column) == label_column]
    skipped = [[int(a), int(b)] for a, b in attrs.get("skipped_rows") or []]
    out: dict = {}
    if merged:
        out["merged_labels"] = merged
    if skipped:
        out["skipped_rows"] = sum(b - a + 1 for a, b in skipped)
        out["skipped_file_rows"] = skipped  # runs [first, last] of the file's row numbers, not in the version
    if attrs.get("truncated_texts"):
        out["truncated_texts"] = int(attrs["truncated_texts"])
    if out:
        out["note"] = ("the changes were made on the data as the app prepared it, not on the file as is: "
                       + _describe_prepared(out) + "; the version holds those too.")
    return out


def split_version(name: str) -> tuple[str, int]:
    """("tickets", 2) for "tickets.v2.csv"; ("tickets", 1) for the original "tickets.xlsx"."""
    stem = Path(name).stem if Path(name).suffix else Path(name).name
    found = _VERSIONED.match(stem)
    return (found["stem"], int(found["number"])) if found else (stem, 1)


def version_name(name: str, number: int) -> str:
    """The file name of version ``number`` of ``name`` (any version of it): "tickets.v3.csv"."""
    stem, _ = split_version(name)
    return f"{stem}.v{number}.csv"


def change_log_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + LOG_SUFFIX)


def labeled_rows(frame: pd.DataFrame, text_column: str, label_column: str) -> list[int]:
    """Positions of the rows that have a text and a label (the rows ``to_labeled`` keeps, in order)."""
    texts, labels = frame[text_column], frame[label_column]
    return [i for i, (text, label) in enumerate(zip(texts, labels))
            if _filled(text) and _filled(label)]


def unlabeled_rows(frame: pd.DataFrame, text_column: str, label_column: str) -> list[int]:
    """Positions of the rows with a text but an empty label: the unlabeled pool inside a data file."""
    return [i for i, (text, label) in enumerate(zip(frame[text_column], frame[label_column]))
            if _filled(text) and not _filled(label)]


def _filled(value) -> bool:
    """A cell with something in it (the same rule as ``to_labeled``: missing and blank cells are empty)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    return str(value).strip() != ""


def apply_changes(frame: pd.DataFrame, text_column: str, label_column: str,
                  changes: Sequence[Change]) -> pd.DataFrame:
    """A copy of ``frame`` with the changes made: labels set on existing rows, added rows appended (their other
    columns empty). Refuses a change that names a row the table does not have, or a row changed twice."""
    for column in (text_column, label_column):
        if column not in frame.columns:
            raise DatasetError(f"the table has no column {column!r}; its columns are: "
                               f"{', '.join(map(str, frame.columns))}.")
    out = frame.copy()
    out[label_column] = out[label_column].astype(object)  # a numeric label column takes the new labels as text
    seen: set[int] = set()
    added = []
    for change in changes:
        if change.kind == "added":
            added.append({text_column: change.text, label_column: change.new_label})
            continue
        if not 0 <= change.row < len(frame):
            raise DatasetError(f"row {change.row} is not in the table (it has rows 0 to {len(frame) - 1}); the data "
                               "may have changed since the row was chosen: choose it again.")
        if change.row in seen:
            raise DatasetError(f"row {change.row} is changed twice; keep one change per row.")
        seen.add(change.row)
        out.iloc[change.row, out.columns.get_loc(label_column)] = str(change.new_label)
    if added:
        out = pd.concat([out, pd.DataFrame(added)], ignore_index=True)
    out.attrs = {}  # row numbers of the original file's reading do not apply to the new one
    return out


def _number_in(folder: Path, stem: str) -> int:
    """The highest version number of ``stem`` in ``folder`` (1 when only the original, or nothing, is there)."""
    numbers = [1]
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.endswith(LOG_SUFFIX):
                continue
            found_stem, number = split_version(path.name)
            if found_stem == stem and number > 1:
                numbers.append(number)
    return max(numbers)


def _create_new(path: Path, write) -> bool:
    """Write a file that does not exist yet: ``write(tmp)`` then a hard link, which fails when the name is taken
    (an existing file is never replaced). Where the file system has no hard links (FAT, some network shares), the
    finished bytes are copied into ``open(path, "xb")``, which also refuses a taken name. False when it was taken."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    write(tmp)
    try:
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise
        try:  # no hard links here: exclusive creation, then the bytes (a crash may leave it short; rare)
            with open(path, "xb") as out:
                out.write(tmp.read_bytes())
            return True
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)


def _write_error(path: Path, exc: OSError) -> DatasetError:
    fix = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check that you can write there"
    return DatasetError(f"cannot write {str(path)!r} ({exc}); {fix}, or choose another folder.")


def save_version(frame: pd.DataFrame, parent: str | Path, changes: Sequence[Change],
                 folder: str | Path | None = None, based_on: dict | None = None) -> DataVersion:
    """Save ``frame`` (the parent with ``changes`` made, see ``apply_changes``) as the next version of ``parent``,
    beside it or in ``folder``, with its change log. Nothing existing is overwritten. ``based_on``: how the table the
    changes were made on differed from the parent file (``prepared_from_file``), recorded in the log."""
    if not changes:
        raise DatasetError("there are no changes to save: accept a suggested fix or label a row first.")
    parent = Path(parent)
    folder = Path(folder) if folder is not None else parent.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create the folder {str(folder)!r} for the new version ({exc}); choose a "
                           "folder you can write to.") from None
    stem, parent_number = split_version(parent.name)
    number = max(_number_in(folder, stem), _number_in(parent.parent, stem), parent_number) + 1
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    log = {"version": None, "parent": parent.name, "created": created, "rows": len(frame),
           "changes": [c.to_dict() for c in changes]}
    if based_on:
        log["based_on"] = based_on
    for _ in range(1000):  # another save may take a number at the same moment: take the next one
        path = folder / version_name(parent.name, number)
        log_path = change_log_path(path)
        log["version"] = path.name
        text = json.dumps(log, indent=2, ensure_ascii=False)
        try:
            # The log first, so a version is never on disk without it; the number is ours once both exist. A log
            # whose file is missing (a crash, a deleted file) keeps its number: the next one is taken.
            if _create_new(log_path, lambda tmp: tmp.write_text(text, encoding="utf-8")):
                try:
                    if _create_new(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8")):
                        break
                except OSError:
                    log_path.unlink(missing_ok=True)
                    raise
                log_path.unlink(missing_ok=True)  # another save made this file a moment ago (without our log)
        except OSError as exc:
            raise _write_error(path, exc) from None
        number += 1
    else:  # pragma: no cover - a thousand versions taken in a row
        raise DatasetError(f"no free version number for {parent.name!r} in {str(folder)!r}.")
    return DataVersion(path=path, number=number, parent=parent.name, changes=list(changes), created=created,
                       rows=len(frame), based_on=dict(based_on or {}))


def read_version(path: str | Path) -> DataVersion:
    """A file as a version: its number and, when it has a change log, where it came from and what changed."""
    path = Path(path)
    _, number = split_version(path.name)
    log_path = change_log_path(path)
    if not log_path.exists():
        return DataVersion(path=path, number=number)
    try:
        log = json.loads(log_path.read_text(encoding="utf-8"))
        changes = [Change(**{k: v for k, v in c.items() if k in Change.__dataclass_fields__})
                   for c in log.get("changes", [])]
    except (OSError, ValueError, TypeError) as exc:
        raise DatasetError(f"the change log {str(log_path)!r} cannot be read ({exc}); it was edited or damaged. "
                           "The data file itself is fine.") from None
    return DataVersion(path=path, number=number, parent=log.get("parent"), changes=changes,
                       created=log.get("created"), rows=log.get("rows"), based_on=dict(log.get("based_on") or {}))


def changes_since(path: str | Path, ancestor: str) -> list[Change] | None:
    """Every change made from the file named ``ancestor`` to the version at ``path``, oldest first, following the
    change logs' parents (versions of one file share a folder); [] when ``path`` is ``ancestor``; None when
    ``ancestor`` is not an earlier version of ``path`` (a run trained on other data, or on a later version)."""
    path = Path(path)
    found: list[list[Change]] = []
    for _ in range(10_000):  # a chain of parents; a loop in edited logs must not hang
        if path.name == ancestor:
            return [change for changes in reversed(found) for change in changes]
        version = read_version(path) if path.is_file() else None
        if version is None or not version.parent:
            return None
        found.append(version.changes)
        path = path.with_name(version.parent)
    return None


def list_versions(path: str | Path, folder: str | Path | None = None) -> list[DataVersion]:
    """Every version of the file ``path`` names, oldest first: the original when it is there, then each saved
    version beside it (or in ``folder``)."""
    path = Path(path)
    stem, _ = split_version(path.name)
    places = {path.parent} | ({Path(folder)} if folder is not None else set())
    found: dict[str, Path] = {}
    for place in places:
        if not place.is_dir():
            continue
        for candidate in place.iterdir():
            if candidate.name.startswith(".") or candidate.name.endswith(LOG_SUFFIX) or not candidate.is_file():
                continue
            other_stem, number = split_version(candidate.name)
            if other_stem == stem and (number > 1 or candidate.name == path.name
                                       or (number == 1 and candidate.stem == stem)):
                found.setdefault(candidate.name, candidate)
    versions = [read_version(p) for p in found.values()]
    return sorted(versions, key=lambda v: (v.number, v.name))
