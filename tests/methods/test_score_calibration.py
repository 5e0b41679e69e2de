"""Per-label calibration offsets (tlcore.methods.score_offsets): what each mode does to the predicted label shares."""
import numpy as np
import pytest

from tlcore.methods.score_offsets import (
    calibration_offsets,
    matching_offsets,
    resolve_calibration,
    saved_mode,
    saved_offsets,
    softmax,
)


def wide_two_class_scores(seed: int = 0) -> np.ndarray:
    """Scores shaped like channel scores of SMS: sums over whole texts, so label differences spread over +-20."""
    rng = np.random.default_rng(seed)
    ham = rng.normal(-2.0, 8.0, 180)  # spam score minus ham score, for 180 ham-like and 20 spam-like texts
    spam = rng.normal(10.0, 8.0, 20)
    diff = np.concatenate([ham, spam])
    return np.stack([np.zeros_like(diff), diff], axis=1)


def predicted_share(scores: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    labels = (scores + offsets).argmax(axis=1)
    return np.bincount(labels, minlength=scores.shape[1]) / len(scores)


def test_matching_makes_the_average_probability_of_each_label_its_class_frequency():
    scores, prior = wide_two_class_scores(), [0.9, 0.1]
    offsets = matching_offsets(scores, prior)
    assert np.allclose(softmax(scores + offsets).mean(axis=0), prior, atol=1e-4)


def test_on_widely_spread_scores_the_prior_rule_calls_far_too_many_texts_the_rare_label_and_matching_does_not():
    scores, prior = wide_two_class_scores(), [0.9, 0.1]
    share_prior = predicted_share(scores, calibration_offsets("prior", scores, prior, lambda: None))
    share_match = predicted_share(scores, calibration_offsets("match", scores, prior, lambda: None))
    assert share_prior[1] > 0.3  # log(0.1/0.9) = -2.2 moves scores that spread over +-20 too little
    assert abs(share_match[1] - 0.1) < 0.04


def test_auto_is_matching_when_class_frequencies_are_known_else_batch():
    assert resolve_calibration("auto", [0.5, 0.5]) == "match"
    assert resolve_calibration("auto", None) == "batch"
    assert resolve_calibration("contextual", [0.5, 0.5]) == "contextual"


@pytest.mark.parametrize("mode, expected", [("auto", [-1.0 + np.log(0.8), 2.0 + np.log(0.2)]),
                                            ("prior", [-1.0 + np.log(0.8), 2.0 + np.log(0.2)]),
                                            ("batch", [-1.0, 2.0]), ("none", None)])
def test_runs_saved_before_offsets_existed_keep_the_calibration_they_were_made_with(mode, expected):
    """Their method_state.json held the subtracted means; "auto" then meant the prior rule, never matching."""
    legacy = {"calibration_means": [1.0, -2.0], "class_prior": [0.8, 0.2]}
    offsets = saved_offsets(legacy, mode)
    assert offsets == expected if expected is None else np.allclose(offsets, expected)
    assert saved_offsets({**legacy, "calibration_offsets": [0.5, -0.5]}, mode) == [0.5, -0.5]
    assert saved_mode(legacy, mode) == ("prior" if mode == "auto" else mode)  # what the export says it used
    assert saved_mode({**legacy, "calibration_offsets": [0.5, -0.5]}, mode) == ("match" if mode == "auto" else mode)


def test_a_zero_shot_run_saved_before_offsets_and_refinement_reloads_with_its_own_predictions(sms, tmp_path):
    """A run saved by the previous release: method_state.json with calibration means, no offsets, no label
    vectors, options without refine_rounds, "auto" calibration (which then meant the prior rule)."""
    import json

    import pandas as pd

    import tlcore
    from tlcore.use.predict import load_method

    config = tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8, test_size=20, precision="fp32",
                              method_options={"calibration": "prior", "refine_rounds": 0})  # fp32: as predict_proba
    run = tlcore.create_run(config, sms, store=tlcore.RunStore(tmp_path / "runs"))
    tlcore.execute(run)
    state_file = run.path / "artifacts" / "method_state.json"
    state = json.loads(state_file.read_text())
    means = np.log(state["class_prior"]) - np.asarray(state["calibration_offsets"])  # prior: log prior - means
    options = {k: v for k, v in state["config"].items() if k != "refine_rounds"}
    state_file.write_text(json.dumps({"calibration_means": means.tolist(), "class_prior": state["class_prior"],
                                      "config": {**options, "calibration": "auto"}}))

    saved = pd.read_csv(run.path / "predictions.csv", keep_default_na=False)
    method = load_method(tlcore.RunStore(tmp_path / "runs").get(run.id))
    proba = np.asarray(method.predict_proba(saved["text"].tolist()))
    np.testing.assert_allclose(proba, saved[["p_ham", "p_spam"]].to_numpy(dtype=float), atol=1e-5)
