"""Where runs execute: the executor seam.

- ``local`` (the default): a detached worker process per run on this machine, or one process for a series
  (``python -m tlcore.runs.worker`` / ``tlcore.runs.series``), queued by the runs folder's slots.
- ``ray`` (``TLCORE_EXECUTOR=ray``; Ray's own ``RAY_ADDRESS`` says which cluster): one Ray task per run, placed by
  Ray's scheduler on CPUs, GPUs and memory; a small detached driver process here submits them and watches them
  (tlcore/runs/ray_executor.py). The run folders are the same either way, so the pages watch both alike.

``start_worker`` and ``start_runs`` start runs detached (the app: a browser refresh does not stop them);
``tlcore.runs.series.execute_series`` runs them and waits (the CLI).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError, RunError, TLCoreError
from . import warm_server
from .launcher import launch_detached, launch_environment
from .store import Run

EXECUTORS = ("local", "ray")


def executor_name() -> str:
    """The executor ``TLCORE_EXECUTOR`` names ("local" when unset); an unknown name is refused."""
    name = os.environ.get("TLCORE_EXECUTOR", "").strip().lower() or "local"
    if name not in EXECUTORS:
        raise ConfigError(f"TLCORE_EXECUTOR={os.environ['TLCORE_EXECUTOR']!r} is not an executor; use "
                          f"{' or '.join(EXECUTORS)} (or unset it to run on this machine).")
    return name


def start_worker(run: Run) -> int:
    """Start the run in its own process, detached from the caller (a browser refresh does not stop it)."""
    return start_runs([run])


def start_runs(runs: Sequence[Run], series: bool = False) -> int:
    """Start the runs detached on the chosen executor; return the pid of the local process that owns them.

    Locally a single run gets its own worker process, a ``series`` one process for all (the model loads once).
    On Ray one driver process submits every run as its own task; they run in parallel as the cluster allows.
    Each run's status.json gets that pid, so a run whose process died is reported failed, not queued forever.
    When nothing can run them (no cluster, no process), each run is marked failed with the reason and that
    TLCoreError is raised: callers need not record it again.
    """
    if not runs:
        raise RunError("no runs to start.")
    try:
        if executor_name() == "ray":
            from .ray_executor import check_cluster

            check_cluster()  # a clear error here, not runs that fail a second later
            module, extra = "tlcore.runs.ray_driver", {"executor": "ray", "stage": "submitting to the Ray cluster"}
        else:
            module, extra = ("tlcore.runs.series" if series or len(runs) > 1 else "tlcore.runs.worker"), {}
    except TLCoreError as exc:  # nothing will run them: say why in each, rather than leave them queued for ever
        for run in runs:
            run.update_status(status="failed", finished=time.time(), error=str(exc))
        raise
    log = runs[0].path / "worker.log" if len(runs) == 1 and not series else _series_log(runs)
    try:
        args = [str(run.path) for run in runs]
        # A warm child of the app's worker server when one answers (imports done, model loaded), else a fresh process.
        pid = (warm_server.launch(runs[0].path.parent, module, args, log, launch_environment())
               or launch_detached(module, args, log))
    except OSError as exc:  # no process could be started (no memory, no Python): the runs say so, not queued
        message = f"the worker process could not start: {exc}"
        for run in runs:
            run.update_status(status="failed", finished=time.time(), error=message)
        raise RunError(message) from exc
    for run in runs:
        run.update_status(pid=pid, **extra)
    return pid


def _series_log(runs: Sequence[Run]) -> Path:
    """A series logs beside its runs, named after its group, search or sweep."""
    config = runs[0].config()
    name = config.get("group") or config.get("search") or config.get("sweep") or runs[0].id
    return runs[0].path.parent / f".{name}.log"
