"""Uncertainty wherever numbers are compared: per-run bootstrap intervals (tlcore.runs.intervals), the paired
comparison of two runs (tlcore.compare.paired), and where they show: metrics.json, `tlcore run/compare --json`,
the compare text output, the HTML report and the learning curve's band.

The statistics are checked against scipy.stats on fixed data; the rest on real runs (minilm on the bundled Yelp
sample, made once per module by ``make_runs`` from tests/conftest.py)."""
from __future__ import annotations

import html as html_module
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score

import tlcore
from tlcore.cli import main as cli
from tlcore.cli.main import RESULT_KEYS
from tlcore.compare import comparison as cmp
from tlcore.compare.paired import compare_pair, mcnemar_p_value, rows_needed
from tlcore.compare.report import VERDICTS_HEADING
from tlcore.runs import learning_curve as lc
from tlcore.runs.intervals import N_RESAMPLES, label_codes, macro_f1_of, score_intervals

LABELS = ["negative", "neutral", "positive"]


def fixed_predictions(n: int, right: float, seed: int = 7, labels=LABELS) -> tuple[list[str], list[str]]:
    """``n`` gold labels and predictions right on about a share ``right`` of them (wrong ones shifted by one)."""
    rng = np.random.default_rng(seed)
    gold = [labels[i] for i in rng.integers(0, len(labels), n)]
    predicted = [g if rng.random() < right else labels[(labels.index(g) + 1) % len(labels)] for g in gold]
    return gold, predicted


def with_table(n: int, only_a: int, only_b: int, both: int) -> tuple[list[str], list[str], list[str]]:
    """Gold and two runs' predictions with a known 2x2 table: ``only_a`` rows only A gets right, ``only_b`` only B,
    ``both`` right for both, the rest wrong for both."""
    gold = ["positive" if i % 2 else "negative" for i in range(n)]
    flip = {"positive": "negative", "negative": "positive"}
    a, b = [flip[g] for g in gold], [flip[g] for g in gold]
    for i in range(only_a):
        a[i] = gold[i]
    for i in range(only_a, only_a + only_b):
        b[i] = gold[i]
    for i in range(only_a + only_b, only_a + only_b + both):
        a[i] = b[i] = gold[i]
    return gold, a, b


# -- one run's intervals ------------------------------------------------------------------------------------
def test_accuracy_interval_is_scipys_percentile_bootstrap_of_the_correct_rows():
    gold, predicted = fixed_predictions(60, right=0.7)
    ours = score_intervals(gold, predicted, LABELS)
    correct = (np.array(gold) == np.array(predicted)).astype(float)
    theirs = stats.bootstrap((correct,), np.mean, n_resamples=N_RESAMPLES, method="percentile",
                             confidence_level=0.95, rng=np.random.default_rng(0)).confidence_interval
    assert ours["accuracy_ci"] == pytest.approx([theirs.low, theirs.high])
    low, high = ours["accuracy_ci"]
    assert low < correct.mean() < high and high - low > 0.1  # 60 rows: a wide interval


def test_macro_f1_interval_matches_scipy_with_scikit_learns_f1():
    gold, predicted = fixed_predictions(50, right=0.6, seed=3)
    ours = score_intervals(gold, predicted, LABELS, n_resamples=200)

    def sklearn_macro_f1(g, p):
        return f1_score(g, p, labels=[0, 1, 2], average="macro", zero_division=0)

    g, p = label_codes(gold, predicted, LABELS)
    theirs = stats.bootstrap((g, p), sklearn_macro_f1, n_resamples=200, paired=True, vectorized=False,
                             method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert ours["macro_f1_ci"] == pytest.approx([theirs.low, theirs.high])


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_macro_f1_equals_scikit_learn_even_with_absent_classes(seed):
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "d"]
    gold = [labels[i] for i in rng.integers(0, 3, 30)]  # "d" never gold
    predicted = [labels[i] for i in rng.integers(0, 2, 30)]  # "c" and "d" never predicted
    g, p = label_codes(gold, predicted, labels)
    assert float(macro_f1_of(len(labels))(g, p)) == pytest.approx(
        f1_score(gold, predicted, labels=labels, average="macro", zero_division=0))


def test_intervals_are_deterministic_and_refuse_bad_input():
    gold, predicted = fixed_predictions(30, right=0.8)
    assert score_intervals(gold, predicted, LABELS) == score_intervals(gold, predicted, LABELS)
    assert score_intervals(gold[:1], predicted[:1], LABELS) == {"accuracy_ci": [0.0, 1.0], "macro_f1_ci": [0.0, 1.0]}
    with pytest.raises(tlcore.ConfigError, match="differ in length"):
        score_intervals(gold, predicted[:-1], LABELS)


