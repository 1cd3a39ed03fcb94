"""Self-checks for the tutorials' exercises: a check, a hint and a solution for each.

In the style of Kaggle Learn's exercises: every exercise at the end of a tutorial
has an `Exercise` here that says what to hand in, checks an answer with a message
that says what was expected and what came, gives a hint, and shows a solution. The
tests run every registered solution through its own check, so the solutions and
the checks cannot drift apart.

Use it in a notebook::

    from r21d_edu.exercises import exercise

    q1 = exercise("01.1")          # tutorial 01, exercise 1 (also exercise("01", 1))
    q1                             # the question and what to hand in
    q1.hint()
    q1.check((1, 8, 6, 30, 30))    # ✓ correct, or ✗ with what was wrong
    q1.solution()                  # the code of a solution

Register the exercises of a new tutorial (07, 08, 09, ...) with the same call,
either from a module of the package — add its dotted name to `PROVIDERS`, so that
`all_exercises()` and the tests find it without running a notebook — or from a
notebook cell::

    from r21d_edu.exercises import Incorrect, register

    def check_classes(answer):
        if answer != 10:
            raise Incorrect(f"expected 10 classes, got {answer!r}")
        return "the task has 10 motion classes"

    register("07", 1,
             prompt="How many classes does the synthetic task have?",
             hand_in="an int",
             hint="Look at the task's class names.",
             solution="answer = 10   # code that binds `answer`",
             check=check_classes,
             replace=True)   # in a notebook cell, so that re-running it is fine

The contract, for every exercise:

- ``solution`` is Python code that, run in a fresh namespace, binds ``answer``;
  it is what `Exercise.solution` shows and what the tests run;
- ``check(answer)`` raises `Incorrect` (or `AssertionError`) with a message that
  says what was expected and what came, and otherwise returns a short
  explanation (or None);
- checks of measured answers (timings) accept any plausible measurement and
  explain it, because the right number depends on the machine.

Keys are ``"NN.k"``: the tutorial's two-digit number and the exercise's number
in that tutorial, as its Exercises section numbers them.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

__all__ = [
    "Exercise",
    "Feedback",
    "Incorrect",
    "PROVIDERS",
    "all_exercises",
    "exercise",
    "register",
]

#: Modules that register exercises when imported; `all_exercises()` imports them.
PROVIDERS: list[str] = ["r21d_edu.exercises", "r21d_edu.training_exercises",
                         "r21d_edu.netfactor_exercises", "r21d_edu.video_exercises"]

_REGISTRY: dict[str, Exercise] = {}


class Incorrect(AssertionError):
    """Raised by a check when an answer is wrong; its message says what and why."""


@dataclass(frozen=True)
class Feedback:
    """What `check`, `hint` and `solution` return: text that displays as Markdown.

    Attributes:
        kind: ``"check"``, ``"hint"`` or ``"solution"``.
        text: the message (for a solution, its code).
        correct: for a check, whether the answer passed; None otherwise.
    """

    kind: str
    text: str
    correct: bool | None = None

    def __str__(self) -> str:
        if self.kind == "check":
            return ("✓ Correct. " if self.correct else "✗ Not yet. ") + self.text
        if self.kind == "hint":
            return "Hint: " + self.text
        return "Solution:\n" + self.text

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        if self.kind == "check":
            mark = ("<span style='color:#009E73'>**✓ Correct.**</span> " if self.correct
                    else "<span style='color:#D55E00'>**✗ Not yet.**</span> ")
            return mark + self.text
        if self.kind == "hint":
            return "<span style='color:#3366cc'>**Hint:**</span> " + self.text
        return "**Solution:**\n\n```python\n" + self.text + "\n```"


@dataclass(frozen=True, repr=False)
class Exercise:
    """One exercise of a tutorial, with its check, hint and solution.

    Attributes:
        tutorial: the tutorial's two-digit number, e.g. ``"01"``.
        number: the exercise's number in that tutorial's Exercises section.
        prompt: the question, as the tutorial asks it.
        hand_in: what to pass to `check` (a type and its meaning).
        hint_text: a nudge that does not give the answer away.
        solution_code: Python code that binds ``answer``.
        checker: ``checker(answer)`` raises `Incorrect` or returns a message.
    """

    tutorial: str
    number: int
    prompt: str
    hand_in: str
    hint_text: str
    solution_code: str
    checker: Callable[[Any], str | None] = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.tutorial}.{self.number}"

    def check(self, answer: Any) -> Feedback:
        """Check `answer`; never raises, so a wrong answer never stops the notebook."""
        try:
            message = self.checker(answer)
        except AssertionError as error:  # Incorrect, or a plain assert in a check
            return Feedback("check", str(error) or "that is not the expected answer", False)
        except Exception as error:  # a wrong type or shape: explain it, do not crash
            return Feedback("check", f"checking {answer!r:.80} raised {type(error).__name__}: "
                                     f"{error}; hand in {self.hand_in}", False)
        return Feedback("check", message or "", True)

    def hint(self) -> Feedback:
        return Feedback("hint", self.hint_text)

    def solution(self) -> Feedback:
        return Feedback("solution", self.solution_code)

    def solve(self) -> Any:
        """Run the solution's code in a fresh namespace and return its ``answer``."""
        namespace: dict[str, Any] = {"__name__": f"solution_{self.tutorial}_{self.number}"}
        exec(compile(self.solution_code, f"<solution {self.key}>", "exec"), namespace)
        if "answer" not in namespace:
            raise RuntimeError(f"the solution of exercise {self.key} does not bind `answer`")
        return namespace["answer"]

    def __str__(self) -> str:
        return (f"Exercise {self.key}: {self.prompt}\nHand in: {self.hand_in}\n"
                f"Then: .check(answer), .hint(), .solution()")

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return (f"**Exercise {self.key}.** {self.prompt}\n\n*Hand in:* {self.hand_in} — "
                "then `.check(answer)`; stuck? `.hint()`, `.solution()`")


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
    hint: str,
    solution: str,
    check: Callable[[Any], str | None],
    replace: bool = False,
) -> Exercise:
    """Add an exercise to the registry and return it.

    Args:
        tutorial: the tutorial's number, ``"07"`` or 7.
        number: the exercise's number in that tutorial (1, 2, ...).
        prompt: the question.
        hand_in: what the learner passes to ``check``, e.g. "a tuple of ints".
        hint: a nudge.
        solution: code that binds ``answer`` (dedented automatically).
        check: raises `Incorrect` with a message, or returns a message.
        replace: allow replacing an exercise of the same key (re-running a
            notebook cell that registers it). Default: False.

    Raises:
        ValueError: if the key is taken and ``replace`` is False.
    """
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"number must be an int >= 1, got {number!r}")
    if not callable(check):
        raise TypeError(f"check must be a function of the answer, got {check!r}")
    item = Exercise(_tutorial_key(tutorial), number, prompt.strip(), hand_in.strip(),
                    hint.strip(), textwrap.dedent(solution).strip(), check)
    if item.key in _REGISTRY and not replace:
        raise ValueError(f"exercise {item.key} is already registered; pass replace=True "
                         "to replace it (e.g. when re-running a notebook cell)")
    _REGISTRY[item.key] = item
    return item


