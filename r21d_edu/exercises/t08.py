"""Self-checks for tutorial 08's exercises (Factorize a network), registered like 01–06's.

Imported by `r21d_edu.exercises.all_exercises` through ``PROVIDERS``, so the
tests run every solution below through its check without opening the notebook.
"""

from __future__ import annotations

import numbers
from typing import Any

from ._base import register
from .answers import (
    Anything,
    Function,
    Incorrect,
    Int,
    MappingOf,
    Number,
    TupleOf,
    describe,
)
from .behaviour import draws

__all__: list[str] = []


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Incorrect(message)


def _side(got: float, want: float, large: str = "too large", small: str = "too small") -> str:
    return large if got > want else small


# --------------------------------------------------------------------------
# 08.1: which convs of R3D-18 are factorized
# --------------------------------------------------------------------------


def _r3d_conv_counts() -> tuple[int, int]:
    import torch
    from torch import nn

    from ..models import r3d_18
    from ..netfactor import is_eligible

    with torch.device("meta"):
        convs = [m for m in r3d_18().modules() if isinstance(m, nn.Conv3d)]
    factorized = sum(is_eligible(m) for m in convs)
    return factorized, len(convs) - factorized


def _check_08_1(answer: Any) -> str:
    replaced, kept = answer
    want_replaced, want_kept = _r3d_conv_counts()
    total, want_total = replaced + kept, want_replaced + want_kept
    _expect(total == want_total,
            f"{replaced} + {kept} = {total} Conv3d in all is {_side(total, want_total)}: count "
            "every nn.Conv3d of r3d_18().modules() — the stem's, the blocks' and the "
            "shortcuts'")
    _expect(replaced == want_replaced,
            f"the total is right, but {replaced} factorized is {_side(replaced, want_replaced)}"
            ": a conv is replaced when its kernel is t×d×d with t > 1 and d > 1 — look at "
            "each conv's kernel_size, the shortcuts' too")
    return (f"{want_replaced} factorized, {want_kept} kept: the shortcuts of layer2-4 are "
            "1×1×1 convs, with nothing to split between space and time")


register(
    "08", 1,
    prompt="How many of R3D-18's `nn.Conv3d` does `factorize_network` replace, and how many "
           "does it keep as they are?",
    hand_in="a pair (factorized, kept)",
    hint=["Not every Conv3d has both a time extent and a space extent to split: which kernels "
          "of R3D-18 are t×d×d with t > 1 and d > 1?",
          "`r21d_edu.netfactor.is_eligible(module)` says whether a module would be replaced; "
          "count the `nn.Conv3d` of `r3d_18().modules()` with and without it."],
    solution="""
        from torch import nn
        from r21d_edu import r3d_18
        from r21d_edu.netfactor import is_eligible

        convs = [m for m in r3d_18().modules() if isinstance(m, nn.Conv3d)]
        factorized = sum(is_eligible(m) for m in convs)
        answer = (factorized, len(convs) - factorized)   # (17, 3)
    """,
    check=_check_08_1,
    expects=TupleOf(("factorized", Int(minimum=0)), ("kept", Int(minimum=0))),
)


# --------------------------------------------------------------------------
# 08.2: full rank costs more than the 3D conv
# --------------------------------------------------------------------------


def _check_08_2(answer: Any) -> str:
    full, params = answer
    c, t, d = 128, 3, 3
    want_full = min(c * t, c * d * d)
    _expect(full == want_full,
            f"a full rank of {full} is {_side(full, want_full)}: the unfolded kernel is "
            "(C_out·t) × (C_in·d·d), and its rank is at most its smaller side — a random "
            "kernel reaches that bound")
    per_channel = c * d * d + c * t
    expected = want_full * per_channel
    _expect(params == expected,
            f"the full rank is right, but {params:,} weights are {_side(params, expected)}: "
            "each intermediate channel is one spatial kernel C_in×d×d and one temporal kernel "
            "C_out×t, and the full-rank layer has as many channels as the rank")
    return (f"({want_full}, {expected:,}): {expected:,} weights against the 3D conv's 442,368 "
            "(133 %): an exact (2+1)D copy is larger than the 3D conv, so a factorization "
            "only saves parameters below M = 442,368 / 1,536 = 288 — the paper's M")


