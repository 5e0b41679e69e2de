"""The app's warm worker server (tlcore.runs.warm_server): runs start as forks of a process that has imported
torch and loaded the model, and behave exactly like runs in a fresh worker process."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

import tlcore
from tlcore.runs import warm_server

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the warm server forks (POSIX only)")


@pytest.fixture()
def server(runs_dir, monkeypatch, wait_for):
    """A real server of this test's runs folder, minilm preloaded; stopped afterwards."""
    monkeypatch.setenv("TLCORE_WARM_WORKER", "1")
    runs_dir.mkdir(parents=True, exist_ok=True)
    assert warm_server.keep_warm(runs_dir, preload=["minilm"])
    try:
        wait_for(lambda: warm_server.is_running(runs_dir), timeout=120)
        yield runs_dir
    finally:
        warm_server.stop(runs_dir)


def server_pid(runs_dir) -> int:
    return warm_server._request(runs_dir, {"op": "ping"}, timeout=5)["pid"]


def test_a_run_forked_from_the_warm_server_matches_one_run_in_process(server, sms, wait_for):
    store = tlcore.RunStore(server)
    config = tlcore.RunConfig(model="minilm", method="zero-shot", test_size=40)
    assert warm_server._request(server, {"op": "ping"}, timeout=5)["preloaded"] == ["minilm"]
    warm = tlcore.create_run(config, sms, store=store)
    pid = tlcore.start_worker(warm)
    final = wait_for(lambda: warm.status()["status"] in tlcore.runs.FINAL_STATES and warm.status(), timeout=120)
    assert final["status"] == "succeeded", final
    assert pid not in (os.getpid(), server_pid(server)) and final["pid"] == pid
    assert f"forked from the worker server {server_pid(server)}" in (warm.path / "worker.log").read_text()
    # The same split and method in this process gives the same predictions.
    here = tlcore.create_run(config, sms, store=store)
    tlcore.execute(here)
    assert warm.predictions()["predicted"].tolist() == here.predictions()["predicted"].tolist()
    assert warm.metrics()["accuracy"] == here.metrics()["accuracy"]


def test_a_warm_run_can_be_cancelled_and_a_killed_one_is_reported_failed(server, sms, wait_for):
    store = tlcore.RunStore(server)
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=32, test_size=20,
                              method_options={"epochs": 50, "batch_size": 4, "max_length": 32})
    cancelled, killed = (tlcore.create_run(config, sms, store=store) for _ in range(2))
    tlcore.start_worker(cancelled)
    wait_for(lambda: cancelled.events(), timeout=120)
    cancelled.request_cancel()
    final = wait_for(lambda: cancelled.status()["status"] in tlcore.runs.FINAL_STATES and cancelled.status(),
                     timeout=60)
    assert final["status"] == "cancelled"

    tlcore.start_worker(killed)
    wait_for(lambda: killed.events(), timeout=120)
    os.kill(json.loads((killed.path / "status.json").read_text())["pid"], signal.SIGKILL)
    status = wait_for(lambda: killed.status()["status"] != "running" and killed.status(), timeout=30)
    assert status["status"] == "failed" and "ended unexpectedly" in status["error"]
    assert warm_server.is_running(server)  # a child's death does not touch the server


def test_a_changed_environment_or_no_server_starts_a_fresh_process(server, sms, monkeypatch, wait_for):
    store = tlcore.RunStore(server)
    config = tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20)
    reply = warm_server._request(server, {"op": "launch", "module": "tlcore.runs.worker", "args": [],
                                          "log": os.devnull, "env": {**os.environ, "HF_HUB_CACHE": "/elsewhere"}},
                                 timeout=10)
    assert "environment changed" in reply["error"] and "HF_HUB_CACHE" in reply["error"]
    assert "not a run's entry module" in warm_server._request(
        server, {"op": "launch", "module": "os", "args": [], "log": os.devnull, "env": dict(os.environ)},
        timeout=10)["error"]

    warm_server.stop(server)
    wait_for(lambda: not warm_server.is_running(server), timeout=30)
    run = tlcore.create_run(config, sms, store=store)
    tlcore.start_worker(run)  # no server: a fresh worker process, as before
    final = wait_for(lambda: run.status()["status"] in tlcore.runs.FINAL_STATES and run.status(), timeout=120)
    assert final["status"] == "succeeded", final
    assert "started warm" not in (run.path / "worker.log").read_text()


def test_the_server_ends_with_the_app_that_started_it(runs_dir, monkeypatch, wait_for, tmp_path):
    monkeypatch.setenv("TLCORE_WARM_WORKER", "1")
    runs_dir.mkdir(parents=True, exist_ok=True)
    owner = os.fork()
    if owner == 0:  # stands in for the app process
        time.sleep(600)
        os._exit(0)
    try:
        from tlcore.runs.launcher import launch_detached

        launch_detached(warm_server.ENTRY_MODULE, [str(runs_dir), "--owner", str(owner)], tmp_path / "server.log")
        wait_for(lambda: warm_server.is_running(runs_dir), timeout=120)
    finally:
        os.kill(owner, signal.SIGKILL)
        os.waitpid(owner, 0)
    wait_for(lambda: not warm_server.is_running(runs_dir), timeout=30)
    assert not warm_server.socket_path(runs_dir).exists()


def test_off_switch_and_unknown_folders(runs_dir, monkeypatch):
    monkeypatch.setenv("TLCORE_WARM_WORKER", "0")
    assert not warm_server.keep_warm(runs_dir) and not warm_server.is_running(runs_dir)
    monkeypatch.setenv("TLCORE_WARM_WORKER", "1")
    assert warm_server.launch(runs_dir, "tlcore.runs.worker", [], runs_dir / "log", dict(os.environ)) is None
    assert len(str(warm_server.socket_path(runs_dir / ("x" * 300)))) < 100  # a Unix socket path's limit
