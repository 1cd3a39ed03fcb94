"""Self-checks for tutorial 07's exercises ("Does factorization train better?").

Registered with `r21d_edu.exercises` like every tutorial's; listed in its
``PROVIDERS`` so `all_exercises()` and the tests find them without a notebook.
Exercise 2 reads the committed results in ``experiments/family/`` of a checkout
(they are not installed with the package); exercise 5 is a coding exercise, checked
by behaviour against `r21d_edu.stats` on drawn samples and, in a checkout, on the
committed confirmatory results.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..stats import paired_difference
from ._base import register
from .answers import Bool, Function, Incorrect, Int, Number, TupleOf, describe
from .behaviour import call, draws

#: The committed results, found from the package root (a checkout, not an installed package).
EXPERIMENTS = Path(__file__).resolve().parent.parent.parent / "experiments"
RESULTS = EXPERIMENTS / "family" / "results.csv"
CONFIRMATORY = EXPERIMENTS / "confirmatory" / "results.csv"


def paired_columns(path: Path, a: str, b: str,
                   metric: str = "test_accuracy") -> tuple[list[float], list[float]]:
    """Model `a`'s and model `b`'s `metric` from a committed results CSV, paired by seed
    (the seeds both ran, in increasing order)."""
    with open(path, newline="") as f:
        by = {(r["model"], int(r["seed"])): float(r[metric]) for r in csv.DictReader(f)}
    seeds = sorted(s for m, s in by if m == b and (a, s) in by)
    return [by[a, s] for s in seeds], [by[b, s] for s in seeds]


def _committed_difference(a: str, b: str):
    if not RESULTS.exists():
        raise Incorrect(f"the committed results are not here ({RESULTS} is missing): this "
                        "exercise needs a checkout of the repository, not only the package")
    return paired_difference(*paired_columns(RESULTS, a, b))


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
    difference = _committed_difference("rmc3", "r3d")
    if answer != difference.exceeds_noise:
        raise Incorrect(
            f"{answer} is not what the committed results say: the gap between two means is "
            "not the test — pair the two models by seed, compute the 95 % interval of "
            "rmc3 − r3d, and look at whether it contains 0")
    return (f"rmc3 − r3d = {difference.format()} points of test accuracy over "
            f"{difference.n} seeds: {'more' if difference.exceeds_noise else 'no more'} than "
            "the seed-to-seed noise. The gap between the means is larger than the one the "
            "confirmatory study established for r2plus1d − r3d, yet 3 seeds cannot tell it "
            "from noise: the per-seed differences spread widely (one r3d run stays far "
            "below its other two), and with t(0.975, 2) the interval is sized on that "
            "spread")


register(
    "07", 2,
    prompt="In the committed 3-seed results (experiments/family/results.csv), rmc3's mean "
           "test accuracy is far above r3d's. Is the difference between the two larger "
           "than the seed-to-seed noise?",
    hand_in="a bool: True if the 95 % interval of the paired difference excludes 0",
    hint="Pair the two models by seed and use r21d_edu.stats.paired_difference; its "
         "exceeds_noise says whether the interval excludes 0.",
    solution="import csv\n"
             "from r21d_edu.stats import paired_difference\n"
             "from r21d_edu.exercises.t07 import RESULTS\n"
             "rows = list(csv.DictReader(open(RESULTS)))\n"
             "acc = {(r['model'], r['seed']): float(r['test_accuracy']) for r in rows}\n"
             "seeds = sorted(s for m, s in acc if m == 'r3d' and ('rmc3', s) in acc)\n"
             "answer = paired_difference([acc['rmc3', s] for s in seeds],\n"
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


def _middle_bn_share() -> tuple[int, int]:
    """(parameters r2plus1d has more than r2plus1d-linear in the first (2+1)D conv of
    stage 2, in the whole network): counted on the library's own models."""
    from ..family import family_model, family_parameters

    def first_of_stage_2(name: str) -> int:
        return sum(p.numel() for p in family_model(name).layer2[0].conv1[0].parameters())

    conv = first_of_stage_2("r2plus1d") - first_of_stage_2("r2plus1d-linear")
    counts = family_parameters()
    return conv, counts["r2plus1d"] - counts["r2plus1d-linear"]


