"""Exercise 06.5 (factorize_kernel): the solution passes, the blank and typical mistakes
are told what is wrong by case, never the library's kernel or energy."""

from __future__ import annotations

import pytest
import torch

from r21d_edu.exercises import exercise
from r21d_edu.exercises.t06 import FACTOR_CASES, _factor_cases, _library_factorization
from r21d_edu.lowrank import energy_profile, unfold_kernel


def _rank_r(matrix, rank):
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    return u[:, :rank] @ torch.diag(s[:rank]) @ vh[:rank], s


def _share(s, rank):
    return float((s[:rank] ** 2).sum() / (s ** 2).sum())


def _temporal_first(weight, rank):
    """Time with the input, space with the output: the (C_out·d²) × (C_in·t) unfolding of
    tutorial 06's exercise 3, a different matrix with a different best rank-r part."""
    c_out, c_in, t, d_h, d_w = weight.shape
    low, s = _rank_r(weight.permute(0, 3, 4, 1, 2).reshape(c_out * d_h * d_w, c_in * t), rank)
    return low.reshape(c_out, d_h, d_w, c_in, t).permute(0, 3, 4, 1, 2), _share(s, rank)


def _no_permute(weight, rank):
    """A reshape straight to (C_out·t) × (C_in·d_h·d_w): rows that mix C_in into time."""
    c_out, c_in, t, d_h, d_w = weight.shape
    low, s = _rank_r(weight.reshape(c_out * t, c_in * d_h * d_w), rank)
    return low.reshape(weight.shape), _share(s, rank)


def _no_square(weight, rank):
    """The right kernel, but the energy as a share of the singular values themselves."""
    c_out, c_in, t, d_h, d_w = weight.shape
    low, s = _rank_r(unfold_kernel(weight), rank)
    return (low.reshape(c_out, t, c_in, d_h, d_w).permute(0, 2, 1, 3, 4),
            float(s[:rank].sum() / s.sum()))


def _unfolded(weight, rank):
    """The rank-r matrix, not folded back to a kernel."""
    low, s = _rank_r(unfold_kernel(weight), rank)
    return low, _share(s, rank)


def _in_float32(weight, rank):
    approximation, energy = exercise("06.5").solve()(weight, rank)
    return approximation.float(), energy


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per new exercise.
MISTAKES: dict[str, object] = {"06.5": _temporal_first}


def test_the_solution_passes_and_the_blank_is_told_to_start() -> None:
    item = exercise("06.5")
    assert item.is_coding
    assert item.check(item.solve()).correct
    blank = item.check(item.blank())
    assert not blank.correct and "NotImplementedError" in blank.text
    assert blank.text.startswith("case 1: ")


def test_the_cases_cover_the_edges() -> None:
    cases = _factor_cases()
    assert len(cases) == FACTOR_CASES
    full = [min(w.shape[0] * w.shape[2], w.shape[1] * w.shape[3] * w.shape[4])
            for _, w, _ in cases]
    ranks = [int(torch.linalg.matrix_rank(unfold_kernel(w))) for _, w, _ in cases]
    assert all(w.dtype == torch.float64 for _, w, _ in cases)
    assert any(r == f for (_, _, r), f in zip(cases, full))           # full rank
    assert any(r == 1 for _, _, r in cases)                           # rank 1
    assert any(m < f and r == m for (_, _, r), m, f in zip(cases, ranks, full))  # deficient
    assert any(w.shape[0] * w.shape[2] > w.shape[1] * w.shape[3] * w.shape[4]
               for _, w, _ in cases)                                  # a tall unfolding
    assert any(w.shape[3] != w.shape[4] for _, w, _ in cases)         # d_h != d_w
    _, first, rank = cases[0]
    assert 1 < rank < full[0]  # the first case already tells a wrong unfolding
    # The drawn cases are the same on every call (own seed, global RNG untouched).
    state = torch.get_rng_state()
    again = _factor_cases()
    assert all(torch.equal(a[1], b[1]) and a[2] == b[2] for a, b in zip(cases, again))
    assert torch.equal(state, torch.get_rng_state())


def test_the_reference_is_the_library() -> None:
    """The reference's kernel is Eckart–Young's: exact at the kernel's rank, and its error
    is the singular-value tail that `energy_profile.error_at` reports."""
    state = torch.get_rng_state()
    for _, weight, rank in _factor_cases():
        approximation, energy = _library_factorization(weight, rank)
        profile = energy_profile(weight)
        assert approximation.shape == weight.shape and approximation.dtype == torch.float64
        assert energy == profile.energy_at(rank)
        error = float((approximation - weight).norm())
        assert abs(error - profile.error_at(rank)) < 1e-9
        if energy > 1 - 1e-12:
            assert error < 1e-9
    assert torch.equal(state, torch.get_rng_state())  # skip_init draws nothing


@pytest.mark.parametrize("mistake, told", [(_temporal_first, "differs from"),
                                           (_no_permute, "differs from"),
                                           (_no_square, "smaller than"),
                                           (_unfolded, "has 2 dimensions"),
                                           (_in_float32, "float64")])
def test_a_mistake_is_told_its_case_and_how_not_the_answer(mistake, told) -> None:
    feedback = exercise("06.5").check(mistake)
    assert not feedback.correct
    assert feedback.text.startswith("case ") and told in feedback.text
    case = int(feedback.text.split(":")[0].split()[1])
    _, weight, rank = _factor_cases()[case - 1]
    want, energy = _library_factorization(weight, rank)
    assert f"{energy:.4g}" not in feedback.text and f"{energy:.2%}" not in feedback.text
    assert f"{float(want.flatten()[0]):.3g}" not in feedback.text


def test_other_number_types_pass_and_wrong_returns_are_told() -> None:
    item = exercise("06.5")
    solved = item.solve()

    def as_tensor_energy(weight, rank):
        approximation, energy = solved(weight, rank)
        return approximation, torch.tensor(energy, dtype=torch.float64)

    def as_list(weight, rank):
        return list(solved(weight, rank))

    assert item.check(as_tensor_energy).correct
    assert item.check(as_list).correct
    for bad in (lambda w, r: None, lambda w, r: solved(w, r)[0], lambda w, r: (w, 1.0),
                lambda w, r: (solved(w, r)[0], "all")):
        feedback = item.check(bad)
        assert not feedback.correct and feedback.text.startswith("case 1: ")