def _load_providers() -> None:
    for name in PROVIDERS:
        import_module(name)


def exercise(tutorial: str | int, number: int | None = None) -> Exercise:
    """The exercise ``"NN.k"`` (or tutorial ``NN``, number ``k``).

    >>> exercise("02.1").key
    '02.1'
    """
    _load_providers()
    if number is None:
        text = str(tutorial)
        if "." not in text:
            raise ValueError(f"name an exercise as 'NN.k' (e.g. '01.2') or pass the number "
                             f"too: exercise('{text}', 2); got {tutorial!r}")
        tutorial, number_text = text.split(".", 1)
        number = int(number_text)
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


# ==========================================================================
# Helpers for the checks below
# ==========================================================================


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Incorrect(message)


def _as_int_tuple(answer: Any, length: int, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in answer)
    except TypeError:
        raise Incorrect(f"hand in {what} as a tuple of {length} ints, got {answer!r}") from None
    _expect(len(values) == length and all(int(v) == v for v in answer),
            f"hand in {what} as a tuple of {length} ints, got {answer!r}")
    return values


# ==========================================================================
# Tutorial 01: from 3D to (2+1)D
# ==========================================================================


def _check_01_1(answer: Any) -> str:
    import torch

    from .layers import SpatioTemporalConv

    shape = _as_int_tuple(tuple(answer), 5, "the output shape (N, C, T, H, W)")
    layer = SpatioTemporalConv(3, 8, kernel_size=(5, 3, 3), stride=(2, 1, 1))
    with torch.device("meta"):
        expected = tuple(layer.to("meta")(torch.empty(1, 3, 16, 32, 32)).shape)
    if shape != expected:
        if shape[2] == 8:
            raise Incorrect(f"{shape} is not it: T = 8 would need padding. Without padding "
                            "T' = floor((16 - 5) / 2) + 1")
        raise Incorrect(f"{shape} is not it: each axis gives floor((size + 2·padding - kernel)"
                        " / stride) + 1, with padding 0 here")
    return (f"{expected}: T' = floor((16 - 5) / 2) + 1 = 6 and H' = W' = 32 - 3 + 1 = 30, "
            "exactly what nn.Conv3d(3, 8, (5, 3, 3), stride=(2, 1, 1)) gives")


register(
    "01", 1,
    prompt="Build `SpatioTemporalConv(3, 8, kernel_size=(5, 3, 3), stride=(2, 1, 1))` and "
           "predict its output shape for a (1, 3, 16, 32, 32) clip before running it.",
    hand_in="the output shape as a tuple (N, C, T, H, W)",
    hint="No padding was given, so each axis shrinks: size' = floor((size - kernel) / "
         "stride) + 1, with the temporal stride on T only.",
    solution="""
        import torch
        from r21d_edu import SpatioTemporalConv

        layer = SpatioTemporalConv(3, 8, kernel_size=(5, 3, 3), stride=(2, 1, 1))
        answer = tuple(layer(torch.randn(1, 3, 16, 32, 32)).shape)   # (1, 8, 6, 30, 30)
    """,
    check=_check_01_1,
)


def _check_01_2(answer: Any) -> str:
    _expect(isinstance(answer, bool), f"hand in True or False, got {answer!r}")
    _expect(answer is False,
            "not more expressive: without BN/ReLU the two convs compose into one 3D conv "
            "(r21d_edu.compose builds it), so the layer can do nothing a 3D conv cannot")
    return ("without its middle BN + ReLU the (2+1)D layer is a 3D conv whose unfolded "
            "kernel has rank ≤ M: a restricted 3D conv, not a richer one (tutorial 06)")


register(
    "01", 2,
    prompt="With `middle_bn_relu=False`, is the (2+1)D layer still more expressive than a "
           "3D conv?",
    hand_in="True or False",
    hint="Two linear maps in a row are one linear map. Try `r21d_edu.compose` on such a "
         "layer (tutorial 06).",
    solution="""
        import torch
        from r21d_edu import SpatioTemporalConv, compose

        layer = SpatioTemporalConv(4, 4, 3, padding=1, middle_bn_relu=False).double()
        clip = torch.randn(1, 4, 5, 8, 8, dtype=torch.float64)
        same = torch.allclose(compose(layer)(clip), layer(clip))   # one 3D conv does it all
        answer = not same   # False: no more expressive than a 3D conv
    """,
    check=_check_01_2,
)


def _check_01_3(answer: Any) -> str:
    from .layers import intermediate_channels

    n_in, n_out = _as_int_tuple(answer, 2, "the channel counts (N_in, N_out)")
    _expect(n_in >= 1 and n_out >= 1, f"channel counts must be >= 1, got {(n_in, n_out)}")
    m = intermediate_channels(n_in, n_out, 3)
    full = 27 * n_in * n_out
    factorized = m * (9 * n_in + 3 * n_out)
    _expect(factorized < full,
            f"with {n_in} -> {n_out} the division is exact: M = {m} gives {factorized:,} "
            f"weights, exactly the 3D conv's {full:,}. Look for a pair where "
            "9·N_in + 3·N_out does not divide 27·N_in·N_out")
    return (f"{n_in} -> {n_out}: M = floor({full:,} / {9 * n_in + 3 * n_out}) = {m}, so "
            f"{factorized:,} weights against {full:,}; the gap of {full - factorized:,} is "
            f"less than one more middle channel would cost ({9 * n_in + 3 * n_out})")


register(
    "01", 3,
    prompt="Find channel counts (t = d = 3) where the paper's M gives *fewer* weights than "
           "the 3D layer, and explain the gap.",
    hand_in="a pair (N_in, N_out)",
    hint="M is rounded down. When is M·(9·N_in + 3·N_out) = 27·N_in·N_out exactly?",
    solution="""
        from r21d_edu import intermediate_channels

        n_in, n_out = 3, 64   # an RGB input: 9·3 + 3·64 = 219 does not divide 27·3·64 = 5,184
        m = intermediate_channels(n_in, n_out, 3)                     # 23
        print(m * (9 * n_in + 3 * n_out), "weights vs", 27 * n_in * n_out)
        answer = (n_in, n_out)
    """,
    check=_check_01_3,
)

_NET_NAMES = ("Conv3d net", "Conv2d + Conv1d net", "(2+1)D net")


def _check_01_4(answer: Any) -> str:
    _expect(isinstance(answer, dict) and set(answer) == set(_NET_NAMES),
            f"hand in a dict of medians in ms with the keys {list(_NET_NAMES)}, got {answer!r}")
    values = {k: float(v) for k, v in answer.items()}
    _expect(all(math.isfinite(v) and v > 0 for v in values.values()),
            f"every median must be a positive number of milliseconds, got {values}")
    order = " < ".join(sorted(values, key=values.get))
    return (f"with one thread, fastest first: {order}. There is no single right order: it "
            "depends on the CPU, the PyTorch build and the load. Compare it with your "
            "all-threads run — if the order changed, the kernels scale differently with threads")


