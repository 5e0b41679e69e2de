"""Argument types shared by every `tlcore` subcommand: argparse turns their errors into one `error:` line."""
from __future__ import annotations

import argparse
import math

MAX_COUNT = 10**9  # above any real row count, step count or token limit


def whole_number(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected a whole number from {low:,} to {high:,}, got {text[:40]}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1, MAX_COUNT)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
    if not math.isfinite(value) or not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite number above 0, got {text[:40]}")
    return value


def device_name(text: str) -> str:
    """--device: auto, cpu, cuda (the freest GPU), cuda:N (that GPU) or mps (Apple's GPU)."""
    kind, colon, index = text.partition(":")
    if text in ("auto", "cpu", "cuda", "mps") or (kind == "cuda" and colon and index.isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text[:40]!r}")


def encoding_name(text: str) -> str:
    """--encoding: a text encoding Python knows ("Windows-1251" -> "cp1251")."""
    from ..data import check_encoding
    from ..errors import DatasetError

    try:
        return check_encoding(text)
    except DatasetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}


def delimiter_char(text: str) -> str:
    """--delimiter: one character, or comma / semicolon / tab / pipe (a tab is hard to type in a shell)."""
    value = _DELIMITERS.get(text.strip().lower(), text)
    if len(value) != 1 or value in "\"\r\n":
        raise argparse.ArgumentTypeError(f"expected one character such as , or ; or comma, semicolon, tab, pipe; "
                                         f"got {text[:40]!r}")
    return value


def add_reading_args(p: argparse.ArgumentParser) -> None:
    """--encoding and --delimiter: how every data file of the command is read, when detection gets it wrong."""
    p.add_argument("--encoding", type=encoding_name, metavar="NAME",
                   help="text encoding of the data files, such as cp1251, shift_jis, gbk or euc_kr (default: "
                        "detected; a file whose encoding is unclear is refused until you name it)")
    p.add_argument("--delimiter", type=delimiter_char, metavar="CHAR",
                   help="column separator of CSV/TSV/TXT data files: a character, or comma, semicolon, tab, pipe "
                        "(default: detected)")


def reading_options(args: argparse.Namespace) -> dict:
    """The ``read_table`` keywords that --encoding and --delimiter gave (none when neither was given)."""
    return {key: value for key in ("encoding", "delimiter") if (value := getattr(args, key, None)) is not None}
