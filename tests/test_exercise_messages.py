"""Exercise checks refuse what is never an answer, and their messages print what they mean.

A check that compares with ``abs(answer - 0.5) > 1e-9`` lets NaN through, because
every comparison with NaN is False; and a message whose f-prefix is missing prints
``{answer[name]!r}`` instead of the answer. Messages that the solutions notebook
shows are compared by nbval, so they state a bound, never a CPU's rounding noise.
"""

from __future__ import annotations

import math

import pytest

from r21d_edu.exercises import all_exercises, exercise


@pytest.mark.parametrize("item", all_exercises(), ids=lambda e: e.key)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_no_check_accepts_a_non_finite_number(item, bad: float) -> None:
    feedback = item.check(bad)
    assert feedback.correct is False, f"{item.key} accepted {bad}: {feedback}"


def test_the_shuffled_frames_ceiling_refuses_nan_with_a_reason() -> None:
    text = exercise("07.3").check(math.nan).text
    assert "nan" in text and "finite" in text
    assert exercise("07.3").check(0.5).correct


def test_the_roofline_message_names_the_wrong_answer() -> None:
    text = exercise("03.3").check({"3d": "memory", "2plus1d": "compute"}).text
    assert "not 'memory'" in text and "{answer" not in text


def test_the_composition_message_states_the_bound_not_the_noise() -> None:
    for noise in (8.7e-18, 6.1e-18, 0.0):
        assert exercise("08.4").check(noise).text.startswith("below 1e-9, rounding only")
