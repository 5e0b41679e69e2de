"""95 % intervals for a run's accuracy and macro-F1, by bootstrap over its test rows.

A score on 40 test rows moves by 2.5 points per row, so a number alone overstates what the test set
knows. The bootstrap redraws the test rows with replacement and recomputes the score each time; the
middle 95 % of those scores is the interval. It is seeded, so the same predictions always give the
same interval (a run's metrics.json and a comparison computed later agree exactly).

The paired comparison of two runs (``tlcore.compare.paired``) resamples the same way; the shared pieces
(label codes, the vectorised scores, the bootstrap call) live here, below ``compare``.

scipy is imported inside the functions: importing this module stays light (numpy only).
"""
from __future__ import annotations

import inspect
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError

CONFIDENCE = 0.95
# 1,000 resamples: the Monte-Carlo error of a 2.5 % percentile is then about 0.1 accuracy points on 1,000
# test rows (well below the one decimal we print), and the bootstrap stays under ~100 ms there on one core.
# 10,000 (scipy's default) would cost ten times as much for a digit nobody reads.
N_RESAMPLES = 1000
SEED = 0
# Resamples per batch: keeps the (batch x rows) arrays near 2 million cells even for 100,000-row test sets.
_CELLS_PER_BATCH = 2_000_000

Interval = tuple[float, float]


def label_codes(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Gold and predicted labels as integer codes (the index in ``labels``).

    A label outside ``labels`` gets a code of its own that matches nothing (a different one for gold and
    predicted), so it counts as a wrong prediction and never as a class of its own.
    """
    index = {str(label): i for i, label in enumerate(labels)}
    unknown_gold, unknown_predicted = len(index), len(index) + 1
    return (np.array([index.get(str(g), unknown_gold) for g in gold], dtype=np.int32),
            np.array([index.get(str(p), unknown_predicted) for p in predicted], dtype=np.int32))


def accuracy_of(gold: np.ndarray, predicted: np.ndarray, axis: int = -1) -> np.ndarray:
    """Share of rows predicted right, along ``axis`` (vectorised over bootstrap resamples)."""
    return np.mean(gold == predicted, axis=axis)


def macro_f1_of(n_labels: int) -> Callable[..., np.ndarray]:
    """Macro-F1 over ``n_labels`` classes along ``axis``, as scikit-learn computes it with ``labels=`` and
    ``zero_division=0``: F1 = 2·TP / (gold count + predicted count), 0 for a class absent from both, and
    every class counts in the mean even when a resample holds none of its rows."""

    def macro_f1(gold: np.ndarray, predicted: np.ndarray, axis: int = -1) -> np.ndarray:
        total = 0.0
        for k in range(n_labels):
            is_gold, is_predicted = gold == k, predicted == k
            true_positive = np.sum(is_gold & is_predicted, axis=axis)
            denominator = np.sum(is_gold, axis=axis) + np.sum(is_predicted, axis=axis)
            total = total + np.divide(2.0 * true_positive, denominator,
                                      out=np.zeros(np.shape(true_positive)), where=denominator > 0)
        return total / max(1, n_labels)

    return macro_f1


def _rng_argument(seed: int) -> dict:
    """scipy >= 1.15 takes ``rng``; older releases only ``random_state`` (both accept a Generator)."""
    import scipy.stats

    name = "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"
    return {name: np.random.default_rng(seed)}


def bootstrap_interval(samples: Sequence[np.ndarray], statistic: Callable[..., np.ndarray], *,
                       seed: int = SEED, n_resamples: int = N_RESAMPLES,
                       confidence: float = CONFIDENCE) -> Interval:
    """Percentile bootstrap interval of ``statistic(*samples)``, resampling rows jointly (paired).

    Percentile rather than scipy's default BCa: BCa returns NaN when every resample gives the same
    score (a run right on every row, two runs that agree everywhere), and its jackknife costs one more
    evaluation per test row. With fewer than two rows nothing can be resampled: the interval is the
    widest one the score allows, (0, 1), or (-1, 1) for a difference, as the caller passes ``statistic``.
    """
    from scipy.stats import bootstrap

    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence!r}.")
    n = len(samples[0])
    result = bootstrap(tuple(samples), statistic, n_resamples=n_resamples, vectorized=True, paired=True, axis=-1,
                       batch=max(1, min(n_resamples, _CELLS_PER_BATCH // max(1, n))), method="percentile",
                       confidence_level=confidence, **_rng_argument(seed))
    low, high = result.confidence_interval
    return float(low), float(high)


def score_intervals(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], *, seed: int = SEED,
                    n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE) -> dict[str, list[float]]:
    """``{"accuracy_ci": [low, high], "macro_f1_ci": [low, high]}``: 95 % bootstrap intervals over the test rows.

    Both intervals come from the same resamples (one seed), so they describe the same redrawn test sets.
    """
    if len(gold) != len(predicted):
        raise ConfigError(f"gold and predicted labels differ in length ({len(gold)} and {len(predicted)}); "
                          "give one prediction per test row.")
    if not labels:
        raise ConfigError("no labels given; pass the run's label list (metrics.json 'labels').")
    if len(gold) < 2:  # one row: scipy cannot resample it, and one row says next to nothing
        return {"accuracy_ci": [0.0, 1.0], "macro_f1_ci": [0.0, 1.0]}
    gold_codes, predicted_codes = label_codes(gold, predicted, labels)
    options = dict(seed=seed, n_resamples=n_resamples, confidence=confidence)
    return {"accuracy_ci": list(bootstrap_interval((gold_codes, predicted_codes), accuracy_of, **options)),
            "macro_f1_ci": list(bootstrap_interval((gold_codes, predicted_codes), macro_f1_of(len(labels)),
                                                   **options))}


INTERVAL_KEYS = ("accuracy_ci", "macro_f1_ci")


def run_intervals(metrics: dict, predictions, labels: Sequence[str]) -> dict[str, list[float]] | None:
    """A run's intervals: those in its metrics.json, or (runs saved before intervals existed) computed now from
    its predictions.csv (a DataFrame with ``gold`` and ``predicted``). Nothing is written back: old run folders
    stay as they were. None when neither is available (no predictions, no labels)."""
    stored = {key: metrics.get(key) for key in INTERVAL_KEYS}
    if all(isinstance(value, (list, tuple)) and len(value) == 2 for value in stored.values()):
        return {key: [float(v) for v in value] for key, value in stored.items()}
    labels = list(labels or metrics.get("labels") or [])
    if predictions is None or not labels or not {"gold", "predicted"} <= set(predictions.columns):
        return None
    return score_intervals(predictions["gold"].astype(str).tolist(), predictions["predicted"].astype(str).tolist(),
                           labels)


def wilson_interval(correct: int, n: int) -> Interval:
    """95 % Wilson score interval of a proportion (``correct`` of ``n``): an accuracy's interval known from the
    two counts alone, before any predictions exist (the model card, the Train page's test-size advice)."""
    from scipy.stats import binomtest

    if n <= 0:
        return 0.0, 1.0
    if not 0 <= correct <= n:
        raise ConfigError(f"expected 0 <= correct <= n; got correct {correct!r} of n {n!r}.")
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)

