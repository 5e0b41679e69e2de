"""The Train page's test-size advice (tlcore.compare.sample_size): its margin is scipy's Wilson interval, and the
test size it advises does give the paired test the power it promises, checked by simulating exact McNemar tests."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from tlcore.compare.sample_size import (
    EXTRA_DISAGREEMENT,
    TARGET_DIFFERENCE,
    advise_test_size,
    detectable_difference,
)
from tlcore.errors import ConfigError, TLCoreError


def test_the_margin_is_the_wilson_interval_of_scipy():
    ci = binomtest(64, 80).proportion_ci(confidence_level=0.95, method="wilson")
    assert advise_test_size(80).margin == pytest.approx((ci.high - ci.low) / 2)


def test_more_test_rows_tell_smaller_differences():
    sizes = [40, 80, 200, 500, 2000]
    found = [detectable_difference(n) for n in sizes]
    assert all(a > b for a, b in zip(found, found[1:]))
    assert detectable_difference(5) is None  # no difference at all can be told on 5 rows


def _power(n: int, difference: float, trials: int = 2000) -> float:
    """Share of simulated paired test sets of n rows on which exact McNemar (p < 0.05) sees the difference."""
    rng = np.random.default_rng(0)
    discordance = difference + EXTRA_DISAGREEMENT
    better_only = (discordance + difference) / 2  # rows only the better run gets right
    detected = 0
    for _ in range(trials):
        cells = rng.multinomial(n, [better_only, discordance - better_only, 1 - discordance])
        if cells[0] + cells[1] and binomtest(cells[0], cells[0] + cells[1]).pvalue < 0.05 and cells[0] > cells[1]:
            detected += 1
    return detected / trials


def test_the_advised_size_gives_the_paired_test_about_80_percent_power():
    advice = advise_test_size(100)
    assert not advice.enough and f"hold out about {advice.rows_for_target:,} test rows" in advice.text
    assert 0.72 <= _power(advice.rows_for_target, TARGET_DIFFERENCE) <= 0.9
    assert _power(100, TARGET_DIFFERENCE) < 0.4  # the 100 rows it warned about could rarely tell


def test_the_advice_never_asks_for_more_rows_than_the_data_has():
    advice = advise_test_size(80, n_available=400)
    assert advice.few and "your data has 400 rows in all" in advice.text
    assert "hold out" not in advice.text
    assert advise_test_size(1000).enough and "hold out" not in advise_test_size(1000).text


def test_a_negative_test_size_is_refused():
    with pytest.raises(ConfigError, match="cannot have -1 rows") as error:
        advise_test_size(-1)
    assert isinstance(error.value, TLCoreError)
