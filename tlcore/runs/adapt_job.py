"""Adaptation jobs: domain-adaptive pre-training (``tlcore.engine.adapt``) in its own detached process, watched and
cancelled through a job folder, as runs are: ``python -m tlcore.runs.adapt_job JOB_DIR``.

<models root>/.jobs/<job-id>/    (the models root is ``<cache>/adapted``, where adapted models appear)
  config.json    the request: model, name, source, root, options (AdaptConfig)
  texts.json     the texts to adapt on (the app holds them in memory; the job must not depend on an upload)
  status.json    queued | running | succeeded | failed | cancelled, pid, stage, error; on success the model's
                 folder, name and record
  events.jsonl   {"type": "train", step, total_steps, train_loss, ...} per step and {"type": "held_out", step,
                 val_loss} before and after training
  log.txt        the process's output
  cancel         present when a cancel was requested

Why beside the models and not in the runs folder: a job makes a model, not a run (no split, method or metrics), so
the Runs page and ``tlcore runs`` would list it as a damaged run; and the job history stays with the models it
made whichever runs folder the app uses. The folder's handle is the runs' own ``Run`` (status with the
dead-process check, events, cancel), so a killed job reads "failed", never "running" forever.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import time
import traceback
from pathlib import Path
from typing import Sequence

from ..engine.adapt import (
    MIN_TEXTS,
    AdaptConfig,
    adapt_model,
    check_name,
    check_texts,
    clean_texts,
    default_name,
    slug_for,
    texts_from_frame,
)
from ..engine.callbacks import Callback
from ..engine.models import adapted_dir, resolve_model
from ..errors import ConfigError, RunError, TLCoreError
from .launcher import launch_detached
from .store import LIVE_STATES, Run, write_json_atomic

JOBS = ".jobs"  # a dot-folder beside the models; the catalog lists only folders holding tlcore_adapted.json
__all__ = ["MIN_TEXTS", "AdaptConfig", "adapt_jobs", "cancel_adapt_job", "clean_texts", "create_adapt_job",
           "execute_adapt_job", "get_adapt_job", "start_adapt_job", "texts_from_frame"]


def jobs_dir(root: str | Path | None = None) -> Path:
    return Path(root or adapted_dir()) / JOBS


def create_adapt_job(model: str, texts: Sequence, config: AdaptConfig | None = None, name: str | None = None,
                     source: str = "", root: str | Path | None = None) -> Run:
    """Check what is cheap (the model resolves, the name is free, enough texts) and write a queued job folder."""
    config = config or AdaptConfig()
    root = Path(root or adapted_dir())
    resolve_model(model)
    name = check_name(name or default_name(model, source), root)
    busy = [job for job in adapt_jobs(root) if job.status().get("status") in LIVE_STATES
            and slug_for(job.config().get("name", "")) == slug_for(name)]
    if busy:
        raise ConfigError(f"an adaptation named {name!r} is already running (job {busy[0].id}); wait for it or "
                          "choose another name.")
    cleaned = check_texts(texts)
    folder = jobs_dir(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug_for(name)[:40]}-{secrets.token_hex(2)}"
    folder.mkdir(parents=True)
    job = Run(folder)
    (folder / "texts.json").write_text(json.dumps(cleaned), encoding="utf-8")
    write_json_atomic(folder / "config.json", {"model": model, "name": name, "source": source, "root": str(root),
                                               "texts": len(cleaned), "options": config.to_dict(),
                                               "created": time.time()})
    job.write_status({"status": "queued", "stage": "queued"})
    return job


def start_adapt_job(job: Run) -> int:
    """Start the job's process, detached (closing the browser does not stop it); returns its pid."""
    pid = launch_detached("tlcore.runs.adapt_job", [str(job.path)], job.path / "log.txt")
    job.update_status(pid=pid)  # a job whose process dies before it writes "running" reads failed, not queued
    return pid


def adapt_jobs(root: str | Path | None = None) -> list[Run]:
    """Every adaptation job of the models root, newest first."""
    folder = jobs_dir(root)
    if not folder.is_dir():
        return []
    return [Run(path) for path in sorted(folder.iterdir(), reverse=True)
            if path.is_dir() and (path / "config.json").exists()]


def get_adapt_job(job_id: str, root: str | Path | None = None) -> Run:
    path = jobs_dir(root) / job_id
    if "/" in job_id or "\\" in job_id or job_id.startswith(".") or not (path / "config.json").exists():
        raise RunError(f"no adaptation job {job_id!r} in {jobs_dir(root)}.")
    return Run(path)


def cancel_adapt_job(job: Run) -> None:
    """Ask the job to stop at its next step (a queued job stops before it loads anything)."""
    job.request_cancel()


class JobCallback(Callback):
    """Writes each step and held-out loss to the job folder; the cancel file stops it."""

    def __init__(self, job: Run, echo=None) -> None:
        self.job, self.echo = job, echo

    def on_train_begin(self, model) -> None:
        self.job.update_status(stage="adapting")

    def on_log(self, event: dict) -> None:
        self.job.append_event({"type": "train", **event})
        if self.echo and (event["step"] % 10 == 0 or event["step"] == event["total_steps"]):
            self.echo(f"step {event['step']}/{event['total_steps']} ({event['phase']}) loss "
                      f"{event['train_loss']:.4f}")

    def on_evaluate(self, event: dict) -> None:
        self.job.append_event({"type": "held_out", **event})
        if self.echo:
            self.echo(f"held-out loss {event['val_loss']:.4f} at step {event['step']}")

    def should_stop(self) -> bool:
        return self.job.cancel_requested


def execute_adapt_job(job: Run, echo=None) -> dict:
    """Run the job here; every outcome ends in its status.json. Returns the adapted model's record."""
    job.update_status(status="running", stage="loading", pid=os.getpid(), started=time.time())
    try:
        if job.cancel_requested:
            raise InterruptedError("adaptation cancelled")
        config = job.config()
        texts = json.loads((job.path / "texts.json").read_text(encoding="utf-8"))
        result = adapt_model(config["model"], texts, AdaptConfig.from_dict(config["options"]), name=config["name"],
                             source=config.get("source", ""), callback=JobCallback(job, echo), root=config["root"])
    except InterruptedError:
        job.update_status(status="cancelled", stage="cancelled", finished=time.time())
        raise
    except TLCoreError as exc:
        job.update_status(status="failed", error=str(exc), finished=time.time())
        raise
    except Exception as exc:
        (job.path / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
        job.update_status(status="failed", error=f"{type(exc).__name__}: {exc} (details in traceback.txt)",
                          finished=time.time())
        raise
    record = result.to_dict()
    job.update_status(status="succeeded", stage="done", finished=time.time(), folder=result.folder,
                      name=record["name"], record=record)
    return record


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m tlcore.runs.adapt_job JOB_DIR", file=sys.stderr)
        return 2
    try:
        execute_adapt_job(Run(Path(argv[0])), echo=lambda message: print(message, flush=True))
    except InterruptedError:
        return 0
    except TLCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001  (recorded in status.json and traceback.txt)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
