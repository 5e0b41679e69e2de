"""How many test rows a comparison needs: the advice the Train page gives before anything runs.

Two numbers say what a test set of n rows can know, before any run exists:
- the **margin** of one run's accuracy: half the width of its 95 % Wilson interval, at an accuracy of
  TYPICAL_ACCURACY (the interval is widest at 50 %, but trained methods on our shared data mostly land
  between 70 and 95 %);
- the **smallest difference two runs must have** before the paired test (exact McNemar, the verdict rule of
  ``tlcore.compare.paired``) detects it with 80 % power, assuming the runs disagree on the net difference plus
  EXTRA_DISAGREEMENT of the rows (each is right on some rows the other misses).

Both are planning figures: the real verdict comes from the runs' own predictions on the Compare page.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..runs.intervals import wilson_interval
from .paired import round_estimate, rows_needed

TYPICAL_ACCURACY = 0.8
# Rows on which two decent methods disagree beyond their net difference (each right where the other is wrong).
# 10 % is a planning figure for methods 70-95 % accurate; more disagreement needs more rows.
EXTRA_DISAGREEMENT = 0.10
TARGET_DIFFERENCE = 0.05  # the gap between transfer methods worth telling apart (5 points of accuracy)
# Below this many test rows the advice is a warning: one row moves the accuracy by more than a point.
FEW_TEST_ROWS = 100


def _needed(difference: float) -> int:
    return rows_needed(difference, min(1.0, difference + EXTRA_DISAGREEMENT)) or 0


def detectable_difference(n_test: int) -> float | None:
    """The smallest accuracy difference (a share) that ``n_test`` paired test rows tell apart with 80 % power;
    None when even a 50-point difference needs more rows."""
    if n_test <= 0:
        return None
    low, high = 0.001, 0.5
    if _needed(high) > n_test:
        return None
    for _ in range(40):  # bisection: rows needed falls as the difference grows
        middle = (low + high) / 2
        low, high = (middle, high) if _needed(middle) > n_test else (low, middle)
    return high


@dataclass(frozen=True)
class TestSizeAdvice:
    n_test: int
    margin: float  # ± accuracy points (a share) of one run's 95 % interval at TYPICAL_ACCURACY
    detectable: float | None  # see detectable_difference
    rows_for_target: int  # test rows that tell TARGET_DIFFERENCE apart
    n_available: int | None = None  # rows the data has in all (None: unknown)

    @property
    def enough(self) -> bool:
        return self.n_test >= self.rows_for_target

    @property
    def few(self) -> bool:
        return self.n_test < FEW_TEST_ROWS

    @property
    def text(self) -> str:
        """The advice in plain words."""
        rows = f"{self.n_test:,} test row{'s' if self.n_test != 1 else ''}"
        told = (f"two runs must differ by about {_points(self.detectable)} before a paired test can tell them "
                "apart" if self.detectable is not None else "no difference between two runs can be told apart")
        words = f"With {rows}, an accuracy near {100 * TYPICAL_ACCURACY:.0f} % is known to ±{100 * self.margin:.1f} " \
                f"points (95 %), and {told}."
        if self.enough:
            return words
        target = f"a {100 * TARGET_DIFFERENCE:.0f}-point difference"
        if self.n_available is not None and self.n_available < 2 * self.rows_for_target:
            # Holding out that many would leave too few rows to train on.
            return words + (f" Telling {target} needs about {self.rows_for_target:,} test rows, and your data has "
                            f"{self.n_available:,} rows in all: read only large differences as real, or label "
                            "more rows.")
        return words + f" To tell {target}, hold out about {self.rows_for_target:,} test rows."


def _points(share: float) -> str:
    points = 100 * share
    return f"{points:.1f} points" if points < 10 else f"{points:.0f} points"


def advise_test_size(n_test: int, n_available: int | None = None) -> TestSizeAdvice:
    """What ``n_test`` test rows can tell (see the module's docstring); ``n_available``: the rows the data has in
    all, so that the advice never asks for more test rows than the data can give."""
    if n_test < 0:
        raise ConfigError(f"a test set cannot have {n_test} rows.")
    low, high = wilson_interval(round(TYPICAL_ACCURACY * n_test), n_test)
    return TestSizeAdvice(n_test=n_test, margin=(high - low) / 2, detectable=detectable_difference(n_test),
                          rows_for_target=round_estimate(_needed(TARGET_DIFFERENCE)), n_available=n_available)
