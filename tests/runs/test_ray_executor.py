"""Runs on a real Ray cluster (TLCORE_EXECUTOR=ray, tlcore/runs/ray_executor.py): a head and a worker node started
as separate processes here, 1 CPU each, shared by the module. A learning curve of 2 sizes x 2 seeds runs through
it (as the CLI does, waiting); single runs start detached (as the app does): one is cancelled mid-training, and
the node running another is killed mid-training, which must end that run "failed" with a message."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile

import pytest

import tlcore
from tlcore.runs import learning_curve as lc

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

COMPLETE = ("config.json", "status.json", "metrics.json", "predictions.csv", "data/train.csv", "artifacts/labels.json")


@pytest.fixture(scope="module")
def cluster():
    """(cluster, worker node): Ray's head (resource tl_head) and one worker node (tl_worker), 1 CPU each."""
    # Ray's unix sockets live under its temp folder, whose path must stay short (~107 characters at most).
    short = tempfile.mkdtemp(prefix="tlray", dir="/tmp" if os.path.isdir("/tmp") else None)
    env = pytest.MonkeyPatch()
    env.setenv("RAY_TMPDIR", short)
    started = None
    try:
        started = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "resources": {"tl_head": 1}, "include_dashboard": False})
        worker = started.add_node(num_cpus=1, resources={"tl_worker": 1})
        env.setenv("RAY_ADDRESS", started.address)
        env.setenv("TLCORE_EXECUTOR", "ray")
        yield started, worker
    finally:
        ray.shutdown()  # this process's own connection (the curve's driver), then every node's processes
        if started is not None:
            started.shutdown()
        env.undo()
        shutil.rmtree(short, ignore_errors=True)


def long_lora_run(data, store: tlcore.RunStore) -> tlcore.Run:
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=32, test_size=20, data_name="sms.csv",
                              method_options={"epochs": 50, "batch_size": 4, "max_length": 32})
    return tlcore.create_run(config, data, store=store)


@pytest.fixture(scope="module")
def long_runs(cluster, sms, tmp_path_factory):
    """Two long LoRA runs started detached at once, as the app starts them: "head" pinned to the head node (to be
    cancelled), "worker" to the worker node (to lose). Their driver processes are stopped at the end if alive."""
    store = tlcore.RunStore(tmp_path_factory.mktemp("runs"))
    runs, pids = {}, []
    for node in ("head", "worker"):
        runs[node] = long_lora_run(sms, store)
        with pytest.MonkeyPatch.context() as env:  # pinned by a custom resource only that node has
            env.setenv("TLCORE_RAY_OPTIONS", f'{{"resources": {{"tl_{node}": 1}}}}')
            pids.append(tlcore.start_worker(runs[node]))
    yield store, runs
    import psutil

    for pid in pids:
        try:
            psutil.Process(pid).send_signal(signal.SIGTERM)
        except psutil.Error:
            continue


def training(run: tlcore.Run) -> list[dict]:
    return [event for event in run.events() if event["type"] == "train"]


def test_a_learning_curve_runs_on_both_nodes_and_completes(cluster, yelp, runs_dir):
    config = tlcore.RunConfig(model="minilm", method="linear-probe", test_size=40, data_name="yelp_reviews.csv")
    runs = lc.create_curve(config, yelp, [8, 4], [0, 1], tlcore.RunStore(runs_dir))
    metrics = lc.execute_curve(runs, stop_on_error=True)  # as `tlcore compare --learning-curve` does: it waits

    assert [m["run_id"] for m in metrics] == [run.id for run in runs]
    assert lc.curve_status(runs) == {"succeeded": 4}
    for run in runs:
        assert all((run.path / name).exists() for name in COMPLETE), run.id
        status = run.status()
        assert status["executor"] == "ray" and status["node"] and status["pid"] == os.getpid()
        assert run.metrics()["n_test"] == 40 and len(run.predictions()) == 40
    assert [run.metrics()["n_train"] for run in runs] == [8, 8, 16, 16]
    # 1 CPU per node and 4 runs queued at once: Ray spreads them, so both nodes trained some.
    assert len({run.status()["ray_node_id"] for run in runs}) == 2


