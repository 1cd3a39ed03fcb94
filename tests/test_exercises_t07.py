"""Exercises 07.2, 07.4 (reworded so that the tutorial's outputs do not already answer them)
and 07.5 (paired_interval): the solutions pass, the blank and typical mistakes are told
what is wrong by case, never the interval the library computes."""

from __future__ import annotations

import math
import random
import statistics
from statistics import NormalDist

import pytest

from r21d_edu.exercises import exercise
from r21d_edu.exercises.t07 import (
    CONFIRMATORY,
    HALF_WIDTH_RTOL,
    _interval_cases,
    _library_interval,
    paired_columns,
)
from r21d_edu.stats import paired_difference, t_quantile


def _differences(a, b):
    d = [x - y for x, y in zip(a, b)]
    return d, len(d), sum(d) / len(d)


def _unpaired(a, b, confidence=0.95):
    """The two columns apart (pooled variance, 2n − 2 degrees of freedom): the seed's
    effect on both models stays in the spread."""
    n = len(a)
    mean = statistics.mean(a) - statistics.mean(b)
    pooled = (statistics.variance(a) + statistics.variance(b)) / 2
    half = t_quantile((1 + confidence) / 2, 2 * n - 2) * math.sqrt(2 * pooled / n)
    return mean, mean - half, mean + half


def _z_quantile(a, b, confidence=0.95):
    """The normal quantile, as if s were the true standard deviation."""
    d, n, mean = _differences(a, b)
    half = NormalDist().inv_cdf((1 + confidence) / 2) * statistics.stdev(d) / math.sqrt(n)
    return mean, mean - half, mean + half


def _population_std(a, b, confidence=0.95):
    """ddof = 0: the standard deviation divided by n, not n − 1."""
    d, n, mean = _differences(a, b)
    half = t_quantile((1 + confidence) / 2, n - 1) * statistics.pstdev(d) / math.sqrt(n)
    return mean, mean - half, mean + half


def _df_n(a, b, confidence=0.95):
    """n degrees of freedom instead of n − 1."""
    d, n, mean = _differences(a, b)
    half = t_quantile((1 + confidence) / 2, n) * statistics.stdev(d) / math.sqrt(n)
    return mean, mean - half, mean + half


def _median_centred(a, b, confidence=0.95):
    """The right half-width around the median of the differences, not their mean."""
    d, n, mean = _differences(a, b)
    half = t_quantile((1 + confidence) / 2, n - 1) * statistics.stdev(d) / math.sqrt(n)
    centre = statistics.median(d)
    return mean, centre - half, centre + half


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per reworded or new exercise.
MISTAKES: dict[str, object] = {"07.2": True, "07.4": 2_004, "07.5": _unpaired}


def test_the_solution_passes_and_the_blank_is_told_to_start() -> None:
    item = exercise("07.5")
    assert item.is_coding
    assert item.check(item.solve()).correct
    blank = item.check(item.blank())
    assert not blank.correct and "NotImplementedError" in blank.text
    assert blank.text.startswith("case 1: ")


def test_the_cases_cover_the_edges_and_leave_the_global_rng_alone() -> None:
    state = random.getstate()
    cases = _interval_cases()
    assert random.getstate() == state
    assert [c for c, *_ in _interval_cases()] == [c for c, *_ in cases]
    sizes = [len(a) for _, a, _, _ in cases]
    assert all(3 <= n <= 12 for n in sizes[:4]) and 3 in sizes
    assert 0.9 in [confidence for *_, confidence in cases]
    assert any(a == b for _, a, b, _ in cases)  # an interval of width 0
    assert CONFIRMATORY.exists() and len(cases) == 5
    _, a, b, _ = cases[-1]
    assert (a, b) == paired_columns(CONFIRMATORY, "r2plus1d", "r3d") and len(a) >= 20


def test_the_reference_is_the_library() -> None:
    """At 95 % the reference is paired_difference's interval (its t is tabulated to 3
    decimals, inside the tolerance); at 90 % it uses t_quantile the same way."""
    for _, a, b, confidence in _interval_cases():
        mean, half = _library_interval(a, b, confidence)
        difference = paired_difference(a, b)
        assert mean == difference.mean
        if confidence == 0.95:
            assert abs(half - difference.half_width) <= HALF_WIDTH_RTOL * half + 1e-15
    mean, half = _library_interval(*paired_columns(CONFIRMATORY, "r2plus1d", "r3d"), 0.95)
    assert abs(mean - 0.114) < 5e-4 and abs(mean - half - 0.020) < 5e-4  # the summary's row


def test_the_library_95_percent_interval_passes_too() -> None:
    def tabulated(a, b, confidence=0.95):
        d = paired_difference(a, b)
        if confidence == 0.95:
            return d.mean, d.low, d.high
        half = t_quantile((1 + confidence) / 2, d.n - 1) * d.std / math.sqrt(d.n)
        return d.mean, d.mean - half, d.mean + half

    assert exercise("07.5").check(tabulated).correct


def _forms(value: float) -> set[str]:
    return {f"{value:.3g}", f"{value:.4g}", f"{value:.6g}", f"{100 * value:.1f}",
            f"{100 * value:+.1f}", repr(value)}


@pytest.mark.parametrize("mistake, side", [(_unpaired, "too wide"),
                                           (_z_quantile, "too narrow"),
                                           (_population_std, "too narrow"),
                                           (_df_n, "too narrow"),
                                           (_median_centred, "centred wrong")])
def test_a_mistake_is_told_its_case_and_how_not_the_bounds(mistake, side) -> None:
    feedback = exercise("07.5").check(mistake)
    assert not feedback.correct
    assert feedback.text.startswith("case ") and side in feedback.text
    case = int(feedback.text.split(":")[0].split()[1])
    _, a, b, confidence = _interval_cases()[case - 1]
    mean, half = _library_interval(a, b, confidence)
    told = {form for value in (mean - half, mean + half, half) for form in _forms(value)
            if len(form) >= 3}
    assert not [form for form in told if form in feedback.text]


def test_wrong_shapes_and_values_are_told_not_raised() -> None:
    item = exercise("07.5")
    for bad in ("abc", object(), lambda a, b, c=0.95: None, lambda a, b, c=0.95: (1.0, 2.0),
                lambda a, b, c=0.95: (math.nan, 0.0, 1.0), lambda a, b, c=0.95: ("0", 0, 1)):
        feedback = item.check(bad)
        assert not feedback.correct and len(feedback.text) > 20
    # Dividing by a standard deviation of 0 on the identical samples: named, not raised.
    solved = item.solve()

    def divides(a, b, confidence=0.95):
        mean, low, high = solved(a, b, confidence)
        spread = statistics.stdev([x - y for x, y in zip(a, b)])
        return mean, low, high + 0.0 * (1 / spread)

    feedback = item.check(divides)
    assert feedback.text.startswith("case 4: ") and "ZeroDivisionError" in feedback.text


def test_reworded_answers_are_not_given_by_the_tutorial_outputs() -> None:
    """07.2 asks for a pair the 3-seed table does not list; 07.4 for one conv's share,
    not the whole difference the parameter table shows."""
    assert exercise("07.2").solve() is False
    assert "rmc3 − r3d" in exercise("07.2").check(False).text
    share = exercise("07.4").solve()
    assert share == 2 * 57
    whole = exercise("07.4").check(2_004)
    assert not whole.correct and "whole networks" in whole.text and "114" not in whole.text
