"""Versions of a data file: fixed labels and newly labeled rows are saved as a NEW file, never over the old one.

tickets.csv            the original (version 1), never written by tlcore
tickets.v2.csv         the data after the first set of changes (always CSV, UTF-8, whatever the original was)
tickets.v2.changes.json  what changed from its parent: per change the row, the old label (null when the row had
                       none or was added), the new label, the kind (relabeled / labeled / added), the reason
                       ("suspected label error, confidence 0.93", "labeled by the analyst") and when

``save_version`` picks the next free number beside the file it is given (or in ``folder``) and creates the file
with a hard link from a finished temporary file, so an existing version is never replaced, not even by two saves
at the same moment. ``list_versions`` lists a file's versions with their change logs.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..errors import DatasetError

CHANGE_KINDS = ("relabeled", "labeled", "added")  # a wrong label fixed; an empty label filled; a new row appended
_VERSIONED = re.compile(r"^(?P<stem>.+)\.v(?P<number>\d+)$")
LOG_SUFFIX = ".changes.json"


@dataclass
class Change:
    """One change to a data file. ``row`` is the row's position in the parent table (0-based, header not counted);
    for an added row, its position in the new table."""

    row: int
    text: str
    new_label: str
    old_label: str | None = None  # None: the row had no label, or was added
    kind: str = "relabeled"
    reason: str = ""
    when: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

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
        return ", ".join(parts) or "no changes"

    def to_dict(self) -> dict:
        return {"path": str(self.path), "name": self.name, "number": self.number, "parent": self.parent,
                "created": self.created, "rows": self.rows, "summary": self.summary(),
                "changes": [c.to_dict() for c in self.changes]}


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
    (an existing file is never replaced). False when the name was taken."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    write(tmp)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def save_version(frame: pd.DataFrame, parent: str | Path, changes: Sequence[Change],
                 folder: str | Path | None = None) -> DataVersion:
    """Save ``frame`` (the parent with ``changes`` made, see ``apply_changes``) as the next version of ``parent``,
    beside it or in ``folder``, with its change log. Nothing existing is overwritten."""
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
    for _ in range(1000):  # another save may take a number at the same moment: take the next one
        path = folder / version_name(parent.name, number)
        log["version"] = path.name
        try:
            if _create_new(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8")):
                break
        except OSError as exc:
            raise DatasetError(f"cannot write {str(path)!r} ({exc}); free some space or choose another "
                               "folder.") from None
        number += 1
    else:  # pragma: no cover - a thousand versions taken in a row
        raise DatasetError(f"no free version number for {parent.name!r} in {str(folder)!r}.")
    log_path = change_log_path(path)
    tmp = log_path.with_name(f".{log_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(log, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, log_path)  # the version's own log: new with it (an orphan log of a deleted file is replaced)
    return DataVersion(path=path, number=number, parent=parent.name, changes=list(changes), created=created,
                       rows=len(frame))


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
                       created=log.get("created"), rows=log.get("rows"))


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
