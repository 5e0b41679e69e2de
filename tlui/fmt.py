"""Formatting of durations, counts, shares, parameter shares and run labels."""
from __future__ import annotations

import math
import time

from tlcore.compare import percent
from tlcore.runs import model_tag  # a run's model as a catalog name or its folder's name: one rule everywhere


# -- formatting -------------------------------------------------------------------------------------
def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d} h"


def fmt_estimate(seconds: float) -> str:
    """A rough duration in words: 'a few seconds', 'about 40 s', 'about 2 min', 'about 1.5 h'."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 55:
        return f"about {round(seconds / 5.0) * 5} s"
    if seconds < 90:
        return "about 1 min"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def fmt_params(trainable: int, total: int) -> str:
    """'338,690 of 23.1 M (1.5 %)'."""
    share = 100 * trainable / total if total else 0.0
    digits = 1 if share >= 0.1 or share == 0 else 2 if share >= 0.01 else 3
    return f"{trainable:,} of {fmt_count(total)} ({share:.{digits}f} %)"


def fmt_count(n: int | float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f}"


def fmt_percent(share: float | None) -> str:
    """0.1234 -> '12.3 %'; None or NaN -> '–', as the HTML report writes shares."""
    return percent(None if share is None or (isinstance(share, float) and math.isnan(share)) else share)


def run_time(run_id: str) -> str:
    """'26 Nov 05:45:12' from a run id that starts with its creation stamp (20261126-054512-...)."""
    try:
        return time.strftime("%d %b %H:%M:%S", time.strptime(run_id[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return run_id


def run_label(method: str, model: str, run_id: str) -> str:
    return f"{method} · {model_tag(model)} · {run_time(run_id)}"
