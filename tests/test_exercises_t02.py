"""Exercise 02.5 (intermediate_channels): the solution passes, the blank and typical
mistakes are told their case and whether M is too large or too small, never M itself."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from r21d_edu import intermediate_channels as library_m
from r21d_edu.exercises import exercise
from r21d_edu.exercises.t02 import CHANNEL_CASES, _channel_cases


def _unpack(kernel_size):
    return (kernel_size,) * 3 if isinstance(kernel_size, int) else tuple(kernel_size)


def _rounded(in_channels, out_channels, kernel_size):
    """Rounds the quotient to the nearest int instead of flooring it."""
    t, h, w = _unpack(kernel_size)
    return round(t * h * w * in_channels * out_channels / (h * w * in_channels + t * out_channels))


def _true_division(in_channels, out_channels, kernel_size):
    """Returns the quotient itself, a float."""
    t, h, w = _unpack(kernel_size)
    return t * h * w * in_channels * out_channels / (h * w * in_channels + t * out_channels)


def _swapped(in_channels, out_channels, kernel_size):
    """d² with N_out and t with N_in: the two widths the wrong way round."""
    t, h, w = _unpack(kernel_size)
    return t * h * w * in_channels * out_channels // (h * w * out_channels + t * in_channels)


def _d_not_squared(in_channels, out_channels, kernel_size):
    """d where d² belongs."""
    t, h, _ = _unpack(kernel_size)
    return t * h * in_channels * out_channels // (h * in_channels + t * out_channels)


def _one_side_squared(in_channels, out_channels, kernel_size):
    """h² for the spatial kernel's weights: right for a square kernel only."""
    t, h, _ = _unpack(kernel_size)
    return t * h * h * in_channels * out_channels // (h * h * in_channels + t * out_channels)


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per new exercise.
MISTAKES: dict[str, object] = {"02.5": _rounded}


def test_the_solution_passes_and_the_blank_is_told_to_start() -> None:
    item = exercise("02.5")
    assert item.is_coding
    assert item.check(item.solve()).correct
    blank = item.check(item.blank())
    assert not blank.correct and "NotImplementedError" in blank.text
    assert blank.text.startswith("case 1: ")


def test_the_cases_cover_the_edges() -> None:
    cases = _channel_cases()
    assert len(cases) == CHANNEL_CASES
    kernels = [kernel for _, _, _, kernel in cases]
    assert any(isinstance(k, int) and k == 3 for k in kernels)       # int cube kernel
    assert any(isinstance(k, int) and k != 3 for k in kernels)       # another int
    assert (3, 3, 3) in kernels                                      # the same as a tuple
    assert any(isinstance(k, tuple) and k[1] != k[2] for k in kernels)  # h ≠ w
    assert any(1 in (n_in, n_out) for _, n_in, n_out, _ in cases)    # one channel
    assert any(n_in >= 256 for _, n_in, _, _ in cases)               # wide

    def quotient(n_in, n_out, kernel):
        t, h, w = _unpack(kernel)
        return Fraction(t * h * w * n_in * n_out, h * w * n_in + t * n_out)

    shares = [quotient(n_in, n_out, k) % 1 for _, n_in, n_out, k in cases]
    assert 0 in shares and any(s >= Fraction(1, 2) for s in shares)  # exact; rounds up
    # Drawn from the check's own seed: the same cases each call, the global RNG untouched.
    state = torch.get_rng_state()
    assert _channel_cases() == cases
    assert torch.equal(state, torch.get_rng_state())


def test_the_reference_is_the_library() -> None:
    solved = exercise("02.5").solve()
    for _, n_in, n_out, kernel in _channel_cases():
        assert solved(n_in, n_out, kernel) == library_m(n_in, n_out, kernel)


@pytest.mark.parametrize("mistake, side, nudge", [
    (_rounded, "too large", "rounded"),
    (_swapped, "too small", "swapped"),
    (_d_not_squared, "too small", "with d where d² belongs"),
    (_one_side_squared, "too small", "h·w weights, not h² or w²"),
])
def test_a_mistake_is_told_its_case_and_side_not_m(mistake, side, nudge) -> None:
    feedback = exercise("02.5").check(mistake)
    assert not feedback.correct
    assert feedback.text.startswith("case ")
    assert side in feedback.text and nudge in feedback.text
    case = int(feedback.text.split(":")[0].split()[1])
    _, n_in, n_out, kernel = _channel_cases()[case - 1]
    right = library_m(n_in, n_out, kernel)
    assert mistake(n_in, n_out, kernel) != right
    # The message shows the case's inputs, never M: neither the right one nor the learner's.
    told = feedback.text.split(":", 2)[2]
    assert str(right) not in told and str(mistake(n_in, n_out, kernel)) not in told


def test_a_float_is_told_to_be_an_int_without_its_value() -> None:
    feedback = exercise("02.5").check(_true_division)
    assert not feedback.correct and "returned a float" in feedback.text
    _, n_in, n_out, kernel = _channel_cases()[0]
    assert f"{_true_division(n_in, n_out, kernel):.3g}" not in feedback.text


def test_other_integer_types_pass_and_wrong_types_are_told() -> None:
    item = exercise("02.5")
    solved = item.solve()
    assert item.check(lambda a, b, k: np.int64(solved(a, b, k))).correct
    assert item.check(lambda a, b, k: torch.tensor(solved(a, b, k))).correct
    for bad in ("abc", object(), lambda a, b, k: None, lambda a, b, k: True,
                lambda a, b, k: float(solved(a, b, k))):
        assert not item.check(bad).correct
