"""tlcore.compare.comparison and tlcore.compare.reliability on real runs (minilm on Yelp review sentences), and
`tlcore compare RUN_ID ...`. The runs are made in-process once per module by ``make_runs`` (tests/conftest.py)."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import tlcore
from tlcore.cli import main as cli
from tlcore.compare import comparison as cmp
from tlcore.compare.reliability import reliability, run_reliability


@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_runs) -> tuple[tlcore.RunStore, dict[str, str]]:
    root = tmp_path_factory.mktemp("runs")
    return tlcore.RunStore(root), make_runs(root)


@pytest.fixture(scope="module")
def comparison(runs) -> cmp.Comparison:
    store, ids = runs
    return tlcore.load_comparison([ids["zero-shot"], ids["few-shot"], ids["linear-probe"]], store)


# -- loading ----------------------------------------------------------------------------------------------
def test_load_comparison_reads_the_runs_on_one_test_split(runs, comparison, make_runs):
    store, ids = runs
    assert comparison.n_test == make_runs.test_rows
    assert comparison.labels == ["negative", "positive"]
    assert {run.id for run in comparison.runs} == {ids["zero-shot"], ids["few-shot"], ids["linear-probe"]}
    accuracies = [run.metrics["accuracy"] for run in comparison.runs]
    assert accuracies == sorted(accuracies, reverse=True)  # best first, everywhere
    assert {run.name for run in comparison.runs} == {"zero-shot · minilm", "few-shot · minilm",
                                                     "linear-probe · minilm"}
    test = store.get(ids["zero-shot"]).split().test
    assert comparison.texts == test.texts and comparison.gold == test.labels
    assert comparison.test_fingerprint == test.fingerprint()
    trained = {run.method: run.trained for run in comparison.runs}
    assert trained == {"zero-shot": False, "few-shot": False, "linear-probe": True}


def test_runs_on_different_test_splits_are_refused_by_name(runs):
    store, ids = runs
    with pytest.raises(tlcore.RunError, match="different test rows") as info:
        tlcore.load_comparison([ids["zero-shot"], ids["other"]], store)
    assert ids["zero-shot"] in str(info.value) and ids["other"] in str(info.value)


def test_unfinished_and_unknown_runs_are_refused(runs, tmp_path, make_runs, yelp):
    store, ids = runs
    config = tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8, test_size=make_runs.test_rows)
    queued = tlcore.create_run(config, yelp, store=tlcore.RunStore(tmp_path))
    with pytest.raises(tlcore.RunError, match="is queued; only runs that succeeded"):
        tlcore.load_comparison([queued.id], tlcore.RunStore(tmp_path))
    with pytest.raises(tlcore.RunError, match="no run 'nope'"):
        tlcore.load_comparison(["nope"], store)
    with pytest.raises(tlcore.RunError, match="no runs to compare"):
        tlcore.load_comparison([], store)


def test_duplicate_names_get_the_run_time():
    names = cmp._run_names([("20261126-054512-lora-minilm-aaaa", {"method": "lora", "model": "minilm"}),
                            ("20261126-054617-lora-minilm-bbbb", {"method": "lora", "model": "minilm"}),
                            ("20261126-054617-zero-shot-minilm-cccc", {"method": "zero-shot", "model": "minilm"})])
    assert names == {"20261126-054512-lora-minilm-aaaa": "lora · minilm · 05:45:12",
                     "20261126-054617-lora-minilm-bbbb": "lora · minilm · 05:46:17",
                     "20261126-054617-zero-shot-minilm-cccc": "zero-shot · minilm"}


def test_comparable_groups_follow_the_test_fingerprint(runs):
    store, ids = runs
    groups = cmp.comparable_groups(store.summaries())
    assert [sorted(s.id for s in members) for members in groups.values()] == [
        sorted([ids["zero-shot"], ids["few-shot"], ids["linear-probe"]]), [ids["other"]]]


# -- metrics tables ---------------------------------------------------------------------------------------
def test_metrics_table_holds_each_runs_numbers_and_the_majority_row(comparison, make_runs):
    from sklearn.metrics import f1_score

    table = cmp.metrics_table(comparison, ece={run.id: 0.1 for run in comparison.runs})
    assert list(table.columns) == ["Run", "Accuracy", "Macro-F1", "ECE", cmp.ACCURACY_CI, cmp.MACRO_F1_CI,
                                   "Trainable params", "Train time (s)", "Predict time / 1,000 (s)", "Training rows",
                                   "Run id"]
    for run, row in zip(comparison.runs, table.to_dict("records")):
        m = run.metrics
        assert (row["Run"], row["Run id"], row["Accuracy"], row["Macro-F1"]) == (
            run.name, run.id, m["accuracy"], m["macro_f1"])
        assert (row["Trainable params"], row["Training rows"]) == (m["trainable_params"], 16)
        assert row["Predict time / 1,000 (s)"] == pytest.approx(1000 * m["predict_seconds"] / make_runs.test_rows)
    majority = table.iloc[-1]
    label = pd.Series(comparison.gold).value_counts().idxmax()
    assert majority["Run"] == f"majority class ({label})"
    assert majority["Accuracy"] == pytest.approx(comparison.gold.count(label) / make_runs.test_rows)
    assert majority["Macro-F1"] == pytest.approx(f1_score(comparison.gold, [label] * make_runs.test_rows,
                                                          average="macro", labels=comparison.labels, zero_division=0))
    assert pd.isna(majority["ECE"])


def test_per_class_table_matches_scikit_learn_on_the_predictions(comparison):
    from sklearn.metrics import precision_recall_fscore_support

    table = cmp.per_class_table(comparison).set_index("Run")
    for run in comparison.runs:
        p, r, f, _ = precision_recall_fscore_support(run.predictions["gold"], run.predictions["predicted"],
                                                     labels=comparison.labels, zero_division=0)
        for i, label in enumerate(comparison.labels):
            assert table.loc[run.name, f"{label} · precision"] == pytest.approx(p[i])
            assert table.loc[run.name, f"{label} · recall"] == pytest.approx(r[i])
            assert table.loc[run.name, f"{label} · F1"] == pytest.approx(f[i])
    assert cmp.per_class_f1(comparison)[comparison.runs[0].name] == {
        label: pytest.approx(table.loc[comparison.runs[0].name, f"{label} · F1"]) for label in comparison.labels}


def test_format_table_formats_like_the_page(comparison):
    shown = cmp.format_table(cmp.metrics_table(comparison), cmp.METRIC_FORMATS)
    run = comparison.runs[0]
    assert shown.iloc[0]["Accuracy"] == f"{run.metrics['accuracy']:.1%}"
    assert shown.iloc[0]["Macro-F1"] == f"{run.metrics['macro_f1']:.3f}"
    assert shown.iloc[-1]["Trainable params"] == "0"


# -- per-example table -------------------------------------------------------------------------------
def _by_hand(comparison: cmp.Comparison) -> dict[str, set[int]]:
    """Each view's rows computed the plain way, row by row, to check the vectorised filters against."""
    views = {"all_wrong": set(), "fixed": set(), "broke": set(), "disagree": set()}
    for i, gold in enumerate(comparison.gold):
        predicted = {run.id: run.predictions["predicted"].iloc[i] for run in comparison.runs}
        right = {run.id: predicted[run.id] == gold for run in comparison.runs}
        before = [right[run.id] for run in comparison.runs if not run.trained]
        after = [right[run.id] for run in comparison.runs if run.trained]
        if not any(right.values()):
            views["all_wrong"].add(i + 1)
        if not any(before) and all(after):
            views["fixed"].add(i + 1)
        if all(before) and not any(after):
            views["broke"].add(i + 1)
        if len(set(predicted.values())) > 1:
            views["disagree"].add(i + 1)
    return views


