"""Self-checks for tutorial 07's exercises ("Does factorization train better?").

Registered with `r21d_edu.exercises` like every tutorial's; listed in its
``PROVIDERS`` so `all_exercises()` and the tests find them without a notebook.
Exercise 2 reads the committed results in ``experiments/family/`` of a checkout
(they are not installed with the package).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..stats import paired_difference
from ._base import register
from .answers import Bool, Incorrect, Int, Number, TupleOf

RESULTS = Path(__file__).resolve().parent.parent.parent / "experiments" / "family" / "results.csv"


def _committed_difference():
    if not RESULTS.exists():
        raise Incorrect(f"the committed results are not here ({RESULTS} is missing): this "
                        "exercise needs a checkout of the repository, not only the package")
    with open(RESULTS) as f:
        rows = list(csv.DictReader(f))
    by = {(r["model"], int(r["seed"])): float(r["test_accuracy"]) for r in rows}
    seeds = sorted(s for m, s in by if m == "r3d" and ("r2plus1d", s) in by)
    return paired_difference([by["r2plus1d", s] for s in seeds], [by["r3d", s] for s in seeds])


def _side(given: int, wanted: int) -> str:
    return "too many" if given > wanted else "too few"


def _check_07_1(answer: Any) -> str:
    m, factorized, full = answer
    if m != 57:
        raise Incorrect(f"M = {m} is {_side(m, 57)}: the formula is "
                        "⌊t·d²·N_in·N_out / (d²·N_in + t·N_out)⌋, rounded down")
    if full != 27 * 16 * 32:
        raise Incorrect(f"M is right, but {full:,} weights for the 3D conv is "
                        f"{_side(full, 27 * 16 * 32)}: it has one t×d×d kernel per pair of "
                        "input and output channels")
    if factorized != 9 * 16 * 57 + 3 * 57 * 32:
        raise Incorrect(f"M and the 3D conv are right, but {factorized:,} weights for the "
                        f"(2+1)D conv is {_side(factorized, 9 * 16 * 57 + 3 * 57 * 32)}: "
                        "count the spatial conv (N_in → M) and the temporal conv (M → N_out) "
                        "apart")
    return ("57 channels keep the (2+1)D conv 144 weights under the 3D conv's 13,824: the "
            "floor of the formula never overshoots the budget")


register(
    "07", 1,
    prompt="The first conv of stage 2 of the small networks goes from 16 to 32 channels with "
           "a 3×3×3 kernel. What M does the paper's formula give, and how many weights do the "
           "(2+1)D and the 3D conv have?",
    hand_in="a tuple (M, weights of the (2+1)D conv, weights of the 3D conv), all ints",
    hint="intermediate_channels(16, 32, 3) gives M; a (2+1)D conv has d²·N_in·M + t·M·N_out "
         "weights, a 3D conv t·d²·N_in·N_out.",
    solution="from r21d_edu import intermediate_channels\n"
             "m = intermediate_channels(16, 32, 3)\n"
             "answer = (m, 9 * 16 * m + 3 * m * 32, 27 * 16 * 32)",
    check=_check_07_1,
    expects=TupleOf(("M", Int(minimum=1)), ("weights of the (2+1)D conv", Int(minimum=1)),
                    ("weights of the 3D conv", Int(minimum=1))),
)


def _check_07_2(answer: Any) -> str:
    difference = _committed_difference()
    if answer != difference.exceeds_noise:
        raise Incorrect(
            f"{answer} is not what the committed results say: pair the two models by seed, "
            "compute the 95 % interval of r2plus1d − r3d, and look at whether it contains 0")
    return (f"r2plus1d − r3d = {difference.format()} points of test accuracy over "
            f"{difference.n} seeds: {'more' if difference.exceeds_noise else 'no more'} than "
            "the seed-to-seed noise")


register(
    "07", 2,
    prompt="From the committed results (experiments/family/results.csv), is the difference "
           "in test accuracy between r2plus1d and r3d larger than the seed-to-seed noise?",
    hand_in="a bool: True if the 95 % interval of the paired difference excludes 0",
    hint="Pair the two models by seed and use r21d_edu.stats.paired_difference; its "
         "exceeds_noise says whether the interval excludes 0.",
    solution="import csv\n"
             "from r21d_edu.stats import paired_difference\n"
             "from r21d_edu.exercises.t07 import RESULTS\n"
             "rows = list(csv.DictReader(open(RESULTS)))\n"
             "acc = {(r['model'], r['seed']): float(r['test_accuracy']) for r in rows}\n"
             "seeds = sorted(s for m, s in acc if m == 'r3d' and ('r2plus1d', s) in acc)\n"
             "answer = paired_difference([acc['r2plus1d', s] for s in seeds],\n"
             "                           [acc['r3d', s] for s in seeds]).exceeds_noise",
    check=_check_07_2,
    expects=Bool(),
)


def _check_07_3(answer: Any) -> str:
    if abs(answer - 0.5) > 1e-9:
        raise Incorrect(f"{answer:g} is not the best such a model can do: once the axis is "
                        "known, how many of the 8 directions are left, and how likely is each?")
    return ("1 in 2 = 50 %, four times chance (12.5 %): the set of positions shows the axis, "
            "only the order shows which way along it")


register(
    "07", 3,
    prompt="A model that sees the frames in a random order can still tell the axis along which "
           "the shape moves (its positions lie on a line), but not the sign. With the 8 "
           "directions of the task, what is the best accuracy it can reach?",
    hand_in="a float in [0, 1]",
    hint="Each of the 4 axes holds two opposite directions, equally likely.",
    solution="directions_per_axis = 8 // 4\n"
             "answer = 1 / directions_per_axis  # the axis is known, the sign is a coin toss",
    check=_check_07_3,
    expects=Number(share=True),
)


def _check_07_4(answer: Any) -> str:
    from ..family import family_parameters

    counts = family_parameters()
    expected = counts["r2plus1d"] - counts["r2plus1d-linear"]
    if answer != expected:
        side = "more" if answer > expected else "fewer"
        raise Incorrect(f"{answer:,} is {side} than the difference: count both networks' "
                        "parameters (family_parameters) and subtract")
    return (f"{expected:,} = 2·ΣM: the weight and bias of every middle BatchNorm; the convs "
            "keep every weight, so the linear ablation removes the non-linearity, not capacity")


register(
    "07", 4,
    prompt="How many parameters does r2plus1d-linear have fewer than r2plus1d, and where are "
           "they?",
    hand_in="an int",
    hint="r21d_edu.family.family_parameters() counts every member; the middle BatchNorm of a "
         "(2+1)D conv has 2·M parameters.",
    solution="from r21d_edu.family import family_parameters\n"
             "counts = family_parameters()\n"
             "answer = counts['r2plus1d'] - counts['r2plus1d-linear']",
    check=_check_07_4,
    expects=Int(),
)