register(
    "01", 4,
    prompt="Time the three nets with `torch.set_num_threads(1)`. Does the order change?",
    hand_in="a dict {'Conv3d net': ms, 'Conv2d + Conv1d net': ms, '(2+1)D net': ms} of "
            "one-thread medians",
    hint="`torch.utils.benchmark.Timer(..., num_threads=1)` sets the threads for the "
         "measurement only; warm up each net first.",
    solution="""
        import torch
        from torch import nn
        from torch.utils import benchmark
        from r21d_edu import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv

        def make_net(layer_class):
            return nn.Sequential(
                layer_class(3, 32, kernel_size=3, padding=1), nn.ReLU(),
                layer_class(32, 32, kernel_size=3, padding=1), nn.ReLU(),
            ).eval()

        torch.manual_seed(0)
        nets = {"Conv3d net": make_net(FullConv3d), "Conv2d + Conv1d net": make_net(NaiveConv2Plus1d),
                "(2+1)D net": make_net(SpatioTemporalConv)}
        small_clip = torch.randn(1, 3, 8, 56, 56)
        answer = {}
        for name, net in nets.items():
            with torch.inference_mode():
                net(small_clip)  # warm up
                timer = benchmark.Timer("net(x)", globals={"net": net, "x": small_clip}, num_threads=1)
                answer[name] = timer.blocked_autorange(min_run_time=0.2).median * 1e3
        print(answer)
    """,
    check=_check_01_4,
)

# ==========================================================================
# Tutorial 02: the parameter budget
# ==========================================================================


def _floor_is_exact(n_in: int, n_out: int) -> bool:
    return (27 * n_in * n_out) % (9 * n_in + 3 * n_out) == 0


def _check_02_1(answer: Any) -> str:
    _expect(callable(answer), f"hand in a function exact(n_in, n_out) -> bool, got {answer!r}")
    wrong = [(a, b) for a in range(1, 41) for b in range(1, 41)
             if bool(answer(a, b)) != _floor_is_exact(a, b)]
    if wrong:
        a, b = wrong[0]
        raise Incorrect(f"your function is wrong for {len(wrong)} of 1,600 pairs, e.g. "
                        f"({a}, {b}): 27·{a}·{b} = {27 * a * b} and 9·{a} + 3·{b} = "
                        f"{9 * a + 3 * b}, so the floor is "
                        f"{'exact' if _floor_is_exact(a, b) else 'not exact'}")
    return ("the floor is exact when 9·N_in + 3·N_out divides 27·N_in·N_out; for C -> C "
            "that is 9C/4, exact when 4 divides C (16, 32, 64, ...)")


register(
    "02", 1,
    prompt="For which (N_in, N_out) with t = d = 3 is the floor exact?",
    hand_in="a function exact(n_in, n_out) -> bool; it is checked on all pairs up to 40",
    hint="When does d²·N_in + t·N_out divide t·d²·N_in·N_out? Python's % tells you.",
    solution="""
        def exact(n_in, n_out):
            return (27 * n_in * n_out) % (9 * n_in + 3 * n_out) == 0

        print([c for c in range(1, 65) if exact(c, c)])   # C -> C: multiples of 4
        answer = exact
    """,
    check=_check_02_1,
)


def _memory_64(dtype: Any) -> tuple[int, float]:
    from .counting import ConvSpec, activation_memory

    shape = (1, 64, 16, 56, 56)
    two = activation_memory(ConvSpec("2plus1d", 64, 64, 3, padding=1, bias=False), shape,
                            dtype=dtype)
    three = activation_memory(ConvSpec("3d", 64, 64, 3, padding=1, bias=False), shape,
                              dtype=dtype)
    return two.total_bytes, two.total_bytes / three.total_bytes


def _check_02_2(answer: Any) -> str:
    import torch

    _expect(isinstance(answer, dict) and set(answer) == {"bytes", "ratio"},
            f"hand in {{'bytes': ..., 'ratio': ...}}, got {answer!r}")
    total, ratio = _memory_64(torch.bfloat16)
    full_total, _ = _memory_64(torch.float32)
    _expect(int(answer["bytes"]) == total,
            f"the (2+1)D layer writes {int(answer['bytes']):,} bytes by your count; in "
            f"bfloat16 (2 bytes a value) it is half of float32's {full_total:,}")
    _expect(abs(float(answer["ratio"]) - ratio) < 1e-9,
            f"the ratio is (2+1)D bytes / 3D bytes; got {answer['ratio']}")
    return (f"{total:,} bytes, half of float32's; the ratio stays {ratio:.2f} — every tensor "
            "halves, so byte counts change and every ratio between them does not")


register(
    "02", 2,
    prompt="Use `activation_memory` with `dtype=torch.bfloat16` on the 64 → 64 layer at "
           "(1, 64, 16, 56, 56). Which ratios change, and which do not?",
    hand_in="a dict {'bytes': total bytes the (2+1)D layer writes, 'ratio': (2+1)D bytes / "
            "3D bytes}",
    hint="`activation_memory(ConvSpec('2plus1d', 64, 64, 3, padding=1, bias=False), shape, "
         "dtype=torch.bfloat16).total_bytes`, and the same for '3d'.",
    solution="""
        import torch
        from r21d_edu import ConvSpec, activation_memory

        shape = (1, 64, 16, 56, 56)
        mem = {kind: activation_memory(ConvSpec(kind, 64, 64, 3, padding=1, bias=False), shape,
                                       dtype=torch.bfloat16) for kind in ("2plus1d", "3d")}
        answer = {"bytes": mem["2plus1d"].total_bytes,
                  "ratio": mem["2plus1d"].total_bytes / mem["3d"].total_bytes}
        print(answer)   # half the bytes of float32, the same 5.5 ratio
    """,
    check=_check_02_2,
)


def _check_02_3(answer: Any) -> str:
    from .counting import compare_costs

    m, weights = _as_int_tuple(answer, 2, "(M, weights)")

    def at_most_double(k: int) -> bool:
        costs = compare_costs(64, 64, 3, (1, 64, 16, 56, 56), intermediate_channels=k)
        return costs["2plus1d"].total_bytes <= 2 * costs["3d"].total_bytes

    best = max(k for k in range(1, 200) if at_most_double(k))
    _expect(m == best, f"M = {m} is not the largest: the (2+1)D layer writes (2M + 64)/64 "
                       "times the 3D conv's bytes (middle tensor, its BatchNorm copy, output)")
    _expect(weights == best * (9 * 64 + 3 * 64),
            f"M = {m} is right; its weights are M·(d²·N_in + t·N_out), not {weights:,}")
    return (f"M = {best}: (2·{best} + 64)/64 = 2× the bytes, with {weights:,} weights — "
            f"{weights / 110_592:.0%} of the 3D conv's 110,592. Matching the 3D conv's bytes "
            "exactly would need M = 0: any middle tensor costs memory")


