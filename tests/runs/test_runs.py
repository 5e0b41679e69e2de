"""Runs in worker processes: they finish (and an app restart shows them as they were), cancel, survive a kill -9
as 'failed', and damage is reported."""
from __future__ import annotations

import json
import os
import signal

import pytest

import tlcore


def long_lora_run(data, runs_dir) -> tlcore.Run:
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=32, test_size=20,
                              method_options={"epochs": 50, "batch_size": 4, "max_length": 32})
    return tlcore.create_run(config, data, store=tlcore.RunStore(runs_dir))


def test_worker_process_runs_to_success(sms, runs_dir, monkeypatch, wait_for, runs_page, runs_table, chart_specs,
                                        train_points):
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=8, test_size=20,
                              method_options={"epochs": 2, "batch_size": 8, "max_length": 32})
    run = tlcore.create_run(config, sms, store=tlcore.RunStore(runs_dir))
    assert run.status()["status"] == "queued"
    tlcore.start_worker(run)
    final = wait_for(lambda: run.status()["status"] in tlcore.runs.FINAL_STATES and run.status())
    assert final["status"] == "succeeded", final
    events = run.events()
    train = [e for e in events if e["type"] == "train"]
    evals = [e for e in events if e["type"] == "eval"]
    assert [e["step"] for e in train] == list(range(1, 5))  # 16 rows / batch 8 x 2 epochs
    assert [e["epoch"] for e in evals] == [1, 2] and all(0 <= e["val_accuracy"] <= 1 for e in evals)
    metrics = run.metrics()
    assert metrics["n_test"] == 20 and 0 < metrics["trainable_params"] < metrics["total_params"]
    assert list(run.predictions().columns[:5]) == ["text", "gold", "predicted", "correct", "confidence"]
    assert (run.path / "artifacts" / "adapter" / "adapter_model.safetensors").exists()

    # An app restart (a fresh session reading the folder) shows the history exactly as the worker left it.
    at = runs_page(runs_dir, monkeypatch)
    row = runs_table(at).set_index("Run").loc[run.id]
    assert (row["Status"], row["Accuracy"], row["Macro-F1"]) == ("succeeded", metrics["accuracy"], metrics["macro_f1"])
    at.selectbox(key="runs_w_open").set_value(run.id).run()
    assert not at.exception, at.exception
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Accuracy"] == f"{metrics['accuracy']:.1%}" and shown["Macro-F1"] == f"{metrics['macro_f1']:.3f}"
    assert train_points(chart_specs(at)[0]) == [1, 2, 3, 4]
    assert json.loads(at.json[1].proto.body) == metrics  # the full metrics.json, as written


def test_cancel_stops_at_the_next_step(sms, runs_dir, wait_for):
    run = long_lora_run(sms, runs_dir)
    tlcore.start_worker(run)
    wait_for(lambda: run.events())
    run.request_cancel()
    final = wait_for(lambda: run.status()["status"] in tlcore.runs.FINAL_STATES and run.status(), timeout=60)
    assert final["status"] == "cancelled"
    steps = len([e for e in run.events() if e["type"] == "train"])
    assert steps < 50 * 16, "the run went on after the cancel"


