"""The tutorials' exercises: a check that teaches, hints that escalate, and a solution.

Every exercise at the end of a tutorial has an `Exercise` here, in the module of its
tutorial (`t01` … `t11`), all in one registry::

    from r21d_edu.exercises import exercise

    q1 = exercise("01.1")          # tutorial 01, exercise 1 (also exercise("01", 1))
    q1                             # the question and what to hand in
    q1.check((1, 8, 6, 30, 30))    # ✓ Correct, or ✗ Not yet with what is wrong
    q1.hint()                      # a nudge; call again for the method
    q1.solution()                  # a solution's code

What the checker promises, for every exercise:

- ``.check(answer)`` never prints the expected answer on a wrong input: it says what
  is wrong with the answer handed in (which axis, which key, too large or too small,
  which case of a function), and only ``.solution()`` shows a solution;
- one coercion rule for every answer (`r21d_edu.exercises.answers`): a list for a
  tuple, NumPy scalars and 0-d tensors for numbers; a wrong type is told plainly what
  type was expected; 50 for 0.5 and "grow" for "grows" get a hint, not a verdict;
- ``.hint()`` escalates, from a nudge to the method;
- a measured answer (a timing) has no right value: ``.predict(guess)`` first, then
  ``.check(measurement)`` says "Recorded" and compares the two, never "Correct";
- a coding exercise (``.skeleton()`` to start from) is checked by behaviour: the
  check runs the learner's function or class on cases it draws (seeded, leaving the
  learner's RNG alone) against the library, and names the first case that differs
  and how.

Register the exercises of a new tutorial with `register`, in a module
``r21d_edu/<name>_exercises.py`` (found by that name: `exercise` and `all_exercises`
import every such module, so the tests run its solutions without a notebook), or in
a notebook cell with ``replace=True``::

    from r21d_edu.exercises import Incorrect, register
    from r21d_edu.exercises.answers import Int

    def check_classes(answer):          # answer is already an int (expects=Int())
        if answer != 10:
            raise Incorrect("not the number of class names of the task: count them")
        return "the task has 10 motion classes"

    register("10", 1,
             prompt="How many classes does the synthetic task have?",
             hand_in="an int",
             hint=["Look at the task's class names.",            # a nudge ...
                   "len(r21d_edu.tasks.CLASS_NAMES)"],          # ... then the method
             solution="answer = 10   # code that binds `answer`",
             check=check_classes,
             expects=Int(minimum=1))

The contract, for every exercise:

- ``solution`` is Python code that, run in a fresh namespace, binds ``answer``; it is
  what `Exercise.solution` shows and what the tests run. For a coding exercise the
  lines the learner writes sit between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``: the rest is the skeleton (`Exercise.skeleton`), and the
  nbgrader release (``scripts/make_lab.py``) is made from the same text;
- ``check(answer)`` raises `Incorrect` with a message that says what is wrong
  without the right answer (the tests try a right, a wrong and a badly typed answer
  for every registered exercise and scan every message for the answer), and
  otherwise returns a short explanation (it may state the answer then);
- every message and hint leaves the answer out; numbers the prompt already gives
  may appear.

Keys are ``"NN.k"``: the tutorial's two-digit number and the exercise's number in
that tutorial, as its Exercises section numbers them.
"""

from __future__ import annotations

from ._base import (
    PROVIDERS,
    Exercise,
    Feedback,
    Prediction,
    all_exercises,
    exercise,
    provider_modules,
    register,
    state_kept,
    unregister,
)
from .answers import Incorrect

__all__ = [
    "Exercise",
    "Feedback",
    "Incorrect",
    "PROVIDERS",
    "Prediction",
    "all_exercises",
    "exercise",
    "provider_modules",
    "register",
    "state_kept",
    "unregister",
]