register(
    "08", 2,
    prompt="Take a 3×3×3 conv from 128 to 128 channels (R3D-18's layer2). What is its full "
           "rank, and how many weights does its exact (full-rank) (2+1)D layer have?",
    hand_in="a pair (full rank, weights of the full-rank (2+1)D layer, no bias)",
    hint=["The exact (2+1)D layer has as many intermediate channels as the unfolded kernel's "
          "rank. How is the kernel unfolded (tutorial 06), and what does one channel cost?",
          "Unfold as (C_out·t) × (C_in·d·d): the full rank is the smaller side; one "
          "intermediate channel costs C_in·d² + C_out·t weights. `network_profile` of a "
          "one-conv network shows `full_rank` and `params_at(rank)`."],
    solution="""
        import torch
        from torch import nn
        from r21d_edu import network_profile

        torch.manual_seed(0)
        conv = nn.Sequential(nn.Conv3d(128, 128, 3, padding=1, bias=False))
        layer = network_profile(conv).layers[0]
        answer = (layer.full_rank, layer.params_at(layer.full_rank))   # (384, 589824)
    """,
    check=_check_08_2,
    expects=TupleOf(("full rank", Int(minimum=1)), ("weights", Int(minimum=1))),
)


# --------------------------------------------------------------------------
# 08.3: how a budget is shared out
# --------------------------------------------------------------------------


def _budget_ranks() -> dict[str, int]:
    import torch
    from torch import nn

    from ..netfactor import network_profile

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(8, 16, 3, padding=1), nn.ReLU(),
                        nn.Conv3d(16, 16, 3, padding=1))
    with torch.no_grad():  # a second layer whose energy sits in a few directions
        net[2].weight.mul_(torch.linspace(1, 0.05, 16).view(16, 1, 1, 1, 1))
    return network_profile(net).plan(budget=0.5).ranks


_BUDGET_SETUP = """
        import torch
        from torch import nn

        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv3d(8, 16, 3, padding=1), nn.ReLU(),
                            nn.Conv3d(16, 16, 3, padding=1))
        with torch.no_grad():  # a second layer whose energy sits in a few directions
            net[2].weight.mul_(torch.linspace(1, 0.05, 16).view(16, 1, 1, 1, 1))
"""


def _check_08_3(answer: Any) -> str:
    expected = _budget_ranks()
    given = {str(k): v for k, v in answer.items()}
    _expect(set(given) == set(expected),
            f"the two convs are named {sorted(expected)} (their positions in the Sequential), "
            f"got {sorted(given)}")
    for name in sorted(expected):
        _expect(given[name] == expected[name],
                f"layer {name!r}: M = {given[name]} is {_side(given[name], expected[name])} "
                "for budget=0.5 — the plan gives each channel to the layer whose next singular "
                "value buys the most energy share per weight, until half the weights are spent")
    return (f"M = {expected}: each channel goes where it buys the most energy share per "
            "weight, so the layer whose energy sits in few directions needs fewer channels")


register(
    "08", 3,
    prompt="Share half of a small network's parameters between its two convs "
           "(`budget=0.5`). Which M does each conv get? Set up the network with the code in "
           "the hint.",
    hand_in="a dict layer name -> M (the report's `ranks`)",
    hint=["Set up the network with the code below, then let the library share the budget "
          "out: which of its functions profiles a network and plans its ranks?"
          + _BUDGET_SETUP.replace("\n        ", "\n"),
          "`network_profile(net).plan(budget=0.5).ranks`."],
    solution=_BUDGET_SETUP + """
        from r21d_edu import network_profile

        report = network_profile(net).plan(budget=0.5)
        print(report)
        answer = report.ranks
    """,
    check=_check_08_3,
    expects=MappingOf(Anything("a layer name"), Int(minimum=1),
                      "a dict layer name -> M, like {'0': 5, '2': 9}"),
)


