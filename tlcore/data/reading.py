"""Reading the tables analysts really have into a DataFrame.

CSV/TSV/TXT with the separator sniffed, JSON Lines, JSON, Excel and Parquet; text in any common encoding,
detected or named by the user (``tlcore.data.encoding``). What is not a table (binary junk, an HTML page,
prose) is refused with a message that says what was found and what to do. ``tlcore.data.validation`` then
checks the table's content.
"""
from __future__ import annotations

import csv
import io
import json
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
import pandas as pd

from ..errors import DatasetError
from .encoding import binary_error, check_encoding, decode

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".json", ".xlsx", ".parquet")
DELIMITERS = (",", ";", "\t", "|")
MAX_FILE_BYTES = 100 * 1024 * 1024  # read_table refuses larger files
MAX_ROWS = 200_000                  # more data rows than this: refused, with a hint to sample
MAX_TEXT_CHARS = 20_000             # longer cells are cut (with a DataWarning)
_BAD_ROW_SHARE = 0.1                # up to this share of malformed rows/lines is skipped, more is refused
_ATTR_LIST_CAP = 1000               # keep frame.attrs small: pandas deep-copies them on every operation
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SUFFIX_DELIMITER = {".tsv": "\t", ".csv": ",", ".txt": "\t"}


class DataWarning(UserWarning):
    """Something in a data file was changed or skipped while reading it (see ``frame.attrs``)."""


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1024 / 1024:.1f} MB"


def _read_bytes(source, name: str | None, max_bytes: int) -> tuple[bytes, str]:
    limit_text = (f"TransferLab reads files up to {_mb(max_bytes)}; take a sample of the rows (for example "
                  "a random 50,000) or split the file, and load that.")
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name
        if not path.exists():
            raise DatasetError(f"data file {str(path)!r} does not exist; check the path.")
        if path.is_dir():
            raise DatasetError(f"{str(path)!r} is a folder; give a data file such as train.csv.")
        if not path.is_file():  # a device (/dev/zero never ends), a pipe or a socket
            raise DatasetError(f"{str(path)!r} is not a regular file (a device, pipe or socket); give a data file "
                               "such as train.csv.")
        size = path.stat().st_size
        if size > max_bytes:
            raise DatasetError(f"{name} is {_mb(size)}; {limit_text}")
        return path.read_bytes(), name
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    else:
        raw = source.read(max_bytes + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
    name = name or getattr(source, "name", None) or "data.csv"
    name = Path(str(name)).name
    if len(raw) > max_bytes:
        raise DatasetError(f"{name} is larger than {_mb(max_bytes)}; {limit_text}")
    return raw, name


# -- what the bytes are -------------------------------------------------------------------------------------

def _signature(raw: bytes) -> str | None:
    """Name a well-known non-text file format from its first bytes."""
    head = raw[:8]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "xlsx" if b"xl/" in raw[:65536] or b"[Content_Types].xml" in raw[:4096] else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"  # old binary Office formats: .xls, .doc
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "image"
    return None


_SIGNATURE_HINTS = {
    "xlsx": "an Excel workbook; rename it to .xlsx (or export the sheet as CSV)",
    "zip": "a ZIP archive; extract the data file from it first",
    "ole": "an old-format Office file (.xls or .doc); open it in Excel and save it as .xlsx or CSV (UTF-8)",
    "parquet": "a Parquet file; rename it to .parquet",
    "pdf": "a PDF document, not a table; export the table from its source as CSV",
    "gzip": "gzip-compressed; decompress it first (gunzip) and load the file inside",
    "image": "an image, not a table; load the CSV/Excel file with the data",
}


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body", "<?xml")) or (
        head.startswith("<") and ("<html" in head or "<head" in head or "<body" in head))


