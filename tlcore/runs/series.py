"""A series of runs: a learning curve, a "Find the best method" search, a sweep. On the local executor they run
one after another in one process (the model loads once for the whole series); on Ray (``TLCORE_EXECUTOR=ray``,
tlcore/runs/executor.py) each is a task of its own and they run in parallel as the cluster allows. Each run can
be cancelled on its own.

- ``start_series`` starts them detached (the app: a browser refresh does not stop them): locally
  ``python -m tlcore.runs.series RUN_DIR ...``, on Ray a driver process; ``execute_series`` runs them and waits
  (the CLI); ``cancel_series`` stops them.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from ..errors import RunError
from .executor import executor_name, start_runs
from .store import LIVE_STATES, Run


def start_series(runs: Sequence[Run]) -> int:
    """Execute the runs in a detached process (one after another here, or as Ray tasks); return its pid.

    Every run's status.json gets that pid: a queued run whose process died is then reported as failed, not
    queued for ever."""
    return start_runs(runs, series=True)


def execute_series(runs: Sequence[Run], echo: Callable[[str], None] | None = None,
                   stop_on_error: bool = False) -> list[dict]:
    """Execute the runs in order in this process; return the metrics of those that succeeded.

    A cancelled run is skipped. A failed one is recorded in its status.json; with ``stop_on_error`` the
    remaining runs are then cancelled and the error is raised (the CLI), else the series goes on (the app).
    With ``TLCORE_EXECUTOR=ray`` the runs are Ray tasks, run in parallel, and this waits for them all.
    """
    if executor_name() == "ray":
        from .ray_executor import execute_on_ray

        return execute_on_ray(runs, echo=echo, stop_on_error=stop_on_error)
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
