"""Resource faults: too little memory, a full disk, a very long text, a 100-class dataset.

Each ends in a clear, recorded outcome — never a half-written run shown as finished.
"""
from __future__ import annotations

import errno

import numpy as np
import pytest

import tlcore
from tlcore.engine import resources
from tlcore.runs import worker


def _run(data, runs_dir, method="zero-shot", **config) -> tlcore.Run:
    settings = {"test_size": 12, "val_size": 4, "per_class": 4, **config}
    return tlcore.create_run(tlcore.RunConfig(model="minilm", method=method, **settings), data,
                             store=tlcore.RunStore(runs_dir))


def test_memory_estimate_counts_weights_and_optimizer_state():
    inference = resources.estimate_memory(total_params=134_515_008, trainable_params=0, available=2**40)
    training = resources.estimate_memory(total_params=134_515_008, trainable_params=134_515_008, available=2**40)
    assert inference.breakdown["weights"] == 4 * 134_515_008
    assert training.needed_bytes - inference.needed_bytes == 12 * 134_515_008  # gradient + two AdamW moments
    assert training.fits
    tight = resources.estimate_memory(total_params=134_515_008, trainable_params=134_515_008, available=2**30)
    assert not tight.fits
    assert "needs at least 2.35 GB" in tight.message("full on smollm2-135m") and "1.00 GB is free" in tight.message("x")
    assert resources.available_memory() > 0  # Linux reports MemAvailable


def test_run_that_cannot_fit_is_refused_before_loading(yelp, runs_dir, monkeypatch):
    monkeypatch.setattr(worker, "estimate_memory",
                        lambda total, trainable, runtime_loaded: resources.estimate_memory(
                            total, trainable, available=50 * 2**20, runtime_loaded=runtime_loaded))
    run = _run(yelp, runs_dir, method="full")
    with pytest.raises(tlcore.errors.ResourceError, match="needs at least"):
        tlcore.execute(run)
    status = run.status()
    assert status["status"] == "failed" and "free" in status["error"] and status["stage"] == "loading model"
    assert not (run.path / "artifacts").exists() and run.metrics() is None


def test_disk_full_while_saving_fails_cleanly(yelp, runs_dir, monkeypatch):
    def fill_disk(path, *args):
        path.write_text("text,gold\npartial")  # what a real full disk leaves behind
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(worker, "_write_predictions", fill_disk)
    run = _run(yelp, runs_dir)
    with pytest.raises(tlcore.errors.ResourceError, match="disk is full"):
        tlcore.execute(run)
    status = run.status()
    assert status["status"] == "failed" and "free some space" in status["error"]
    for leftover in ("predictions.csv", "metrics.json", "artifacts"):
        assert not (run.path / leftover).exists(), leftover
    with pytest.raises(tlcore.RunError):  # not usable for prediction: it never finished
        tlcore.load_method(run)
    assert [s.status for s in tlcore.RunStore(runs_dir).summaries()] == ["failed"]


def test_a_very_long_text_is_truncated_and_scored(yelp, runs_dir):
    long_text = " ".join(yelp.texts[:40]) * 60  # ~ 150,000 characters
    assert len(long_text) > 100_000
    data = tlcore.data.LabeledData(texts=yelp.texts[:40] + [long_text], labels=yelp.labels[:40] + [yelp.labels[0]])
    run = _run(data, runs_dir, method="linear-probe", test_size=10, per_class=None)
    tlcore.execute(run)
    method = tlcore.load_method(run)
    proba = method.predict_proba([long_text, "short"])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)


def test_a_100_class_dataset_trains_and_predicts(trec_path, runs_dir):
    frame = tlcore.read_table(trec_path).head(400)
    # 100 classes of 4 real questions each (class names as a user's fine-grained taxonomy might read)
    frame["label"] = [f"topic {i // 4:03d}" for i in range(len(frame))]
    data = tlcore.to_labeled(frame, "text", "label")
    run = _run(data, runs_dir, method="linear-probe", test_size=100, val_size=0, per_class=None)
    metrics = tlcore.execute(run)
    assert len(metrics["labels"]) == 100 and metrics["n_test"] == 100
    predictions = run.predictions()
    assert len(predictions) == 100 and sum(c.startswith("p_") for c in predictions.columns) == 100
