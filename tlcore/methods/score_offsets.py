"""Per-label offsets that remove a zero- or few-shot scorer's bias towards some labels.

Raw scores (texts x labels, log-probability-like) of a small LM or of cosine similarities favour some label
words whatever the text says. Each mode turns the scores of one batch of texts (the run's test split, whose
labels are never read) into one offset per label, added to every later score, so a text's label never depends
on the other texts it is scored with:

- ``batch``: minus each label's mean score (assumes balanced classes);
- ``prior``: batch, plus the log class frequency (the Bayes correction for a known class balance);
- ``match``: prior matching, the offsets that make the average predicted probability of each label equal its
  class frequency (Saerens et al. 2002 adjust the prior this way). ``prior`` moves every score by a fixed
  log-frequency, which is too little when scores spread wide: SmolLM2's channel scores are sums over a whole
  text, and with ``prior`` it called far too many SMS texts spam;
- ``contextual``: minus the score of a content-free input ("N/A");
- ``none``: no offsets.

``auto`` is ``match`` when the class frequencies are known, else ``batch``. It was chosen on the validation
rows of sms_spam and trec at 64 per class, never their test rows (bench/README.md, "The method table").
"""
from __future__ import annotations

from typing import Callable

import numpy as np

MODES = ("auto", "match", "prior", "batch", "contextual", "none")


def resolve_calibration(mode: str, class_prior: list[float] | None) -> str:
    """The mode "auto" stands for: prior matching when the class frequencies are known, else batch."""
    if mode != "auto":
        return mode
    return "batch" if class_prior is None else "match"


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def matching_offsets(scores: np.ndarray, class_prior: list[float], rounds: int = 2000, tol: float = 1e-6) -> np.ndarray:
    """Offsets b with mean_i softmax(scores_i + b) = class_prior (a fixed-point iteration, like Sinkhorn's).

    Starts from the ``prior`` offsets, which already solve it when the scores hardly spread. Each round closes
    less of the gap the wider the scores spread (channel scores over tens of nats need tens of rounds); where a
    share cannot be met exactly (near one-hot scores), it stops after ``rounds`` as close as it got.
    """
    target = np.log(np.asarray(class_prior, dtype=float))
    offsets = target - scores.mean(axis=0)
    for _ in range(rounds):
        average = softmax(scores + offsets).mean(axis=0)
        step = target - np.log(np.maximum(average, 1e-300))
        offsets = offsets + step
        if np.abs(step).max() < tol:
            break
    return offsets - offsets.mean()  # only differences between labels matter


def calibration_offsets(mode: str, scores: np.ndarray, class_prior: list[float] | None,
                        content_free: Callable[[], np.ndarray]) -> np.ndarray:
    """One offset per label for ``mode`` (already resolved from "auto"), from one batch of raw scores."""
    scores = np.asarray(scores, dtype=float)
    if mode == "batch":
        return -scores.mean(axis=0)
    if mode == "prior":
        return np.log(np.asarray(class_prior)) - scores.mean(axis=0)
    if mode == "match":
        return matching_offsets(scores, class_prior)
    if mode == "contextual":
        return -np.asarray(content_free(), dtype=float)
    return np.zeros(scores.shape[1])


def saved_mode(state: dict, mode: str) -> str:
    """The calibration a saved run used. Runs saved before offsets were stored (they kept the means they
    subtracted) ran "auto" as "prior" when the class frequencies were known: it never meant "match" for them."""
    if mode == "auto" and state.get("calibration_offsets") is None and state.get("calibration_means") is not None:
        return "batch" if state.get("class_prior") is None else "prior"
    return resolve_calibration(mode, state.get("class_prior"))


def saved_offsets(state: dict, mode: str) -> list[float] | None:
    """The offsets of a saved run, from the means older runs stored where they have no offsets."""
    if state.get("calibration_offsets") is not None:
        return list(state["calibration_offsets"])
    means, prior = state.get("calibration_means"), state.get("class_prior")
    if means is None:
        return None
    mode = saved_mode(state, mode)
    offsets = -np.asarray(means, dtype=float)
    if mode == "prior":
        offsets = offsets + np.log(np.asarray(prior))
    return offsets.tolist() if mode in ("batch", "prior", "contextual") else None
