"""The registry, the exercise and the feedback every tutorial's exercises share.

`register` is the one way in: the modules `t01` … `t11` of this package call it, and
so do modules ``r21d_edu/<name>_exercises.py`` of later tutorials, which `exercise`
and `all_exercises` find by that name (see `provider_modules`). The contract is
described in the package's docstring (`r21d_edu.exercises`).
"""

from __future__ import annotations

import contextlib
import pkgutil
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import torch

from .._checks import rng_kept
from .answers import Anything, Spec

__all__ = [
    "BEGIN",
    "END",
    "Exercise",
    "Feedback",
    "PROVIDERS",
    "Prediction",
    "all_exercises",
    "exercise",
    "provider_modules",
    "register",
    "state_kept",
    "unregister",
]

#: The markers of the region a learner writes, as nbgrader spells them.
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
#: What the region becomes in a skeleton (nbgrader's own stub).
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")

#: Modules imported by `exercise` and `all_exercises`, besides the ``*_exercises``
#: modules of the package, which are found by name.
PROVIDERS: list[str] = [f"r21d_edu.exercises.t{n:02d}" for n in range(1, 12)]

_REGISTRY: dict[str, Exercise] = {}
_HINTS_SHOWN: dict[str, int] = {}
_PREDICTIONS: dict[str, Any] = {}


@dataclass(frozen=True)
class Feedback:
    """What `check`, `hint`, `solution` and `predict` return: text that displays as Markdown.

    Attributes:
        kind: ``"check"``, ``"hint"``, ``"solution"``, ``"skeleton"`` or ``"prediction"``.
        text: the message (for a solution, its code).
        correct: for a check, True when the answer passed, False when it did not, and
            None when it was *recorded*: a measurement (a timing) has no right value,
            so its check records it and compares it with the learner's prediction.
        step, steps: for a hint, which of how many.
    """

    kind: str
    text: str
    correct: bool | None = None
    step: int = 0
    steps: int = 0

    @property
    def passed(self) -> bool:
        """A check that did not find the answer wrong (correct or recorded)."""
        return self.kind == "check" and self.correct is not False

    @property
    def recorded(self) -> bool:
        return self.kind == "check" and self.correct is None

    def _mark(self) -> str:
        return {True: "✓ Correct.", False: "✗ Not yet.", None: "● Recorded."}[self.correct]

    def __str__(self) -> str:
        if self.kind == "check":
            return f"{self._mark()} {self.text}"
        if self.kind == "hint":
            return f"Hint {self.step} of {self.steps}: {self.text}"
        if self.kind == "prediction":
            return f"Prediction: {self.text}"
        return f"{self._title()}:\n" + self.text

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        if self.kind == "check":
            colour = {True: "#009E73", False: "#D55E00", None: "#0072B2"}[self.correct]
            return f"<span style='color:{colour}'>**{self._mark()}**</span> {self.text}"
        if self.kind == "hint":
            return (f"<span style='color:#3366cc'>**Hint {self.step} of {self.steps}:**</span> "
                    + self.text)
        if self.kind == "prediction":
            return "**Prediction:** " + self.text
        return f"**{self._title()}:**\n\n```python\n" + self.text + "\n```"

    def _title(self) -> str:
        return "Start from" if self.kind == "skeleton" else "Solution"


@dataclass(frozen=True)
class Prediction:
    """What a measured exercise asks the learner to predict before measuring.

    Attributes:
        what: the question, e.g. "the one-thread order, fastest first".
        expects: the prediction's spec (coerced by the same rule as answers).
        compare: ``compare(prediction, measurement)`` -> a sentence comparing them.
    """

    what: str
    expects: Spec
    compare: Callable[[Any, Any], str]


@contextlib.contextmanager
def state_kept() -> Iterator[None]:
    """Run a check (and the learner's code it calls) without leaving a trace: torch's,
    Python's and NumPy's RNGs, threads, grad mode and the default dtype come back as
    they were, whatever the learner's code did."""
    threads, grad, dtype = torch.get_num_threads(), torch.is_grad_enabled(), \
        torch.get_default_dtype()
    try:
        with rng_kept():
            yield
    finally:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)


def _strip_markers(code: str) -> str:
    return "\n".join(line for line in code.splitlines() if line.strip() not in (BEGIN, END))


