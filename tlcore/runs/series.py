"""A series of runs executed one after another in one process: a learning curve, a "Find the best method"
search. The model loads once for the whole series; each run still goes through the runs folder's slots and
can be cancelled on its own.

- ``start_series`` starts ``python -m tlcore.runs.series RUN_DIR ...`` detached (the app: a browser refresh
  does not stop it); ``execute_series`` runs them in this process (the CLI); ``cancel_series`` stops them.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from ..errors import RunError
from .launcher import launch_detached
from .store import LIVE_STATES, Run


def start_series(runs: Sequence[Run]) -> int:
    """Execute the runs one after another in one detached process; a browser refresh does not stop it."""
    if not runs:
        raise RunError("no runs to start.")
    config = runs[0].config()
    log = runs[0].path.parent / f".{config.get('group') or config.get('search') or runs[0].id}.log"
    pid = launch_detached("tlcore.runs.series", [str(run.path) for run in runs], log)
    for run in runs:  # a queued run whose process died is then reported as failed, not queued for ever
        run.update_status(pid=pid)
    return pid


def execute_series(runs: Sequence[Run], echo: Callable[[str], None] | None = None,
                   stop_on_error: bool = False) -> list[dict]:
    """Execute the runs in order in this process; return the metrics of those that succeeded.

    A cancelled run is skipped. A failed one is recorded in its status.json; with ``stop_on_error`` the
    remaining runs are then cancelled and the error is raised (the CLI), else the series goes on (the app).
    """
    from .worker import execute

    done = []
    for index, run in enumerate(runs):
        if echo:
            echo(f"run {index + 1}/{len(runs)}: {run.id}")
        try:
            done.append(execute(run, echo=echo))
        except InterruptedError:
            continue
        except Exception:
            if not stop_on_error:
                continue
            for later in runs[index + 1:]:
                later.update_status(status="cancelled", finished=time.time(),
                                    error=f"not run: run {run.id} of this series failed first")
            raise
    return done


def cancel_series(runs: Sequence[Run]) -> int:
    """Ask every live run of the series to stop; return how many were asked."""
    asked = 0
    for run in runs:
        try:
            if run.status().get("status") in LIVE_STATES:
                run.request_cancel()
                asked += 1
        except RunError:
            continue
    return asked


def main(argv: list[str] | None = None) -> int:
    """``python -m tlcore.runs.series RUN_DIR ...``: execute the runs in order (what ``start_series`` starts)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m tlcore.runs.series RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    execute_series([Run(Path(path)) for path in argv], echo=lambda message: print(message, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
