"""The run store: one directory per run, the durable contract between a worker and the UI.

runs/<run-id>/
  config.json      what to run (model, method, options, split settings, data fingerprint, versions)
  data/            the train/val/test split the run uses (CSV), so the worker needs nothing else
  status.json      queued | running | succeeded | failed | cancelled, pid, error, stage progress
  events.jsonl     append-only training events (one JSON object per line)
  metrics.json     test metrics, timings, parameter counts
  predictions.csv  test texts, gold, predicted, confidence, one probability column per class
  artifacts/       what prediction needs (safetensors / JSON only)
  cancel           present when a cancel was requested

This module is light (no torch): the UI imports it to list and watch runs.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd

from ..data import LabeledData, Split
from ..errors import RunError

LIVE_STATES = ("queued", "running")
FINAL_STATES = ("succeeded", "failed", "cancelled")


def default_runs_dir() -> Path:
    return Path(os.environ.get("TLCORE_RUNS_DIR", "runs"))


def max_concurrent_runs() -> int:
    """How many runs of one runs folder execute at once (``TLCORE_MAX_CONCURRENT_RUNS``, default 1)."""
    try:
        return max(1, int(os.environ.get("TLCORE_MAX_CONCURRENT_RUNS", "1")))
    except ValueError:
        return 1


@contextlib.contextmanager
def run_slot(root: Path, on_wait=None, poll_seconds: float = 0.5):
    """Hold one of the folder's execution slots for the duration of a run (a queue of file locks).

    The operating system releases a lock when its process dies (flock on Linux and macOS, msvcrt's lock on
    Windows, both through filelock), so a crashed or killed worker can never block the queue.
    """
    from filelock import FileLock, Timeout

    slots = root / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for i in range(max_concurrent_runs()):
            lock = FileLock(slots / f"slot-{i}.lock")
            try:
                lock.acquire(blocking=False)  # taken by another run: try the next slot
            except Timeout:
                continue
            try:
                yield i
            finally:
                lock.release()
            return
        if on_wait and not waited:
            on_wait()
        waited = True
        time.sleep(poll_seconds)


def write_json_atomic(path: Path, payload) -> None:
    """Write JSON so that a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    replace_file(tmp, path)


def replace_file(source: Path, target: Path, wait_seconds: float = 1.0) -> None:
    """``os.replace``, retried for up to ``wait_seconds`` on Windows, which refuses to replace a file that another
    process has open (the app reading status.json as the worker writes it); elsewhere a rename never waits."""
    deadline = time.monotonic() + (wait_seconds if os.name == "nt" else 0.0)
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def model_tag(model: str) -> str:
    """How a run's model is named in its id and in tables: a catalog name as it is, a folder by its last part."""
    return re.split(r"[\\/]", model.rstrip("\\/"))[-1] if re.search(r"[\\/]", model) else model


def new_run_id(method: str, model: str) -> str:
    """A new run id: creation stamp first (sorting by id sorts by time), then method, model and 4 random hex."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{method}-{model_tag(model)}-{secrets.token_hex(2)}"


def run_clock(run_id: str) -> str:
    """"HH:MM:SS" of a run's creation, read from its id (``new_run_id``); "" for an id not made that way."""
    stamp = run_id[9:15]
    return f"{stamp[:2]}:{stamp[2:4]}:{stamp[4:]}" if len(run_id) > 15 and stamp.isdigit() else ""


@dataclass
class RunConfig:
    """Everything needed to reproduce a run (the split itself is stored beside it)."""

    model: str
    method: str
    method_options: dict = field(default_factory=dict)
    data_name: str = "data"
    text_column: str = "text"
    label_column: str = "label"
    test_size: float = 0.2
    val_size: float = 0.1
    split_seed: int = 0
    per_class: int | None = None
    model_revision: str | None = None  # the Hugging Face snapshot a Hub-id model had when the run was created
    device: str = "auto"
    precision: str = "auto"  # auto, fp32, bf16 or fp16 (tlcore.engine.precision)
    test_name: str | None = None  # a separate test file's name (then test_size is not used)
    val_name: str | None = None  # a separate validation file's name
    group: str | None = None  # runs made together (a learning curve) share this id; None for a single run
    search: str | None = None  # runs of one "Find the best method" search share this id
    sweep: str | None = None  # runs of one sweep (a grid of option values, tlcore.compare.sweep) share this id
    data_version: str | None = None  # the saved data version trained on (tlcore.data.versions): its path

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})


