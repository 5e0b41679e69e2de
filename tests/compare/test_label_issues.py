"""Suspected label errors: planted flips in real SMS messages are found, ranked above clean rows, and reported with
the right rows, suggested labels and counts (tlcore.compare.label_issues)."""
from __future__ import annotations

import numpy as np
import pytest

import tlcore
from tlcore.compare import find_label_issues
from tlcore.data import LabeledData

ROWS, FLIPS = 200, 10


@pytest.fixture(scope="module")
def flipped(sms) -> tuple[LabeledData, set[int], list[str]]:
    """The first 200 rows of the bundled SMS sample with 10 labels flipped (seeded); the flipped rows; the truth."""
    texts, truth = sms.texts[:ROWS], list(sms.labels[:ROWS])
    rng = np.random.default_rng(0)
    flips = {int(i) for i in rng.choice(ROWS, FLIPS, replace=False)}
    labels = [("spam" if label == "ham" else "ham") if i in flips else label for i, label in enumerate(truth)]
    return LabeledData(texts, labels), flips, truth


@pytest.fixture(scope="module")
def report(flipped):
    return find_label_issues(flipped[0], "minilm")


def test_planted_flips_rank_above_clean_rows(report, flipped):
    data, flips, truth = flipped
    listed = [issue.row for issue in report.issues]
    assert len(set(listed[:15]) & flips) >= 7  # most flips are at the top of the list
    precision = len(set(listed) & flips) / len(listed)
    assert precision >= 0.6  # twelve times the flip rate (5 %)
    for issue in report.issues:
        if issue.row in flips:  # a found flip suggests the label it had before the flip
            assert issue.suggested == truth[issue.row] and issue.given == data.labels[issue.row]
    assert [issue.rank for issue in report.issues] == list(range(1, len(listed) + 1))
    scores = [issue.given_probability for issue in report.issues]
    assert scores == sorted(scores)  # most suspicious first: the given label's probability rises down the list


def test_the_report_says_what_was_checked_with_what(report, flipped):
    assert report.n_rows == report.n_checked == ROWS and report.folds == 5 and report.model == "minilm"
    assert report.labels == ["ham", "spam"] and 0.5 < report.agreement <= 1.0
    issue = report.issues[0]
    assert issue.text == flipped[0].texts[issue.row] and 0.5 <= issue.confidence <= 1.0
    payload = report.to_dict()
    assert payload["n_issues"] == len(report.issues) and set(payload["issues"][0]) == {
        "row", "text", "given", "suggested", "confidence", "given_probability", "rank"}
    assert payload["summary"][0].startswith(f"{len(report.issues)} of {ROWS} rows look mislabeled")


def test_rows_map_to_the_table_and_a_one_row_class_is_not_checked(flipped):
    data, flips, _ = flipped
    texts, labels = data.texts[:60] + ["Call 0800 now to claim your prize"], data.labels[:60] + ["spma"]
    rows = [10 + 2 * i for i in range(61)]  # as if every other row of a table had no label
    report = find_label_issues(LabeledData(texts, labels), "minilm", rows=rows, folds=3)
    assert report.skipped_classes == {"spma": 1} and report.n_checked == 60 and report.folds == 3
    assert all(issue.row in rows[:60] and issue.given != "spma" for issue in report.issues)
    assert any("'spma' (1 row)" in line for line in report.summary())


def test_a_class_whose_rows_share_one_text_is_not_checked(flipped):
    """Copies of a text are scored in one fold, so a class of copies never reaches a training fold: not checked,
    and its rows are not listed as errors (3 classes), nor a raw sklearn error raised (2 classes)."""
    data, _, _ = flipped
    texts, labels = list(data.texts[:40]), list(data.labels[:40])
    copies = ["Your parcel is waiting, reply YES to book delivery"] * 4
    report = find_label_issues(LabeledData(texts + copies, labels + ["delivery"] * 4), "minilm", folds=3)
    assert report.skipped_classes == {"delivery": 4} and report.n_checked == 40
    assert not any(issue.given == "delivery" for issue in report.issues)
    assert any("'delivery' (4 rows)" in line and "different texts" in line for line in report.summary())
    spam = [i for i, label in enumerate(labels) if label == "spam"]
    one_text = [texts[spam[0]] if label == "spam" else text for text, label in zip(texts, labels)]
    with pytest.raises(tlcore.DatasetError, match=r"'spam': \d+ rows, 1 different text"):
        find_label_issues(LabeledData(one_text, labels), "minilm")


def test_a_training_fold_with_one_class_is_a_clear_error():
    from tlcore.compare.label_issues import out_of_sample_probabilities

    features = np.random.default_rng(0).normal(size=(12, 4))
    y = [0] * 8 + [1] * 4
    groups = [f"t{i}" for i in range(8)] + ["same"] * 4
    with pytest.raises(tlcore.DatasetError, match="a training fold has rows of only 1 class"):
        out_of_sample_probabilities(features, y, 2, 3, groups=groups)


def test_bad_input_is_refused_with_a_reason(sms):
    with pytest.raises(tlcore.DatasetError, match="at least 2 classes"):
        find_label_issues(LabeledData(sms.texts[:5], ["ham"] * 5))
    with pytest.raises(tlcore.ConfigError, match="one per row"):
        find_label_issues(LabeledData(sms.texts[:5], sms.labels[:5]), rows=[1, 2])
    with pytest.raises(tlcore.ConfigError, match="folds"):
        find_label_issues(LabeledData(sms.texts[:5], sms.labels[:5]), folds=1)