register(
    "02", 3,
    prompt="With `compare_costs(64, 64, 3, (1, 64, 16, 56, 56), intermediate_channels=m)`, "
           "find the largest M at which the (2+1)D layer writes at most twice the bytes of "
           "the 3D conv. How many weights does it have then?",
    hand_in="a pair (M, weights)",
    hint="The 3D conv writes its 64-channel output; the (2+1)D layer writes M channels, "
         "their BatchNorm copy and the 64-channel output. Or just loop over m.",
    solution="""
        from r21d_edu.counting import compare_costs

        def doubles(m):
            c = compare_costs(64, 64, 3, (1, 64, 16, 56, 56), intermediate_channels=m)
            return c["2plus1d"].total_bytes <= 2 * c["3d"].total_bytes

        m = max(k for k in range(1, 145) if doubles(k))       # 32
        answer = (m, m * (9 * 64 + 3 * 64))                     # (32, 24576)
    """,
    check=_check_02_3,
)


def _check_02_4(answer: Any) -> str:
    _expect(isinstance(answer, dict) and set(answer) == {"r3d_18", "r2plus1d_18"},
            f"hand in {{'r3d_18': MACs, 'r2plus1d_18': MACs}}, got {answer!r}")
    expected = {"r3d_18": 40_696_553_472, "r2plus1d_18": 40_519_080_960}
    for name, macs in expected.items():
        got = int(answer[name])
        if got == 2 * macs:
            raise Incorrect(f"{name}: {got:,} is FLOPs (2 per MAC); torchvision's GFLOPS are MACs")
        _expect(got == macs, f"{name}: expected {macs:,} MACs at (1, 3, 16, 112, 112), got {got:,}")
    return ("40,696,553,472 and 40,519,080,960 MACs: torchvision's published 40.697 and "
            "40.519 \"GFLOPS\" are multiply-accumulates of the convs and fc")


register(
    "02", 4,
    prompt="Count R3D-18 and R(2+1)D-18 with `r21d_edu.counting.summarize_network` at "
           "(1, 3, 16, 112, 112) and compare their MACs with torchvision's published 40.697 "
           "and 40.519 GFLOPS.",
    hand_in="a dict {'r3d_18': MACs, 'r2plus1d_18': MACs} of ints",
    hint="`summarize_network(model, shape)` runs on the meta device; its result has a "
         "`.macs` total.",
    solution="""
        import torch
        from r21d_edu import r2plus1d_18, r3d_18, summarize_network

        with torch.device("meta"):
            models = {"r3d_18": r3d_18(), "r2plus1d_18": r2plus1d_18()}
        answer = {name: summarize_network(m, (1, 3, 16, 112, 112)).macs for name, m in models.items()}
        print(answer)
    """,
    check=_check_02_4,
)

# ==========================================================================
# Tutorial 03: timing
# ==========================================================================


def _check_03_1(answer: Any) -> str:
    import torch

    ratio = float(answer)
    _expect(math.isfinite(ratio) and 0.02 < ratio < 100,
            f"hand in the one-thread median divided by the all-threads median, got {answer!r}")
    threads = torch.get_num_threads()
    if threads == 1:
        return f"{ratio:.2f}: this process has one thread, so both timings use one"
    verdict = ("all threads are faster" if ratio > 1.1 else
               "all threads are slower — a busy machine, or a layer too small to share"
               if ratio < 0.9 else "they are about equal")
    return (f"{ratio:.2f}×: {verdict}. Timer's default of one thread would understate "
            f"what a {threads}-thread training script sees (or overstate it on a busy machine)")


register(
    "03", 1,
    prompt="Time `fresh` with `torch.utils.benchmark.Timer(stmt=\"fresh(x)\", "
           "globals=globals()).blocked_autorange()` and again with "
           "`num_threads=torch.get_num_threads()`. How far apart are they?",
    hand_in="the ratio one-thread median / all-threads median (a float)",
    hint="Timer's default is num_threads=1. Use `.median` of each measurement.",
    solution="""
        import torch
        from torch.utils import benchmark
        from r21d_edu import SpatioTemporalConv

        fresh = SpatioTemporalConv(32, 32, 3, padding=1).eval()
        x = torch.randn(1, 32, 4, 28, 28)
        with torch.inference_mode():
            one = benchmark.Timer(stmt="fresh(x)", globals={"fresh": fresh, "x": x}).blocked_autorange(min_run_time=0.2)
            every = benchmark.Timer(stmt="fresh(x)", globals={"fresh": fresh, "x": x},
                                    num_threads=torch.get_num_threads()).blocked_autorange(min_run_time=0.2)
        answer = one.median / every.median
    """,
    check=_check_03_1,
)


def _layer1_gib_batch() -> int:
    from .layers import SpatioTemporalConv
    from .timing import count_work

    layer = SpatioTemporalConv(64, 64, 3, padding=1, bias=False).eval()
    batch = 1
    while count_work(layer, (batch, 64, 8, 56, 56)).bytes_moved < 2**30:
        batch += 1
    return batch


def _check_03_2(answer: Any) -> str:
    _expect(isinstance(answer, int) and not isinstance(answer, bool),
            f"hand in a batch size (int), got {answer!r}")
    batch = _layer1_gib_batch()
    _expect(answer == batch, f"batch {answer} is not the smallest that moves at least 1 GiB "
                             "(2**30 bytes) through layer1's (2+1)D layer at 8×56×56")
    return (f"batch {batch}: bytes grow in proportion to the batch (the weights are a "
            "small constant), about 95 MiB per clip here")


register(
    "03", 2,
    prompt="Use `count_work` to find the batch size at which layer1's (2+1)D layer "
           "(64 → 64, 8 frames of 56×56) moves 1 GiB in float32.",
    hand_in="the smallest batch size (int) with bytes_moved >= 2**30",
    hint="`count_work(layer, (batch, 64, 8, 56, 56)).bytes_moved` costs nothing (meta "
         "device): loop over the batch.",
    solution="""
        from r21d_edu import SpatioTemporalConv, count_work

        layer = SpatioTemporalConv(64, 64, 3, padding=1, bias=False).eval()
        batch = 1
        while count_work(layer, (batch, 64, 8, 56, 56)).bytes_moved < 2**30:
            batch += 1
        answer = batch
    """,
    check=_check_03_2,
)


def _layer4_bounds() -> dict[str, str]:
    import torch

    from .layers import FullConv3d, SpatioTemporalConv
    from .timing import KNOWN_DEVICES, count_work

    h100 = KNOWN_DEVICES["H100 SXM"]
    peak, bandwidth = h100.peak_for(torch.bfloat16, tf32=False), h100.bandwidth_tbs
    shape = (8, 512, 2, 7, 7)
    result = {}
    for name, layer in (("3d", FullConv3d(512, 512, 3, padding=1, bias=False)),
                        ("2plus1d", SpatioTemporalConv(512, 512, 3, padding=1, bias=False).eval())):
        work = count_work(layer, shape, dtype=torch.bfloat16)
        result[name] = "compute" if work.flops / peak >= work.bytes_moved / bandwidth else "memory"
    return result