def _skeleton(code: str) -> str:
    """The code with each solution region replaced by nbgrader's stub, at its indent."""
    lines, out, inside = code.splitlines(), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in STUB)
            inside = True
        elif stripped == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


@dataclass(frozen=True, repr=False, eq=False)
class Exercise:
    """One exercise of a tutorial, with its check, hints and solution.

    Attributes:
        tutorial: the tutorial's two-digit number, e.g. ``"01"``.
        number: the exercise's number in that tutorial's Exercises section.
        prompt: the question, as the tutorial asks it.
        hand_in: what to pass to `check` (a type and its meaning).
        hints: from a nudge to the method; `hint` shows the next one each call.
        source: the solution as registered; for a coding exercise its region
            between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is what the
            learner writes (`skeleton` shows the rest).
        checker: ``checker(answer)`` raises `Incorrect` or returns a message.
        expects: the answer's spec; `check` coerces the hand-in with it first.
        prediction: for a measured exercise (a timing), what to predict first.
        points: what the exercise is worth in the nbgrader release.
    """

    tutorial: str
    number: int
    prompt: str
    hand_in: str
    hints: tuple[str, ...]
    source: str
    checker: Callable[[Any], str | None] = field(repr=False)
    expects: Spec = field(default_factory=Anything)
    prediction: Prediction | None = None
    points: int = 1

    @property
    def key(self) -> str:
        return f"{self.tutorial}.{self.number}"

    @property
    def hint_text(self) -> str:
        """The first hint (the nudge)."""
        return self.hints[0]

    @property
    def solution_code(self) -> str:
        """Code that, run in a fresh namespace, binds ``answer``."""
        return _strip_markers(self.source)

    @property
    def is_coding(self) -> bool:
        """Whether the learner writes code into a skeleton (a region of the solution)."""
        return BEGIN in self.source

    @property
    def measured(self) -> bool:
        """Whether the answer is a measurement: recorded and compared with a prediction."""
        return self.prediction is not None

    @property
    def kind(self) -> str:
        return "coding" if self.is_coding else "measured" if self.measured else "answer"

    @property
    def skeleton_code(self) -> str:
        """For a coding exercise, the code to start from: the solution with its region
        replaced by ``raise NotImplementedError()``; otherwise a stub that binds nothing."""
        if self.is_coding:
            return _skeleton(self.source)
        return "\n".join(STUB)

    def check(self, answer: Any) -> Feedback:
        """Check `answer`; never raises, so a wrong answer never stops the notebook.

        The message of a wrong answer says what is wrong with it, never the right
        answer; a measurement is recorded and compared with the prediction.
        """
        with state_kept():
            try:
                value = self.expects.coerce(answer)
                message = self.checker(value)
            except AssertionError as error:  # Incorrect, or a plain assert in a check
                return Feedback("check", str(error) or "that is not the expected answer", False)
            except Exception as error:  # a check that could not run on this answer
                return Feedback("check", f"checking {describe_short(answer)} raised "
                                         f"{type(error).__name__}: {error}; hand in "
                                         f"{self.hand_in}", False)
        if self.prediction is not None:
            return Feedback("check", self._recorded(value, message or ""), None)
        return Feedback("check", message or "", True)

    def _recorded(self, value: Any, message: str) -> str:
        assert self.prediction is not None
        if self.key not in _PREDICTIONS:
            return (f"{message} You made no prediction first: call "
                    f"`exercise(\"{self.key}\").predict(...)` with {self.prediction.what} "
                    "before you measure, then check again — a measurement you predicted "
                    "teaches more than one you did not.")
        with state_kept():
            return f"{message} {self.prediction.compare(_PREDICTIONS[self.key], value)}"

    def predict(self, guess: Any) -> Feedback:
        """Record a prediction for a measured exercise; `check` compares the measurement
        with it."""
        if self.prediction is None:
            return Feedback("prediction", f"exercise {self.key} has a right answer, not a "
                                          "measurement: hand it to .check(answer)")
        try:
            value = self.prediction.expects.coerce(guess)
        except AssertionError as error:
            return Feedback("prediction", f"not recorded: {error}")
        _PREDICTIONS[self.key] = value
        return Feedback("prediction", f"recorded {value!r} as your prediction of "
                                      f"{self.prediction.what}; now measure and hand the "
                                      "result to .check(answer)")

    def hint(self, step: int | None = None) -> Feedback:
        """The next hint: a nudge first, then the method (or hint number ``step``)."""
        if step is None:
            shown = _HINTS_SHOWN.get(self.key, 0)
            step = min(shown + 1, len(self.hints))
            _HINTS_SHOWN[self.key] = step
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= len(
                self.hints):
            raise ValueError(f"exercise {self.key} has hints 1 to {len(self.hints)}, "
                             f"got {step!r}")
        text = self.hints[step - 1]
        if step == len(self.hints):
            text += " (That was the last hint; `.solution()` shows a solution.)"
        return Feedback("hint", text, step=step, steps=len(self.hints))

    def solution(self) -> Feedback:
        return Feedback("solution", self.solution_code)

    def skeleton(self) -> Feedback:
        """The code to start from (a coding exercise's skeleton)."""
        return Feedback("skeleton", self.skeleton_code)

    def solve(self) -> Any:
        """Run the solution's code in a fresh namespace and return its ``answer``."""
        return _run(self.solution_code, f"solution {self.key}", self.key)

    def blank(self) -> Any:
        """Run the skeleton in a fresh namespace and return its ``answer`` (a coding
        exercise's function or class whose body raises NotImplementedError)."""
        if not self.is_coding:
            raise ValueError(f"exercise {self.key} has no skeleton: it is not a coding exercise")
        return _run(self.skeleton_code, f"skeleton {self.key}", self.key)

    def grade(self, answer: Any) -> Feedback:
        """Check `answer` and raise AssertionError with the message unless it passed
        (for the autograded cells of the nbgrader release, and for an ``assert``)."""
        feedback = self.check(answer)
        if not feedback.passed:
            raise AssertionError(str(feedback))
        return feedback

    def grade_cell(self, namespace: dict) -> Feedback:
        """Take ``answer`` out of a notebook's namespace and `grade` it, so that the next
        exercise's test never sees this one's answer."""
        if "answer" not in namespace:
            raise AssertionError(f"✗ Not yet. Exercise {self.key}: no `answer` is bound — "
                                 "write the code in the cell above, run it, then run this one")
        return self.grade(namespace.pop("answer"))

    def __str__(self) -> str:
        return (f"Exercise {self.key}: {self.prompt}\nHand in: {self.hand_in}\n"
                f"Then: .check(answer), .hint(), .solution()")

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return (f"**Exercise {self.key}.** {self.prompt}\n\n*Hand in:* {self.hand_in} — "
                "then `.check(answer)`; stuck? `.hint()`, `.solution()`")


