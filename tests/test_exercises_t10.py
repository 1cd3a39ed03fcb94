"""Exercises 10.1-10.4 (the family of factorizations): the solutions pass, the blanks are
told to start, and typical mistakes are told their case and what is wrong, never the
answer."""

from __future__ import annotations

import numpy as np
import torch

from r21d_edu.exercises import exercise
from r21d_edu.exercises.t10 import (
    P3D_B_SETTINGS,
    WEIGHT_CASES,
    _library_weights,
    _member_macs,
    _p3d_b_cases,
    _weight_cases,
)


def _no_bn_relu(layer, x):
    """The two convs summed, without each path's BatchNorm + ReLU."""
    return layer.spatial(layer.frames(x)) + layer.temporal(layer.pixels(x))


def _no_taps(layer, x):
    """Each path on x itself: right only where the centre taps are the identity."""
    s = layer.relu_spatial(layer.bn_spatial(layer.spatial(x)))
    return s + layer.relu_temporal(layer.bn_temporal(layer.temporal(x)))


def _depthwise_only(c_in, c_out, t, d):
    """The depthwise conv alone: ip-CSN's 1x1x1 conv forgotten."""
    return t * d * d * c_out


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per exercise.
MISTAKES: dict[str, object] = {"10.1": _no_bn_relu, "10.2": _depthwise_only,
                               "10.3": "ir_csn", "10.4": (0.125, 56)}


def test_the_solutions_pass_and_the_blanks_are_told_to_start() -> None:
    for key in ("10.1", "10.2"):
        item = exercise(key)
        assert item.is_coding and item.check(item.solve()).correct
        blank = item.check(item.blank())
        assert not blank.correct and "NotImplementedError" in blank.text
        assert blank.text.startswith("case 1: ")
    for key in ("10.3", "10.4"):
        assert exercise(key).check(exercise(key).solve()).correct


def test_the_p3d_b_cases_cover_padding_strides_and_the_linear_layer() -> None:
    state = torch.get_rng_state()
    cases = _p3d_b_cases()
    assert torch.equal(state, torch.get_rng_state())       # own seed, global RNG untouched
    assert len(cases) == len(P3D_B_SETTINGS)
    layers = [layer for _, layer, _ in cases]
    assert any(not layer.frames.is_identity for layer in layers)      # taps that select
    assert any(layer.middle_bn_relu for layer in layers)
    assert any(not layer.middle_bn_relu for layer in layers)
    assert all(next(layer.parameters()).dtype == torch.float64 for layer in layers)
    assert [label for label, _, _ in _p3d_b_cases()] == [label for label, _, _ in cases]


def test_a_p3d_b_mistake_is_told_its_case_and_how_it_differs() -> None:
    item = exercise("10.1")
    missing = item.check(_no_bn_relu)
    assert not missing.correct and missing.text.startswith("case 1: ")
    assert "differs from the layer's" in missing.text
    untapped = item.check(_no_taps)
    assert not untapped.correct and untapped.text.startswith("case 2: ")   # padding 0
    cheat = item.check(lambda layer, x: layer(x))
    assert not cheat.correct and "called the P3D-B layer itself" in cheat.text


def test_the_weight_count_is_counting_s_and_mistakes_are_told_the_side() -> None:
    assert len(_weight_cases()) == WEIGHT_CASES
    assert _library_weights(64, 64, 3, 3) == 5_824                  # the figure
    item = exercise("10.2")
    feedback = item.check(_depthwise_only)
    assert not feedback.correct and "too small" in feedback.text
    assert "5,824" not in feedback.text
    full = item.check(lambda c_in, c_out, t, d: t * d * d * c_in * c_out)
    assert not full.correct and "too large" in full.text
    solved = item.solve()
    assert item.check(lambda *a: np.int64(solved(*a))).correct
    assert item.check(lambda *a: float(solved(*a))).correct
    for bad in (lambda *a: None, lambda *a: 2.5, lambda *a: "5824"):
        assert not item.check(bad).correct


def test_the_fewest_macs_check_counts_every_member_on_its_own() -> None:
    from r21d_edu.widgets.family import family_point

    macs = _member_macs()
    point = family_point(24, 24, (5, 3), (16, 56, 56))
    assert {k: m for k, (_, m) in macs.items()} == {
        r.key: (r.macs if r.available else None) for r in point.rows}
    wrong = exercise("10.3").check("tsm")
    assert not wrong.correct and "depthwise" not in wrong.text.lower()


def test_the_shift_check_says_which_part_is_wrong() -> None:
    item = exercise("10.4")
    share = item.check((0.125, 48))
    assert not share.correct and "too small" in share.text and "0.25" not in share.text
    still = item.check((0.25, 32))
    assert not still.correct and "too small" in still.text and "48" not in still.text