def _check_03_3(answer: Any) -> str:
    _expect(isinstance(answer, dict) and set(answer) == {"3d", "2plus1d"},
            f"hand in {{'3d': 'compute' or 'memory', '2plus1d': ...}}, got {answer!r}")
    expected = _layer4_bounds()
    for name, bound in expected.items():
        _expect(str(answer[name]).lower().startswith(bound),
                f"{name}: by the H100 roofline in bfloat16 it is {bound}-bound at "
                f"(8, 512, 2, 7, 7), not {answer[name]!r}")
    return (f"3D {expected['3d']}-bound, (2+1)D {expected['2plus1d']}-bound (by the roofline "
            "model, not a measurement). Each value the spatial conv writes costs C_in·d² "
            "multiply-adds: 512·9 at layer4 against 64·9 at layer1, so the FLOPs per byte grow "
            "with the width and layer4's (2+1)D layer is not memory-bound like layer1's")


register(
    "03", 3,
    prompt="For layer4 (512 channels, M = 1152, 2 × 7 × 7 at 16 frames, batch 8) compute the "
           "H100 roofline bounds of the 3D and (2+1)D layers. Is layer4 memory-bound too? Why?",
    hand_in="a dict {'3d': 'compute' or 'memory', '2plus1d': 'compute' or 'memory'}",
    hint="Follow the roofline cell of the tutorial with shape (8, 512, 2, 7, 7) and "
         "SpatioTemporalConv(512, 512, 3, padding=1, bias=False).",
    solution="""
        import torch
        from r21d_edu import FullConv3d, SpatioTemporalConv, count_work
        from r21d_edu.timing import KNOWN_DEVICES

        h100 = KNOWN_DEVICES["H100 SXM"]
        peak, bandwidth = h100.peak_for(torch.bfloat16, tf32=False), h100.bandwidth_tbs
        answer = {}
        for name, layer in [("3d", FullConv3d(512, 512, 3, padding=1, bias=False)),
                            ("2plus1d", SpatioTemporalConv(512, 512, 3, padding=1, bias=False).eval())]:
            w = count_work(layer, (8, 512, 2, 7, 7), dtype=torch.bfloat16)
            answer[name] = "compute" if w.flops / peak >= w.bytes_moved / bandwidth else "memory"
        print(answer)
    """,
    check=_check_03_3,
)


def _check_03_4(answer: Any) -> str:
    gap = float(answer)
    if gap != 0.0:
        raise Incorrect(f"the largest difference is {gap:g}, not 0: use integer-valued weights "
                        "and inputs (e.g. torch.randint(-2, 3, ...).float()) and eval mode with "
                        "BatchNorm at running_mean 0, running_var 1 - eps, so every sum is exact")
    return ("exactly 0: the zero filters that pad M = 83 to 88 add exact zeros, so padding M "
            "never changes an output")


register(
    "03", 4,
    prompt="Build a `SpatioTemporalConv` with M = 83 and check, with integer-valued weights, "
           "that `make_fast(layer, pad_to=8)` gives *exactly* the same output as `pad_to=1`.",
    hand_in="the largest absolute difference between the two outputs (a float)",
    hint="Integers are exact in float32 as long as the sums stay below 2**24. Make BatchNorm "
         "an exact identity in eval mode (running_var = 1 - eps), or build the layer with "
         "middle_bn_relu=False.",
    solution="""
        import torch
        from r21d_edu import SpatioTemporalConv, make_fast

        torch.manual_seed(0)
        layer = SpatioTemporalConv(8, 8, 3, padding=1, intermediate_channels=83, bias=False)
        with torch.no_grad():
            for p in (layer.spatial.weight, layer.temporal.weight):
                p.copy_(torch.randint(-2, 3, p.shape).float())
            layer.bn.running_var.fill_(1 - layer.bn.eps)  # BN is then exactly the identity
        layer.eval()
        clip = torch.randint(-2, 3, (1, 8, 4, 10, 10)).float()
        with torch.inference_mode():
            padded, plain = make_fast(layer, pad_to=8)(clip), make_fast(layer, pad_to=1)(clip)
        answer = (padded - plain).abs().max().item()   # 0.0
    """,
    check=_check_03_4,
)

# ==========================================================================
# Tutorial 04: ResNet-18 to R(2+1)D-18
# ==========================================================================


def _check_04_1(answer: Any) -> str:
    m1, m2 = _as_int_tuple(answer, 2, "(M of conv1, M of conv2)")
    _expect((m1, m2) != (460, 460),
            "(460, 460) is torchvision's convention (M once per block); with "
            "convention='paper' conv2 gets M from its own 256 -> 256 channels")
    _expect(m1 == 460, f"conv1 (128 -> 256): M = floor(27·128·256 / (9·128 + 3·256)) = "
                       f"floor(884,736 / 1,920) = 460, not {m1}")
    _expect(m2 == 576, f"conv2 (256 -> 256): M = floor(27·256·256 / (9·256 + 3·256)) = 576, "
                       f"not {m2}")
    return "conv1 M = 460 (884,736 / 1,920 = 460.8, floored), conv2 M = 576 (exact: 2.25·256)"


register(
    "04", 1,
    prompt="Build `SpatioTemporalResBlock(128, 256, 3, downsample=True, convention=\"paper\")` "
           "and predict both M values before printing them.",
    hand_in="a pair (M of conv1, M of conv2)",
    hint="The paper computes M per conv from that conv's own channels: conv1 is 128 → 256, "
         "conv2 is 256 → 256.",
    solution="""
        from r21d_edu import SpatioTemporalResBlock

        block = SpatioTemporalResBlock(128, 256, 3, downsample=True, convention="paper")
        answer = (block.conv1[0].intermediate_channels, block.conv2[0].intermediate_channels)
    """,
    check=_check_04_1,
)


def _mc3_excess() -> tuple[str, dict[str, int]]:
    import torch

    from .models import mc3_18, r3d_18
    from .summary import compare_networks

    with torch.device("meta"):
        comparison = compare_networks({"R3D-18": r3d_18(), "MC3-18": mc3_18()})
    stages = ("stem", "layer1", "layer2", "layer3", "layer4")
    excess = {s: comparison.cells["MC3-18"][s].macs - comparison.cells["R3D-18"][s].macs
              for s in stages}
    return max(excess, key=excess.get), excess


def _check_04_2(answer: Any) -> str:
    stage, excess = _mc3_excess()
    _expect(isinstance(answer, str), f"hand in a stage name such as 'layer2', got {answer!r}")
    _expect(answer == stage, f"{answer!r} is not the stage with the largest excess; MC3-18 "
                             f"minus R3D-18 per stage: "
                             + ", ".join(f"{k} {v / 1e9:+.2f} G" for k, v in excess.items()))
    return (f"{stage}: MC3's 2D stages never stride over time, so layer4 runs on 16 frames "
            "where R3D's runs on 2 — 8× the positions at a third of the kernel: "
            + ", ".join(f"{k} {v / 1e9:+.2f} G" for k, v in excess.items()))


