"""Can the test set tell two runs apart? A paired comparison of two runs on the same test rows.

Two runs scored on the same rows are compared row by row, which is far more sensitive than comparing
their two accuracies with separate intervals (most rows are right, or wrong, for both runs):

- the exact McNemar test: only the rows where exactly one run is right carry information; under "no
  difference" each of them is equally likely to favour either run, so the count favouring one run is
  Binomial(discordant rows, 1/2) (``scipy.stats.binomtest``);
- a paired bootstrap interval for the difference in accuracy and in macro-F1: the test rows are
  redrawn with replacement, the same rows for both runs, and the difference recomputed (the same seeded
  resampling as a single run's interval, ``tlcore.runs.intervals``).

The verdict rule (one rule everywhere: CLI, report, Compare page): a run *beats* another only when the
95 % interval of the accuracy difference excludes 0 **and** McNemar's p < 0.05. Both must agree, so a
borderline case where one says yes and the other no is reported as "no clear difference" — the tool
never crowns a winner the data cannot support. The verdict is about accuracy (what McNemar tests); the
macro-F1 difference and its interval are reported beside it as numbers.

This module knows nothing of run folders: it takes label sequences. ``comparison.paired_with_best``
applies it to a loaded comparison.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..runs.intervals import (
    CONFIDENCE,
    N_RESAMPLES,
    SEED,
    Interval,
    accuracy_of,
    bootstrap_interval,
    label_codes,
    macro_f1_of,
)
from .formatting import points

ALPHA = 0.05  # McNemar's significance level; the bootstrap interval is 1 - ALPHA = 95 % to match it
POWER = 0.8  # the chance of detecting a true difference that ``rows_needed`` plans for (the usual 80 %)


def mcnemar_p_value(only_this_right: int, only_against_right: int) -> float:
    """Exact two-sided McNemar p-value from the two discordant counts (1.0 when there are none)."""
    from scipy.stats import binomtest

    if min(only_this_right, only_against_right) < 0:
        raise ConfigError(f"discordant counts cannot be negative; got {only_this_right} and {only_against_right}.")
    discordant = only_this_right + only_against_right
    if discordant == 0:
        return 1.0
    return float(binomtest(only_this_right, discordant, 0.5).pvalue)


def rows_needed(difference: float, discordance: float, *, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Test rows needed for a McNemar test at level ``alpha`` to detect an accuracy ``difference`` (a share,
    e.g. 0.05) with probability ``power``, when a share ``discordance`` of rows has exactly one run right.

    Connor's (1987) normal approximation: n = (z_a·√ψ + z_b·√(ψ − δ²))² / δ², with ψ the discordance and δ the
    difference. None when the difference is 0 (no test size tells apart runs that are equally good).
    """
    from scipy.stats import norm

    difference, discordance = abs(float(difference)), float(discordance)
    if not 0 <= discordance <= 1 or difference > discordance + 1e-12:
        raise ConfigError(f"expected 0 <= difference <= discordance <= 1 (the difference comes from the discordant "
                          f"rows); got difference {difference!r} and discordance {discordance!r}.")
    if difference == 0:
        return None
    z_alpha, z_power = norm.ppf(1 - alpha / 2), norm.ppf(power)
    n = (z_alpha * math.sqrt(discordance) + z_power * math.sqrt(max(0.0, discordance - difference ** 2))) ** 2
    return math.ceil(n / difference ** 2)


