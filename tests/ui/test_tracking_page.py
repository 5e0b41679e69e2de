"""The Runs page's "Log to MLflow / TensorBoard" popover (tlui/tracking_view.py) with AppTest: a finished run logged
to MLflow's default store and to TensorBoard, with a message saying where; a second log says it was already there."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")

import tlcore  # noqa: E402

OPEN = "runs_w_open"
TO, URI, LOGDIR = "runs_w_track_to", "runs_w_track_uri", "runs_w_track_logdir"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str]:
    """A real zero-shot run (quick: nothing to train) in its own runs folder: (folder, run id)."""
    root = tmp_path_factory.mktemp("runs")
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8, test_size=20,
                                             data_name="sms_spam_sample.csv"), data, store=tlcore.RunStore(root))
    tlcore.execute(run)
    return root, run.id


def test_runs_page_logs_the_open_run_to_mlflow_and_tensorboard(finished, tmp_path, monkeypatch, runs_page, button,
                                                                texts):
    import mlflow

    root, run_id = finished
    monkeypatch.chdir(tmp_path)  # MLflow's default store is made in the app's working folder
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    at = runs_page(root, monkeypatch)
    at.selectbox(key=OPEN).set_value(run_id).run()
    assert not at.exception
    assert at.radio(key=TO).value == "MLflow" and at.text_input(key=URI).value == ""
    assert not next(p for p in at.get("popover") if p.proto.popover.label.startswith("Log to")).proto.popover.disabled
    assert f"tlcore export-tracking --run {run_id} --to mlflow" in texts(at.caption)

    button(at, "Log this run").click().run(timeout=240)  # sets up the store the first time: give it time
    assert not at.exception
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert f"Logged run {run_id} to MLflow experiment 'TransferLab' at {uri} as MLflow run" in texts(at.success)
    client = mlflow.MlflowClient(uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("TransferLab").experiment_id])
    assert logged.data.tags["transferlab.run_id"] == run_id
    assert logged.data.metrics["accuracy"] == tlcore.RunStore(root).get(run_id).metrics()["accuracy"]
    assert logged.info.run_id in texts(at.success)

    button(at, "Log this run").click().run(timeout=120)
    assert f"Run {run_id} was already logged" in texts(at.success)
    assert len(client.search_runs([logged.info.experiment_id])) == 1

    at.radio(key=TO).set_value("TensorBoard").run()
    at.text_input(key=LOGDIR).input(str(tmp_path / "tb")).run()
    button(at, "Log this run").click().run(timeout=120)
    assert not at.exception
    assert f"Logged run {run_id} in {tmp_path / 'tb' / run_id}" in texts(at.success)
    assert list((tmp_path / "tb" / run_id).glob("events.out.tfevents.*"))

    # Another run opened: the message was about that run, so it goes.
    at.selectbox(key=OPEN).set_value(None).run()
    assert "Logged run" not in texts(at.success)


def test_a_live_run_cannot_be_logged_yet(tmp_path, monkeypatch, runs_page):
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    queued = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8, test_size=20), data,
                               store=tlcore.RunStore(tmp_path / "mine"))  # no worker: it stays queued
    at = runs_page(tmp_path / "mine", monkeypatch)
    at.selectbox(key=OPEN).set_value(queued.id).run()
    assert not at.exception
    (popover,) = [p.proto.popover for p in at.get("popover") if p.proto.popover.label == "Log to MLflow / TensorBoard"]
    assert popover.disabled