register(
    "04", 2,
    prompt="`mc3_18` has a third of R3D-18's parameters but *more* MACs (43.3 G). Use "
           "`compare_networks({\"R3D-18\": r3d_18(), \"MC3-18\": mc3_18()})` to find the stage "
           "responsible, and explain it with the clip's shape.",
    hand_in="the name of the stage with the largest MAC excess, e.g. 'layer2'",
    hint="Compare each stage's MACs and output shapes: which axis does a 2D-in-time stage "
         "never halve?",
    solution="""
        import torch
        from r21d_edu import compare_networks, mc3_18, r3d_18

        with torch.device("meta"):   # shapes and counts only: no memory
            comparison = compare_networks({"R3D-18": r3d_18(), "MC3-18": mc3_18()})
        print(comparison)
        stages = ("stem", "layer1", "layer2", "layer3", "layer4")
        excess = {s: comparison.cells["MC3-18"][s].macs - comparison.cells["R3D-18"][s].macs for s in stages}
        answer = max(excess, key=excess.get)   # 'layer4'
    """,
    check=_check_04_2,
)


def _check_04_3(answer: Any) -> str:
    import torch

    from .models import r2plus1d_34

    fewest, layer4_frames = _as_int_tuple(answer, 2, "(fewest frames, layer4's frames)")
    with torch.device("meta"):
        model = r2plus1d_34().eval()
    _expect(fewest == 1, f"{fewest} frames is not the fewest: a padded stride-2 conv maps 1 "
                         "frame to 1 frame, so clip_stride is not a minimum. Try a 1-frame clip")
    expected = model.trace_sizes((4, 112, 112))[0]
    _expect(layer4_frames == expected,
            f"for 4 frames T goes 4 -> 4 -> 2 -> 1 -> 1, so layer4 outputs {expected}, "
            f"not {layer4_frames}")
    return ("1 frame, and layer4 outputs 1 frame for a 4-frame clip: clip_stride (8, 16, 16) "
            "says how much T, H, W shrink, not how many frames are needed")


register(
    "04", 3,
    prompt="`r2plus1d_34()` has `clip_stride` (8, 16, 16). What is the fewest frames it "
           "accepts, and how many frames does layer4 output for a 4-frame clip?",
    hand_in="a pair (fewest frames, layer4's frames for a 4-frame clip)",
    hint="Try clips of 1, 2, 4 frames on the meta device, or use `model.trace_sizes((T, H, "
         "W))`. Each stride-2 conv with padding 1 gives floor((T + 2 - 3) / 2) + 1 frames.",
    solution="""
        import torch
        from r21d_edu import r2plus1d_34

        with torch.device("meta"):
            model = r2plus1d_34().eval()
        model(torch.empty(1, 3, 1, 112, 112, device="meta"))   # runs: 1 frame is enough
        answer = (1, model.trace_sizes((4, 112, 112))[0])      # (1, 1)
    """,
    check=_check_04_3,
)


def _check_04_4(answer: Any) -> str:
    _expect(isinstance(answer, (set, frozenset, list, tuple)),
            f"hand in the set of keys the report lists as mismatched, got {answer!r}")
    keys = set(answer)
    _expect(keys == {"fc.weight", "fc.bias"},
            f"expected the two entries of the classifier, fc.weight (400, 512) vs (10, 512) "
            f"and fc.bias; got {sorted(keys)}")
    return ("only fc.weight and fc.bias differ (400 vs 10 classes): strict=False loads the "
            "other 222 entries and reports these two, so the backbone is reused and the new "
            "head starts from its own initialization")


register(
    "04", 4,
    prompt="Replace the head of a loaded `r2plus1d_18` for 10 classes: load the weights into "
           "`r2plus1d_18()`, then swap `model.fc`. Why does `load_weights(r2plus1d_18("
           "num_classes=10), path, strict=False)` also work, and what does its report say?",
    hand_in="the set of state_dict keys the report lists as of another shape",
    hint="The report's `mismatched` holds (key, shape in the model, shape in the file).",
    solution="""
        from r21d_edu import load_weights, r2plus1d_18

        kinetics = r2plus1d_18().state_dict()   # stands in for the downloaded file
        report = load_weights(r2plus1d_18(num_classes=10), kinetics, strict=False)
        print(report)
        answer = {key for key, _, _ in report.mismatched}   # {'fc.weight', 'fc.bias'}
    """,
    check=_check_04_4,
)

# ==========================================================================
# Tutorial 05: kernels and feature maps
# ==========================================================================


def _check_05_1(answer: Any) -> str:
    _expect(isinstance(answer, (int, float)) and not isinstance(answer, bool),
            f"hand in a period in pixels (a number), got {answer!r}")
    _expect(abs(float(answer) - 2) < 1e-9,
            f"period {answer} is not it: the response is |sin(π·speed/period)|/√2, largest "
            "when speed/period = 1/2")
    return ("period 2 px: at 1 px/frame the stripes move half a period per frame, so each "
            "pixel flips between light and dark — |sin(π/2)| = 1, the largest change possible")


register(
    "05", 1,
    prompt="Sweep `period` in `motion_tuning` for the frame difference at a fixed speed of "
           "1 px/frame. At which period is the response largest, and why does the formula "
           "predict it?",
    hand_in="the period in pixels",
    hint="The formula is contrast·|sin(π·speed/period)|/√2; sweep periods from 2 to 16.",
    solution="""
        import numpy as np
        from r21d_edu import motion_tuning

        periods = [2, 3, 4, 6, 8, 12, 16]
        rms = [motion_tuning({"[-1, 1]": [-1, 1]}, speeds=[1.0], period=p).curve("[-1, 1]")[0]
               for p in periods]
        answer = periods[int(np.argmax(rms))]   # 2
    """,
    check=_check_05_1,
)


def _check_05_2(answer: Any) -> str:
    from torch import nn

    from .motion import motion_tuning

    _expect(isinstance(answer, nn.Module), f"hand in a conv layer (1 -> 1), got {answer!r}")
    tuning = motion_tuning({"yours": answer}, speeds=[1.0, 2.0],
                           directions=range(0, 360, 30))
    direction, speed = tuning.preferred("yours")
    _expect(direction == 90.0, f"your kernel prefers {direction:g}° (0° = right, 90° = down), "
                               "not 90°: transpose the last two axes (x <-> y)")
    _expect(speed == 2.0, f"it prefers {speed:g} px/frame, not 2: build it with speed=2.0")
    return "it prefers 90° (down) at 2 px/frame"


register(
    "05", 2,
    prompt="Build a kernel that prefers motion **down** at 2 px/frame (hint: "
           "`motion_kernels(speed=2.0)` and transpose the last two axes of its weight). Check "
           "with a polar tuning plot.",
    hand_in="the conv layer (1 -> 1 channel)",
    hint="`motion_kernels(speed=2.0, select=['edge moving right'])` moves right; its weight is "
         "(1, 1, t, d, d) with (y, x) last, so `.transpose(-1, -2)` turns x into y.",
    solution="""
        import torch
        from r21d_edu import motion_kernels, motion_tuning
        from r21d_edu.viz import tuning_polar

        down = motion_kernels(speed=2.0, select=["edge moving right"])
        with torch.no_grad():
            down.weight.copy_(down.weight.transpose(-1, -2).clone())
        sweep = motion_tuning({"down": down}, speeds=[2.0], directions=range(0, 360, 30))
        figure = tuning_polar(sweep)
        answer = down
    """,
    check=_check_05_2,
)


