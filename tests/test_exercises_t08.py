"""Exercise 08.5 (rank_for_energy): the solution passes, the blank and typical mistakes
are told what is wrong by case, never the rank the library chooses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from r21d_edu.exercises import exercise
from r21d_edu.exercises.t08 import RANK_CASES, _library_rank, _rank_cases
from r21d_edu.lowrank import energy_profile


def _no_square(singular_values, energy):
    """Shares of the singular values, not of their squares."""
    kept = singular_values.cumsum(0) / singular_values.sum()
    return int((kept < energy - 1e-12).sum()) + 1


def _strict(singular_values, energy):
    """More than the share asked, not at least it: one rank too many on a boundary."""
    squares = singular_values ** 2
    kept = squares.cumsum(0) / squares.sum()
    return int((kept <= energy).sum()) + 1


def _zero_based(singular_values, energy):
    """The index of the first share that reaches the target, not the rank."""
    squares = singular_values ** 2
    kept = squares.cumsum(0) / squares.sum()
    return int((kept < energy - 1e-12).sum())


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per new exercise.
MISTAKES: dict[str, object] = {"08.5": _no_square}


def test_the_solution_passes_and_the_blank_is_told_to_start() -> None:
    item = exercise("08.5")
    assert item.is_coding
    assert item.check(item.solve()).correct
    blank = item.check(item.blank())
    assert not blank.correct and "NotImplementedError" in blank.text
    assert blank.text.startswith("case 1: ")


def test_the_cases_cover_the_edges() -> None:
    cases = _rank_cases()
    assert len(cases) == RANK_CASES
    energies = [energy for _, _, energy in cases]
    assert energies.count(1.0) >= 2
    assert any(len(set(values.tolist())) < len(values) for _, values, _ in cases)  # ties
    # A rank-deficient kernel: energy 1.0 is met below the full rank.
    assert any(energy == 1.0 and _library_rank(values, 1.0) < len(values)
               for _, values, energy in cases)
    # The drawn cases are the same on every call (own seed, global RNG untouched).
    state = torch.get_rng_state()
    assert [c for c, _, _ in _rank_cases()] == [c for c, _, _ in cases]
    assert torch.equal(state, torch.get_rng_state())


def test_the_reference_is_the_library() -> None:
    """netfactor's rank_for agrees with lowrank's on the non-zero spectra of the cases."""
    for _, values, energy in _rank_cases():
        kernel = torch.diag(values).reshape(len(values), 1, 1, 1, len(values))
        assert energy_profile(kernel).rank_for(energy) == _library_rank(values, energy)


@pytest.mark.parametrize("mistake, side", [(_no_square, "too large"),
                                           (_strict, "too large"),
                                           (_zero_based, "too small")])
def test_a_mistake_is_told_its_case_and_side_not_the_rank(mistake, side) -> None:
    item = exercise("08.5")
    feedback = item.check(mistake)
    assert not feedback.correct
    assert feedback.text.startswith("case ")
    assert side in feedback.text
    case = int(feedback.text.split(":")[0].split()[1])
    _, values, energy = _rank_cases()[case - 1]
    right = _library_rank(values, energy)
    assert mistake(values, energy) != right
    assert f"rank {right} " not in feedback.text and f"rank {right}," not in feedback.text


def test_other_integer_types_pass_and_wrong_types_are_told() -> None:
    item = exercise("08.5")
    solved = item.solve()
    assert item.check(lambda s, e: np.int64(solved(s, e))).correct
    assert item.check(lambda s, e: torch.tensor(solved(s, e))).correct
    for bad in ("abc", object(), lambda s, e: None, lambda s, e: 2.5):
        feedback = item.check(bad)
        assert not feedback.correct