def _check_07_4(answer: Any) -> str:
    expected, whole = _middle_bn_share()
    if answer != expected:
        if answer == whole:
            raise Incorrect(f"{answer:,} is the difference of the whole networks; the "
                            "question asks for the share of one conv, the first (2+1)D conv "
                            "of stage 2")
        side = "more" if answer > expected else "fewer"
        raise Incorrect(f"{answer:,} is {side} than that conv's share: compare the conv's "
                        "modules in the two networks (print them, and count each one's "
                        "parameters) and see what r2plus1d-linear lacks")
    return (f"{expected} = 2·M with M = {expected // 2} (exercise 1): the weight and bias of "
            "the middle BatchNorm, one pair per intermediate channel. Summed over every "
            f"(2+1)D conv, 2·ΣM = {whole:,} is the whole difference in the table; the convs "
            "keep every weight, so the linear ablation removes the non-linearity, not capacity")


register(
    "07", 4,
    prompt="The parameter counts above show r2plus1d-linear slightly smaller than r2plus1d. "
           "Where is the difference? Find how much of it lies in the first (2+1)D conv of "
           "stage 2 (16 → 32 channels, `family_model(name).layer2[0].conv1[0]`, the conv of "
           "exercise 1): how many parameters does that conv have more in r2plus1d than in "
           "r2plus1d-linear?",
    hand_in="an int",
    hint=["Print the conv in both networks and compare: which of its modules hold "
          "parameters in one and are missing from the other?",
          "The middle BatchNorm learns a weight and a bias per channel it normalizes; "
          "sum(p.numel() for p in conv.parameters()) of each network's conv, subtracted, "
          "gives the share."],
    solution="from r21d_edu.family import family_model\n"
             "full = family_model('r2plus1d').layer2[0].conv1[0]\n"
             "linear = family_model('r2plus1d-linear').layer2[0].conv1[0]\n"
             "answer = (sum(p.numel() for p in full.parameters())\n"
             "          - sum(p.numel() for p in linear.parameters()))",
    check=_check_07_4,
    expects=Int(),
)


# --------------------------------------------------------------------------
# 07.5: a paired interval by hand (coding, checked by behaviour)
# --------------------------------------------------------------------------

#: Tolerance on the half-width, relative: the library's 95 % quantile is tabulated to
#: 3 decimals (`t_quantile_975`), so an interval built on it or on `t_quantile` both pass;
#: the mistakes this exercise is about (z for t, df = n, ddof = 0, unpaired) are all
#: further off than this at the drawn sample sizes.
HALF_WIDTH_RTOL = 1e-3


def _accuracies(rng: Any, n: int) -> tuple[list[float], list[float]]:
    """Two models' test accuracies on `n` seeds, paired: each seed moves both (it fixes
    the data order), so the per-seed differences vary less than either column."""
    a, b = [], []
    for _ in range(n):
        seed_effect = rng.uniform(0.55, 0.9)
        a.append(round(min(1.0, seed_effect + rng.uniform(0.0, 0.1)), 3))
        b.append(round(min(1.0, seed_effect + rng.uniform(-0.05, 0.05)), 3))
    return a, b


def _interval_cases(seed: int = 705) -> list[tuple[str, list[float], list[float], float]]:
    """(label, a, b, confidence): random paired accuracies at 95 %, the smallest n (3),
    random ones at 90 %, identical samples (an interval of width 0) and, in a checkout,
    the committed confirmatory r2plus1d and r3d test accuracies."""
    rng = draws(seed)
    first = _accuracies(rng, rng.randint(6, 12))
    smallest = _accuracies(rng, 3)
    ninety = _accuracies(rng, rng.randint(3, 12))
    same = _accuracies(rng, rng.randint(3, 12))[0]
    cases = [
        ("random paired accuracies", *first, 0.95),
        ("random paired accuracies, as few seeds as the exploratory study ran", *smallest, 0.95),
        ("random paired accuracies", *ninety, 0.9),
        ("two identical samples", same, list(same), 0.95),
    ]
    if CONFIRMATORY.exists():  # an installed package has no experiments/: four cases then
        cases.append(("the committed confirmatory r2plus1d and r3d test accuracies",
                      *paired_columns(CONFIRMATORY, "r2plus1d", "r3d"), 0.95))
    return [(f"case {k + 1}: {label} (n={len(a)}), confidence={confidence:g}", a, b,
             confidence) for k, (label, a, b, confidence) in enumerate(cases)]


