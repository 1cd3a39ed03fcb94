"""Every exercise has a check, a hint and a solution, and every solution passes its check.

The solutions are the code `Exercise.solution()` shows, run in a fresh namespace
exactly as a learner would paste them. Wrong answers get a message, never an
exception, so a check never stops a notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from r21d_edu import exercises
from r21d_edu.exercises import Exercise, Incorrect, all_exercises, exercise, register

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = all_exercises()


def exercises_in_notebook(path: Path) -> int:
    """How many numbered exercises the notebook's Exercises section lists."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and "## Exercises" in cell.source:
            section = cell.source.split("## Exercises", 1)[1].split("\n## ", 1)[0]
            return len(re.findall(r"^\d+\. ", section, flags=re.M))
    return 0


@pytest.mark.parametrize("tutorial", ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10",
                                      "11"])
def test_every_exercise_of_a_tutorial_is_registered(tutorial: str) -> None:
    path = next(NOTEBOOKS.glob(f"{tutorial}_*.ipynb"))
    count = exercises_in_notebook(path)
    assert count >= 4
    assert [e.number for e in all_exercises(tutorial)] == list(range(1, count + 1))


@pytest.mark.parametrize("item", ALL, ids=[e.key for e in ALL])
def test_the_solution_passes_its_check(item: Exercise) -> None:
    feedback = item.check(item.solve())
    if item.measured:  # a timing has no right value: it is recorded, never "correct"
        assert feedback.recorded and str(feedback).startswith("● Recorded."), str(feedback)
    else:
        assert feedback.correct, str(feedback)
        assert str(feedback).startswith("✓ Correct.")
    assert item.hint().text and "answer" in item.solution().text


WRONG = {
    "01.1": (1, 8, 8, 32, 32), "01.2": True, "01.3": (64, 64), "01.4": {"Conv3d net": 1.0},
    "02.1": lambda a, b: True, "02.2": {"bytes": 70_647_808, "ratio": 5.5}, "02.3": (144, 110_592),
    "02.4": {"r3d_18": 2 * 40_696_553_472, "r2plus1d_18": 40_519_080_960},
    "03.1": -1.0, "03.2": 1, "03.3": {"3d": "memory", "2plus1d": "compute"}, "03.4": 1e-7,
    "04.1": (460, 460), "04.2": "layer1", "04.3": (8, 1), "04.4": {"fc.weight"},
    "05.1": 8, "05.2": None, "05.3": [], "05.4": 1,
    "06.1": (192, 144), "06.2": {0: 0.0, 0.5: 0.0, 1: 0.0, 2: 0.0}, "06.3": "spatial first",
    "06.4": [],
    "07.1": (58, 13_680, 13_824), "07.2": True, "07.3": 0.25, "07.4": 2_000,
    "08.1": (18, 2), "08.2": (144, 589_824), "08.3": {"0": 13, "2": 22}, "08.4": 1e-3,
    "09.1": 30, "09.2": "shrinks", "09.3": 8, "09.4": (99_532_800, 1_000_000),
    "11.2": 0.6, "11.3": 1.0, "11.4": "yes",
}