def describe_short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _run(code: str, name: str, key: str) -> Any:
    namespace: dict[str, Any] = {"__name__": f"exercise_{key.replace('.', '_')}"}
    exec(compile(code, f"<{name}>", "exec"), namespace)
    if "answer" not in namespace:
        raise RuntimeError(f"the {name} does not bind `answer`")
    return namespace["answer"]


def _tutorial_key(tutorial: str | int) -> str:
    if isinstance(tutorial, bool) or not isinstance(tutorial, (str, int)):
        raise TypeError(f"tutorial must be a number like '01' or 1, got {tutorial!r}")
    text = str(tutorial)
    if not text.isdigit() or len(text) > 2:
        raise ValueError(f"tutorial must be a number from 00 to 99 like '07', got {tutorial!r}")
    return text.zfill(2)


def register(
    tutorial: str | int,
    number: int,
    *,
    prompt: str,
    hand_in: str,
    hint: str | Sequence[str],
    solution: str,
    check: Callable[[Any], str | None],
    replace: bool = False,
    expects: Spec | None = None,
    prediction: Prediction | None = None,
    points: int | None = None,
) -> Exercise:
    """Add an exercise to the registry and return it.

    Args:
        tutorial: the tutorial's number, ``"07"`` or 7.
        number: the exercise's number in that tutorial (1, 2, ...).
        prompt: the question.
        hand_in: what the learner passes to ``check``, e.g. "a tuple of ints".
        hint: a nudge, or several hints from a nudge to the method; `Exercise.hint`
            shows one more each call. None of them may give the answer away.
        solution: code that binds ``answer`` (dedented automatically). For a coding
            exercise, the lines the learner writes sit between ``### BEGIN SOLUTION``
            and ``### END SOLUTION`` (nbgrader's markers, on lines of their own); the
            rest is the skeleton the learner starts from.
        check: ``check(answer)`` raises `Incorrect` with a message that says what is
            wrong without saying the right answer, or returns a message.
        replace: allow replacing an exercise of the same key (re-running a
            notebook cell that registers it). Default: False.
        expects: the answer's spec (`r21d_edu.exercises.answers`); the hand-in is
            coerced with it before ``check`` sees it. Default: any value.
        prediction: for a measured answer (a timing): what to predict first; the
            check then records the measurement instead of judging it.
        points: worth in the nbgrader release. Default: 2 for a coding exercise, 1
            otherwise.

    Raises:
        ValueError: if the key is taken and ``replace`` is False.
    """
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"number must be an int >= 1, got {number!r}")
    if not callable(check):
        raise TypeError(f"check must be a function of the answer, got {check!r}")
    hints = (hint,) if isinstance(hint, str) else tuple(hint)
    if not hints or not all(isinstance(h, str) and h.strip() for h in hints):
        raise ValueError("hint must be a non-empty str or a sequence of them")
    code = textwrap.dedent(solution).strip()
    if code.count(BEGIN) != code.count(END):
        raise ValueError(f"the solution has {code.count(BEGIN)} {BEGIN!r} but "
                         f"{code.count(END)} {END!r} lines")
    if expects is not None and not isinstance(expects, Spec):
        raise TypeError(f"expects must be a spec of r21d_edu.exercises.answers, got {expects!r}")
    if prediction is not None and not isinstance(prediction, Prediction):
        raise TypeError(f"prediction must be a Prediction, got {prediction!r}")
    item = Exercise(_tutorial_key(tutorial), number, prompt.strip(), hand_in.strip(),
                    tuple(textwrap.dedent(h).strip() for h in hints), code, check,
                    expects or Anything(hand_in.strip()), prediction,
                    points if points is not None else (2 if BEGIN in code else 1))
    if item.key in _REGISTRY and not replace:
        raise ValueError(f"exercise {item.key} is already registered; pass replace=True "
                         "to replace it (e.g. when re-running a notebook cell)")
    _REGISTRY[item.key] = item
    _HINTS_SHOWN.pop(item.key, None)
    _PREDICTIONS.pop(item.key, None)
    return item