# -- two runs on the same rows --------------------------------------------------------------------------------
def test_mcnemar_p_value_is_the_exact_binomial_test_on_a_known_table():
    gold, a, b = with_table(40, only_a=10, only_b=2, both=20)
    result = compare_pair(gold, a, b, ["negative", "positive"], "lora", "zero-shot")
    assert (result.only_this_right, result.only_against_right, result.n) == (10, 2, 40)
    assert result.p_value == pytest.approx(158 / 4096)  # 2 * P(X <= 2), X ~ Binomial(12, 1/2)
    assert result.p_value == pytest.approx(stats.binomtest(10, 12, 0.5).pvalue)
    assert mcnemar_p_value(0, 0) == 1.0
    assert result.accuracy_difference == pytest.approx(8 / 40)


def test_paired_interval_is_scipys_bootstrap_of_the_row_differences():
    gold, a = fixed_predictions(80, right=0.8, seed=1)
    _, b = fixed_predictions(80, right=0.6, seed=1)
    result = compare_pair(gold, a, b, LABELS)
    differences = (np.array(gold) == np.array(a)).astype(float) - (np.array(gold) == np.array(b)).astype(float)
    theirs = stats.bootstrap((differences,), np.mean, n_resamples=N_RESAMPLES, method="percentile",
                             rng=np.random.default_rng(0)).confidence_interval
    assert list(result.accuracy_difference_ci) == pytest.approx([theirs.low, theirs.high])
    assert result.macro_f1_difference == pytest.approx(
        f1_score(gold, a, labels=LABELS, average="macro") - f1_score(gold, b, labels=LABELS, average="macro"))


def test_two_identical_runs_are_no_difference():
    gold, predicted = fixed_predictions(12, right=0.75)
    result = compare_pair(gold, predicted, list(predicted), LABELS, "lora", "zero-shot")
    assert not result.clear and result.winner is None and result.rows_needed is None
    assert result.p_value == 1.0 and result.accuracy_difference_ci == (0.0, 0.0)
    assert result.verdict.startswith("No difference") and "rows would be needed" not in result.verdict
    assert result.to_dict()["winner"] is None


def test_equal_accuracy_on_different_rows_says_no_difference_seen_and_no_row_count():
    gold, a, b = with_table(20, only_a=3, only_b=3, both=10)
    result = compare_pair(gold, a, b, ["negative", "positive"], "lora", "zero-shot")
    assert result.accuracy_difference == 0 and not result.clear and result.rows_needed is None
    assert result.verdict.startswith("No difference seen on 20 test rows") and "needed" not in result.verdict


def test_a_clear_difference_on_enough_rows_is_a_win_whichever_run_comes_first():
    gold, a, b = with_table(400, only_a=60, only_b=12, both=280)
    result = compare_pair(gold, a, b, ["negative", "positive"], "lora", "zero-shot")
    assert result.clear and result.winner == "lora" and result.p_value < 0.001
    assert result.verdict.startswith("lora beats zero-shot by 12.0 points of accuracy, 95 % interval ")
    swapped = compare_pair(gold, b, a, ["negative", "positive"], "zero-shot", "lora")
    assert swapped.winner == "lora" and swapped.verdict == result.verdict
    assert swapped.accuracy_difference_ci == pytest.approx(tuple(-x for x in reversed(result.accuracy_difference_ci)))


def test_a_small_test_set_crowns_no_winner_and_says_how_many_rows_would_tell():
    gold, a, b = with_table(12, only_a=1, only_b=0, both=8)  # 83.3 % against 75.0 %: one row is 8 points
    result = compare_pair(gold, a, b, ["negative", "positive"], "lora", "zero-shot")
    assert not result.clear and result.winner is None
    # Connor's formula with discordance 1/12 and difference 1/12 at alpha 0.05, power 0.8: 92 rows.
    z_a, z_b, psi, delta = stats.norm.ppf(0.975), stats.norm.ppf(0.8), 1 / 12, 1 / 12
    by_hand = (z_a * psi ** 0.5 + z_b * (psi - delta ** 2) ** 0.5) ** 2 / delta ** 2
    assert rows_needed(delta, psi) == int(np.ceil(by_hand))
    assert result.rows_needed == rows_needed(delta, psi) == 92
    assert result.verdict.startswith("No clear difference on 12 test rows: lora is ahead of zero-shot by 8.3 points")
    assert "about 92 test rows would be needed" in result.verdict


