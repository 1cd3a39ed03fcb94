"""Seed statistics: the numbers the experiment's verdicts rest on."""

import math

import pytest

from r21d_edu.stats import (
    holm,
    paired_difference,
    required_seeds,
    sign_test_p,
    spread,
    t_cdf,
    t_quantile,
    t_quantile_975,
)


def test_t_quantiles_are_students():
    assert t_quantile_975(1) == 12.706
    assert t_quantile_975(2) == 4.303
    assert t_quantile_975(10) == 2.228
    assert t_quantile_975(30) == 2.042
    assert t_quantile_975(1000) == 1.962  # computed beyond the table, not the normal's 1.960


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


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 17, 21, 30])
def test_the_computed_t_quantiles_agree_with_the_table(df):
    assert round(t_quantile(0.975, df), 3) == pytest.approx(t_quantile_975(df), abs=1e-3)
    assert t_cdf(t_quantile(0.975, df), df) == pytest.approx(0.975, abs=1e-12)


def test_t_cdf_is_symmetric_and_known_at_one_degree_of_freedom():
    # df = 1 is the Cauchy distribution: P(T <= 1) = 3/4.
    assert t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-12)
    assert t_cdf(-2.5, 7) == pytest.approx(1 - t_cdf(2.5, 7), abs=1e-14)
    assert t_cdf(0.0, 4) == pytest.approx(0.5)


def test_a_p_value_below_five_percent_goes_with_an_interval_that_excludes_zero():
    for b in ([0.80, 0.80, 0.80], [0.85, 0.86, 0.83], [0.7, 0.75, 0.72]):
        d = paired_difference([0.90, 0.92, 0.94], b)
        assert (d.p_value < 0.05) == d.exceeds_noise
    assert paired_difference([0.5, 0.6], [0.5, 0.6]).p_value == 1.0


def test_holm_rejects_in_order_and_stops_at_the_first_it_cannot():
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]
    assert holm([0.001, 0.01, 0.02]) == [True, True, True]   # 0.001 < .05/3, .01 < .05/2, .02 < .05
    assert holm([0.2, 0.001]) == [False, True]


def test_the_seeds_for_a_ten_point_half_width_at_the_exploratory_spread():
    # The confirmatory protocol's power calculation (experiments/confirmatory/PROTOCOL.md).
    assert required_seeds(19.8, 10.0) == 18
    assert required_seeds(19.8, 10.0, assurance=0.8) == 22
    assert required_seeds(8.4, 10.0) < required_seeds(19.8, 10.0)


def test_three_seeds_can_never_reach_five_percent_in_a_sign_test():
    assert sign_test_p(3, 3) == 0.25
    assert sign_test_p(0, 3) == 0.25
    assert sign_test_p(10, 10) == pytest.approx(2 / 1024)
