"""Learning curves (tlcore.runs.learning_curve): a group of ordinary runs on one test split, in-process, in a background
worker, and from `tlcore compare --learning-curve`. minilm + linear-probe on the bundled Yelp sample: after the
first run its features are cached, so each further point costs well under a second."""
from __future__ import annotations

import json
import os
import statistics
import time

import pytest

import tlcore
from tlcore.cli import main as cli
from tlcore.runs import learning_curve as lc

TEST_ROWS = 40


def base_config(method: str = "linear-probe") -> tlcore.RunConfig:
    return tlcore.RunConfig(model="minilm", method=method, test_size=TEST_ROWS, data_name="yelp_reviews.csv")


@pytest.fixture(scope="module")
def curve(tmp_path_factory, yelp) -> tuple[tlcore.RunStore, list[tlcore.Run]]:
    """4 and 8 examples per class, seeds 0 and 1, run here one after another; and a zero-shot reference."""
    store = tlcore.RunStore(tmp_path_factory.mktemp("runs"))
    data = yelp
    runs = lc.create_curve(base_config(), data, [8, 4], [0, 1], store)
    assert lc.execute_curve(runs, stop_on_error=True)
    reference = tlcore.create_run(base_config("zero-shot"), data, store=store)
    tlcore.execute(reference)
    return store, runs


def test_sizes_parse_and_default():
    assert lc.parse_sizes("16, 8,all,8") == [8, 16, None]
    for bad, message in (("8,x", "whole numbers"), ("0", "at least 1"), (" , ", "no sizes")):
        with pytest.raises(tlcore.ConfigError, match=message):
            lc.parse_sizes(bad)
    assert lc.default_sizes({"a": 40, "b": 20}) == [8, 16, None]
    assert lc.default_sizes({"a": 8, "b": 300}) == [None]


def test_curve_runs_share_the_test_rows_and_a_group(curve, yelp):
    store, runs = curve
    configs = [run.config() for run in runs]
    assert [(c["per_class"], c["method_options"]["seed"]) for c in configs] == [(4, 0), (4, 1), (8, 0), (8, 1)]
    assert len({c["group"] for c in configs}) == 1 and configs[0]["group"].startswith("curve-")
    expected = tlcore.make_split(yelp, test_size=TEST_ROWS).fingerprint
    assert {c["split"]["test_fingerprint"] for c in configs} == {expected}
    assert [run.metrics()["n_train"] for run in runs] == [8, 8, 16, 16]
    trains = [set(run.split().train.texts) for run in runs]
    assert trains[0] != trains[1]  # another seed samples other rows
    assert {g: [r.id for r in members] for g, members in lc.curve_groups(store).items()} == {
        configs[0]["group"]: [run.id for run in runs]}
    assert lc.curve_groups(store, "elsewhere") == {}
    assert lc.curve_status(runs) == {"succeeded": 4}


def test_points_and_summary_are_mean_and_std_across_seeds(curve):
    store, runs = curve
    points = lc.curve_points(runs)
    assert [(p["per_class"], p["seed"], p["run_id"]) for p in points] == [
        (4, 0, runs[0].id), (4, 1, runs[1].id), (8, 0, runs[2].id), (8, 1, runs[3].id)]
    assert [p["accuracy"] for p in points] == [run.metrics()["accuracy"] for run in runs]
    for metric in ("accuracy", "macro_f1"):
        summary = lc.curve_summary(points, metric)
        assert [row["per_class"] for row in summary] == [4, 8]
        for row, pair in zip(summary, (runs[:2], runs[2:])):
            values = [run.metrics()[metric] for run in pair]
            assert row["mean"] == pytest.approx(statistics.fmean(values))
            assert row["std"] == pytest.approx(statistics.stdev(values))
            assert row["seeds"] == 2 and row["x"] == row["per_class"]


def test_references_and_examples_needed(curve):
    store, runs = curve
    fingerprint = runs[0].config()["split"]["test_fingerprint"]
    refs = lc.references(store, fingerprint, "minilm")
    assert [(r["method"], r["name"]) for r in refs] == [("zero-shot", "zero-shot · minilm")]
    zero_shot = refs[0]["accuracy"]
    assert zero_shot == next(s for s in store.summaries() if s.method == "zero-shot").accuracy
    summary = lc.curve_summary(lc.curve_points(runs))
    best = max(row["mean"] for row in summary)
    assert lc.examples_needed(summary, best) is None  # nothing beats the best mean
    first = lc.examples_needed(summary, min(row["mean"] for row in summary) - 0.01)
    assert first["per_class"] == 4
    needed = lc.examples_needed(summary, zero_shot, margin=0.05)
    assert needed is None or (needed["mean"] > zero_shot + 0.05 and all(
        row["mean"] <= zero_shot + 0.05 for row in summary if row["x"] < needed["x"]))