def test_the_interval_alone_does_not_crown_a_winner():
    # 5 rows favour A and none favour B: no resample is likely to lose them all (interval above 0), yet the
    # exact McNemar p is 2 / 2**5 = 0.0625. The rule needs both, so this is no clear difference.
    gold, a, b = with_table(12, only_a=5, only_b=0, both=5)
    result = compare_pair(gold, a, b, ["negative", "positive"], "lora", "zero-shot")
    assert result.accuracy_difference_ci[0] > 0 and result.p_value == pytest.approx(0.0625)
    assert not result.clear and result.winner is None and result.verdict.startswith("No clear difference")


def test_rows_needed_refuses_impossible_inputs():
    with pytest.raises(tlcore.ConfigError, match="difference"):
        rows_needed(0.3, 0.1)
    assert rows_needed(0.0, 0.2) is None


# -- where they show: runs, comparisons, CLI, report --------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_runs) -> tuple[tlcore.RunStore, dict[str, str]]:
    root = tmp_path_factory.mktemp("runs")
    return tlcore.RunStore(root), make_runs(root, other_test_set=False)


@pytest.fixture(scope="module")
def comparison(runs) -> cmp.Comparison:
    store, ids = runs
    return tlcore.load_comparison(list(ids.values()), store)


def test_worker_stores_intervals_that_the_predictions_reproduce(runs):
    store, ids = runs
    for run_id in ids.values():
        run = store.get(run_id)
        metrics, predictions = run.metrics(), run.predictions()
        low, high = metrics["accuracy_ci"]
        assert low <= metrics["accuracy"] <= high and 0 <= low < high <= 1
        assert len(metrics["macro_f1_ci"]) == 2
        assert {k: metrics[k] for k in ("accuracy_ci", "macro_f1_ci")} == score_intervals(
            predictions["gold"].astype(str).tolist(), predictions["predicted"].astype(str).tolist(), metrics["labels"])


def test_runs_saved_before_intervals_get_them_computed_and_are_not_rewritten(runs, tmp_path):
    store, ids = runs
    old_store = tlcore.RunStore(tmp_path / "old")
    for run_id in ids.values():
        shutil.copytree(store.get(run_id).path, old_store.root / run_id)
        path = old_store.root / run_id / "metrics.json"
        metrics = json.loads(path.read_text())
        path.write_text(json.dumps({k: v for k, v in metrics.items() if not k.endswith("_ci")}))
    before = {run_id: (old_store.root / run_id / "metrics.json").read_text() for run_id in ids.values()}
    old = tlcore.load_comparison(list(ids.values()), old_store)
    new = tlcore.load_comparison(list(ids.values()), store)
    for old_run, new_run in zip(old.runs, new.runs):
        assert old_run.metrics["accuracy_ci"] == new_run.metrics["accuracy_ci"]
        assert old_run.metrics["macro_f1_ci"] == new_run.metrics["macro_f1_ci"]
    assert before == {run_id: (old_store.root / run_id / "metrics.json").read_text() for run_id in ids.values()}


def test_metrics_table_shows_each_runs_intervals(comparison):
    table = cmp.metrics_table(comparison)
    for run, row in zip(comparison.runs, table.to_dict("records")):
        low, high = run.metrics["accuracy_ci"]
        assert row[cmp.ACCURACY_CI] == f"{low:.1%} – {high:.1%}"
        assert row[cmp.MACRO_F1_CI] == "{:.3f} – {:.3f}".format(*run.metrics["macro_f1_ci"])
    assert pd.isna(table[cmp.ACCURACY_CI].iloc[-1])  # the majority-class reference row: no interval


