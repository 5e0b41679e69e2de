"""Logging a run to an experiment tracker (tlcore/use/tracking.py, `tlcore export-tracking`): a real LoRA run read back
with MLflow's own client and with TensorBoard's EventAccumulator; logging twice; failed, live and missing runs; the
message when the optional library is missing. The tracking libraries come with the `test` extra."""
from __future__ import annotations

import json
import re
import socket
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

import tlcore
from tlcore.errors import TrackingError
from tlcore.use import DEFAULT_EXPERIMENT, log_to_mlflow, log_to_tensorboard
from tlcore.use.tracking import COMPLETE_TAG, RUN_ID_TAG, flatten

CURVES = ("train_loss", "learning_rate", "examples_per_s", "val_loss", "val_accuracy")


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, sms) -> tlcore.Run:
    """A real 2-pass LoRA run on 8 SMS rows: a training curve in events.jsonl, validation after each pass, an
    adapter to export."""
    store = tlcore.RunStore(tmp_path_factory.mktemp("tracking-runs"))
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=4, test_size=10, data_name="sms_spam_sample.csv",
                              method_options={"epochs": 2, "max_length": 32, "batch_size": 4})
    run = tlcore.create_run(config, sms, store=store)
    tlcore.execute(run)
    return run


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory) -> str:
    """A fresh MLflow store of the kind MLflow 3 makes by default (SQLite), with its artifacts beside it."""
    import mlflow

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # an experiment's artifact folder is made relative to the working folder of its creation
        mlflow.MlflowClient(uri).create_experiment(DEFAULT_EXPERIMENT)
    return uri


def steps_with(run: tlcore.Run, name: str) -> list[int]:
    return [event["step"] for event in run.events() if name in event]


def test_mlflow_gets_params_curves_final_metrics_tags_and_the_export(lora_run, mlflow_uri, tmp_path):
    import mlflow

    result = log_to_mlflow(lora_run, uri=mlflow_uri)
    assert result.action == "logged" and result.location == mlflow_uri and result.experiment == DEFAULT_EXPERIMENT
    assert f"Logged run {lora_run.id} to MLflow experiment 'TransferLab' at {mlflow_uri}" in result.message
    client = mlflow.MlflowClient(mlflow_uri)
    logged = client.get_run(result.tracking_run_id)
    config, metrics = lora_run.config(), lora_run.metrics()

    params = logged.data.params
    assert params["model"] == "minilm" and params["method"] == "lora"
    assert params["method_options.epochs"] == "2" and params["method_options.max_length"] == "32"
    assert "method_options.lr" in params and "method_options.r" in params  # defaults it ran with, not only those given
    assert params["split.data_fingerprint"] == config["split"]["data_fingerprint"]
    assert params["split.n_train"] == "8" and params["test_size"] == "10"
    assert params["versions.torch"] == config["versions"]["torch"] and params["versions.peft"]
    assert json.loads(params["labels"]) == ["ham", "spam"]
    assert result.params == len(params)

    for name in CURVES:  # every logged step, at its step number
        want = steps_with(lora_run, name)
        assert want, f"the run logged no {name}"
        history = client.get_metric_history(result.tracking_run_id, name)
        assert sorted(m.step for m in history) == want, name
    assert [m.value for m in sorted(client.get_metric_history(result.tracking_run_id, "train_loss"),
                                    key=lambda m: m.step)] == [e["train_loss"] for e in lora_run.events()
                                                               if "train_loss" in e]

    final = logged.data.metrics
    assert final["accuracy"] == metrics["accuracy"] and final["macro_f1"] == metrics["macro_f1"]
    assert [final["accuracy_ci_low"], final["accuracy_ci_high"]] == metrics["accuracy_ci"]
    assert [final["macro_f1_ci_low"], final["macro_f1_ci_high"]] == metrics["macro_f1_ci"]
    assert final["train_seconds"] == metrics["train_seconds"] and final["predict_seconds"] == metrics["predict_seconds"]
    assert final["final_val_accuracy"] == metrics["val_accuracy"]  # not mixed into the val_accuracy curve
    assert final["per_class/spam/f1"] == metrics["per_class"]["spam"]["f1"]

    tags = logged.data.tags
    assert tags[RUN_ID_TAG] == lora_run.id and tags["transferlab.status"] == "succeeded"
    assert tags["transferlab.version"] == version("tlcore") and tags["mlflow.runName"] == lora_run.id
    assert tags[COMPLETE_TAG] == "true" and "lora" in tags["mlflow.note.content"]
    assert logged.info.status == "FINISHED"

    # The artifact is the export itself: downloaded and imported, it is the run again.
    names = {artifact.path for artifact in client.list_artifacts(result.tracking_run_id, "export")}
    assert {"export/README.md", "export/adapter_model.safetensors", "export/transferlab"} <= names
    folder = mlflow.artifacts.download_artifacts(run_id=result.tracking_run_id, artifact_path="export",
                                                 dst_path=str(tmp_path), tracking_uri=mlflow_uri)
    imported = tlcore.import_export(folder, tlcore.RunStore(tmp_path / "imported"))
    assert imported.metrics()["accuracy"] == metrics["accuracy"]