def unregister(key: str) -> Exercise | None:
    """Remove exercise ``key`` ("NN.k") from the registry (a test's or a notebook's own
    exercise); return it, or None when no such exercise was registered."""
    _HINTS_SHOWN.pop(key, None)
    _PREDICTIONS.pop(key, None)
    return _REGISTRY.pop(key, None)


def provider_modules(folder: Path | None = None, package: str = "r21d_edu") -> list[str]:
    """Every module that registers exercises: `PROVIDERS`, and each module of the package
    whose name ends in ``_exercises`` (``r21d_edu/factorized_exercises.py``), so that a
    later tutorial's exercises are found without editing this list."""
    if folder is None:
        folder = Path(__file__).resolve().parent.parent
    found = sorted(f"{package}.{info.name}" for info in pkgutil.iter_modules([str(folder)])
                   if info.name.endswith("_exercises"))
    return (PROVIDERS if package == "r21d_edu" else []) + found


def _load_providers() -> None:
    for name in provider_modules():
        import_module(name)


_KEY = re.compile(r"^\s*(\d{1,2})\.(\d+)\s*$")


def exercise(tutorial: str | int, number: int | None = None) -> Exercise:
    """The exercise ``"NN.k"`` (or tutorial ``NN``, number ``k``).

    >>> exercise("02.1").key
    '02.1'
    """
    _load_providers()
    if number is None:
        match = _KEY.match(str(tutorial))
        if not match:
            raise ValueError(f"name an exercise as 'NN.k' (e.g. '01.2') or pass the number "
                             f"too: exercise('{tutorial}', 2); got {tutorial!r}")
        tutorial, number = match.group(1), int(match.group(2))
    key = f"{_tutorial_key(tutorial)}.{number}"
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"no exercise {key}; registered: {known}")
    return _REGISTRY[key]


def all_exercises(tutorial: str | int | None = None) -> list[Exercise]:
    """Every registered exercise (of one tutorial, if given), in order."""
    _load_providers()
    wanted = None if tutorial is None else _tutorial_key(tutorial)
    return [e for _, e in sorted(_REGISTRY.items(), key=lambda kv: (kv[1].tutorial, kv[1].number))
            if wanted is None or e.tutorial == wanted]
