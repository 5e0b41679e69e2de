"""Tables written for spreadsheets: cells that would run as formulas are neutralised (CSV injection)."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pandas as pd

# Cells starting with one of these run as formulas in Excel / LibreOffice / Google Sheets (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralize_formula(value):
    """Make a cell safe to open in a spreadsheet: text starting with = + - @ (or a tab / carriage return)
    gets a leading apostrophe, so it shows as text instead of running as a formula (CSV injection).
    A plain number such as "-1" (a common label) runs nothing and is left as it is; other values pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralize_formula)
    safe.columns = [neutralize_formula(str(c)) for c in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV bytes with formula-like text cells neutralised (what ``write_csv`` writes)."""
    buffer = io.StringIO()
    _spreadsheet_safe(frame).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as UTF-8 CSV with formula-like text cells neutralised; atomic (temp file, rename)."""
    path = Path(path)
    safe = _spreadsheet_safe(frame)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        safe.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