def test_logging_the_same_run_twice_reuses_its_mlflow_run(lora_run, mlflow_uri):
    import mlflow

    first = log_to_mlflow(lora_run, uri=mlflow_uri)  # logged by the test above, or here when run alone
    again = log_to_mlflow(lora_run, uri=mlflow_uri)
    assert again.action == "already logged" and again.tracking_run_id == first.tracking_run_id
    assert "was already logged" in again.message and "nothing new was written" in again.message
    client = mlflow.MlflowClient(mlflow_uri)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT).experiment_id
    assert len(client.search_runs([experiment], f"tags.`{RUN_ID_TAG}` = '{lora_run.id}'")) == 1

    # An attempt that stopped half-way (no completion tag) is deleted and the run logged afresh.
    client.delete_tag(first.tracking_run_id, COMPLETE_TAG)
    fresh = log_to_mlflow(lora_run, uri=mlflow_uri)
    assert fresh.action == "replaced" and fresh.tracking_run_id != first.tracking_run_id
    assert client.get_run(first.tracking_run_id).info.lifecycle_stage == "deleted"
    assert len(client.search_runs([experiment], f"tags.`{RUN_ID_TAG}` = '{lora_run.id}'")) == 1


def test_a_failed_run_is_logged_without_an_export_and_a_live_one_is_refused(sms, runs_dir, mlflow_uri):
    import mlflow

    store = tlcore.RunStore(runs_dir)
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=4, test_size=10)
    failed = tlcore.create_run(config, sms, store=store)
    failed.append_event({"type": "train", "step": 1, "epoch": 0.5, "total_steps": 4, "train_loss": 0.7,
                         "learning_rate": 1e-3, "examples_per_s": 5.0, "elapsed": 1.0})
    failed.update_status(status="failed", started=time.time() - 5, finished=time.time(),
                         error="out of memory; try a smaller batch size")
    result = log_to_mlflow(failed, uri=mlflow_uri)
    client = mlflow.MlflowClient(mlflow_uri)
    logged = client.get_run(result.tracking_run_id)
    assert logged.info.status == "FAILED" and logged.data.tags["transferlab.status"] == "failed"
    assert logged.data.tags["transferlab.error"] == "out of memory; try a smaller batch size"
    assert [m.value for m in client.get_metric_history(result.tracking_run_id, "train_loss")] == [0.7]
    assert "accuracy" not in logged.data.metrics and logged.data.params["method"] == "lora"
    assert result.artifact is None and client.list_artifacts(result.tracking_run_id) == []

    queued = tlcore.create_run(config, sms, store=store)  # no worker: it stays queued
    with pytest.raises(TrackingError, match="is queued; log it once it has finished"):
        log_to_mlflow(queued, uri=mlflow_uri)
    with pytest.raises(TrackingError, match="is queued"):
        log_to_tensorboard(queued, runs_dir / "tb")


