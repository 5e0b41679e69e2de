"""The Data page's "Reading options" of an uploaded text table: how it was read (its encoding, with the detector's
confidence, and its delimiter), and the boxes to choose them when detection gets them wrong or cannot decide
(``tlcore.read_table``'s ``encoding`` and ``delimiter``)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd
import streamlit as st

from tlcore.data import ENCODINGS, describe_encoding

from .state import remember, remembered

AUTO = "auto"
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NOT_TEXT = (".xlsx", ".parquet")  # workbooks and Parquet files have neither an encoding nor a delimiter


def _keys(name: str) -> tuple[str, str]:
    """Widget keys per file name: a choice made for one upload does not carry over to another file."""
    return f"data_w_encoding::{name}", f"data_w_delimiter::{name}"


def chosen_reading(name: str) -> dict:
    """The ``read_table`` keywords chosen for the file ``name``: none while both boxes say "Detect"."""
    encoding_key, delimiter_key = _keys(name)
    chosen = {"encoding": remembered(encoding_key, AUTO), "delimiter": remembered(delimiter_key, AUTO)}
    return {key: value for key, value in chosen.items() if value != AUTO}


def read_with(attrs: Mapping) -> str:
    """'Read as cp1251 (detected, 98% confidence), delimiter comma.' from a frame's attrs."""
    parts = [describe_encoding(attrs)]
    delimiter = attrs.get("delimiter")
    parts.append(f"delimiter {DELIMITERS.get(delimiter, repr(delimiter))}" if delimiter else None)
    shown = ", ".join(part for part in parts if part)
    return f"Read as {shown}." if shown else ""


def reading_options(name: str, frame: pd.DataFrame | None) -> None:
    """The expander with the Encoding and Delimiter boxes; open when the file could not be read (``frame`` is
    None) or a choice is in force, so a refused file shows at once where to fix it."""
    if Path(name).suffix.lower() in _NOT_TEXT:
        return
    encoding_key, delimiter_key = _keys(name)
    encodings, delimiters = [AUTO, *ENCODINGS], [AUTO, *DELIMITERS]
    with st.expander("Reading options", icon=":material/tune:",
                     expanded=frame is None or bool(chosen_reading(name))):
        if frame is not None and read_with(frame.attrs):
            st.caption(read_with(frame.attrs))
        left, right = st.columns(2)
        left.selectbox("Encoding", encodings,
                       format_func=lambda e: "Detect" if e == AUTO else f"{e} · {ENCODINGS[e]}",
                       help="The file's text encoding. Detect reads a byte-order mark, UTF-8 and UTF-16, and "
                            "otherwise asks a detector, which refuses the file when two encodings would give "
                            "different text: then choose the one whose text is right.",
                       **remember(encoding_key, AUTO, encodings))
        right.selectbox("Delimiter", delimiters,
                        format_func=lambda d: "Detect" if d == AUTO else DELIMITERS[d],
                        help="The character between the columns of a CSV/TSV/TXT file.",
                        **remember(delimiter_key, AUTO, delimiters))
        st.caption("A choice here applies to your own test file too.")
