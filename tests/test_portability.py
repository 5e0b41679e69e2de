"""tlcore on a system without Linux's extras (Windows): no fcntl, no resource, no /proc, and no os.kill to probe a
process (on Windows it kills it). A Linux interpreter is made to look like that to tlcore's own code, and the
library imports, the CLI answers and a worker process runs a zero-shot run to "succeeded"; also the locks, the
dead-worker check and the device choice that replaced those calls."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

import tlcore
from tlcore.runs import launcher, store

# Loaded first by every interpreter started with its folder on PYTHONPATH (the worker it starts too). tlcore's code
# (a caller whose module is tlcore or under it) cannot import fcntl or resource, and its reads of /proc and its
# os.kill calls fail as on Windows and are written to TL_SIMULATED_LOG; other libraries keep Linux (psutil reads
# /proc and filelock uses fcntl here; on Windows they have their own ways).
SITECUSTOMIZE = '''
import builtins
import os
import sys
import sysconfig

LOG = os.environ["TL_SIMULATED_LOG"]
MISSING = {"fcntl", "resource"}
STDLIB = tuple(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib"))


def _record(line):
    with open(LOG, "a") as handle:
        handle.write(f"{os.getpid()} {line}\\n")


def _module(globals):
    """The module's name; for `python -m tlcore.runs.worker` that, not '__main__'."""
    return getattr(globals.get("__spec__"), "name", None) or globals.get("__name__", "")


def _is_tlcore(module):
    return module == "tlcore" or module.startswith("tlcore.")


def _tlcore_caller():
    """'module:line' of the tlcore code behind this call: the nearest caller outside the standard library."""
    frame = sys._getframe(2)
    while frame is not None:
        module, path = _module(frame.f_globals), frame.f_code.co_filename
        if _is_tlcore(module):
            return f"{module}:{frame.f_lineno}"
        if not (path.startswith("<frozen") or (path.startswith(STDLIB) and "site-packages" not in path)):
            return None
        frame = frame.f_back
    return None


_real_import = builtins.__import__


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    caller = _module(globals or {})
    if level == 0 and name.split(".")[0] in MISSING and _is_tlcore(caller):
        _record(f"refused import {name} in {caller}")
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _real_import(name, globals, locals, fromlist, level)