# Coding exercises: a plausible mistake each, which the check must name by its case.
def _scrambled_hybrid():
    """The question's own mistake: a reshape that does not move the axes first."""
    from torch import nn

    class Scrambled(nn.Module):
        def __init__(self, in_channels, mid_channels, out_channels, t=3, d=3):
            super().__init__()
            self.conv2d = nn.Conv2d(in_channels, mid_channels, d, padding=d // 2, bias=False)
            self.relu = nn.ReLU()
            self.conv1d = nn.Conv1d(mid_channels, out_channels, t, padding=t // 2)

        def forward(self, x):
            n, c, frames, h, w = x.shape
            middle = self.relu(self.conv2d(x.reshape(n * frames, c, h, w)))
            out = self.conv1d(middle.reshape(n * h * w, middle.shape[1], frames))
            return out.reshape(n, -1, frames, h, w)

    return Scrambled


def _flipped_frames(x, weight):
    """Convolution instead of cross-correlation in time: the kernel's slices reversed."""
    import torch
    import torch.nn.functional as F

    t = weight.shape[2]
    return torch.stack([sum(F.conv2d(x[:, :, s + k], weight[:, :, t - 1 - k]) for k in range(t))
                        for s in range(x.shape[2] - t + 1)], dim=2)


def _signed_energy(maps, masks):
    """Energy pointing without the absolute value: negative evidence cancels positive."""
    import torch

    inside, total = (maps * masks).sum(dim=(1, 2, 3)), maps.sum(dim=(1, 2, 3))
    return torch.where(total != 0, inside / total, torch.zeros_like(total))


WRONG_CODE = {
    "01.5": _scrambled_hybrid(),
    "01.6": _flipped_frames,
    "11.1": _signed_energy,
}
WRONG.update(WRONG_CODE)


@pytest.mark.parametrize("key", sorted(WRONG_CODE))
def test_a_wrong_function_is_told_the_case_that_differs(key: str) -> None:
    text = exercise(key).check(WRONG_CODE[key]).text
    assert text.startswith("case 1: ") and "differs from" in text


@pytest.mark.parametrize("item", [e for e in ALL if e.is_coding], ids=lambda e: e.key)
def test_a_blank_skeleton_is_told_to_write_its_code(item: Exercise) -> None:
    feedback = item.check(item.blank())
    assert feedback.correct is False and "NotImplementedError" in feedback.text


@pytest.mark.parametrize("key", sorted(WRONG))
def test_a_wrong_answer_gets_a_message_not_an_exception(key: str) -> None:
    feedback = exercise(key).check(WRONG[key])
    assert feedback.correct is False
    assert str(feedback).startswith("✗ Not yet.") and len(feedback.text) > 20


def test_a_good_message_names_what_was_expected() -> None:
    assert "convention='paper'" in exercise("04.1").check((460, 460)).text
    assert "FLOPs (2 per MAC)" in exercise("02.4").check(WRONG["02.4"]).text


def test_the_display_is_markdown_with_a_mark() -> None:
    item = exercise("01", 1)
    assert item._repr_markdown_().startswith("**Exercise 01.1.**")
    assert exercise("01.1").check((1, 8, 6, 30, 30))._repr_markdown_().count("✓") == 1
    assert item.solution()._repr_markdown_().startswith("**Solution:**\n\n```python")


def test_later_tutorials_register_the_same_way() -> None:
    def check(answer):
        if answer != 10:
            raise Incorrect(f"expected 10, got {answer!r}")
        return "ten"

    item = register("98", 1, prompt="How many?", hand_in="an int", hint="Count.",
                    solution="answer = 10", check=check)
    try:
        assert exercise("98.1") is item and item.check(item.solve()).correct
        assert "expected 10, got 9" in item.check(9).text
        with pytest.raises(ValueError, match="already registered; pass replace=True"):
            register("98", 1, prompt="?", hand_in="?", hint="?", solution="answer = 1",
                     check=check)
        register("98", 1, prompt="?", hand_in="?", hint="?", solution="answer = 10",
                 check=check, replace=True)
    finally:
        exercises.unregister("98.1")


def test_unknown_keys_say_what_exists() -> None:
    with pytest.raises(KeyError, match="no exercise 01.9; registered: 01.1"):
        exercise("01.9")
    with pytest.raises(ValueError, match="'NN.k'"):
        exercise("01")


def test_the_solutions_notebook_shows_every_registered_solution() -> None:
    import nbformat

    notebook = nbformat.read(NOTEBOOKS / "solutions.ipynb", as_version=4)
    sources = [c.source.removeprefix("# NBVAL_IGNORE_OUTPUT\n") for c in notebook.cells
               if c.cell_type == "code"]
    for item in all_exercises():
        assert item.solution_code in sources, f"solutions.ipynb lacks the solution of {item.key}"
        assert f'exercise("{item.key}").check(answer)' in sources


def test_the_solutions_notebook_is_written_from_the_registry() -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "make_solutions.py"
    run = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr


def test_timings_are_recorded_and_compared_with_the_prediction() -> None:
    from r21d_edu.exercises._base import _PREDICTIONS

    item = exercise("03.1")
    _PREDICTIONS.pop(item.key, None)
    try:
        assert "made no prediction" in item.check(1.7).text
        assert not item.check(1.7).correct and item.check(1.7).recorded
        item.predict("slower")
        assert "here they were faster" in item.check(1.7).text
        item.predict("faster")
        assert "that held here" in item.check(1.7).text
    finally:
        _PREDICTIONS.pop(item.key, None)


def test_a_skeleton_is_shown_as_where_to_start_not_as_the_solution() -> None:
    coding = exercise("11.1")
    shown = coding.skeleton()
    assert str(shown).startswith("Start from:\n") and "raise NotImplementedError()" in str(shown)
    assert shown._repr_markdown_().startswith("**Start from:**")
    assert str(coding.solution()).startswith("Solution:\n")