def _check_text_is_tabular(text: str, name: str) -> None:
    if not text.strip():
        raise DatasetError(f"{name} is empty; upload a file with a header row and at least one data row.")
    if _looks_like_html(text):
        raise DatasetError(f"{name} is an HTML page, not a table (the link probably led to a web page or a login "
                           "page); download the data file itself, or export the table as CSV.")
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v" or ord(ch) == 127)
    if controls > max(3, 0.01 * len(sample)):
        raise binary_error(name, f"{controls} control characters in its first {len(sample):,} characters")


# -- delimited text (CSV, TSV, TXT) -------------------------------------------------------------------------

def _records(text: str, delimiter: str):
    return csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


def _sniff(text: str, suffix: str) -> tuple[str | None, dict]:
    """Pick the delimiter that splits the header and the first rows into the same number of columns.

    Returns (delimiter or None for a one-column file, statistics per delimiter for error messages).
    """
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[:sample.rindex("\n")]
    stats = {}
    for delimiter in DELIMITERS:
        rows = []
        try:
            for record in _records(sample, delimiter):
                if record:
                    rows.append(len(record) - _trailing_empty(record))
                if len(rows) > 200:
                    break
        except csv.Error:
            continue
        if not rows:
            continue
        header, data = rows[0], rows[1:]
        consistent = sum(1 for n in data if n == header) / len(data) if data else 1.0
        stats[delimiter] = {"columns": header, "consistent": consistent, "rows": len(data)}
    preferred = _SUFFIX_DELIMITER.get(suffix, ",")
    order = [preferred] + [d for d in DELIMITERS if d != preferred]
    usable = [d for d in order if d in stats and stats[d]["columns"] >= 2]
    if usable:
        best = max(usable, key=lambda d: (stats[d]["consistent"], -order.index(d)))
        if stats[best]["consistent"] >= 0.9:
            return best, stats
        # Less regular (texts with unquoted separators, unlabeled rows): accept only under a real header.
        for delimiter in sorted(usable, key=lambda d: -stats[d]["consistent"]):
            header = next(_records(sample, delimiter), [])
            if all(_looks_like_column_name(h) for h in header if h.strip()):
                return delimiter, stats
    return None, stats


def _trailing_empty(record: list[str]) -> int:
    n = 0
    for value in reversed(record[1:]):
        if value.strip():
            break
        n += 1
    return n


def _looks_like_column_name(value: str) -> bool:
    value = value.strip()
    return 0 < len(value) <= 40 and len(value.split()) <= 5 and not value.endswith((".", "!", "?", ":", ","))


def _not_a_table(name: str, text: str, stats: dict) -> DatasetError:
    first = text.strip().split("\n")[0] if text.strip() else ""
    shown = first if len(first) <= 60 else first[:57] + "..."
    multi = {d: st for d, st in stats.items() if st["columns"] >= 2}
    if multi:
        d = max(multi, key=lambda k: multi[k]["consistent"])
        found = (f"split on {_DELIMITER_NAMES[d]}s, line 1 has {multi[d]['columns']} columns but only "
                 f"{multi[d]['consistent']:.0%} of the next lines do")
    else:
        found = "line 1 has no comma, semicolon, tab or pipe"
    return DatasetError(
        f"{name} does not look like a table: its lines do not split into the same number of columns ({found}), "
        f"and its first line {shown!r} is not a column header. Save the data with a header row such as "
        "text,label and one example per line, quoting texts that contain the separator.")


def _clean_header(header: list[str]) -> list[str]:
    names, seen = [], Counter()
    for i, value in enumerate(header):
        value = str(value).strip() or f"column_{i + 1}"
        base = value
        if seen[base]:
            value = f"{base}.{seen[base]}"
        seen[base] += 1
        names.append(value)
    return names


