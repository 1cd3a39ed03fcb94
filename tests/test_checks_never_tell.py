"""No check tells the answer: a right, a wrong and a badly typed hand-in for every exercise.

The checker's promise (`r21d_edu.exercises`) is that ``.check()`` says what is wrong
with a hand-in and never what the right one is; only ``.solution()`` shows that. For
every registered exercise this test hands in the solution (it must pass), a plausible
mistake and two hand-ins of the wrong type (both must fail), and scans the two failure
messages for the answer: the solved value in the ways a message would print it, and
for a coding exercise every line the learner writes.

The mistakes live beside the tests of each tutorial's exercises: ``WRONG`` in
``test_exercises.py`` and ``MISTAKES`` in each ``test_exercises_tNN.py``, so that the
author of an exercise writes its mistake where they test it, and no exercise goes
unscanned (`test_every_exercise_has_a_mistake_to_try`).
"""

from __future__ import annotations

import importlib.util
import numbers
from pathlib import Path
from typing import Any

import pytest

from r21d_edu.exercises import Exercise, all_exercises
from r21d_edu.exercises._base import BEGIN, END

TESTS = Path(__file__).resolve().parent
ALL = all_exercises()


def _load(path: Path, name: str) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(f"_mistakes_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(getattr(module, name, {}))


def mistakes() -> dict[str, Any]:
    """Every exercise's mistake, from the files that test each tutorial's exercises."""
    found = _load(TESTS / "test_exercises.py", "WRONG")
    for path in sorted(TESTS.glob("test_exercises_t*.py")):
        found.update(_load(path, "MISTAKES"))
    return found


MISTAKES = mistakes()
#: Hand-ins of a type no exercise takes.
BADLY_TYPED = {"text": "abc", "object": object()}


def answer_forms(value: Any) -> set[str]:
    """How a message would print `value`: repr, str, and numbers with grouping or 3-4
    significant digits (a percentage for a share)."""
    forms = {repr(value), str(value)}
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        number = float(value)  # type: ignore[arg-type]
        forms |= {f"{number:,.0f}" if number == int(number) else f"{number:.3g}",
                  f"{number:.4g}"}
        if 0 < number < 1:
            forms.add(f"{number:.0%}")
    return forms


def solution_lines(item: Exercise) -> set[str]:
    """The lines a learner writes in a coding exercise (long enough to be telling)."""
    region = item.source.split(BEGIN, 1)[1].split(END, 1)[0]
    return {line.strip() for line in region.splitlines() if len(line.strip()) >= 25}


def leaks(item: Exercise, message: str) -> list[str]:
    """What of the answer the message shows that the prompt does not already give."""
    given = item.prompt + " " + item.hand_in
    solved = None if item.is_coding else item.solve()
    if item.is_coding:
        told = solution_lines(item)
    elif isinstance(solved, bool):
        return []  # "hand in True or False" names both; a bool has no answer to hide
    else:
        told = {form for form in answer_forms(solved) if len(form) >= 3}
    return sorted(form for form in told if form in message and form not in given)


def test_every_exercise_has_a_mistake_to_try() -> None:
    missing = [e.key for e in ALL if e.key not in MISTAKES]
    assert not missing, f"no mistake to try for {missing}: add one to its tutorial's tests"


@pytest.mark.parametrize("item", ALL, ids=lambda e: e.key)
def test_the_right_answer_passes(item: Exercise) -> None:
    assert item.check(item.solve()).passed


@pytest.mark.parametrize("item", [e for e in ALL if e.key in MISTAKES], ids=lambda e: e.key)
def test_a_mistake_is_told_what_is_wrong_not_the_answer(item: Exercise) -> None:
    feedback = item.check(MISTAKES[item.key])
    assert feedback.correct is False, f"{item.key} accepted its mistake: {feedback}"
    assert not leaks(item, feedback.text), f"{item.key} tells {leaks(item, feedback.text)}"


@pytest.mark.parametrize("kind", sorted(BADLY_TYPED))
@pytest.mark.parametrize("item", ALL, ids=lambda e: e.key)
def test_a_badly_typed_answer_is_told_what_was_expected(item: Exercise, kind: str) -> None:
    feedback = item.check(BADLY_TYPED[kind])
    assert feedback.correct is False, f"{item.key} accepted {kind}: {feedback}"
    assert len(feedback.text) > 20 and "Traceback" not in feedback.text
    assert not leaks(item, feedback.text), f"{item.key} tells {leaks(item, feedback.text)}"


def components(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, leaf) of every part of a structured answer: a dict's values, a tuple's items."""
    if isinstance(value, dict):
        return [c for key, item in value.items() for c in components(item, path + (key,))]
    if isinstance(value, (tuple, list)) and len(value) <= 12:
        return [c for i, item in enumerate(value) for c in components(item, path + (i,))]
    return [(path, value)]


def replaced(value: Any, path: tuple, new: Any) -> Any:
    """`value` with the part at `path` replaced by `new` (the rest left right)."""
    if not path:
        return new
    if isinstance(value, dict):
        return {**value, path[0]: replaced(value[path[0]], path[1:], new)}
    items = list(value)
    items[path[0]] = replaced(value[path[0]], path[1:], new)
    return tuple(items) if isinstance(value, tuple) else items


def near_misses(leaf: Any) -> list[Any]:
    """Wrong values a learner might hand in for one right part: off by one, doubled, 10 % off."""
    if isinstance(leaf, bool) or not isinstance(leaf, numbers.Real):
        return []
    if isinstance(leaf, numbers.Integral):
        return [int(leaf) + 1, int(leaf) - 1, 2 * int(leaf) + 3]
    return [float(leaf) * 1.1 + 0.01, float(leaf) * 0.5]


NUMERIC = [e for e in ALL if not e.is_coding and any(
    near_misses(leaf) for _, leaf in components(e.solve()))]


@pytest.mark.parametrize("item", NUMERIC, ids=lambda e: e.key)
def test_a_near_miss_is_not_told_the_right_value(item: Exercise) -> None:
    """Each number of a right answer, changed alone, must not bring that number back in
    the message: "= 460, not 461" gives the answer as surely as printing it."""
    solved, given = item.solve(), item.prompt + " " + item.hand_in
    for path, leaf in components(solved):
        secret = {form for form in answer_forms(leaf) if len(form) >= 3}
        for wrong in near_misses(leaf):
            feedback = item.check(replaced(solved, path, wrong))
            if feedback.correct:
                continue  # within the check's tolerance
            told = sorted(form for form in secret if form in feedback.text
                          and form not in given and form not in str(wrong))
            assert not told, (f"{item.key}: handing in {wrong!r} for part {path} is told "
                              f"{told}: {feedback.text}")


def test_the_scan_finds_an_answer_when_a_message_gives_it() -> None:
    """The scan itself can fail: a message that states the solved value is caught."""
    item = next(e for e in ALL if not e.is_coding and isinstance(e.solve(), int)
                and str(e.solve()) not in e.prompt and e.solve() > 99)
    assert leaks(item, f"expected {item.solve()}")
    coding = next(e for e in ALL if e.is_coding)
    assert leaks(coding, "try: " + sorted(solution_lines(coding))[0])