def test_killed_worker_is_reported_failed_not_running(sms, runs_dir, wait_for):
    run = long_lora_run(sms, runs_dir)
    tlcore.start_worker(run)
    wait_for(lambda: run.events())
    pid = json.loads((run.path / "status.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    status = wait_for(lambda: run.status()["status"] != "running" and run.status(), timeout=30)
    assert status["status"] == "failed"
    assert "ended unexpectedly" in status["error"]
    # ...and it stays failed for a fresh reader (an app restart).
    assert tlcore.RunStore(runs_dir).get(run.id).status()["status"] == "failed"


def test_damaged_run_is_listed_not_raised(sms, runs_dir):
    store = tlcore.RunStore(runs_dir)
    config = tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20)
    good = tlcore.create_run(config, sms, store=store)
    tlcore.execute(good)
    bad = tlcore.create_run(config, sms, store=store)
    (bad.path / "config.json").write_text("{not json")
    rows = {r.id: r for r in store.summaries()}
    assert rows[good.id].status == "succeeded" and rows[good.id].accuracy is not None
    assert rows[bad.id].status == "damaged" and "config.json is damaged" in rows[bad.id].error


def test_unknown_run_id_is_a_clear_error(runs_dir):
    with pytest.raises(tlcore.RunError, match="no run 'nope'"):
        tlcore.RunStore(runs_dir).get("nope")
    with pytest.raises(tlcore.RunError, match="is not a run id"):
        tlcore.RunStore(runs_dir).get("../etc")


def test_early_stopping_keeps_the_best_epoch_and_says_so(yelp, runs_dir):
    # A learning rate far too high makes validation loss worsen well before the last of 12 epochs (at the 4th to
    # 6th here, depending on the precision and attention the run computes in).
    config = tlcore.RunConfig(model="minilm", method="full", per_class=8, test_size=20, val_size=8,
                              method_options={"epochs": 12, "lr": 5e-3, "early_stopping": 1, "batch_size": 8,
                                              "max_length": 32, "warmup_ratio": 0.0})
    run = tlcore.create_run(config, yelp, store=tlcore.RunStore(runs_dir))
    metrics = tlcore.execute(run)
    evals = [e for e in run.events() if e["type"] == "eval"]
    assert len(evals) < 12, "training went on although validation loss got worse"
    assert evals[-1]["val_loss"] > evals[-2]["val_loss"]  # it stopped at the first epoch that was worse
    assert metrics["early_stopped"] and metrics["best_epoch"] == min(evals, key=lambda e: e["val_loss"])["epoch"]


def test_balanced_class_weights_train(sms, runs_dir):
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=None, test_size=20, val_size=0,
                              method_options={"epochs": 1, "class_weights": "balanced", "max_length": 16})
    small = tlcore.data.LabeledData(sms.texts[:60], sms.labels[:60])
    metrics = tlcore.execute(tlcore.create_run(config, small, store=tlcore.RunStore(runs_dir)))
    assert metrics["steps"] == 3 and 0 <= metrics["accuracy"] <= 1


def test_two_runs_started_together_queue_and_both_finish(sms, runs_dir, monkeypatch, wait_for):
    monkeypatch.setenv("TLCORE_MAX_CONCURRENT_RUNS", "1")
    store = tlcore.RunStore(runs_dir)
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=8, test_size=20,
                              method_options={"epochs": 3, "batch_size": 4, "max_length": 32})
    first, second = (tlcore.create_run(config, sms, store=store) for _ in range(2))
    tlcore.start_worker(first)
    wait_for(lambda: first.status()["status"] == "running")
    tlcore.start_worker(second)
    wait_for(lambda: second.status().get("stage") == "waiting for a free slot")
    assert second.status()["status"] == "queued" and store.queue_position(second.id) == 1
    assert first.status()["status"] == "running"  # only one at a time
    for run in (first, second):
        final = wait_for(lambda: run.status()["status"] in tlcore.runs.FINAL_STATES and run.status())
        assert final["status"] == "succeeded", final
        assert run.metrics()["n_test"] == 20
    assert first.status()["finished"] <= second.status()["started"]


def test_same_config_and_seed_give_the_same_run_and_record_what_made_it(yelp, runs_dir):
    store = tlcore.RunStore(runs_dir)
    config = tlcore.RunConfig(model="minilm", method="lora", per_class=4, test_size=12, val_size=4,
                              method_options={"epochs": 2, "batch_size": 4, "max_length": 32, "seed": 3})
    first, second = (tlcore.create_run(config, yelp, store=store) for _ in range(2))
    metrics = [tlcore.execute(run) for run in (first, second)]
    losses = [[e["train_loss"] for e in run.events() if e["type"] == "train"] for run in (first, second)]
    assert len(losses[0]) == 4 and losses[0] == losses[1]
    assert metrics[0]["accuracy"] == metrics[1]["accuracy"] and metrics[0]["macro_f1"] == metrics[1]["macro_f1"]
    assert first.predictions()["confidence"].tolist() == second.predictions()["confidence"].tolist()
    recorded = first.config()
    assert {"python", "torch", "transformers", "peft", "scikit-learn"} <= set(recorded["versions"])
    assert recorded["versions"]["torch"] and recorded["versions"]["transformers"]
    assert recorded["split"]["data_fingerprint"] == second.config()["split"]["data_fingerprint"]
    assert recorded["split"]["test_fingerprint"] == metrics[0]["test_fingerprint"] == metrics[1]["test_fingerprint"]
