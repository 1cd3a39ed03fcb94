"""Exercise 05.5 (capture): the solution passes, the blank and typical mistakes are told
what is wrong by case — a shape, a hook left behind, values that differ — never the
module's output itself."""

from __future__ import annotations

import pytest
import torch

from r21d_edu.exercises import exercise
from r21d_edu.exercises.t05 import CAPTURE_CASES, _capture_cases


def _model_output(model, module, clip):
    """The model's output (the class scores), not the module's."""
    with torch.no_grad():
        return model(clip)


def _hook_left(model, module, clip):
    """The right tensor, but the hook stays registered: it runs on every later forward."""
    kept = []
    module.register_forward_hook(lambda _m, _inputs, output: kept.append(output.detach()))
    with torch.no_grad():
        model(clip)
    return kept[0]


def _module_input(model, module, clip):
    """What goes into the module, not what comes out."""
    kept = []
    handle = module.register_forward_hook(lambda _m, inputs, _o: kept.append(inputs[0]))
    try:
        with torch.no_grad():
            model(clip)
    finally:
        handle.remove()
    return kept[0]


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per new exercise.
MISTAKES: dict[str, object] = {"05.5": _module_input}


def test_the_solution_passes_and_the_blank_is_told_to_start() -> None:
    item = exercise("05.5")
    assert item.is_coding
    assert item.check(item.solve()).correct
    blank = item.check(item.blank())
    assert not blank.correct and "NotImplementedError" in blank.text
    assert blank.text.startswith("case 1: ")


def test_the_cases_are_seeded_and_leave_the_rng_alone() -> None:
    state = torch.get_rng_state()
    cases, again = _capture_cases(), _capture_cases()
    assert torch.equal(state, torch.get_rng_state())
    assert len(cases) == CAPTURE_CASES
    for (label, model, module, clip, _), (_, model2, _, clip2, _) in zip(cases, again):
        assert torch.equal(clip, clip2)
        assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))
        assert not model.training and clip.dtype == torch.float64
        assert any(part is module for part in model.modules()), label
    # The first module keeps its input's shape: handing back the input differs in values.
    _, model, module, clip, reference = cases[0]
    with torch.no_grad():
        assert reference(model, clip).shape == model.stem(clip).shape


def test_the_reference_is_what_a_hook_sees() -> None:
    """The hook-free reference (the model's parts called one by one) is the tensor a
    hook on the module receives during model(clip)."""
    for label, model, module, clip, reference in _capture_cases():
        seen: list[torch.Tensor] = []

        def hook(_module, _inputs, output, seen=seen):
            seen.append(output.clone())

        handle = module.register_forward_hook(hook)
        try:
            with torch.no_grad():
                model(clip)
        finally:
            handle.remove()
        with torch.no_grad():
            want = reference(model, clip)
        assert len(seen) == 1 and torch.equal(seen[0], want), label


@pytest.mark.parametrize("mistake, told", [(_model_output, "has 2 dimensions"),
                                           (_hook_left, "still registered on the module"),
                                           (_module_input, "differs from the module's output")])
def test_a_mistake_is_told_its_case_and_how_not_the_answer(mistake, told) -> None:
    feedback = exercise("05.5").check(mistake)
    assert not feedback.correct
    assert feedback.text.startswith("case 1: ") and told in feedback.text
    assert "tensor(" not in feedback.text


def test_a_hook_left_elsewhere_is_found_and_gradients_are_allowed() -> None:
    item = exercise("05.5")
    solved = item.solve()

    def also_on_the_model(model, module, clip):
        model.register_forward_pre_hook(lambda _m, _inputs: None)
        return solved(model, module, clip)

    def with_gradients(model, module, clip):
        kept = []
        handle = module.register_forward_hook(lambda _m, _i, output: kept.append(output))
        try:
            model(clip)
        finally:
            handle.remove()
        return kept[0]

    assert "still registered on the model itself" in item.check(also_on_the_model).text
    assert item.check(with_gradients).correct
    for bad in (lambda m, mod, x: None, lambda m, mod, x: x.numpy()):
        feedback = item.check(bad)
        assert not feedback.correct and feedback.text.startswith("case 1: ")