def test_examples_table_has_every_runs_prediction_and_confidence(comparison, make_runs):
    frame = cmp.examples_table(comparison)
    assert len(frame) == make_runs.test_rows and list(frame["Text"]) == comparison.texts
    for run in comparison.runs:
        assert list(frame[comparison.predicted_column(run)]) == list(run.predictions["predicted"])
        assert np.allclose(frame[comparison.confidence_column(run)], run.predictions["confidence"])
        assert list(frame[comparison.correct_column(run)]) == list(run.predictions["gold"] ==
                                                                    run.predictions["predicted"])


def test_filters_select_exactly_the_rows_of_each_view(comparison, make_runs):
    frame = cmp.examples_table(comparison)
    expected = _by_hand(comparison)
    assert expected["disagree"], "these runs should disagree somewhere on 40 real reviews"
    for view, rows in expected.items():
        assert set(cmp.filter_examples(frame, comparison, view)["Row"]) == rows, view
    assert len(cmp.filter_examples(frame, comparison, "all")) == make_runs.test_rows


def test_class_and_text_filters_and_sorting(comparison, make_runs):
    frame = cmp.examples_table(comparison)
    negative = cmp.filter_examples(frame, comparison, label="negative")
    assert set(negative["Gold"]) == {"negative"} and len(negative) == comparison.gold.count("negative")
    word = next(w for w in comparison.texts[0].split() if len(w) > 3)
    found = cmp.filter_examples(frame, comparison, search=word.upper())
    assert set(found["Row"]) == {i + 1 for i, t in enumerate(comparison.texts) if word.lower() in t.lower()}
    assert list(cmp.filter_examples(frame, comparison, search="(")["Row"]) == [
        i + 1 for i, t in enumerate(comparison.texts) if "(" in t]  # plain text, not a regular expression
    run = comparison.runs[-1]
    ordered = cmp.sort_examples(frame, comparison, run.id, ascending=True)[comparison.confidence_column(run)]
    assert list(ordered) == sorted(ordered)
    mean = cmp.sort_examples(frame, comparison, "mean", ascending=False)
    means = mean[[comparison.confidence_column(r) for r in comparison.runs]].mean(axis=1)
    assert list(means) == sorted(means, reverse=True)
    assert list(cmp.sort_examples(mean, comparison, None)["Row"]) == list(range(1, make_runs.test_rows + 1))
    with pytest.raises(tlcore.ConfigError, match="no class 'neutral'"):
        cmp.filter_examples(frame, comparison, label="neutral")


