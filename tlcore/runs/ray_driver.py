"""``python -m tlcore.runs.ray_driver RUN_DIR ...``: the detached process that submits runs to a Ray cluster and
watches them until they end (what ``start_worker`` / ``start_series`` start when ``TLCORE_EXECUTOR=ray``).

A module of its own, so that the task function Ray ships to the workers lives in an importable module
(tlcore.runs.ray_executor), not in ``__main__``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import TLCoreError
from .ray_executor import execute_on_ray
from .store import Run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m tlcore.runs.ray_driver RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    os.environ.setdefault("RAY_COLOR_PREFIX", "0")  # the tasks' output comes back here, into a log file: no colours
    try:
        execute_on_ray([Run(Path(path)) for path in argv], echo=lambda message: print(message, flush=True),
                       log_to_driver=True)
    except TLCoreError as exc:  # already recorded in the runs' status.json
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
