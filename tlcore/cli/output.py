"""What every subcommand prints: ``--json`` is exactly one JSON document on stdout; tables and progress for people."""
from __future__ import annotations

import json
import sys
import time
from typing import Sequence

from ..methods import Callback


def print_json(payload) -> None:
    print(json.dumps(payload, indent=2, default=str))


def table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """Left-aligned columns under their names, two spaces apart."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


class ProgressPrinter(Callback):
    """Progress of a long scoring pass on stderr, at most every few seconds."""

    def __init__(self, every: float = 5.0) -> None:
        self.every, self.last = every, time.monotonic()

    def on_progress(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every and done < total:
            self.last = now
            print(f"{stage} {done}/{total}", file=sys.stderr, flush=True)
