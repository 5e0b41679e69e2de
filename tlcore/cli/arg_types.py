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