# --------------------------------------------------------------------------
# 08.4: compose a factorized network back into 3D convs
# --------------------------------------------------------------------------


def _check_08_4(answer: Any) -> str:
    _expect(answer < 1e-9, f"{answer:.3g} is too large for float64: composing a linear (2+1)D "
                           "layer gives the same function; did you compare against the "
                           "original network instead of the factorized one, or run in float32?")
    # The bound, not the value: what lies under it is rounding noise that differs between CPUs.
    return ("below 1e-9, rounding only. A linear factorization is a 3D conv of rank ≤ M, so "
            "the composed network is the factorized one, written as 3D convs")


register(
    "08", 4,
    prompt="Factorize `family_model('r3d')` in float64 at `energy=0.6`, compose it back with "
           "`compose_network`, and compare both on a random clip (1, 1, 8, 32, 32) in eval "
           "mode. What is the largest absolute difference of their outputs?",
    hand_in="a float",
    hint="`compose_network(factorize_network(model, energy=0.6))`; compare "
         "`(a(x) - b(x)).abs().max()` under `torch.no_grad()`.",
    solution="""
        import torch
        from r21d_edu import compose_network, factorize_network
        from r21d_edu.family import family_model

        torch.manual_seed(0)
        model = family_model("r3d").double().eval()
        low = factorize_network(model, energy=0.6)
        back = compose_network(low)
        x = torch.randn(1, 1, 8, 32, 32, dtype=torch.float64)
        with torch.no_grad():
            answer = float((low(x) - back(x)).abs().max())
    """,
    check=_check_08_4,
    expects=Number(minimum=0.0),
)


# --------------------------------------------------------------------------
# 08.5: the rank that keeps an energy (coding, checked by behaviour)
# --------------------------------------------------------------------------

RANK_CASES = 6


def _rank_cases(seed: int = 805) -> list[tuple[str, Any, float]]:
    """(label, singular values (descending, float64), energy): random kernels' spectra,
    energy 1.0, ties, an energy that falls exactly on a rank's share, a concentrated
    spectrum and a rank-deficient kernel."""
    import torch

    from ..lowrank import unfold_kernel

    rng = draws(seed)
    generator = torch.Generator().manual_seed(rng.randrange(2**31))

    def spectrum(shape: tuple[int, ...]) -> Any:
        return torch.linalg.svdvals(unfold_kernel(
            torch.randn(shape, generator=generator, dtype=torch.float64)))

    c_out, c_in = rng.randint(3, 6), rng.randint(2, 4)
    random_kernel = (c_out, c_in, 3, 3, 3)
    other = (rng.randint(4, 8), rng.randint(2, 4), 3, 3, 3)
    low = torch.randn(6, 2, generator=generator, dtype=torch.float64) @ torch.randn(
        2, 12, generator=generator, dtype=torch.float64)   # a rank-2 (6, 12) unfolded kernel
    cases = [
        (f"the singular values of a random {random_kernel} kernel", spectrum(random_kernel),
         round(rng.uniform(0.6, 0.95), 2)),
        (f"the singular values of a random {other} kernel", spectrum(other), 1.0),
        ("singular values (2, 2, 1, 1)", torch.tensor([2.0, 2.0, 1.0, 1.0],
                                                       dtype=torch.float64), 0.4),
        ("five equal singular values (1, 1, 1, 1, 1)", torch.ones(5, dtype=torch.float64),
         0.5),
        ("singular values (10, 1, 0.1, 0.01)", torch.tensor([10.0, 1.0, 0.1, 0.01],
                                                             dtype=torch.float64), 0.05),
        ("the 6 singular values of a rank-2 unfolded kernel (6 × 12)",
         torch.linalg.svdvals(low), 1.0),
    ]
    return [(f"case {k + 1}: {label}, energy={energy:g}", values, energy)
            for k, (label, values, energy) in enumerate(cases)]