def _read_delimited(text: str, name: str, suffix: str, delimiter: str | None, max_rows: int,
                    attrs: dict) -> pd.DataFrame:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if delimiter is None:
        delimiter, stats = _sniff(text, suffix)
        if delimiter is None:
            first = next((line for line in text.split("\n") if line.strip()), "")
            if not _looks_like_column_name(first):
                raise _not_a_table(name, text, stats)
    elif len(delimiter) != 1:
        raise DatasetError(f"delimiter {delimiter!r} must be one character, such as , ; | or a tab.")
    attrs["delimiter"] = delimiter
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))
    reader = _records(text, delimiter or "\x1f")
    header: list[str] | None = None
    rows: list[list[str]] = []
    skipped: list[int] = []    # file row numbers that are not frame rows (blank or malformed)
    ragged: list[tuple[int, int]] = []
    spanning: list[tuple[int, int, int]] = []  # (row, first line, last line) of texts that look like many rows
    row_number = line = 0
    record = None
    for record in reader:
        row_number += 1
        first_line, line = line + 1, reader.line_num
        if not "".join(record).strip():
            if header is not None:
                skipped.append(row_number)
            continue
        if header is None:
            header = record[:len(record) - _trailing_empty(record)] if len(record) > 1 else record
            attrs["first_row"] = row_number + 1
            continue
        width = len(header)
        if line > first_line and _swallowed_rows(record, delimiter, width):
            spanning.append((row_number, first_line, line))
        if len(record) > width:
            extra = len(record) - width
            trailing = _trailing_empty(record)
            if trailing >= extra:
                record = record[:width]
            else:
                if line > first_line:  # a stray quote joined lines, then the row came out too wide
                    raise _runaway_quote(name, row_number, first_line, line)
                ragged.append((row_number, len(record) - trailing))
                skipped.append(row_number)
                continue
        elif len(record) < width:
            record = record + [""] * (width - len(record))
        rows.append(record)
        if len(rows) > max_rows:
            raise _too_many_rows(name, max_rows)
    if header is None:
        raise DatasetError(f"{name} is empty; upload a file with a header row and at least one data row.")
    if record and line > first_line and "\n" in record[-1] and not text.rstrip().endswith('"'):
        raise _runaway_quote(name, row_number, first_line, None)
    if spanning:
        shown = ", ".join(f"row {r} (lines {a}-{b})" for r, a, b in spanning[:5]) + (
            f" and {len(spanning) - 5} more" if len(spanning) > 5 else "")
        _warn(attrs, "quoted_lines",
              f"in {name}, {len(spanning)} text{'s' if len(spanning) > 1 else ''} inside quotes "
              f"span{'s' if len(spanning) == 1 else ''} "
              f"several lines that look like rows of their own: {shown}. If a quote (\") is not closed there, "
              "close it, otherwise those rows are read as one text; if the texts really span lines, ignore this.",
              [r for r, _, _ in spanning])
    if ragged:
        total = len(rows) + len(ragged)
        example = ", ".join(f"row {r} has {n}" for r, n in ragged[:5]) + (
            f" and {len(ragged) - 5} more" if len(ragged) > 5 else "")
        sep_name = _DELIMITER_NAMES.get(delimiter or "", repr(delimiter))
        fix = (f"the text probably contains the {sep_name} separator without quotes: put such texts in double "
               f"quotes (\"like, this\")")
        if len(ragged) > _BAD_ROW_SHARE * total or not rows:
            raise DatasetError(f"{name}: {len(ragged)} of {total} rows have more fields than the {len(header)} "
                               f"columns of the header ({example}); {fix}, or check that the file is a table.")
        _warn(attrs, "skipped_rows",
              f"{len(ragged)} row{'s' if len(ragged) > 1 else ''} of {name} had more fields than the "
              f"{len(header)} header columns and {'were' if len(ragged) > 1 else 'was'} skipped ({example}); "
              f"{fix}.", [r for r, _ in ragged])
    columns = _clean_header(header)
    frame = pd.DataFrame(rows, columns=columns, dtype="str") if rows else pd.DataFrame(columns=columns)
    frame = frame.replace("", np.nan)
    # A trailing separator on every line makes an empty, unnamed last column: drop it.
    unnamed = [c for c, h in zip(columns, header) if not h.strip() and frame[c].isna().all()]
    frame = frame.drop(columns=unnamed)
    attrs["skipped_rows"] = skipped
    return frame