def test_tensorboard_gets_the_same_scalars_and_a_second_log_replaces_the_first(lora_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    result = log_to_tensorboard(lora_run, tmp_path / "tb")
    folder = tmp_path / "tb" / lora_run.id
    assert result.action == "logged" and result.path == str(folder) and result.location == str(tmp_path / "tb")
    assert f"tensorboard --logdir {tmp_path / 'tb'}" in result.message

    def scalars() -> EventAccumulator:
        events = EventAccumulator(str(folder))
        events.Reload()
        return events

    events = scalars()
    for name, tag in (("train_loss", "train/loss"), ("learning_rate", "train/learning_rate"),
                      ("val_loss", "val/loss"), ("val_accuracy", "val/accuracy")):
        assert [s.step for s in events.Scalars(tag)] == steps_with(lora_run, name), tag
    losses = [e["train_loss"] for e in lora_run.events() if "train_loss" in e]
    assert [s.value for s in events.Scalars("train/loss")] == pytest.approx(losses, rel=1e-6)  # float32 in the file
    metrics = lora_run.metrics()
    assert events.Scalars("final/accuracy")[0].value == pytest.approx(metrics["accuracy"], rel=1e-6)
    assert events.Scalars("final/accuracy_ci_high")[0].value == pytest.approx(metrics["accuracy_ci"][1], rel=1e-6)
    assert "transferlab/text_summary" in events.Tags()["tensors"]  # the settings, as a table
    start = plugin_data_pb2.HParamsPluginData.FromString(
        events.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["method"].string_value == "lora" and start.hparams["method_options.epochs"].number_value == 2

    again = log_to_tensorboard(lora_run, tmp_path / "tb")
    assert again.action == "replaced" and "Replaced the TensorBoard logs" in again.message
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1  # no second copy of every curve
    assert [s.step for s in scalars().Scalars("train/loss")] == steps_with(lora_run, "train_loss")
    assert [p.name for p in (tmp_path / "tb").iterdir()] == [lora_run.id]  # no staging folder left behind


def test_a_missing_tracking_library_says_which_extra_to_install(lora_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` meets when it is not installed
    with pytest.raises(TrackingError, match=re.escape("install it with: pip install 'tlcore[mlflow]'")):
        log_to_mlflow(lora_run, uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(TrackingError, match=re.escape("pip install 'tlcore[tensorboard]'")):
        log_to_tensorboard(lora_run, tmp_path / "tb")
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "tb" / lora_run.id).exists()


def test_a_typed_location_with_a_control_character_is_refused_at_once(lora_run, tmp_path):
    # A NUL byte makes SQLite raise, and MLflow retries that for minutes: refused before anything is tried.
    with pytest.raises(TrackingError, match="the tracking URI 'sqlite:///a\\\\x00b' holds a control character"):
        log_to_mlflow(lora_run, uri="sqlite:///a\x00b")
    with pytest.raises(TrackingError, match="the experiment name .* holds a control character"):
        log_to_mlflow(lora_run, uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="team\nx")
    with pytest.raises(TrackingError, match="the log folder .* holds a control character"):
        log_to_tensorboard(lora_run, "tb\x00logs")
    assert list(tmp_path.iterdir()) == []


def test_names_are_made_safe_for_mlflow_and_stay_distinct():
    flat = flatten({"label_descriptions": {"a/b": 1, "a?b": 2, "..": 3, "ok": {"x y": 4}}}, ".")
    assert list(flat.values()) == [1, 2, 3, 4]  # none lost to a collision
    for name in flat:
        assert re.fullmatch(r"[/\w.\- ]*", name), name
        assert ".." not in name.split(".")[1:] and "" not in name.split("."), name


# -- the command line ---------------------------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:  # bound, then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_refuses_a_missing_run_a_bad_tracker_flags_of_the_other_tracker_and_a_dead_server(tlcore_cli, lora_run,
                                                                                              tmp_path):
    dead = f"http://127.0.0.1:{_closed_port()}"
    for args, expected in (
            (("--run", "20990101-000000-lora-minilm-gone", "--to", "mlflow", "--runs-dir", str(tmp_path)), "no run"),
            (("--run", lora_run.id, "--to", "wandb"), "invalid choice: 'wandb'"),
            (("--run", str(lora_run.path), "--to", "mlflow", "--logdir", str(tmp_path)),
             "--logdir does not apply to --to mlflow"),
            (("--run", str(lora_run.path), "--to", "tensorboard", "--uri", "http://localhost:5000"),
             "--uri does not apply to --to tensorboard"),
            (("--run", str(lora_run.path), "--to", "mlflow", "--uri", dead), f"no MLflow server answers at '{dead}'")):
        result = tlcore_cli("export-tracking", *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert not list(tmp_path.iterdir())  # nothing was written


def test_cli_logs_to_the_default_mlflow_store_and_to_tensorboard_as_one_json_document(tlcore_cli, lora_run, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default store is in the current folder
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = tlcore_cli("export-tracking", "--run", str(lora_run.path), "--to", "mlflow", "--experiment", "team-x",
                        "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)  # exactly one document: MLflow's own messages go to stderr
    assert payload["location"] == f"sqlite:///{tmp_path / 'mlflow.db'}" and (tmp_path / "mlflow.db").is_file()
    assert payload["run_id"] == lora_run.id and payload["experiment"] == "team-x" and payload["action"] == "logged"
    assert payload["artifact"] == "export" and payload["metrics"] > 0 and payload["tracking_run_id"]

    result = tlcore_cli("export-tracking", "--run", str(lora_run.path), "--to", "tensorboard", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["path"] == str(tmp_path / "tb-logs" / lora_run.id)
    assert list(Path(payload["path"]).glob("events.out.tfevents.*"))

    result = tlcore_cli("export-tracking", "--run", str(lora_run.path), "--to", "mlflow", "--experiment", "team-x")
    assert result.returncode == 0 and result.stdout.startswith(f"Run {lora_run.id} was already logged")