def test_views_that_need_trained_and_untrained_runs_say_so(runs):
    store, ids = runs
    prompts_only = tlcore.load_comparison([ids["zero-shot"], ids["few-shot"]], store)
    assert "needs at least one run without training" in cmp.view_problem(prompts_only, "fixed")
    with pytest.raises(tlcore.ConfigError, match="needs at least one run without training"):
        cmp.filter_examples(cmp.examples_table(prompts_only), prompts_only, "broke")
    single = tlcore.load_comparison([ids["zero-shot"]], store)
    assert "at least two runs" in cmp.view_problem(single, "disagree")
    assert "unknown view" in cmp.view_problem(single, "odd")


def test_examples_csv_neutralises_formulas(comparison):
    frame = cmp.examples_table(comparison).head(3).copy()
    frame.loc[frame.index[0], "Text"] = "=HYPERLINK(\"http://x\")"
    parsed = pd.read_csv(io.BytesIO(cmp.examples_csv(frame)), keep_default_na=False)
    assert parsed["Text"].iloc[0] == "'=HYPERLINK(\"http://x\")"
    assert list(parsed["Text"].iloc[1:]) == list(frame["Text"].iloc[1:])
    assert list(parsed.columns) == list(frame.columns)


# -- calibration ------------------------------------------------------------------------------------
def test_reliability_bins_and_ece_by_hand():
    confidence = [0.55, 0.58, 0.62, 0.91, 0.95, 1.0, 0.0]
    correct = [True, False, True, True, True, False, False]
    rel = reliability(confidence, correct)
    counts = {round(b.lower, 1): b.count for b in rel.bins if b.count}
    assert counts == {0.0: 1, 0.5: 2, 0.6: 1, 0.9: 3}  # 0.0 goes to the first bin, 1.0 to the last
    by_lower = {round(b.lower, 1): b for b in rel.bins}
    assert by_lower[0.5].mean_confidence == pytest.approx(0.565) and by_lower[0.5].accuracy == 0.5
    assert by_lower[0.9].accuracy == pytest.approx(2 / 3)
    gaps = 1 * abs(0 - 0.0) + 2 * abs(0.5 - 0.565) + 1 * abs(1 - 0.62) + 3 * abs(2 / 3 - (0.91 + 0.95 + 1) / 3)
    expected = gaps / 7  # examples per bin x |accuracy - mean confidence|, over all examples
    assert rel.ece == pytest.approx(expected)
    assert len(rel.bins) == 10 and by_lower[0.7].count == 0 and by_lower[0.7].accuracy is None
    assert reliability([0.8] * 5, [True] * 4 + [False]).ece == pytest.approx(0.0)  # says 80 %, right 80 %


def test_reliability_refuses_bad_input():
    with pytest.raises(tlcore.RunError, match="pair up"):
        reliability([0.5, 0.6], [True])
    with pytest.raises(tlcore.RunError, match="between 0 and 1"):
        reliability([1.5], [True])
    with pytest.raises(tlcore.RunError, match="no predictions"):
        reliability([], [])


def test_run_reliability_uses_the_predictions_file(comparison, make_runs):
    for run in comparison.runs:
        rel = run_reliability(run.predictions)
        assert rel.n == make_runs.test_rows and sum(b.count for b in rel.bins) == make_runs.test_rows
        assert rel.accuracy == pytest.approx(run.metrics["accuracy"])
        assert 0.0 <= rel.ece <= 1.0
        assert rel.mean_confidence >= 0.5  # two classes: the predicted one has at least half


# -- CLI ------------------------------------------------------------------------------------------------
def test_cli_compares_run_ids(runs, capsys, make_runs):
    store, ids = runs
    chosen = [ids["zero-shot"], ids["linear-probe"]]
    assert cli(["compare", *chosen, "--runs-dir", str(store.root), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["run_id"] for r in records} == set(chosen)
    for record in records:
        metrics = store.get(record["run_id"]).metrics()
        assert (record["accuracy"], record["macro_f1"], record["n_test"]) == (
            metrics["accuracy"], metrics["macro_f1"], make_runs.test_rows)
    assert cli(["compare", *chosen, "--runs-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert f"test rows: {make_runs.test_rows}" in out and "majority class" in out and ids["linear-probe"] in out


def test_cli_refuses_runs_of_different_test_splits(runs, capsys):
    store, ids = runs
    assert cli(["compare", ids["zero-shot"], ids["other"], "--runs-dir", str(store.root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and ids["other"] in err[0] and ids["zero-shot"] in err[0]
    assert cli(["compare", ids["zero-shot"], "--train", "x.csv", "--runs-dir", str(store.root)]) == 2
    assert "not both" in capsys.readouterr().err