def _swallowed_rows(record: list[str], delimiter: str | None, width: int) -> bool:
    """Whether a multi-line field holds lines that look like rows of the table (a quote left open)."""
    if not delimiter or width < 2:
        return False
    for value in record:
        lines = value.split("\n")[1:]
        if len(lines) >= 2 and sum(line.count(delimiter) >= width - 1 for line in lines) >= 0.8 * len(lines):
            return True
    return False


def _runaway_quote(name: str, row: int, first_line: int, last_line: int | None) -> DatasetError:
    where = (f"closes only on line {last_line}, so lines {first_line}-{last_line} read as one row"
             if last_line else "is never closed, so the rest of the file reads as one text")
    return DatasetError(f"{name}: the quote (\") opened on line {first_line} (row {row}) {where}. Close the quote "
                        "where the text ends, or double a quote that is part of a text (\"\"), and load the file "
                        "again.")


def _too_many_rows(name: str, max_rows: int) -> DatasetError:
    return DatasetError(f"{name} has more than {max_rows:,} rows, the most TransferLab reads; take a random "
                        f"sample (for example with pandas: df.sample(50_000, random_state=0)) or fewer rows per "
                        "class, and load that.")


# -- JSON and JSON Lines ------------------------------------------------------------------------------------

def _read_jsonl(text: str, name: str, max_rows: int, attrs: dict) -> pd.DataFrame:
    records, skipped, broken = [], [], []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            skipped.append(number)
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            broken.append((number, f"not valid JSON ({exc.msg}, character {exc.colno})"))
            skipped.append(number)
            continue
        if not isinstance(value, dict):
            broken.append((number, f"a JSON {_json_kind(value)}, not an object like {{\"text\": ..., \"label\": ...}}"))
            skipped.append(number)
            continue
        records.append(value)
        if len(records) > max_rows:
            raise _too_many_rows(name, max_rows)
    attrs.update(first_row=1, row_word="line")
    if broken:
        total = len(records) + len(broken)
        shown = "; ".join(f"line {n} is {why}" for n, why in broken[:3]) + (
            f"; and {len(broken) - 3} more" if len(broken) > 3 else "")
        if len(broken) > _BAD_ROW_SHARE * total or not records:
            raise DatasetError(f"{name}: {len(broken)} of {total} lines are not JSON records ({shown}). JSON Lines "
                               "needs one object per line, such as {\"text\": \"...\", \"label\": \"...\"}.")
        _warn(attrs, "skipped_lines", f"{len(broken)} line{'s' if len(broken) > 1 else ''} of {name} could not be "
              f"read and {'were' if len(broken) > 1 else 'was'} skipped ({shown}); fix or delete "
              f"{'them' if len(broken) > 1 else 'it'} to use {'those rows' if len(broken) > 1 else 'that row'}.",
              [n for n, _ in broken])
    attrs["skipped_rows"] = skipped
    return _records_frame(records)


def _json_kind(value) -> str:
    return {dict: "object", list: "list", str: "string", bool: "true/false", type(None): "null"}.get(
        type(value), "number")


