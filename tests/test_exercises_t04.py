"""Exercise 04.5 (residual_forward): the solution passes on every drawn block, the blank
and typical mistakes are told their case and how the output differs, never block(x)."""

from __future__ import annotations

import pytest
import torch

from r21d_edu.exercises import exercise
from r21d_edu.exercises.t04 import BLOCK_CASES, _block_cases, _drawn_block


def _shortcut(block, x):
    return x if block.downsample is None else block.downsample(x)


def _no_final_relu(block, x):
    """Forgets the last ReLU: returns the sum."""
    return block.conv2(block.conv1(x)) + _shortcut(block, x)


def _relu_before_the_sum(block, x):
    """Puts the last ReLU on the residual branch, then adds the shortcut."""
    return block.relu(block.conv2(block.conv1(x))) + _shortcut(block, x)


def _identity_shortcut(block, x):
    """Ignores the downsample: adds x whatever the block's stride and width."""
    return block.relu(block.conv2(block.conv1(x)) + x)


def _whole_block(block, x):
    """Calls the block instead of writing its forward."""
    return block(x)


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per new exercise.
MISTAKES: dict[str, object] = {"04.5": _relu_before_the_sum}


def test_the_solution_passes_and_the_blank_is_told_to_start() -> None:
    item = exercise("04.5")
    assert item.is_coding
    assert item.check(item.solve()).correct
    blank = item.check(item.blank())
    assert not blank.correct and "NotImplementedError" in blank.text
    assert blank.text.startswith("case 1: ")


def test_the_cases_cover_the_blocks() -> None:
    cases = _block_cases()
    assert len(cases) == BLOCK_CASES
    kinds = {(a["conv_type"], a["convention"]) for _, a, _ in cases}
    assert {"3d", "2d"} <= {kind for kind, _ in kinds}
    assert {("2plus1d", "paper"), ("2plus1d", "torchvision")} <= kinds
    generator = torch.Generator().manual_seed(0)
    blocks = [_drawn_block(a, generator) for _, a, _ in cases]
    with_projection = [b.downsample is not None for b in blocks]
    assert any(with_projection) and not all(with_projection)
    # A projection from a change of width alone (stride 1), and one from a stride.
    assert any(b.downsample is not None and b.stride == (1, 1, 1) for b in blocks)
    assert any(b.stride != (1, 1, 1) for b in blocks)
    assert all(not b.training for b in blocks)
    # The same cases on every call, drawn without touching the global RNG.
    state = torch.get_rng_state()
    assert [label for label, _, _ in _block_cases()] == [label for label, _, _ in cases]
    _drawn_block(cases[0][1], torch.Generator().manual_seed(1))
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("mistake, case, nudge", [
    (_no_final_relu, 1, "before the final ReLU"),
    (_relu_before_the_sum, 1, "the final ReLU acts on the sum"),
    (_identity_shortcut, 2, "never ran it"),
    (_whole_block, 1, "called the block itself"),
])
def test_a_mistake_is_told_its_case_and_how_not_the_output(mistake, case, nudge) -> None:
    feedback = exercise("04.5").check(mistake)
    assert not feedback.correct
    assert feedback.text.startswith(f"case {case}: ")
    assert nudge in feedback.text
    assert "tensor(" not in feedback.text  # no values of block(x)


def test_a_value_off_is_told_where_and_by_how_much_not_the_value() -> None:
    def without_bn2(block, x):
        return block.relu(block.conv2[0](block.conv1(x)) + _shortcut(block, x))

    feedback = exercise("04.5").check(without_bn2)
    assert not feedback.correct
    assert feedback.text.startswith("case 1: ") and "differs from block(x)'s by up to" in \
        feedback.text


def test_a_detached_output_is_told_it_has_no_gradient() -> None:
    item = exercise("04.5")
    solved = item.solve()
    feedback = item.check(lambda block, x: solved(block, x).detach())
    assert not feedback.correct and "no gradient" in feedback.text
    for bad in ("abc", object(), lambda block, x: None):
        assert not item.check(bad).correct
