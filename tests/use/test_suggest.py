"""What to label next: on a real finished run (linear probe on MiniLM, 8 Yelp sentences per class) and a real pool
(the sample's other sentences), the suggestions are the rows its model is least sure of, a diverse batch keeps one of
a group of near-duplicates, texts the run has a label for are never suggested, and bad input is refused by name."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tlcore
from tlcore.use.suggest import (
    CANDIDATES_PER_PICK,
    k_center_greedy,
    pool_from_frame,
    rank_pool,
    read_pool,
    suggest_next,
    suggest_report,
    uncertainty,
)

POOL_SIZE = 150


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tlcore.RunStore:
    return tlcore.RunStore(tmp_path_factory.mktemp("suggest-runs"))


@pytest.fixture(scope="module")
def probe_run(store, yelp) -> tlcore.Run:
    config = tlcore.RunConfig(model="minilm", method="linear-probe", per_class=8, test_size=40,
                              data_name="yelp_reviews.csv")
    run = tlcore.create_run(config, yelp, store=store)
    tlcore.execute(run)
    assert run.status()["status"] == "succeeded"
    return run


@pytest.fixture(scope="module")
def probe_method(probe_run):
    return tlcore.load_method(probe_run)


@pytest.fixture(scope="module")
def pool(probe_run, yelp) -> list[str]:
    """Yelp sentences the run has no label for (neither train, validation nor test)."""
    split = probe_run.split()
    used = {t for part in (split.train, split.val, split.test) for t in part.texts}
    return list(dict.fromkeys(t.strip() for t in yelp.texts if t not in used))[:POOL_SIZE]


@pytest.fixture(scope="module")
def pool_proba(probe_method, pool) -> np.ndarray:
    return tlcore.predict_texts(probe_method, pool)


def _margin(proba: np.ndarray) -> np.ndarray:
    top = -np.sort(-proba, axis=1)
    return top[:, 0] - top[:, 1]


def test_suggestions_are_the_rows_the_model_is_least_sure_of(probe_run, probe_method, pool, pool_proba):
    suggestions = suggest_next(probe_run, pool, n=10, strategy="margin", method=probe_method)
    margins = _margin(pool_proba)
    picked = [s.index for s in suggestions]
    assert len(picked) == 10 and len(set(picked)) == 10
    others = np.setdiff1d(np.arange(len(pool)), picked)
    assert margins[picked].max() <= margins[others].min() + 1e-9  # no unpicked row is less certain
    assert list(margins[picked]) == sorted(margins[picked])  # most uncertain first
    labels = probe_run.config()["labels"]
    for s in suggestions:
        assert s.text == pool[s.index]
        assert s.predicted == labels[int(pool_proba[s.index].argmax())]
        assert s.confidence == pytest.approx(pool_proba[s.index].max(), abs=1e-6)
        assert s.score == pytest.approx(1 - margins[s.index], abs=1e-6)
        assert s.reason.startswith("the model ") and f"{s.predicted} ({s.confidence:.2f})" in s.reason

    # margin+diversity keeps a batch drawn from the 5n least certain rows
    diverse = suggest_next(probe_run, pool, n=10, strategy="margin+diversity", method=probe_method)
    candidates = np.argsort(margins, kind="stable")[:CANDIDATES_PER_PICK * 10]
    assert len(diverse) == 10 and {s.index for s in diverse} <= set(candidates.tolist())
    assert all("unlike the other suggestions" in s.reason for s in diverse)


def test_a_diverse_batch_keeps_one_of_a_group_of_near_duplicates(probe_run, probe_method, pool, pool_proba):
    top = pool[int(np.argmin(_margin(pool_proba)))]
    # MiniLM lower-cases its input: these read the same to the model but are different texts (not exact repeats)
    twins = [top.upper(), top.lower(), top.rstrip(".!") + "!", top.rstrip(".!") + "..."]
    planted = pool + [t for t in twins if t.strip() != top.strip()]
    group = {i for i, t in enumerate(planted) if i >= len(pool) or t == top}
    assert len(group) >= 4
    by_margin = suggest_next(probe_run, planted, n=10, strategy="margin", method=probe_method)
    assert len(group & {s.index for s in by_margin}) >= 3  # without diversity they crowd the batch
    diverse = suggest_next(probe_run, planted, n=10, strategy="margin+diversity", method=probe_method)
    assert len(group & {s.index for s in diverse}) == 1


def test_texts_the_run_has_a_label_for_repeats_and_empty_texts_are_never_suggested(probe_run, probe_method, pool):
    split = probe_run.split()
    labeled = list(split.train.texts) + list(split.test.texts[:5])
    planted = labeled + ["", "   ", pool[0], pool[0], f"  {pool[1]}  "] + pool[:40]
    report = suggest_report(probe_run, planted, n=len(planted), strategy="margin", method=probe_method)
    texts = [s.text for s in report.suggestions]
    assert not set(texts) & set(labeled)
    assert report.skipped_labeled == len(labeled)
    assert report.skipped_empty == 2
    assert report.skipped_duplicate == 3  # pool[0] twice more, pool[1] once more (its padded copy counts first)
    assert len(texts) == len(set(texts)) == report.ranked == 40
    assert report.to_dict()["skipped"] == {"empty": 2, "duplicate": report.skipped_duplicate,
                                           "labeled": len(labeled)}


def test_excluded_texts_are_never_suggested(probe_run, probe_method, pool):
    """Texts labeled since the run (added to the data as new rows) are not offered again."""
    first = suggest_next(probe_run, pool[:30], n=5, method=probe_method)
    added = [s.text for s in first]
    report = suggest_report(probe_run, pool[:30], n=5, method=probe_method, exclude=[f" {t} " for t in added])
    assert not {s.text for s in report.suggestions} & set(added)
    assert report.skipped_labeled == 5 and report.ranked == 25 and len(report.suggestions) == 5
    with pytest.raises(tlcore.DatasetError, match="or among the texts to exclude"):
        suggest_report(probe_run, pool[:3], method=probe_method, exclude=pool[:3])
    with pytest.raises(tlcore.DatasetError, match="exclude must be a list of texts"):
        suggest_report(probe_run, pool[:3], method=probe_method, exclude=pool[0])


def test_bad_requests_are_refused_with_what_to_do(probe_run, probe_method, pool, store, yelp):
    with pytest.raises(tlcore.ConfigError, match="n must be a whole number of at least 1"):
        suggest_next(probe_run, pool, n=0, method=probe_method)
    with pytest.raises(tlcore.ConfigError, match="unknown strategy 'bald'; choose one of margin"):
        suggest_next(probe_run, pool, strategy="bald", method=probe_method)
    with pytest.raises(tlcore.DatasetError, match="the pool is empty"):
        suggest_next(probe_run, [], method=probe_method)
    with pytest.raises(tlcore.DatasetError, match=r"no pool text is left to suggest: of 3, 1 empty, 0 repeated "
                                                   r"and 2 already labeled"):
        suggest_next(probe_run, ["", *probe_run.split().train.texts[:2]], method=probe_method)
    queued = tlcore.create_run(tlcore.RunConfig(model="minilm", method="linear-probe", per_class=4, test_size=10),
                               yelp, store=store)  # created, never executed
    with pytest.raises(tlcore.RunError, match=f"run {queued.id} is queued.*wait for it to finish"):
        suggest_next(queued, pool)
    with pytest.raises(tlcore.RunError):
        suggest_next("no-such-run", pool, runs_dir=store.root)


def test_ranking_on_arrays():
    proba = np.array([[0.9, 0.1, 0.0], [0.4, 0.35, 0.25], [0.5, 0.5, 0.0], [0.34, 0.33, 0.33]])
    np.testing.assert_allclose(uncertainty(proba, "margin"), [0.2, 0.95, 1.0, 0.99])
    assert list(rank_pool(proba, 2, "margin")) == [2, 3]
    assert list(rank_pool(proba, 2, "entropy")) == [3, 1]  # the most even spread over three labels first
    assert sorted(rank_pool(proba, 4, "random", seed=3)) == [0, 1, 2, 3]
    assert list(rank_pool(proba, 3, "random", seed=3)) == list(rank_pool(proba, 3, "random", seed=3))
    # k-center: from the first row, the farthest next; a planted copy of a picked point is never taken while
    # distinct points remain
    points = np.array([[0.0, 0.0], [0.0, 0.01], [5.0, 0.0], [0.0, 3.0]])
    assert k_center_greedy(points, 3) == [0, 2, 3]
    with pytest.raises(tlcore.ConfigError, match="needs sentence embeddings"):
        rank_pool(np.tile(proba, (5, 1)), 2, "margin+diversity")


def test_a_pool_is_the_rows_without_a_label(tmp_path, probe_run):
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["great food", "cold soup", "", "nice staff"],
                          "label": ["positive", "", "", None]})
    path = tmp_path / "more.csv"
    frame.to_csv(path, index=False)
    pool = read_pool(path, run=probe_run)
    assert (pool.text_column, pool.label_column, pool.labeled_rows) == ("text", "label", 1)
    assert pool.texts == ["cold soup", "", "nice staff"] and pool.rows == [3, 4, 5]  # the file's row numbers
    unlabeled = pool_from_frame(frame[["id", "text"]])
    assert unlabeled.label_column is None and len(unlabeled.texts) == 4
    with pytest.raises(tlcore.DatasetError, match="has no label column 'gold'"):
        read_pool(path, label_column="gold")
    frame.assign(label="positive").to_csv(path, index=False)
    with pytest.raises(tlcore.DatasetError, match="every row of 'more.csv' has a label"):
        read_pool(path)
    with pytest.raises(tlcore.DatasetError, match="does not exist"):
        read_pool(tmp_path / "missing.csv")


def test_diversity_compares_texts_with_an_encoder_even_for_a_decoder_run():
    from tlcore.use.suggest import embedding_folder

    assert embedding_folder("smollm2-135m") == embedding_folder("minilm")  # a decoder's states are not comparable