def _records_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    for column in frame.columns:  # nested values read as their JSON text
        if frame[column].dtype == object:
            frame[column] = frame[column].map(
                lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
    return frame


def _read_json(text: str, name: str, max_rows: int, attrs: dict) -> pd.DataFrame:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip().startswith("{"):
            attrs["format"] = "jsonl"  # one object per line, saved as .json
            return _read_jsonl(text, name, max_rows, attrs)
        raise DatasetError(f"{name} is not valid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}); "
                           "fix the file there (or export it again).") from None
    attrs.update(first_row=1, row_word="record")
    expected = ('a list of records like [{"text": "...", "label": "..."}], or an object holding one such list '
                'like {"data": [...]}')
    if isinstance(value, dict):
        lists = {k: v for k, v in value.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
        if len(lists) > 1:
            for key in ("data", "records", "rows", "items", "examples"):
                if key in lists:
                    lists = {key: lists[key]}
                    break
        if len(lists) == 1:
            key, records = next(iter(lists.items()))
            attrs["json_key"] = key
            value = records
        elif len(lists) > 1:
            raise DatasetError(f"{name} holds several lists of records ({', '.join(map(repr, lists))}); keep one "
                               f"of them, so the file is {expected}.")
        elif value and all(isinstance(v, list) for v in value.values()) and \
                len({len(v) for v in value.values()}) == 1 and len(value) >= 2 and \
                all(not isinstance(x, (dict, list)) for v in value.values() for x in v):
            attrs["json_layout"] = "columns"  # {"text": [...], "label": [...]}
            if len(next(iter(value.values()))) > max_rows:
                raise _too_many_rows(name, max_rows)
            return pd.DataFrame(value)
        elif value and all(isinstance(v, dict) for v in value.values()) and \
                len({tuple(v) for v in value.values()}) == 1 and len(value) >= 2:
            attrs["json_layout"] = "columns"  # pandas' to_json(): {"text": {"0": ...}, "label": {"0": ...}}
            frame = pd.DataFrame(value)
            if len(frame) > max_rows:
                raise _too_many_rows(name, max_rows)
            return frame.reset_index(drop=True)
        else:
            keys = ", ".join(repr(k) for k in list(value)[:8]) + (", ..." if len(value) > 8 else "")
            kinds = sorted({_json_kind(v) for v in value.values()})
            raise DatasetError(f"{name} is a JSON object with keys {keys or '(none)'} holding "
                               f"{'/'.join(kinds) or 'nothing'} values, not a table; expected {expected}.")
    if not isinstance(value, list):
        raise DatasetError(f"{name} holds a single JSON {_json_kind(value)}, not a table; expected {expected}.")
    if not value:
        raise DatasetError(f"{name} holds an empty list; it needs at least one record.")
    if all(isinstance(x, list) for x in value) and all(isinstance(c, str) for c in value[0]):
        attrs["json_layout"] = "rows"  # [["text", "label"], ["...", "..."]]
        attrs["first_row"] = 2
        rows = value[1:]
        if len(rows) > max_rows:
            raise _too_many_rows(name, max_rows)
        width = len(value[0])
        return pd.DataFrame([(list(r) + [None] * width)[:width] for r in rows], columns=_clean_header(value[0]))
    bad = next(((i, x) for i, x in enumerate(value, start=1) if not isinstance(x, dict)), None)
    if bad is not None:
        raise DatasetError(f"{name}: item {bad[0]} of the list is a JSON {_json_kind(bad[1])}, not an object; "
                           f"expected {expected}.")
    if len(value) > max_rows:
        raise _too_many_rows(name, max_rows)
    return _records_frame(value)


# -- Excel and Parquet --------------------------------------------------------------------------------------

def _cell_text(value):
    if value is None:
        return np.nan
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else np.nan


def _read_excel(raw: bytes, name: str, sheet: str | int | None, max_rows: int, attrs: dict) -> pd.DataFrame:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise DatasetError(f"{name} could not be opened as an Excel workbook ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'damaged file'}); open it in Excel and "
                           "save it again as .xlsx, or export the sheet as CSV.") from None
    try:
        names = list(book.sheetnames)
        listed = ", ".join(repr(n) for n in names)
        attrs["sheets"] = names
        if sheet is None or sheet == "":
            chosen = names[0]
        elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
            index = int(sheet)
            if not 0 <= index < len(names):
                raise DatasetError(f"{name} has {len(names)} sheet{'s' if len(names) > 1 else ''} ({listed}); "
                                   f"there is no sheet number {index}.")
            chosen = names[index]
        else:
            matches = ([n for n in names if n == sheet]
                       or [n for n in names if n.strip().lower() == sheet.strip().lower()])
            if not matches:
                raise DatasetError(f"{name} has no sheet {sheet!r}; its sheets are: {listed}. "
                                   "Choose one of them with --sheet.")
            chosen = matches[0]
        attrs["sheet"] = chosen
        header, rows, skipped, row_number = None, [], [], 0
        for values in book[chosen].iter_rows(values_only=True):
            row_number += 1
            cells = [_cell_text(v) for v in values]
            if not any(isinstance(c, str) for c in cells):
                if header is not None:
                    skipped.append(row_number)
                    if len(skipped) >= 10_000 and skipped[-10_000] == row_number - 9_999:
                        break  # 10,000 blank rows in a row: formatted but empty rows to the sheet's end
                continue
            if header is None:
                while cells and not isinstance(cells[-1], str):
                    cells.pop()
                header = cells
                attrs["first_row"] = row_number + 1
                continue
            rows.append((cells + [np.nan] * len(header))[:len(header)])
            if len(rows) > max_rows:
                raise _too_many_rows(f"{name} (sheet {chosen!r})", max_rows)
    finally:
        book.close()
    others = [n for n in names if n != chosen]
    if header is None:
        hint = f" The other sheets are: {', '.join(map(repr, others))}; choose one with --sheet." if others else ""
        raise DatasetError(f"sheet {chosen!r} of {name} is empty.{hint}")
    # Trailing empty rows are not data; drop them from the numbering record.
    last = attrs["first_row"] + len(rows) + len(skipped) - 1
    while skipped and skipped[-1] == last:
        skipped.pop()
        last -= 1
    attrs["skipped_rows"] = skipped
    if not rows:
        hint = f" The other sheets are: {', '.join(map(repr, others))}; choose one with --sheet." if others else ""
        raise DatasetError(f"sheet {chosen!r} of {name} has a header but no data rows.{hint}")
    header = [h if isinstance(h, str) else "" for h in header]
    return pd.DataFrame(rows, columns=_clean_header(header))


def _read_parquet(raw: bytes, name: str, max_rows: int) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table_file = pq.ParquetFile(io.BytesIO(raw))
        if table_file.metadata.num_rows > max_rows:
            raise _too_many_rows(name, max_rows)
        return table_file.read().to_pandas()
    except DatasetError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise DatasetError(f"{name} could not be read as a Parquet file ({str(exc).splitlines()[0]}); the file may "
                           "be cut short or damaged: export it again.") from None


# -- the entry point ----------------------------------------------------------------------------------------

def _warn(attrs: dict, code: str, message: str, rows: Sequence[int] = ()) -> None:
    attrs.setdefault("load_warnings", []).append({"code": code, "message": message,
                                                  "rows": list(rows)[:_ATTR_LIST_CAP]})
    warnings.warn(message, DataWarning, stacklevel=3)


def _compact(numbers: list[int]) -> list[list[int]]:
    """[3, 4, 5, 9] -> [[3, 5], [9, 9]]: runs of skipped row numbers, small enough to keep in attrs."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def _cut_long_texts(frame: pd.DataFrame, name: str, max_chars: int, attrs: dict) -> pd.DataFrame:
    cut_cells, cut_rows, columns = 0, set(), []
    for column in frame.columns:
        series = frame[column]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        if pd.api.types.is_string_dtype(series):
            lengths = series.str.len().fillna(0)
        else:
            lengths = series.map(lambda v: len(v) if isinstance(v, str) else 0)
        over = lengths > max_chars
        if over.any():
            frame[column] = series.where(~over, series[over].map(lambda v: v[:max_chars]))
            cut_cells += int(over.sum())
            cut_rows.update(np.flatnonzero(over.to_numpy()).tolist())
            columns.append(column)
    if cut_cells:
        attrs["truncated_texts"] = cut_cells
        positions = sorted(cut_rows)
        numbers = _row_numbers(len(frame), attrs)
        _warn(attrs, "texts_truncated",
              f"{cut_cells} text{'s' if cut_cells > 1 else ''} in {name} (column{'s' if len(columns) > 1 else ''} "
              f"{', '.join(map(repr, columns))}) {'were' if cut_cells > 1 else 'was'} longer than "
              f"{max_chars:,} characters and {'were' if cut_cells > 1 else 'was'} cut to that length; a model reads "
              "only the first few hundred words anyway, but split very long documents if their ends matter.",
              [numbers[p] for p in positions])
    return frame


def _parse(raw: bytes, name: str, suffix: str, found: str | None, sheet, delimiter, encoding: str | None,
           max_rows: int, attrs: dict) -> pd.DataFrame:
    if suffix == ".xlsx":
        if found != "xlsx":
            what = _SIGNATURE_HINTS.get(found) if found and found != "zip" else None
            if what is None:
                try:
                    text = decode(raw, name).text
                except DatasetError:
                    text = ""
                what = ("an HTML page (the link probably led to a web page); download the workbook itself"
                        if _looks_like_html(text) else
                        "plain text (probably a CSV file renamed to .xlsx); rename it to .csv" if text.strip()
                        else "neither a workbook nor text; save it again from Excel as .xlsx")
            raise DatasetError(f"{name} is not an Excel workbook (.xlsx): it is {what}.")
        return _read_excel(raw, name, sheet, max_rows, attrs)
    if suffix == ".parquet":
        if found != "parquet":
            raise DatasetError(f"{name} is not a Parquet file (it does not start with the PAR1 marker); "
                               + (f"it is {_SIGNATURE_HINTS[found]}." if found else
                                  "export it again as Parquet, or as CSV."))
        attrs.update(first_row=1, row_word="record")
        return _read_parquet(raw, name, max_rows)
    if found:
        raise DatasetError(f"{name} is not a text table: it is {_SIGNATURE_HINTS[found]}.")
    decoded = decode(raw, name, encoding)
    text = decoded.text
    attrs.update(encoding=decoded.encoding, encoding_confidence=decoded.confidence, encoding_source=decoded.source)
    _check_text_is_tabular(text, name)
    if suffix == ".jsonl":
        stripped = text.lstrip()
        if stripped.startswith("[") or (stripped.startswith("{") and _is_single_json(stripped)):
            attrs["format"] = "json"  # a JSON document saved as .jsonl
            return _read_json(text, name, max_rows, attrs)
        return _read_jsonl(text, name, max_rows, attrs)
    if suffix == ".json":
        return _read_json(text, name, max_rows, attrs)
    return _read_delimited(text, name, suffix, delimiter, max_rows, attrs)


def read_table(source: str | Path | BinaryIO | bytes, name: str | None = None, *, sheet: str | int | None = None,
               delimiter: str | None = None, encoding: str | None = None, max_rows: int | None = None,
               max_bytes: int | None = None, max_text_chars: int | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/TXT/JSONL/JSON/Excel/Parquet file into a DataFrame.

    ``source`` is a path, raw bytes or a binary file object (such as a Streamlit upload); ``name`` gives the
    file name (its suffix picks the format) when ``source`` is not a path. ``sheet`` picks an Excel sheet by
    name or 0-based number (default: the first); ``delimiter`` overrides the sniffed separator of a text table
    (comma, semicolon, tab or pipe). ``encoding`` names the encoding of a text table ("cp1251", "shift_jis"; an
    unknown name is a DatasetError); by default a byte-order mark decides, then UTF-8, then UTF-16/32 without a
    mark, then a detector that refuses the file, naming the likely encodings, when it cannot tell them apart
    (see ``tlcore.data.encoding``). Cells of text tables are strings, with empty cells missing (NaN).

    What was found is recorded in ``frame.attrs``: ``format``, ``encoding`` with ``encoding_confidence`` (1.0
    for a byte-order mark or valid UTF-8, the detector's 0-1 for a guess, None when given) and ``encoding_source``
    ("bom", "utf-8", "detector" or "user"), ``delimiter``, ``sheet`` and
    ``sheets`` (Excel), ``first_row`` and ``skipped_rows`` (see :func:`row_numbers`), ``truncated_texts`` and
    ``load_warnings`` (a list of ``{"code", "message", "rows"}``; each is also issued as a :class:`DataWarning`).

    Raises :class:`DatasetError` saying what was found and how to fix it for a missing, empty, header-only,
    binary, HTML or non-tabular file, a file over ``MAX_FILE_BYTES`` or with more than ``MAX_ROWS`` rows.
    Cells longer than ``MAX_TEXT_CHARS`` are cut, with a warning.
    """
    max_rows = MAX_ROWS if max_rows is None else max_rows
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    max_text_chars = MAX_TEXT_CHARS if max_text_chars is None else max_text_chars
    if encoding is not None:  # an unknown name is bad input even for a workbook, which has no text encoding
        encoding = check_encoding(encoding)
    raw, name = _read_bytes(source, name, max_bytes)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        if suffix == ".xls":
            raise DatasetError(f"{name} is in the old Excel format (.xls); open it in Excel and save it as .xlsx "
                               "(Excel Workbook) or CSV UTF-8.")
        if suffix in (".zip", ".gz", ".bz2", ".xz", ".7z", ".rar", ".tar"):
            raise DatasetError(f"{name} is a compressed archive; extract the data file from it and load that.")
        raise DatasetError(f"{name}: unsupported file type {suffix or '(none)'}; "
                           f"use one of {', '.join(SUPPORTED_SUFFIXES)}.")
    kind = suffix[1:]
    attrs: dict = {"name": name, "format": kind, "encoding": None, "delimiter": None, "first_row": 2,
                   "row_word": "row", "bytes": len(raw)}
    found = _signature(raw)
    if not raw.strip() and suffix in (".xlsx", ".parquet"):
        raise DatasetError(f"{name} is empty (0 bytes of data); export the file again.")
    try:
        frame = _parse(raw, name, suffix, found, sheet, delimiter, encoding, max_rows, attrs)
    except DatasetError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, csv.Error, RecursionError, OSError, ImportError,
            zipfile.BadZipFile) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{name} could not be read as a {kind.upper()} table ({detail}); check the file, or "
                           "export it again as CSV (UTF-8) with a header row.") from exc
    if frame.empty and len(frame.columns):
        raise DatasetError(f"{name} has a header but no data rows; add rows below the header "
                           f"({', '.join(map(str, frame.columns))}).")
    if frame.empty:
        raise DatasetError(f"{name} holds no records; it needs a header row and at least one data row.")
    frame.columns = _clean_header([str(c) for c in frame.columns])  # stripped, unique, none empty
    frame = frame.reset_index(drop=True)
    skipped = attrs.pop("skipped_rows", [])
    runs = _compact(skipped)
    attrs["skipped_rows"] = runs[:_ATTR_LIST_CAP]
    attrs["rows_exact"] = len(runs) <= _ATTR_LIST_CAP
    frame = _cut_long_texts(frame, name, max_text_chars, attrs)
    frame.attrs.update(attrs)
    return frame


def _is_single_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError:
        return False


def _row_numbers(n: int, attrs: dict) -> list[int]:
    numbers = np.arange(n, dtype=np.int64) + int(attrs.get("first_row", 2))
    for start, end in attrs.get("skipped_rows", []):
        numbers[numbers >= start] += end - start + 1
    return numbers.tolist()


def row_numbers(frame: pd.DataFrame) -> list[int]:
    """The number of each frame row as the file shows it.

    For CSV/TSV/TXT and Excel that is the spreadsheet row (the header is row 1, the first data row 2; blank
    and skipped rows keep their numbers); for JSONL the line number; for JSON and Parquet the record number
    (from 1). A frame that ``read_table`` did not make counts like a CSV file: 2, 3, ...
    """
    return _row_numbers(len(frame), frame.attrs)


def row_word(frame: pd.DataFrame) -> str:
    """What :func:`row_numbers` count: "row" (spreadsheet rows), "line" (JSONL) or "record" (JSON, Parquet)."""
    return str(frame.attrs.get("row_word", "row"))