def test_compare_json_carries_intervals_and_paired_verdicts_against_the_best(runs, comparison, capsys):
    store, ids = runs
    assert cli(["compare", *ids.values(), "--runs-dir", str(store.root), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    best = comparison.runs[0]
    assert [r["run_id"] for r in records] == [run.id for run in comparison.runs]
    assert records[0]["paired"] is None
    for record in records:
        assert record["accuracy_ci"][0] <= record["accuracy"] <= record["accuracy_ci"][1]
        assert len(record["macro_f1_ci"]) == 2
    for record in records[1:]:
        paired = record["paired"]
        assert paired["against"] == best.id and paired["n"] == comparison.n_test
        this = comparison.run(record["run_id"])
        only_this = int((this.correct() & ~best.correct()).sum())
        only_best = int((~this.correct() & best.correct()).sum())
        assert (paired["rows_only_this_right"], paired["rows_only_against_right"]) == (only_this, only_best)
        assert paired["p_value"] == pytest.approx(mcnemar_p_value(only_this, only_best))
        assert paired["accuracy_difference"] == pytest.approx(record["accuracy"] - records[0]["accuracy"])
        low, high = paired["accuracy_difference_ci"]
        assert paired["clear"] == ((low > 0 or high < 0) and paired["p_value"] < 0.05)
        assert (paired["winner"] == best.id) if paired["clear"] else paired["winner"] is None
        assert paired["verdict"] and ("beats" in paired["verdict"]) == paired["clear"]

    assert cli(["compare", *ids.values(), "--runs-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "can the test set tell them apart?" in out
    for record in records[1:]:
        assert record["paired"]["verdict"] in out


def test_run_json_has_the_intervals(sms_path, runs_dir, capsys):
    assert {"accuracy_ci", "macro_f1_ci"} <= set(RESULT_KEYS)
    assert cli(["run", "--train", str(sms_path), "--model", "minilm", "--method", "zero-shot", "--test-size", "40",
                "--runs-dir", str(runs_dir), "--json", "--quiet"]) == 0
    payload = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "macro_f1"):
        low, high = payload[f"{key}_ci"]
        assert low <= payload[key] <= high
    saved = json.loads((runs_dir / payload["run_id"] / "metrics.json").read_text())
    assert saved["accuracy_ci"] == payload["accuracy_ci"]


def test_report_has_the_intervals_and_the_verdict_section(comparison):
    html = tlcore.build_report(comparison, checks=False)
    assert f"<h2>{VERDICTS_HEADING}</h2>" in html
    for result in cmp.paired_with_best(comparison).values():
        assert html_module.escape(result.verdict, quote=True) in html
    assert cmp.ACCURACY_CI in html and cmp.metrics_table(comparison)[cmp.ACCURACY_CI].iloc[0] in html


def test_a_single_run_has_no_verdict_section(runs):
    store, ids = runs
    single = tlcore.load_comparison([ids["zero-shot"]], store)
    assert cmp.paired_with_best(single) == {}
    assert VERDICTS_HEADING not in tlcore.build_report(single, checks=False)


# -- learning curve band --------------------------------------------------------------------------------------
def _point(per_class, seed, accuracy, ci=None) -> dict:
    return {"per_class": per_class, "x": float(per_class), "seed": seed, "accuracy": accuracy, "macro_f1": accuracy,
            "accuracy_ci": ci, "macro_f1_ci": ci, "run_id": f"r{per_class}-{seed}", "n_train": 2 * per_class}


def test_curve_band_is_the_t_interval_across_seeds_or_one_runs_bootstrap_interval():
    points = [_point(8, s, a) for s, a in enumerate([0.60, 0.70, 0.65])] + [_point(16, 0, 0.8, [0.7, 0.9])]
    eight, sixteen = lc.curve_summary(points)
    low, high = stats.t.interval(0.95, 2, loc=0.65, scale=stats.sem([0.60, 0.70, 0.65]))
    assert (eight["low"], eight["high"], eight["band"]) == (pytest.approx(low), pytest.approx(high), "seeds")
    assert (sixteen["low"], sixteen["high"], sixteen["band"]) == (0.7, 0.9, "test rows")
    assert lc.curve_summary([_point(8, 0, 0.6)])[0]["band"] is None  # no interval known: no band claimed


def test_learning_curve_figure_draws_the_band():
    pytest.importorskip("streamlit")
    from tlui import compare_view as cv

    points = [_point(8, s, a) for s, a in enumerate([0.60, 0.70, 0.65])] + [_point(16, 0, 0.8, [0.7, 0.9])]
    summary = lc.curve_summary(points)
    band = cv.learning_curve_figure(points, summary, []).data[0]
    assert band.fill == "toself" and band.name == "95 % interval"
    assert list(band.y) == pytest.approx([summary[0]["high"], 0.9, 0.7, summary[0]["low"]])


def test_compare_page_says_the_verdicts_and_crowns_only_clear_winners(runs, comparison):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    def page(root: str, run_ids: list[str]) -> None:
        import tlcore
        from tlui import compare_view

        compare_view.verdicts_section(tlcore.load_comparison(run_ids, tlcore.RunStore(root)))

    store, ids = runs
    at = AppTest.from_function(page, args=(str(store.root), list(ids.values())), default_timeout=60).run()
    assert not at.exception
    paired = cmp.paired_with_best(comparison).values()
    assert [s.value for s in at.success] == [r.verdict for r in paired if r.clear]
    assert [i.value for i in at.info] == [r.verdict for r in paired if not r.clear]
    assert "Can the test set tell them apart?" in at.markdown[0].value
