"""tlcore.compare.checks on real shared data: out-of-domain (trained on Yelp reviews, tested on IMDb), slices by a real
column (the review's domain), a counterfactual probe on IMDb sentences, and each run's compute footprint.

The runs (linear probe, zero-shot and a 2-epoch LoRA on MiniLM, all on the same test split) are built once per
test session by the ``checks_runs`` fixture (tests/conftest.py), shared with tests/cli/test_checks_cli.py and
tests/ui/test_checks_page.py.
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

import tlcore
from tlcore.compare import checks
from tlcore.use.predict import load_method, predict_texts


# -- out-of-domain ----------------------------------------------------------------------------------------
def test_trained_on_yelp_reviews_tested_on_imdb(checks_runs, checks_run):
    run = checks_run("linear-probe")
    path = checks_runs["root"] / "imdb_small.csv"
    result = checks.evaluate_ood(run, path, reuse=False)

    assert result.n == 80 and result.data_name == "imdb_small.csv" and result.name == "imdb_small"
    assert result.label_mapping == {"Negative": "negative", "Positive": "positive"}  # matched ignoring case
    frame = pd.read_csv(path)
    proba = predict_texts(load_method(run), frame["text"].tolist())  # in the run's precision, as the check scores
    expected = np.mean([run.config()["labels"][i] == gold.lower() for i, gold in zip(proba.argmax(1), frame["label"])])
    assert result.out_of_domain["accuracy"] == pytest.approx(expected)
    assert result.in_domain["accuracy"] == run.metrics()["accuracy"]
    assert result.in_domain["n"] == checks_runs["test_size"]
    assert result.gap_accuracy == pytest.approx(result.out_of_domain["accuracy"] - run.metrics()["accuracy"])
    assert result.train_overlap == 0 and not result.notes()
    assert result.out_of_domain["accuracy"] > 0.6  # MiniLM features do transfer, if imperfectly

    saved = json.loads((run.path / "evaluations" / "imdb_small.json").read_text())
    assert saved["out_of_domain"]["accuracy"] == result.out_of_domain["accuracy"]
    assert saved["gap_accuracy"] == pytest.approx(result.gap_accuracy)
    assert "imdb_small" in [e.name for e in checks.load_evaluations(run)]
    # Asked again for the same rows: the saved result comes back and nothing is scored ("method" would fail).
    again = checks.evaluate_ood(run, path, method="not a method")
    assert again.created == result.created


def test_labels_are_mapped_explicitly_or_refused_with_both_label_sets(checks_runs, checks_run):
    run = checks_run("linear-probe")
    frame = pd.read_csv(checks_runs["root"] / "imdb_small.csv")
    numeric = frame.assign(label=frame["label"].map({"Negative": "0", "Positive": "1"}))
    with pytest.raises(tlcore.DatasetError) as refused:
        checks.prepare(run, numeric, data_name="imdb_numeric.csv")
    message = str(refused.value)
    assert "0, 1" in message and "negative, positive" in message and "--map" in message
    with pytest.raises(tlcore.DatasetError, match="no such label"):
        checks.prepare(run, numeric, data_name="imdb_numeric.csv", label_map={"2": "negative"})
    with pytest.raises(tlcore.DatasetError, match="not one of the run's labels"):
        checks.prepare(run, numeric, data_name="imdb_numeric.csv", label_map={"0": "neutral", "1": "positive"})

    mapped = checks.evaluate_ood(run, numeric, data_name="imdb_numeric.csv", label_map={"0": "negative",
                                                                                       "1": "positive"})
    assert mapped.label_mapping == {"0": "negative", "1": "positive"}
    spelled = checks.evaluate_ood(run, checks_runs["root"] / "imdb_small.csv")
    assert mapped.out_of_domain["accuracy"] == pytest.approx(spelled.out_of_domain["accuracy"])
    assert mapped.data_fingerprint == spelled.data_fingerprint  # the same rows once mapped


def test_scoring_the_runs_own_training_file_is_flagged_as_not_out_of_domain(checks_runs, checks_run):
    run = checks_run("linear-probe")
    result = checks.evaluate_ood(run, checks_runs["root"] / "reviews_mixed.csv", name="own-file")
    split = run.split()
    assert result.train_overlap == len(split.train) + len(split.val)
    assert result.test_overlap == checks_runs["test_size"]
    assert any("not a clean out-of-domain test" in note for note in result.notes())


# -- slices -----------------------------------------------------------------------------------------------
def test_slices_by_the_review_domain_with_worst_and_too_small_slices(checks_runs, checks_run):
    run = checks_run("linear-probe")
    mixed = pd.read_csv(checks_runs["root"] / "reviews_mixed.csv")
    predictions = run.predictions()
    domain_of = dict(zip(mixed["text"], mixed["domain"]))
    domains = predictions["text"].map(domain_of)
    expected = predictions.assign(domain=domains).groupby("domain")["correct"].agg(["mean", "size"])
    assert expected["size"]["amazon"] < 20 <= expected["size"]["yelp"]

    report = checks.slice_metrics(run, "domain", mixed, min_size=20)
    assert report.n_matched == report.n_test == checks_runs["test_size"]
    assert not report.n_unmatched and not report.n_ambiguous
    for domain in ("yelp", "amazon"):
        row = report.row(domain)
        assert row.n == expected["size"][domain]
        assert row.accuracy == pytest.approx(expected["mean"][domain])
        assert row.error_rate == pytest.approx(1 - row.accuracy)
    assert report.row("amazon").too_small and not report.row("yelp").too_small
    assert report.worst is None  # one slice large enough to judge: no "worst" among one
    assert (run.path / "checks" / "slices-domain.json").exists()

    low = checks.slice_metrics(run, "domain", mixed, min_size=5)
    assert low.worst is not None and low.row(low.worst).accuracy == min(r.accuracy for r in low.rows)


def test_slices_count_test_texts_missing_from_or_ambiguous_in_the_file(checks_runs, checks_run):
    run = checks_run("linear-probe")
    mixed = pd.read_csv(checks_runs["root"] / "reviews_mixed.csv")
    n_amazon = checks.slice_metrics(run, "domain", mixed, save=False).row("amazon").n
    without_amazon = checks.slice_metrics(run, "domain", mixed[mixed["domain"] == "yelp"], save=False)
    assert without_amazon.n_unmatched == n_amazon and [r.value for r in without_amazon.rows] == ["yelp"]
    test_text = run.predictions()["text"].iloc[0]
    twice = pd.concat([mixed, pd.DataFrame({"text": [test_text], "label": ["x"], "domain": ["other"]})])
    assert checks.slice_metrics(run, "domain", twice, save=False).n_ambiguous == 1

    with pytest.raises(tlcore.DatasetError, match="columns found are: text, label, domain"):
        checks.slice_metrics(run, "region", mixed)
    with pytest.raises(tlcore.DatasetError, match="needs the data file"):
        checks.slice_metrics(run, "domain")
    by_length = checks.slice_metrics(run, checks.TEXT_LENGTH, save=False)  # needs no file
    assert sum(r.n for r in by_length.rows) == checks_runs["test_size"]
    assert all("words" in r.value for r in by_length.rows)


# -- counterfactual ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, swapped, count", [
    ("He said his wife loved him.", "She said her husband loved him.", 3),
    ("HE is the ACTOR; Mary met Greg.", "SHE is the ACTRESS; John met Jamal.", 4),
    ("The theme of the hemp shed", "The theme of the hemp shed", 0),  # whole words only
    ("My boyfriend and the boy", "My girlfriend and the girl", 2),  # the longer term first
    ("she-wolf and her", "he-wolf and his", 2),
])
def test_swaps_are_whole_word_both_ways_and_keep_case(text, swapped, count):
    assert checks.Swapper(checks.DEFAULT_PAIRS).swap(text) == (swapped, count)


@pytest.mark.parametrize("text, message", [
    ("he:she, she:her", "in two pairs"), ("he", "two words joined"), ("he:He", "with itself"), ("", "no term pairs"),
    ("he:<b>", "must be a word"),
])
def test_bad_term_pairs_are_refused(text, message):
    with pytest.raises(tlcore.ConfigError, match=message):
        checks.parse_pairs(text)


def test_probe_counts_flips_only_on_texts_with_a_term(checks_runs, checks_run, probe_texts):
    texts = probe_texts
    probe = checks.probe_counterfactual(checks_run("linear-probe"), checks.DEFAULT_PAIRS, texts,
                                        source="imdb probe", reuse=False)
    base = checks.probe_counterfactual(checks_run("zero-shot"), checks.DEFAULT_PAIRS, texts,
                                       source="imdb probe", reuse=False)
    for result in (probe, base):
        assert result.n_texts == 40 and result.n_affected == 30
        assert result.n_flipped == sum(result.flips_to.values()) == len(result.flipped)
        assert result.mean_abs_delta >= abs(result.mean_delta)
        assert {f["text"] for f in result.flipped} <= set(texts[:30])
    method = load_method(checks_run("linear-probe"))  # no batch calibration: each text scores on its own
    labels = checks_run("linear-probe").config()["labels"]
    for flip in probe.flipped:
        proba = predict_texts(method, [flip["text"], flip["swapped"]])
        assert [labels[i] for i in proba.argmax(1)] == [flip["before"], flip["after"]]
        assert proba[1].max() == pytest.approx(flip["confidence_after"], abs=1e-6)

    verdicts = checks.sensitivity_verdicts([probe, base])
    assert len(verdicts) == 1 and verdicts[0].startswith("linear-probe (minilm) flips")
    assert "zero-shot" in verdicts[0]
    assert checks.saved_probe(checks_run("zero-shot"), checks.DEFAULT_PAIRS, texts).created == base.created

    untouched = checks.probe_counterfactual(checks_run("zero-shot"), [("xyzzy", "plugh")], texts,
                                            method="not a method")  # no text has a term: nothing is scored
    assert untouched.n_affected == 0 and untouched.flip_rate is None


# -- compute footprint ------------------------------------------------------------------------------------
def test_footprint_follows_the_stated_formulas(checks_runs, checks_run):
    probe, base, lora = (checks.compute_footprint(checks_run(m))
                         for m in ("linear-probe", "zero-shot", "lora"))
    assert probe.trainable_params == 385 and probe.passes == 0  # 384 weights + 1 bias of a binary logistic head
    assert probe.training_flops == pytest.approx(2 * probe.compute_params * probe.train_tokens * probe.n_train)
    n_test = checks_runs["test_size"]
    assert probe.prediction_flops == pytest.approx(2 * probe.compute_params * probe.test_tokens * n_test)
    # zero-shot trains nothing, but encodes its training texts once to refine the label vectors
    assert base.trainable_params == 0 and base.n_train >= 16
    assert base.training_flops == pytest.approx(2 * base.compute_params * base.train_tokens * base.n_train)
    assert 5 < probe.train_tokens < 128 and 5 < lora.train_tokens <= 48  # LoRA cut texts at max_length 48

    metrics = checks_run("lora").metrics()
    assert lora.passes == metrics["steps"] / math.ceil(metrics["n_train"] / 16) == 2
    # An adapter: the backward pass skips the frozen weights' gradients, so 1 forward + 1 backward.
    assert lora.training_flops == pytest.approx(2 * lora.compute_params * lora.train_tokens * lora.n_train * 2 * 2)
    assert lora.flops_formula.startswith("2 x params x tokens x (2 per training pass x 2 epochs")

    cores = checks.FootprintAssumptions().cpu_cores
    assert probe.watts == cores * 15.0 and probe.grid_g_per_kwh == 400
    assert probe.energy_kwh == pytest.approx(probe.watts * (probe.train_seconds + probe.predict_seconds) / 3.6e6)
    assert probe.co2e_g == pytest.approx(probe.energy_kwh * 400)
    edited = checks.compute_footprint(checks_run("linear-probe"), checks.FootprintAssumptions(
        cpu_watts_per_core=10, cpu_cores=4, grid_g_per_kwh=100))
    assert edited.watts == 40 and edited.co2e_g == pytest.approx(edited.energy_kwh * 100)
    assert edited.energy_kwh == pytest.approx(probe.energy_kwh * 40 / probe.watts)
    assert checks.FootprintAssumptions(gpu_watts=250).power("cuda")[0] == 250
    with pytest.raises(tlcore.ConfigError, match="grid intensity"):
        checks.FootprintAssumptions(grid_g_per_kwh=-1)

    lines = checks.compare_compute([probe, base, lora])
    top = max((probe, base, lora), key=lambda f: f.training_flops)  # against the most training compute
    others = sorted((f for f in (probe, base, lora) if f is not top), key=lambda f: -f.training_flops)
    assert len(lines) == 2
    for line, other in zip(lines, others):
        ratio = top.training_flops / other.training_flops
        compute = f"{ratio:.1f}x less training compute than" if ratio >= 1.05 else "about the same training compute as"
        assert line.startswith(f"{other.method} (minilm): ")
        assert line.endswith(f"for {compute} {top.method} (minilm).")
    assert sum("about the same training compute as" in line for line in lines) == 1  # zero-shot and the probe
    untrained = dataclasses.replace(base, training_flops=0.0)  # e.g. zero-shot without refinement
    points = 100 * (untrained.accuracy - top.accuracy)
    assert checks.compare_compute([untrained, top])[0] == (
        f"zero-shot (minilm): {abs(points):.1f} points {'more' if points > 0 else 'less'} accuracy than "
        f"{top.method} (minilm), with no training compute." if abs(points) >= 0.05 else
        f"zero-shot (minilm): the same accuracy as {top.method} (minilm), with no training compute.")
    assert checks.compare_compute([untrained]) == [] and checks.compare_compute([untrained, untrained]) == []


# -- the report fragment ----------------------------------------------------------------------------------
def test_checks_html_section_shows_saved_results_escaped(checks_runs, checks_run):
    run = checks_run("zero-shot")
    checks.evaluate_ood(run, checks_runs["root"] / "imdb_small.csv")
    checks.probe_counterfactual(run, [("he", "she")], ["<b>He</b> was awful & boring.", "She was great."],
                                source="<script>tiny</script>")
    checks.slice_metrics(run, checks.TEXT_LENGTH)
    html = checks.checks_html_section([run])
    for heading in ("Out-of-domain evaluation", "Slices", "Counterfactual probe", "Compute footprint"):
        assert f"<h3>{heading}</h3>" in html
    assert "imdb_small.csv" in html and "text length (words)" in html and "Training FLOPs" in html
    assert "&lt;script&gt;tiny&lt;/script&gt;" in html  # the probe's text source, escaped
    assert "<script>" not in html and "<b>" not in html
    assert "Energy (kWh) = power (W) x wall time (s) / 3,600,000" in html


def test_an_imported_run_without_its_training_data_still_gets_every_check(checks_runs, tmp_path, checks_run):
    exported = tlcore.export_run(checks_run("linear-probe"), tmp_path / "export")
    run = tlcore.import_export(exported, tlcore.RunStore(tmp_path / "runs"))
    assert not (run.path / "data").exists()  # an import keeps predictions and metrics, not the training rows
    result = checks.evaluate_ood(run, checks_runs["root"] / "imdb_small.csv")
    assert result.train_overlap is None and "not checked" in result.notes()[0]
    footprint = checks.compute_footprint(run)
    assert footprint.training_flops > 0 and "imported run" in footprint.flops_formula
    assert checks.slice_metrics(run, checks.TEXT_LENGTH, save=False).n_test == checks_runs["test_size"]