def test_a_cancelled_run_ends_cancelled_and_the_page_shows_it_live(long_runs, monkeypatch, wait_for, runs_page,
                                                                  texts):
    store, runs = long_runs
    run = runs["head"]
    assert run.status()["executor"] == "ray"
    wait_for(lambda: training(run), timeout=120)

    at = runs_page(store.root, monkeypatch)  # the Runs page of a fresh session, while the run trains
    at.selectbox(key="runs_w_open").set_value(run.id).run()
    assert not at.exception, at.exception
    shown = texts(at.caption)
    assert "Runs on the Ray cluster, node" in shown and run.status()["node"] in shown
    assert run.status()["status"] == "running"

    run.request_cancel()
    final = wait_for(lambda: run.status()["status"] in tlcore.runs.FINAL_STATES and run.status(), timeout=60)
    assert final["status"] == "cancelled", final
    assert len(training(run)) < 50 * 16


def test_losing_the_node_mid_run_fails_the_run_with_a_message(cluster, long_runs, wait_for):
    head_and_worker, worker = cluster
    run = long_runs[1]["worker"]
    wait_for(lambda: training(run), timeout=120)
    head_and_worker.remove_node(worker)
    final = wait_for(lambda: run.status()["status"] in tlcore.runs.FINAL_STATES and run.status(), timeout=60)
    assert final["status"] == "failed", final
    assert "ended unexpectedly" in final["error"] and "node" in final["error"], final["error"]
    assert len(training(run)) < 50 * 16


def test_ray_settings_that_cannot_work_are_refused_clearly(cluster, monkeypatch, sms, runs_dir):
    """Refused before any process starts, with what to do; the run says the same instead of staying queued."""
    store = tlcore.RunStore(runs_dir)

    def refused(error, message: str) -> None:
        run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20), sms, store=store)
        with pytest.raises(error, match=message) as caught:
            tlcore.start_worker(run)
        status = run.status()
        assert (status["status"], status["error"]) == ("failed", str(caught.value)) and "pid" not in status

    monkeypatch.setenv("TLCORE_RAY_OPTIONS", '{"num_cpu": 2}')
    refused(tlcore.ConfigError, "TLCORE_RAY_OPTIONS has num_cpu.*use num_cpus")
    monkeypatch.delenv("TLCORE_RAY_OPTIONS")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # nothing listens there
    refused(tlcore.RunError, "cannot reach the Ray cluster at 127.0.0.1:1 .*ray start --head")
    monkeypatch.setitem(sys.modules, "ray", None)  # as where Ray is not installed: importing it fails
    refused(tlcore.ConfigError, r"needs Ray.*pip install 'tlcore\[ray\]'")
    monkeypatch.setenv("TLCORE_EXECUTOR", "slurm")
    refused(tlcore.ConfigError, "TLCORE_EXECUTOR='slurm' is not an executor; use local or ray")


def test_a_run_no_node_can_hold_fails_at_once_saying_why(cluster, monkeypatch, sms, runs_dir):
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20), sms,
                            store=tlcore.RunStore(runs_dir))
    monkeypatch.setenv("TLCORE_RAY_OPTIONS", '{"memory": 1000000, "resources": {"tl_nowhere": 1}}')
    with pytest.raises(tlcore.RunError, match=r"no node of the Ray cluster has what this run asks for \(1 CPU, "
                                              r"0\.0 GB memory, 1 of tl_nowhere\); its nodes offer: 1 CPU"):
        tlcore.runs.execute_series([run], stop_on_error=True)
    status = run.status()
    assert status["status"] == "failed" and "tl_nowhere" in status["error"]