def round_estimate(n: int) -> int:
    """A planning figure rounded up to two significant digits (1,234 → 1,300): it is an estimate."""
    if n < 100:
        return n
    step = 10 ** (len(str(n)) - 2)
    return -(-n // step) * step


def _p_text(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}" if p_value < 0.01 else f"p = {p_value:.2f}"


@dataclass(frozen=True)
class PairedComparison:
    """``name`` against ``against`` on the same ``n`` test rows; every difference is name − against."""

    name: str
    against: str
    n: int
    accuracy: float
    against_accuracy: float
    accuracy_difference: float
    accuracy_difference_ci: Interval
    macro_f1_difference: float
    macro_f1_difference_ci: Interval
    only_this_right: int  # rows this run gets right and the other gets wrong
    only_against_right: int
    p_value: float  # exact McNemar, two-sided
    same_predictions: bool  # the two runs predict the same label on every row
    run_id: str | None = None
    against_run_id: str | None = None

    @property
    def clear(self) -> bool:
        """The verdict rule: the interval excludes 0 and McNemar's p < ALPHA."""
        low, high = self.accuracy_difference_ci
        return (low > 0 or high < 0) and self.p_value < ALPHA and self.accuracy_difference != 0

    @property
    def winner(self) -> str | None:
        """The name of the better run when the test set can tell (``clear``), else None."""
        if not self.clear:
            return None
        return self.name if self.accuracy_difference > 0 else self.against

    @property
    def rows_needed(self) -> int | None:
        """About how many test rows would tell a difference of the observed size (None when it is 0 or clear)."""
        if self.clear or self.accuracy_difference == 0 or self.n == 0:
            return None
        needed = rows_needed(self.accuracy_difference, (self.only_this_right + self.only_against_right) / self.n)
        # The formula asks for 80 % power; a test set that could not tell needs more rows than it has.
        return round_estimate(max(needed or 0, self.n + 1))

    @property
    def verdict(self) -> str:
        """The comparison in plain words, leader first."""
        rows = f"{self.n:,} test row{'s' if self.n != 1 else ''}"
        if self.only_this_right + self.only_against_right == 0:
            if self.same_predictions:
                return f"No difference: {self.name} and {self.against} predict the same label on all {rows}."
            return (f"No difference: {self.name} and {self.against} are right on exactly the same rows "
                    f"({rows}).")
        if self.accuracy_difference == 0:
            return (f"No difference seen on {rows}: {self.name} and {self.against} each get "
                    f"{self.only_this_right} row{'s' if self.only_this_right != 1 else ''} right that the other "
                    "misses.")
        leader, trailer = (self.name, self.against) if self.accuracy_difference > 0 else (self.against, self.name)
        sign = 1 if self.accuracy_difference > 0 else -1
        low, high = sorted(sign * bound for bound in self.accuracy_difference_ci)
        gap = points(abs(self.accuracy_difference))
        interval = f"95 % interval {points(low)} to {points(high)}"
        if self.clear:
            return (f"{leader} beats {trailer} by {gap} points of accuracy, {interval} (exact McNemar "
                    f"{_p_text(self.p_value)}, {rows}).")
        return (f"No clear difference on {rows}: {leader} is ahead of {trailer} by {gap} points of accuracy "
                f"({interval}, McNemar {_p_text(self.p_value)}); about {self.rows_needed:,} test rows would be "
                "needed to tell a difference of this size.")

    def to_dict(self) -> dict:
        """JSON-ready: the numbers, the rule's outcome (``clear``; ``winner`` as a run id when known), the verdict."""
        winner = self.winner
        if winner is not None and self.run_id and self.against_run_id:
            winner = self.run_id if winner == self.name else self.against_run_id
        return {"against": self.against_run_id or self.against, "against_name": self.against, "n": self.n,
                "accuracy_difference": self.accuracy_difference,
                "accuracy_difference_ci": list(self.accuracy_difference_ci),
                "macro_f1_difference": self.macro_f1_difference,
                "macro_f1_difference_ci": list(self.macro_f1_difference_ci),
                "rows_only_this_right": self.only_this_right, "rows_only_against_right": self.only_against_right,
                "p_value": self.p_value, "clear": self.clear, "winner": winner, "rows_needed": self.rows_needed,
                "verdict": self.verdict}


def compare_pair(gold: Sequence[str], predicted: Sequence[str], against_predicted: Sequence[str],
                 labels: Sequence[str], name: str = "run A", against: str = "run B", *,
                 run_id: str | None = None, against_run_id: str | None = None, seed: int = SEED,
                 n_resamples: int = N_RESAMPLES) -> PairedComparison:
    """Compare the predictions ``predicted`` (run ``name``) with ``against_predicted`` on the same gold rows."""
    if not (len(gold) == len(predicted) == len(against_predicted)):
        raise ConfigError(f"the two runs must be scored on the same test rows; got {len(gold)} gold labels, "
                          f"{len(predicted)} and {len(against_predicted)} predictions.")
    if len(gold) == 0:
        raise ConfigError("no test rows to compare; both runs need predictions on at least one row.")
    gold_codes, this_codes = label_codes(gold, predicted, labels)
    _, against_codes = label_codes(gold, against_predicted, labels)
    this_right, against_right = gold_codes == this_codes, gold_codes == against_codes
    only_this, only_against = int(np.sum(this_right & ~against_right)), int(np.sum(~this_right & against_right))
    macro_f1 = macro_f1_of(len(labels))
    # From the counts, so two runs right on as many rows differ by exactly 0 (no float noise).
    accuracy_difference = (only_this - only_against) / len(gold)
    macro_f1_difference = float(macro_f1(gold_codes, this_codes) - macro_f1(gold_codes, against_codes))

    def accuracy_gap(g, a, b, axis=-1):
        return accuracy_of(g, a, axis=axis) - accuracy_of(g, b, axis=axis)

    def macro_f1_gap(g, a, b, axis=-1):
        return macro_f1(g, a, axis=axis) - macro_f1(g, b, axis=axis)

    samples = (gold_codes, this_codes, against_codes)
    if only_this + only_against == 0 and np.array_equal(this_codes, against_codes):
        # Identical predictions: every resample gives a difference of exactly 0.
        accuracy_ci = macro_f1_ci = (0.0, 0.0)
    elif len(gold) < 2:  # nothing to resample: the widest interval a difference of shares allows
        accuracy_ci = macro_f1_ci = (-1.0, 1.0)
    else:
        accuracy_ci = bootstrap_interval(samples, accuracy_gap, seed=seed, n_resamples=n_resamples,
                                         confidence=CONFIDENCE)
        macro_f1_ci = bootstrap_interval(samples, macro_f1_gap, seed=seed, n_resamples=n_resamples,
                                         confidence=CONFIDENCE)
    return PairedComparison(
        name=name, against=against, n=len(gold), accuracy=float(np.mean(this_right)),
        against_accuracy=float(np.mean(against_right)), accuracy_difference=accuracy_difference,
        accuracy_difference_ci=accuracy_ci, macro_f1_difference=macro_f1_difference, macro_f1_difference_ci=macro_f1_ci,
        only_this_right=only_this, only_against_right=only_against,
        p_value=mcnemar_p_value(only_this, only_against),
        same_predictions=bool(np.array_equal(this_codes, against_codes)), run_id=run_id, against_run_id=against_run_id)