def _audit(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if path == "/proc" or path.startswith("/proc/"):
            caller = _tlcore_caller()
            if caller:
                _record(f"VIOLATION {event} {path} by {caller}")
                raise FileNotFoundError(2, "No such file or directory", path)
    elif event == "os.kill":
        caller = _tlcore_caller()
        if caller:
            _record(f"VIOLATION os.kill{tuple(args)} by {caller}")
            raise OSError("os.kill would end the process on Windows")


builtins.__import__ = _import
sys.addaudithook(_audit)
_record(f"simulated {sys.orig_argv[1:3]}")
'''

# Runs in the simulated interpreter: the rule catches what it forbids, tlcore's own probes work, and a worker
# process takes a zero-shot run on 24 rows of the SMS sample to the end. Prints one JSON line.
SCRIPT = '''
import json, os, subprocess, sys, time
import pandas as pd

probe = {"__name__": "tlcore.probe"}  # code that says it is tlcore's
caught = []
for line in ("import fcntl", "import resource", "open('/proc/self/stat')", "os.kill(os.getpid(), 0)"):
    try:
        exec(line, {**probe, "os": os})
    except (ImportError, OSError):
        caught.append(line)

import tlcore
from tlcore.engine import resources, runtime
from tlcore.runs import store

ended = subprocess.Popen([sys.executable, "-c", "pass"])
ended.wait()
frame = tlcore.load_sample("sms_spam")
small = pd.concat([frame[frame.label == label].head(12) for label in ("ham", "spam")])
config = tlcore.RunConfig(model="minilm", method="zero-shot", test_size=8, val_size=4)
run = tlcore.create_run(config, tlcore.to_labeled(small, "text", "label"), store=tlcore.RunStore(sys.argv[1]))
worker = tlcore.start_worker(run)
deadline = time.monotonic() + 240
while run.status()["status"] in tlcore.LIVE_STATES and time.monotonic() < deadline:
    time.sleep(0.3)
print(json.dumps({
    "caught": caught, "threads": runtime.thread_budget(max_age=0), "memory": resources.available_memory(),
    "alive": store._pid_alive(os.getpid(), store.process_created(os.getpid())),
    "ended_alive": store._pid_alive(ended.pid), "worker": worker, "status": run.status(),
    "metrics": run.metrics()}))
'''


@pytest.fixture
def simulated(tmp_path):
    """``simulated(*args)``: ``python args...`` on the simulated system; (completed process, log lines)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "simulated.log"
    root = Path(__file__).resolve().parent.parent  # tlcore of this checkout, installed or not
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(root)]), "TL_SIMULATED_LOG": str(log),
           "TLCORE_THREADS": ""}

    def run(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, list[str]]:
        result = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=timeout)
        return result, log.read_text().splitlines() if log.exists() else []
    return run


def test_tlcore_imports_answers_and_runs_a_worker_without_fcntl_resource_or_proc(simulated, tmp_path, sms_path):
    result, _ = simulated("-m", "tlcore.cli", "validate", str(sms_path), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["ok"] is True

    result, log = simulated("-c", SCRIPT, str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    # The simulation is real: it refuses what tlcore's own code must not do, in the worker too.
    assert out["caught"] == ["import fcntl", "import resource", "open('/proc/self/stat')", "os.kill(os.getpid(), 0)"]
    worker_lines = [line for line in log if line.startswith(f"{out['worker']} ")]
    assert any("simulated ['-m', 'tlcore.runs.worker']" in line for line in worker_lines), log
    assert any("refused import resource in tlcore.engine.memory" in line for line in worker_lines), log
    # The one Linux-only read tlcore makes on purpose: the process's own peak memory (VmHWM), whose fallback this
    # simulation takes (the run below still reports a peak).
    allowed = ("tlcore.probe", "open /proc/self/status by tlcore.engine.memory:")
    assert [line for line in log if "VIOLATION" in line and not any(a in line for a in allowed)] == []

    assert out["status"]["status"] == "succeeded", out["status"]
    metrics = out["metrics"]
    assert metrics["n_test"] == 8 and 0 <= metrics["accuracy"] <= 1 and metrics["peak_rss_mb"] > 50
    assert out["threads"] >= 1  # psutil measured the other processes' load
    assert out["memory"] > 0 and out["alive"] is True and out["ended_alive"] is False


def test_dead_worker_is_told_apart_from_a_live_one_a_zombie_and_a_reused_pid():
    me = os.getpid()
    assert store._pid_alive(me) and store._pid_alive(me, store.process_created(me))
    assert not store._pid_alive(me, store.process_created(me) + 30)  # another process that got the pid later
    assert not store._pid_alive(None) and store.process_created(None) is None
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while store._pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE  # it exited; its parent has not reaped it
    assert not store._pid_alive(child.pid)
    child.wait()
    assert not store._pid_alive(child.pid) and store.process_created(child.pid) is None


def test_status_keeps_the_start_time_of_the_pid_it_records(sms, runs_dir):
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20), sms,
                            store=tlcore.RunStore(runs_dir))
    run.update_status(status="running", pid=os.getpid())
    assert run.status()["status"] == "running"
    assert run.status()["pid_created"] == pytest.approx(store.process_created(os.getpid()))
    run.update_status(pid_created=store.process_created(os.getpid()) - 60)  # the pid now names a later process
    status = run.status()
    assert status["status"] == "failed" and "ended unexpectedly" in status["error"]


def test_a_run_slot_is_freed_when_its_process_is_killed_and_waits_while_held(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_MAX_CONCURRENT_RUNS", "1")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from tlcore.runs.store import run_slot
            with run_slot(Path({str(tmp_path)!r})):
                print("held", flush=True)
                time.sleep(120)
            """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        waited = threading.Event()
        got = []

        def take() -> None:
            with store.run_slot(tmp_path, on_wait=waited.set, poll_seconds=0.05) as slot:
                got.append(slot)

        taker = threading.Thread(target=take)
        taker.start()
        assert waited.wait(10) and not got  # the one slot is held by the other process: wait, do not take it
        holder.kill()  # a worker killed mid-run: the system drops its lock
        taker.join(30)
        assert got == [0]
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="compares psutil's numbers with Linux's /proc")
def test_the_cpu_sample_counts_what_proc_stat_says():
    """On Linux the thread budget measures as before: the first 8 fields of /proc/stat's cpu line (user .. steal,
    not guest, already inside user), idle + iowait as idle, and this process's utime + stime."""
    from tlcore.engine import runtime

    sample = runtime._cpu_sample()
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[11:13]
    ticks = os.sysconf("SC_CLK_TCK")
    expected = (sum(values) / ticks, (values[3] + values[4]) / ticks, (int(own[0]) + int(own[1])) / ticks)
    assert sample == pytest.approx(expected, abs=0.2)  # read a moment apart


def test_workers_are_detached_the_same_way_on_every_system():
    assert launcher.detached_options(windows=False) == {"start_new_session": True}
    # Windows ignores sessions: its own process group (Ctrl+C in the app's console does not reach the worker),
    # and no console window.
    assert launcher.detached_options(windows=True) == {"creationflags": 0x200 | 0x08000000}


@pytest.mark.parametrize("cuda, mps, asked, expected", [
    (False, True, "auto", "mps"), (True, True, "auto", "cuda"), (False, False, "auto", "cpu"),
    (False, True, "mps", "mps"), (True, False, "cpu", "cpu"), (False, True, "cuda", "error"),
    (True, False, "mps", "error")])
def test_device_choice_prefers_cuda_then_apple_mps_then_cpu(monkeypatch, cuda, mps, asked, expected):
    import torch

    from tlcore.engine import models

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    if expected == "error":
        with pytest.raises(tlcore.ModelError, match=f"device '{asked}' was asked for"):
            models.choose_device(asked)
    else:
        assert models.choose_device(asked) == expected


def test_run_ids_with_either_path_separator_are_refused(runs_dir):
    for bad in ("../x", "..\\x", "a\\..\\..\\x"):
        with pytest.raises(tlcore.RunError, match="is not a run id"):
            tlcore.RunStore(runs_dir).get(bad)
    with pytest.raises(tlcore.RunError, match="is not a run folder"):
        store.as_run("somewhere\\run-1")
