"""Showing a validation report on the Data page, with command-line hints reworded for the page."""
from __future__ import annotations

from typing import Any

import streamlit as st

from tlcore.data import describe_encoding

DATA_LABEL_MERGES = "data_label_merges"  # {"file::label column": mapping} label merges applied on the Data page

_CLI_HINTS = ((" (--text-column, --label-column)", ""), ("choose one with --sheet", "choose one in the Sheet box"),
              ("Choose one of them with --sheet", "Choose one of them in the Sheet box"),
              ("with --sheet", "in the Sheet box"),
              ("Choose one with --text-column.", "Choose it in the Text column box."),
              ("Choose one with --label-column.", "Choose it in the Label column box."),
              ("a separate test file (--test)", "a separate test file (tlcore validate --test)"),
              ("raise --max-length", "raise Max length on the Train page"),
              ("lower --shots", "lower Shots per class"),
              ("with --encoding NAME", "in the Encoding box under Reading options"))


def page_message(message: str) -> str:
    """A library message worded for the page: command-line option hints point at the page's widgets."""
    for old, new in _CLI_HINTS:
        message = message.replace(old, new)
    return message


def validation_info_line(info: dict) -> str:
    """'CSV · utf-8 · delimiter comma · 40 rows read, 38 usable · majority class 'ham' is 90.0% …'."""
    parts = []
    if info.get("format"):
        parts.append(str(info["format"]).upper())
    if info.get("encoding"):
        parts.append(f"encoding {describe_encoding(info)}")
    if info.get("delimiter_name"):
        parts.append(f"delimiter {info['delimiter_name']}")
    if info.get("sheet"):
        parts.append(f"sheet {info['sheet']!r}")
    rows = f"{info.get('rows_read', 0):,} rows read, {info.get('rows_usable', 0):,} usable"
    parts.append(rows)
    if info.get("majority_class") is not None and info.get("majority_class_accuracy") is not None:
        parts.append(f"always predicting the majority class {info['majority_class']!r} scores "
                     f"{info['majority_class_accuracy']:.1%}: the accuracy to beat")
    return " · ".join(parts)


def show_validation(report: Any) -> None:
    """A ``tlcore.validate`` report: errors (st.error), warnings (st.warning), then one info line."""
    for issue in report.errors:
        st.error(page_message(issue.message), icon=":material/error:")
    for issue in report.warnings:
        st.warning(page_message(issue.message), icon=":material/warning:")
    st.caption(validation_info_line(report.info))