def _library_interval(a: list[float], b: list[float],
                      confidence: float) -> tuple[float, float]:
    """(mean difference, half-width) as `r21d_edu.stats` computes them: the mean and the
    sample standard deviation of the differences from `paired_difference`, the quantile
    from `t_quantile` at n − 1 degrees of freedom (any confidence, not only 95 %)."""
    import math

    from ..stats import t_quantile

    difference = paired_difference(a, b)
    n = difference.n
    return difference.mean, t_quantile((1 + confidence) / 2, n - 1) * difference.std / math.sqrt(n)


def _three_numbers(got: Any, case: str) -> tuple[float, float, float]:
    import math

    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise Incorrect(f"{case}: paired_interval returned {describe(got)}; return a tuple "
                        "(mean_difference, low, high)")
    values = []
    for name, value in zip(("mean_difference", "low", "high"), got):
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()  # a 0-d tensor or a NumPy scalar
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Incorrect(f"{case}: {name} is {describe(value)}, not a number")
        if not math.isfinite(value):
            raise Incorrect(f"{case}: {name} is {value!r}, not a finite number — does "
                            "something divide by a standard deviation of 0?")
        values.append(float(value))
    return values[0], values[1], values[2]


def _check_07_5(paired_interval: Any) -> str:
    cases = _interval_cases()
    for case, a, b, confidence in cases:
        got = call(paired_interval, list(a), list(b), confidence, case=case,
                   what="paired_interval(a, b, confidence)")
        mean, low, high = _three_numbers(got, case)
        want_mean, want_half = _library_interval(a, b, confidence)
        tiny = 1e-12
        if abs(mean - want_mean) > tiny + 1e-9 * abs(want_mean):
            side = "larger" if mean > want_mean else "smaller"
            raise Incorrect(f"{case}: mean_difference is {side} than the mean of the "
                            "per-seed differences a[i] − b[i]")
        if low > high:
            raise Incorrect(f"{case}: low is above high; return (mean_difference, low, high)")
        half = (high - low) / 2
        if abs((low + high) / 2 - want_mean) > tiny + 1e-6 * max(half, abs(want_mean)):
            raise Incorrect(f"{case}: the interval is centred wrong — a t interval is "
                            "symmetric about the mean difference, but (low + high) / 2 is "
                            "not it")
        if abs(half - want_half) > tiny + HALF_WIDTH_RTOL * want_half:
            side = "too wide" if half > want_half else "too narrow"
            raise Incorrect(f"{case}: the interval is {side} for a {confidence:g} t interval "
                            f"of {len(a)} paired differences")
    return (f"the same interval as r21d_edu.stats on all {len(cases)} cases: the mean of "
            "the per-seed differences ± t((1 + c) / 2, n − 1) · s / √n, with s their sample "
            "standard deviation. Pairing is what makes it narrow: the seed moves both "
            "models, and the difference removes it. Apply it to the confirmatory results "
            "and the primary row of the summary table comes back")


register(
    "07", 5,
    prompt="Write the interval that judges every comparison in this tutorial: "
           "`paired_interval(a, b, confidence=0.95)` takes two equal-length sequences of "
           "per-seed accuracies, a[i] and b[i] from the same seed i, and returns "
           "(mean_difference, low, high): the mean of the differences a[i] − b[i] and the "
           "Student-t interval of that mean at the given confidence. "
           "`r21d_edu.stats.t_quantile(p, df)` gives the t quantile (no SciPy needed).",
    hand_in="your function paired_interval (the function itself, not a call)",
    hint=["The seed moves both models, so the interval is built on the n per-seed "
          "differences, not on the two columns apart. How many degrees of freedom does a "
          "standard deviation estimated from n values leave, and which quantile leaves "
          "(1 − confidence) / 2 in each tail?",
          "Differences d[i] = a[i] − b[i]; their mean d̄ and sample standard deviation s "
          "(divide by n − 1); half-width t_quantile((1 + confidence) / 2, n − 1) · s / √n; "
          "return (d̄, d̄ − half, d̄ + half)."],
    solution="""
        from r21d_edu.stats import t_quantile

        def paired_interval(a, b, confidence=0.95):
            ### BEGIN SOLUTION
            differences = [x - y for x, y in zip(a, b)]
            n = len(differences)
            mean = sum(differences) / n
            s = (sum((d - mean) ** 2 for d in differences) / (n - 1)) ** 0.5
            half = t_quantile((1 + confidence) / 2, n - 1) * s / n ** 0.5
            return mean, mean - half, mean + half
            ### END SOLUTION

        answer = paired_interval
    """,
    check=_check_07_5,
    expects=Function("a function paired_interval(a, b, confidence=0.95)"),
)