def _ball_frames_left_wins() -> list[int]:
    from .data import bouncing_ball
    from .motion import MOTION_KERNEL_NAMES, motion_kernels
    from .viz.features import layer_output

    bank = motion_kernels()
    ball = bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)
    out = layer_output(bank, ball)[0]
    right, left = (out[MOTION_KERNEL_NAMES.index(n)].pow(2).mean((1, 2))
                   for n in ("edge moving right", "edge moving left"))
    return [t for t in range(1, out.shape[1] - 1) if left[t] > right[t]]


def _check_05_3(answer: Any) -> str:
    from .data import bouncing_ball

    _expect(isinstance(answer, (list, tuple)), f"hand in a list of frame indices, got {answer!r}")
    expected = _ball_frames_left_wins()
    _expect([int(a) for a in answer] == expected,
            f"by the mean squared response per frame (frames 1 to 10, clear of the temporal "
            f"padding) 'edge moving left' wins in frames {expected}, not {list(answer)}")
    ball = bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)
    xs = [round(float(p[1]), 1) for p in ball.positions]
    return (f"frames {expected}: the ball's x position per frame is {xs} — it moves right, "
            "bounces off the right wall between frames 2 and 3, then moves left")


register(
    "05", 3,
    prompt="Feed `bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)` through the "
           "bank: in which frames does \"edge moving left\" win over \"edge moving right\"? "
           "Compare with the ball's `positions`.",
    hand_in="the output frames (1 to 10, clear of the temporal padding) where the mean "
            "squared response of 'edge moving left' is larger, as a list",
    hint="`layer_output(bank, ball)` is (1, 4, T, H, W); average the squares over H and W.",
    solution="""
        from r21d_edu import bouncing_ball, motion_kernels
        from r21d_edu.motion import MOTION_KERNEL_NAMES
        from r21d_edu.viz import layer_output

        bank = motion_kernels()
        ball = bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)
        out = layer_output(bank, ball)[0]
        right = out[MOTION_KERNEL_NAMES.index("edge moving right")].pow(2).mean((1, 2))
        left = out[MOTION_KERNEL_NAMES.index("edge moving left")].pow(2).mean((1, 2))
        answer = [t for t in range(1, 11) if left[t] > right[t]]
        print(answer, "x per frame:", [round(x, 1) for _, x in ball.positions])
    """,
    check=_check_05_3,
)


def _smallest_selective_rank() -> int:
    from .lowrank import factorize
    from .motion import motion_kernels, motion_tuning

    bank = motion_kernels()
    for rank in range(1, 13):
        fit = factorize(bank, rank)
        selective = []
        for channel in (2, 3):  # the two moving edges
            one = _one_channel(fit, channel)
            sweep = motion_tuning({"c": one}, speeds=[1.0], directions=range(0, 360, 30))
            selective.append(sweep.direction_selectivity("c", 1.0))
        if min(selective) > 0.3:
            return rank
    raise RuntimeError("no rank up to 12 keeps both moving edges selective")


def _one_channel(layer: Any, channel: int) -> Any:
    """The 1 -> 1 layer of output `channel` of a linear (2+1)D layer, as a 3D conv."""
    from torch import nn

    from .lowrank import compose

    conv = compose(layer)
    single = nn.Conv3d(1, 1, conv.kernel_size, padding=conv.padding, bias=False,
                       dtype=conv.weight.dtype)
    single.weight.data.copy_(conv.weight.data[channel:channel + 1])
    return single


def _check_05_4(answer: Any) -> str:
    _expect(isinstance(answer, int) and not isinstance(answer, bool),
            f"hand in a rank (int), got {answer!r}")
    rank = _smallest_selective_rank()
    _expect(answer == rank, f"rank {answer} is not the smallest at which both moving-edge "
                            "channels have a direction selectivity above 0.3 at 1 px/frame")
    return (f"rank {rank}: a rank-1 fit cannot tilt at all, and here two middle channels "
            "already give both moving edges their direction — they are shifted copies of one "
            "edge filter, so they can share components")


register(
    "05", 4,
    prompt="Factorize the whole 4-channel bank with `factorize(bank, rank)` for rank 1 to 12. "
           "What is the smallest rank at which both moving-edge channels keep a direction "
           "selectivity above 0.3 (at 1 px/frame)?",
    hand_in="the rank (int)",
    hint="For each rank, compose the fit into a 3D conv, take output channels 2 and 3 as "
         "1 -> 1 convs, and sweep directions with `motion_tuning`.",
    solution="""
        from torch import nn
        from r21d_edu import compose, factorize, motion_kernels, motion_tuning

        bank = motion_kernels()

        def channel(conv, c):
            single = nn.Conv3d(1, 1, conv.kernel_size, padding=conv.padding, bias=False, dtype=conv.weight.dtype)
            single.weight.data.copy_(conv.weight.data[c:c + 1])
            return single

        def selectivity(conv, c):
            sweep = motion_tuning({"c": channel(conv, c)}, speeds=[1.0], directions=range(0, 360, 30))
            return sweep.direction_selectivity("c", 1.0)

        answer = next(rank for rank in range(1, 13)
                      if min(selectivity(compose(factorize(bank, rank)), c) for c in (2, 3)) > 0.3)
        print(answer)
    """,
    check=_check_05_4,
)

# ==========================================================================
# Tutorial 06: the low-rank view
# ==========================================================================


def _check_06_1(answer: Any) -> str:
    full, m = _as_int_tuple(answer, 2, "(full rank, paper's M)")
    _expect(full == 320, f"the unfolded kernel is (C_out·t) × (C_in·d²) = 320 × 1,600, so the "
                         f"full rank is min(320, 1600) = 320, not {full}")
    _expect(m == 266, f"M = floor(125·64·64 / (25·64 + 5·64)) = floor(512,000 / 1,920) = 266, "
                      f"not {m}")
    return "full rank 320, M = 266: 83 % of the full rank (it was 75 % for 3×3×3)"


register(
    "06", 1,
    prompt="Factorize a 5×5×5 conv (64 → 64). What are the full rank and the paper's M, and "
           "what share of the full rank is M now?",
    hand_in="a pair (full rank, paper's M)",
    hint="`energy_profile(nn.Conv3d(64, 64, 5))` has `full_rank` and `paper_rank`.",
    solution="""
        import torch
        from torch import nn
        from r21d_edu import energy_profile

        torch.manual_seed(0)
        profile = energy_profile(nn.Conv3d(64, 64, 5))
        answer = (profile.full_rank, profile.paper_rank)   # (320, 266)
        print(f"M / full rank = {answer[1] / answer[0]:.1%}")
    """,
    check=_check_06_1,
)


def _check_06_2(answer: Any) -> str:
    from .lowrank import energy_profile, smooth_kernel

    _expect(isinstance(answer, dict) and set(map(float, answer)) == {0.0, 0.5, 1.0, 2.0},
            f"hand in {{decay: energy at M = 144}} for decay 0, 0.5, 1 and 2, got {answer!r}")
    truth = {d: energy_profile(smooth_kernel(64, 64, 3, decay=d, seed=0)).energy_at(144)
             for d in (0.0, 0.5, 1.0, 2.0)}
    for d, energy in truth.items():
        got = float(answer[d] if d in answer else answer[int(d)])
        _expect(abs(got - energy) < 1e-6, f"decay {d:g}: expected {energy:.4%} at rank 144 "
                                          f"(smooth_kernel(64, 64, 3, decay=d, seed=0)), got {got}")
    return ("the energy at M = 144 grows with the decay: "
            + ", ".join(f"{d:g} → {e:.2%}" for d, e in truth.items())
            + ". decay = 0 gives every frequency the same weight: white noise, like a random "
              "init, which spreads its energy over all 192 ranks")