def _library_rank(values: Any, energy: float) -> int:
    """What `r21d_edu.netfactor` chooses: `ConvProfile.rank_for` on these singular values."""
    from ..netfactor import ConvProfile

    profile = ConvProfile("case", 1, 1, (1, 1, 1), (1, 1, 1), False,
                          tuple(float(v) for v in values))
    return profile.rank_for(energy)


def _check_08_5(rank_for_energy: Any) -> str:
    from .behaviour import call

    assert len(_rank_cases()) == RANK_CASES
    for case, values, energy in _rank_cases():
        want = _library_rank(values, energy)
        got = call(rank_for_energy, values.clone(), energy, case=case,
                   what="rank_for_energy(singular_values, energy)")
        if hasattr(got, "item") and getattr(got, "ndim", 1) == 0:
            got = got.item()  # a 0-d tensor or a NumPy scalar
        if isinstance(got, bool) or not isinstance(got, (numbers.Integral, float)) or (
                isinstance(got, float) and not got.is_integer()):
            raise Incorrect(f"{case}: rank_for_energy returned {describe(got)}; return the "
                            "rank as an int")
        got = int(got)
        full = len(values)
        _expect(1 <= got <= full, f"{case}: rank {got} is outside 1 … {full}, the ranks "
                                  f"{full} singular values allow")
        if got != want:
            squares = values.double() ** 2
            kept = float(squares[:got].sum() / squares.sum())
            if got > want:
                raise Incorrect(f"{case}: rank {got} is too large — a smaller rank already "
                                f"keeps at least {energy:g} of the squared singular values; "
                                "the exercise asks for the smallest")
            raise Incorrect(f"{case}: rank {got} is too small — it keeps {kept:.4f} of the "
                            f"squared singular values, less than the {energy:g} asked")
    return (f"the same rank as r21d_edu.netfactor on all {RANK_CASES} cases: the energy a "
            "rank keeps is its share of the squared singular values, and the rank asked for "
            "is the first whose share reaches the target (with a hair of tolerance, so that "
            "energy=1.0 is met despite rounding). This is how factorize_network(energy=...) "
            "chooses M for each layer")


register(
    "08", 5,
    prompt="Write how `factorize_network(energy=...)` chooses M: `rank_for_energy("
           "singular_values, energy)` takes the singular values of an unfolded kernel (a 1-D "
           "float64 tensor, largest first) and an energy share 0 < energy ≤ 1, and returns "
           "the smallest rank r whose top r singular values keep at least that share of the "
           "energy, as `r21d_edu.netfactor` defines it.",
    hand_in="your function rank_for_energy (the function itself, not a call)",
    hint=["Energy is not the singular values themselves: tutorial 06 measured it as a share "
          "of their squares. Which share does rank r keep, and which rank is the first to "
          "reach the target — including when the target falls exactly on a rank's share?",
          "Square the values, take the running sum over ranks divided by the total, and "
          "return the first rank (counting from 1) whose share is ≥ energy − 1e-12: the "
          "hair of tolerance keeps energy=1.0 from failing by rounding."],
    solution="""
        import torch

        def rank_for_energy(singular_values, energy):
            ### BEGIN SOLUTION
            squares = [float(s) ** 2 for s in singular_values]
            total, running = sum(squares), 0.0
            for rank, square in enumerate(squares, start=1):
                running += square
                if running / total >= energy - 1e-12:   # a hair of tolerance for energy=1.0
                    return rank
            return len(squares)
            ### END SOLUTION

        answer = rank_for_energy
    """,
    check=_check_08_5,
    expects=Function("a function rank_for_energy(singular_values, energy)"),
)