def _library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for package in ("tlcore", "torch", "transformers", "peft", "scikit-learn"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def process_created(pid: int | None) -> float | None:
    """When process ``pid`` started (seconds), or None when there is none: recorded beside a worker's pid so that
    a later process given the same pid (Windows reuses them soon) is not taken for the worker.

    On Linux counted from boot: psutil adds the boot time as the system clock says it now, so its wall-clock
    answer moves whenever the clock is set; elsewhere the wall-clock time recorded when the process started.
    """
    import psutil

    if not pid:
        return None
    try:
        return _created(psutil.Process(pid))
    except psutil.Error:
        return None


def _created(process) -> float:
    import psutil

    created = process.create_time()
    return created - psutil.boot_time() if sys.platform.startswith("linux") else created


def _pid_alive(pid: int | None, created: float | None = None) -> bool:
    """Whether ``pid`` is still the worker: it exists, has not exited (a zombie, dead but not yet reaped by its
    parent, has), runs as this user (another user's process with the pid is not ours) and, when known, started
    at ``created`` (not a later process that reused the pid)."""
    import psutil

    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if created is not None and abs(_created(process) - created) > 0.5:
            return False
        return process.username() == psutil.Process().username()
    except psutil.Error:  # gone, or not ours to look at
        return False


class Run:
    """A handle on one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.id = self.path.name

    # -- reading ---------------------------------------------------------------------------------
    def _read_json(self, name: str, default=None):
        try:
            return json.loads((self.path / name).read_text())
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            raise RunError(f"run {self.id}: {name} is damaged ({exc}); delete the run or restore the file.") from exc

    def config(self) -> dict:
        config = self._read_json("config.json")
        if not isinstance(config, dict):
            raise RunError(f"run {self.id} has no readable config.json; it is damaged.")
        return config

    def status(self) -> dict:
        """The status, with a dead worker detected: a 'running' run whose process is gone is 'failed'."""
        status = self._read_json("status.json", {"status": "damaged", "error": "status.json is missing"})
        # A pid is looked up only on the machine that recorded it: on a runs folder shared by several machines
        # (a Ray cluster), another machine's process is not ours to judge.
        if (status.get("status") in LIVE_STATES and status.get("pid")
                and status.get("pid_host", socket.gethostname()) == socket.gethostname()
                and not _pid_alive(status.get("pid"), status.get("pid_created"))):
            status = {**status, "status": "failed",
                      "error": "the worker process ended unexpectedly (killed, crashed or out of memory) "
                               f"while {status.get('stage') or 'running'}; start the run again."}
            self.write_status(status)
        return status

    def events(self) -> list[dict]:
        try:
            lines = (self.path / "events.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line being written right now
        return events

    def metrics(self) -> dict | None:
        return self._read_json("metrics.json")

    def predictions(self) -> pd.DataFrame | None:
        path = self.path / "predictions.csv"
        return pd.read_csv(path, keep_default_na=False) if path.exists() else None

    def split(self) -> Split:
        parts = {}
        for part in ("train", "val", "test"):
            frame = pd.read_csv(self.path / "data" / f"{part}.csv", dtype=str, keep_default_na=False)
            parts[part] = LabeledData.from_frame(frame)
        config = self.config()
        return Split(train=parts["train"], val=parts["val"], test=parts["test"], labels=config["labels"],
                     info=config.get("split", {}))

    # -- writing ---------------------------------------------------------------------------------
    def write_status(self, status: dict) -> None:
        write_json_atomic(self.path / "status.json", status)

    def update_status(self, **changes) -> None:
        current = self._read_json("status.json", {}) or {}
        if "pid" in changes:  # the process's start time and machine go with its pid (see _pid_alive)
            changes.setdefault("pid_created", process_created(changes["pid"]))
            changes.setdefault("pid_host", socket.gethostname())
        if "stage" in changes and changes["stage"] != current.get("stage"):
            changes.setdefault("stage_started", time.time())  # lets the UI estimate time left per stage
        self.write_status({**current, **changes})

    def config_yaml(self) -> str:
        """The run's settings as YAML, re-runnable with ``tlcore run --config FILE [--train DATA]``."""
        import yaml

        config = self.config()
        settings = RunConfig.from_dict(config).to_dict()
        settings["train"] = config.get("data_name", "data.csv")
        for role in ("test", "val"):  # separate files: re-run with the same files
            if settings.get(f"{role}_name"):
                settings[role] = settings[f"{role}_name"]
        header = (f"# TransferLab run {self.id}\n# Re-run: tlcore run --config this.yaml --train "
                  f"{settings['train']}  (flags override these values)\n")
        return header + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True)

    def append_event(self, event: dict) -> None:
        with open(self.path / "events.jsonl", "a") as handle:
            handle.write(json.dumps(event) + "\n")

    def request_cancel(self) -> None:
        (self.path / "cancel").touch()

    @property
    def cancel_requested(self) -> bool:
        return (self.path / "cancel").exists()


@dataclass
class RunSummary:
    id: str
    status: str
    model: str = ""
    method: str = ""
    data_name: str = ""
    test_fingerprint: str = ""
    accuracy: float | None = None
    macro_f1: float | None = None
    created: float = 0.0
    seconds: float | None = None
    error: str | None = None
    n_test: int | None = None


