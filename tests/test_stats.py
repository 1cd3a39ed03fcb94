"""Seed statistics: the numbers the experiment's verdicts rest on."""

import math

import pytest

from r21d_edu.stats import paired_difference, spread, t_quantile_975


def test_t_quantiles_are_students():
    assert t_quantile_975(1) == 12.706
    assert t_quantile_975(2) == 4.303
    assert t_quantile_975(10) == 2.228
    assert t_quantile_975(30) == 2.042
    assert t_quantile_975(1000) == 1.960


def test_spread_is_the_mean_and_the_sample_standard_deviation():
    result = spread([0.80, 0.85, 0.90])
    assert result.mean == pytest.approx(0.85)
    assert result.std == pytest.approx(0.05)  # n - 1 in the denominator
    assert result.format() == "85.0 ± 5.0"
    assert spread([0.7]).std == 0.0


def test_paired_difference_uses_the_per_seed_differences():
    # Differences 0.10, 0.12, 0.14: mean 0.12, sd 0.02, half-width 4.303 * 0.02 / sqrt(3).
    d = paired_difference([0.90, 0.92, 0.94], [0.80, 0.80, 0.80])
    half = 4.303 * 0.02 / math.sqrt(3)
    assert d.mean == pytest.approx(0.12)
    assert (d.low, d.high) == (pytest.approx(0.12 - half), pytest.approx(0.12 + half))
    assert d.exceeds_noise
    assert d.format() == "+12.0 [+7.0, +17.0]"


def test_a_difference_within_the_noise_does_not_exceed_it():
    d = paired_difference([0.90, 0.80, 0.85], [0.85, 0.86, 0.83])
    assert d.low < 0 < d.high and not d.exceeds_noise


@pytest.mark.parametrize("call, message", [
    (lambda: paired_difference([1, 2], [1]), "one per seed on both sides, got 2 and 1"),
    (lambda: paired_difference([1], [1]), "an interval needs at least 2 seeds"),
    (lambda: spread([]), "spread needs one or more finite numbers"),
    (lambda: spread([float("nan")]), "spread needs one or more finite numbers"),
    (lambda: t_quantile_975(0), "degrees of freedom must be an integer >= 1"),
])
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