def test_methods_without_training_and_other_test_rows_are_refused(tmp_path, yelp):
    store = tlcore.RunStore(tmp_path)
    with pytest.raises(tlcore.MethodError, match="has no learning curve"):
        lc.create_curve(base_config("zero-shot"), yelp, [8], [0], store)
    with pytest.raises(tlcore.DatasetError, match="gives test set .* not abcdef12"):
        lc.create_curve(base_config(), yelp, [8], [0], store, expected_test_fingerprint="abcdef1234567890")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # refused before any run was made


def test_a_curve_like_a_run_reuses_its_test_rows(curve, tmp_path, yelp):
    store, runs = curve
    copy = tlcore.RunStore(tmp_path)
    made = lc.curve_like(runs[0], yelp, "linear-probe", "minilm", [4], [3], copy)
    fingerprint = runs[0].config()["split"]["test_fingerprint"]
    assert [run.config()["split"]["test_fingerprint"] for run in made] == [fingerprint]
    other = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    with pytest.raises(tlcore.DatasetError, match="choose the data these runs were trained on"):
        lc.curve_like(runs[0], other, "linear-probe", "minilm", [4], [0], copy)


def test_background_worker_is_detached_and_honours_cancel(tmp_path, yelp):
    """start_curve hands every run to one detached process; runs cancelled while queued end as cancelled.
    (A curve that runs to the end in the background: test_compare_page.py starts one from the page.)"""
    store = tlcore.RunStore(tmp_path)
    runs = lc.create_curve(base_config(), yelp, [4, 8], [0], store)
    for run in runs:
        run.request_cancel()
    pid = lc.start_curve(runs)
    assert pid != os.getpid() and all(run.status()["pid"] == pid for run in runs)
    deadline = time.monotonic() + 120
    while any(run.status()["status"] in tlcore.LIVE_STATES for run in runs) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert [(run.status()["status"], run.status()["error"]) for run in runs] == [
        ("cancelled", "cancelled while queued")] * 2
    log = (tmp_path / f".{runs[0].config()['group']}.log").read_text()
    assert f"run 1/2: {runs[0].id}" in log and f"run 2/2: {runs[1].id}" in log  # in order, one process
    assert lc.cancel_curve(runs) == 0  # nothing live is left to cancel


def test_cli_learning_curve_prints_the_points_as_json(curve, tmp_path, capsys):
    store, runs = curve
    train = tlcore.data.sample_path("yelp")
    args = ["compare", "--learning-curve", "--train", str(train), "--model", "minilm", "--method", "linear-probe",
            "--sizes", "4,8", "--seeds", "2", "--test-size", str(TEST_ROWS), "--references", "zero-shot",
            "--runs-dir", str(tmp_path), "--quiet"]
    assert cli(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [(p["per_class"], p["seed"]) for p in payload["points"]] == [(4, 0), (4, 1), (8, 0), (8, 1)]
    # Same data, split and seeds as the fixture's in-process curve: the same scores.
    assert [p["accuracy"] for p in payload["points"]] == [run.metrics()["accuracy"] for run in runs]
    assert [(s["per_class"], s["seeds"]) for s in payload["summary"]] == [(4, 2), (8, 2)]
    first = statistics.fmean(p["accuracy"] for p in payload["points"][:2])
    assert payload["summary"][0]["mean"] == pytest.approx(first)
    reference = payload["references"]["zero-shot"]
    assert tlcore.RunStore(tmp_path).get(reference["run_id"]).config()["split"]["test_fingerprint"] == \
        payload["test_fingerprint"] == runs[0].config()["split"]["test_fingerprint"]
    assert {s.status for s in tlcore.RunStore(tmp_path).summaries()} == {"succeeded"}

    assert cli(args) == 0  # again: the finished zero-shot run is reused, not run twice
    assert json.loads(capsys.readouterr().out)["references"]["zero-shot"]["run_id"] == reference["run_id"]
    assert sum(s.method == "zero-shot" for s in tlcore.RunStore(tmp_path).summaries()) == 1


@pytest.mark.parametrize("extra, message", [
    ([], "needs --method"),
    (["--method", "zero-shot"], "has no learning curve"),
    (["--method", "linear-probe", "--per-class", "8"], "--per-class does not apply"),
    (["--method", "linear-probe", "--sizes", "8,x"], "whole numbers"),
])
def test_cli_learning_curve_bad_input_exits_2(extra, message, tmp_path, capsys):
    args = ["compare", "--learning-curve", "--train", str(tlcore.data.sample_path("yelp")), "--model", "minilm",
            "--runs-dir", str(tmp_path), *extra]
    assert cli(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not tmp_path.exists() or not any(p for p in tmp_path.iterdir() if not p.name.startswith("."))