class RunStore:
    """All runs under one folder."""

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next queued run to start, 2 for the one after, ...; None when not queued."""
        queued = [(s.created, s.id) for s in self.summaries() if s.status == "queued"]
        ids = [run for _, run in sorted(queued)]
        return ids.index(run_id) + 1 if run_id in ids else None

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else default_runs_dir()
        if self.root.exists() and not self.root.is_dir():
            raise RunError(f"the runs folder {str(self.root)!r} is not a folder; give a folder (it is created if "
                           "missing) with --runs-dir or TLCORE_RUNS_DIR.")

    def create(self, config: RunConfig, split: Split) -> Run:
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = new_run_id(config.method, config.model)
        tmp = self.root / f".{run_id}.creating"
        (tmp / "data").mkdir(parents=True)
        for part in ("train", "val", "test"):
            getattr(split, part).to_frame().to_csv(tmp / "data" / f"{part}.csv", index=False)
        write_json_atomic(tmp / "config.json", {
            **config.to_dict(), "run_id": run_id, "labels": split.labels, "split": split.info,
            "created": time.time(), "versions": _library_versions()})
        write_json_atomic(tmp / "status.json", {"status": "queued", "created": time.time()})
        os.replace(tmp, self.root / run_id)  # the run appears whole or not at all
        return Run(self.root / run_id)

    def get(self, run_id: str) -> Run:
        if not run_id or re.search(r"[\\/]", run_id) or run_id.startswith("."):  # a path on any system
            raise RunError(f"{run_id!r} is not a run id; list runs with `tlcore runs`.")
        path = self.root / run_id
        if not (path / "config.json").exists() and not (path / "status.json").exists():
            raise RunError(f"no run {run_id!r} in {self.root}; list runs with `tlcore runs --runs-dir {self.root}`.")
        return Run(path)

    def runs(self) -> Iterator[Run]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.iterdir(), reverse=True):
            if path.is_dir() and not path.name.startswith("."):
                yield Run(path)

    def summaries(self) -> list[RunSummary]:
        """One row per run, newest first; a damaged run is listed as 'damaged', never raised."""
        rows = []
        for run in self.runs():
            try:
                config, status, metrics = run.config(), run.status(), run.metrics() or {}
                rows.append(RunSummary(
                    id=run.id, status=status.get("status", "damaged"), model=config.get("model", ""),
                    method=config.get("method", ""), data_name=config.get("data_name", ""),
                    test_fingerprint=config.get("split", {}).get("test_fingerprint", ""),
                    accuracy=metrics.get("accuracy"), macro_f1=metrics.get("macro_f1"),
                    created=config.get("created", 0.0), seconds=metrics.get("total_seconds"),
                    error=status.get("error"), n_test=config.get("split", {}).get("n_test")))
            except RunError as exc:
                rows.append(RunSummary(id=run.id, status="damaged", error=str(exc)))
        return rows

    def delete(self, run_id: str) -> None:
        run = self.get(run_id)
        try:
            state = run.status().get("status")
        except RunError:  # a damaged status.json: the run is not live, so it may go
            state = "damaged"
        if state in LIVE_STATES:
            raise RunError(f"run {run_id} is still {state}; cancel it before deleting.")
        shutil.rmtree(run.path)


def runs_grouped_by(key: str, store: RunStore | None = None, keep=None) -> dict[str, list[Run]]:
    """{value of the config's ``key`` (a learning curve's group, a search, a sweep): its runs, oldest first},
    newest group first; runs without the key, or whose config ``keep`` refuses, are left out."""
    groups: dict[str, list[tuple[float, Run]]] = {}
    for run in (store or RunStore()).runs():
        try:
            config = run.config()
        except RunError:
            continue
        if config.get(key) and (keep is None or keep(config)):
            groups.setdefault(config[key], []).append((config.get("created", 0.0), run))
    ordered = sorted(groups.items(), key=lambda item: -max(created for created, _ in item[1]))
    return {name: [run for _, run in sorted(members, key=lambda cr: (cr[0], cr[1].id))] for name, members in ordered}


def as_run(run: Run | str | Path, runs_dir: str | Path | None = None) -> Run:
    """A Run from a Run, a run id (looked up in ``runs_dir``) or a run folder path."""
    if isinstance(run, Run):
        return run
    text = str(run)
    if re.search(r"[\\/]", text) or (isinstance(run, Path) and Path(run).is_dir()):  # either separator
        path = Path(text)
        if not (path / "config.json").exists():
            raise RunError(f"{text!r} is not a run folder (it has no config.json); give a run id from "
                           "`tlcore runs` or the path of a run folder.")
        return Run(path)
    return RunStore(runs_dir).get(text)