register(
    "06", 2,
    prompt="Train nothing: build `smooth_kernel(64, 64, 3, decay=d)` for `d in (0, 0.5, 1, 2)` "
           "and plot the energy at M = 144 against d. What does `decay=0` give?",
    hand_in="a dict {decay: energy at rank 144} for the four decays (seed=0)",
    hint="`energy_profile(smooth_kernel(...)).energy_at(144)`.",
    solution="""
        from r21d_edu import energy_profile, smooth_kernel

        answer = {d: energy_profile(smooth_kernel(64, 64, 3, decay=d, seed=0)).energy_at(144)
                  for d in (0.0, 0.5, 1.0, 2.0)}
        print({d: f"{energy:.2%}" for d, energy in answer.items()})
    """,
    check=_check_06_2,
)

_TEMPORAL_FIRST = {"temporal first", "temporal-then-spatial", "temporal then spatial",
                   "t×1×1 then 1×d×d", "temporal conv first"}


def _check_06_3(answer: Any) -> str:
    _expect(isinstance(answer, str), f"hand in 'temporal first' or 'spatial first', got {answer!r}")
    text = answer.strip().lower()
    _expect(text in _TEMPORAL_FIRST | {"spatial first", "spatial-then-spatial"},
            f"hand in 'temporal first' or 'spatial first', got {answer!r}")
    _expect(text in _TEMPORAL_FIRST,
            "not spatial first: with (C_out·d²) rows and (C_in·t) columns the right factor "
            "maps C_in·t inputs (a time window) to M channels — a t×1×1 conv comes first")
    return ("temporal first: (C_out·d²) × (C_in·t) = [C_out·d² × M]·[M × C_in·t] is a t×1×1 "
            "conv into M channels followed by a 1×d×d conv — what PyTorchVideo's "
            "create_conv_2plus1d does by default")


register(
    "06", 3,
    prompt="Why is time on the rows and space on the columns? Unfold the kernel the other way, "
           "(C_out·d²) × (C_in·t), and say which layer that factorization would describe.",
    hand_in="'temporal first' or 'spatial first'",
    hint="In A = U·V, V acts first on the input's side: which input axes does it see?",
    solution="""
        answer = "temporal first"   # V: (M × C_in·t) is a t×1×1 conv; U: (C_out·d² × M) a 1×d×d conv
    """,
    check=_check_06_3,
)


def _frames_where_bn_shift_breaks() -> list[int]:
    import torch
    from torch import nn

    from .layers import SpatioTemporalConv
    from .lowrank import compose

    torch.manual_seed(0)
    layer = SpatioTemporalConv(8, 8, 3, padding=1).double()
    with torch.no_grad():
        layer.bn.running_mean.normal_()
        layer.bn.running_var.uniform_(0.5, 2)
        layer.bn.bias.normal_()
    layer.eval()
    layer[2] = nn.Identity()
    return _compare_to_folded(layer, compose)


def _compare_to_folded(layer: Any, compose: Any) -> list[int]:
    import torch

    from .layers import SpatioTemporalConv

    bn = layer.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    linear = SpatioTemporalConv(8, 8, 3, padding=1, intermediate_channels=layer.intermediate_channels,
                                middle_bn_relu=False, bias=True).double()
    with torch.no_grad():
        linear.spatial.weight.copy_(layer.spatial.weight * scale.view(-1, 1, 1, 1, 1))
        linear.temporal.weight.copy_(layer.temporal.weight)
        # In the interior every temporal tap sees the shift: it becomes a constant bias.
        linear.temporal.bias.copy_(layer.temporal.bias + (layer.temporal.weight.sum((2, 3, 4))
                                                          @ shift))
    conv = compose(linear)
    clip = torch.randn(1, 8, 6, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        gap = (conv(clip) - layer(clip)).abs().amax((0, 1, 3, 4))
    return [t for t in range(gap.numel()) if gap[t] > 1e-9]


def _check_06_4(answer: Any) -> str:
    _expect(isinstance(answer, (list, tuple)), f"hand in a list of frame indices, got {answer!r}")
    expected = _frames_where_bn_shift_breaks()
    _expect([int(a) for a in answer] == expected,
            f"with BN folded into a 3D conv (scale into the spatial weights, shift into a "
            f"bias) the outputs differ in frames {expected} of 6, not {list(answer)}")
    return ("only the first and the last frame differ: there the temporal conv's zero "
            "padding sees 0 instead of the BN shift, so no constant bias can stand in for it. "
            "In eval mode without the ReLU the layer is a 3D conv everywhere but at the borders")


register(
    "06", 4,
    prompt="Take `layer = SpatioTemporalConv(8, 8, 3, padding=1).eval()` and drop only its ReLU "
           "with `layer[2] = nn.Identity()`. BatchNorm in eval mode is a per-channel scale and "
           "shift: is the layer a 3D conv now? Compare it with a 3D conv at the first and last "
           "frames. (Hint: what does the temporal conv's zero padding do to the shift?)",
    hand_in="the output frames (of a 6-frame clip) where the layer differs from its best 3D "
            "conv (BN scale folded into the spatial weights, BN shift into a bias), as a list",
    hint="Fold BN: spatial weights × scale; the shift reaches the output through the temporal "
         "weights, Σ_τ w[o, m, τ]·shift[m] — but only for taps that do not fall on padding.",
    solution="""
        import torch
        from torch import nn
        from r21d_edu import SpatioTemporalConv, compose

        torch.manual_seed(0)
        layer = SpatioTemporalConv(8, 8, 3, padding=1).double()
        with torch.no_grad():  # BatchNorm statistics as after training
            layer.bn.running_mean.normal_()
            layer.bn.running_var.uniform_(0.5, 2)
            layer.bn.bias.normal_()
        layer.eval()
        layer[2] = nn.Identity()

        bn = layer.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        linear = SpatioTemporalConv(8, 8, 3, padding=1, intermediate_channels=layer.intermediate_channels,
                                    middle_bn_relu=False, bias=True).double()
        with torch.no_grad():
            linear.spatial.weight.copy_(layer.spatial.weight * scale.view(-1, 1, 1, 1, 1))
            linear.temporal.weight.copy_(layer.temporal.weight)
            linear.temporal.bias.copy_(layer.temporal.bias + layer.temporal.weight.sum((2, 3, 4)) @ shift)
        conv3d = compose(linear)
        clip = torch.randn(1, 8, 6, 8, 8, dtype=torch.float64)
        with torch.no_grad():
            gap = (conv3d(clip) - layer(clip)).abs().amax((0, 1, 3, 4))
        answer = [t for t in range(6) if gap[t] > 1e-9]   # [0, 5]: the first and last frames
    """,
    check=_check_06_4,
)
