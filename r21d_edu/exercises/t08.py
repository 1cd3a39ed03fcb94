"""Self-checks for tutorial 08's exercises (Factorize a network), registered like 01–06's.

Imported by `r21d_edu.exercises.all_exercises` through ``PROVIDERS``, so the
tests run every solution below through its check without opening the notebook.
"""

from __future__ import annotations

from typing import Any

from ._base import register
from .answers import Incorrect

__all__: list[str] = []


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Incorrect(message)


def _pair(answer: Any, what: str) -> tuple[int, int]:
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 \
            or not all(isinstance(a, int) and not isinstance(a, bool) for a in answer):
        raise Incorrect(f"hand in a pair of ints {what}, got {answer!r}")
    return int(answer[0]), int(answer[1])


# --------------------------------------------------------------------------
# 08.1: which convs of R3D-18 are factorized
# --------------------------------------------------------------------------


def _check_08_1(answer: Any) -> str:
    replaced, kept = _pair(answer, "(Conv3d factorized, Conv3d kept)")
    _expect(replaced + kept == 20, f"R3D-18 has 20 Conv3d (the stem, 16 in the blocks, 3 "
                                   f"shortcuts); {replaced} + {kept} = {replaced + kept}")
    _expect(replaced == 17, f"the stem's 3×7×7 and the 16 block convs of 3×3×3 have t > 1 and "
                            f"d > 1: 17 are factorized, not {replaced}")
    return ("17 factorized, 3 kept: the shortcuts of layer2-4 are 1×1×1 convs, with nothing "
            "to split between space and time")


register(
    "08", 1,
    prompt="How many of R3D-18's `nn.Conv3d` does `factorize_network` replace, and how many "
           "does it keep as they are?",
    hand_in="a pair (factorized, kept)",
    hint="`r21d_edu.netfactor.is_eligible(module)` says whether a module would be replaced; "
         "count the `nn.Conv3d` of `r3d_18().modules()` with and without it.",
    solution="""
        from torch import nn
        from r21d_edu import r3d_18
        from r21d_edu.netfactor import is_eligible

        convs = [m for m in r3d_18().modules() if isinstance(m, nn.Conv3d)]
        factorized = sum(is_eligible(m) for m in convs)
        answer = (factorized, len(convs) - factorized)   # (17, 3)
    """,
    check=_check_08_1,
)


# --------------------------------------------------------------------------
# 08.2: full rank costs more than the 3D conv
# --------------------------------------------------------------------------


def _check_08_2(answer: Any) -> str:
    full, params = _pair(answer, "(full rank, parameters at full rank)")
    _expect(full == 384, f"layer2's unfolded kernel is (128·3) × (128·9) = 384 × 1,152, so "
                         f"the full rank is min(384, 1152) = 384, not {full}")
    expected = 384 * (128 * 9 + 128 * 3)
    _expect(params == expected, f"each intermediate channel costs C_in·d² + C_out·t = 128·9 + "
                                f"128·3 = 1,536 weights, so 384 of them cost {expected:,}, "
                                f"not {params:,}")
    return (f"{expected:,} weights against the 3D conv's 442,368 (133 %): an exact (2+1)D "
            "copy is larger than the 3D conv, so a factorization only saves parameters below "
            "M = 442,368 / 1,536 = 288 — the paper's M")


register(
    "08", 2,
    prompt="Take a 3×3×3 conv from 128 to 128 channels (R3D-18's layer2). What is its full "
           "rank, and how many weights does its exact (full-rank) (2+1)D layer have?",
    hand_in="a pair (full rank, weights of the full-rank (2+1)D layer, no bias)",
    hint="One intermediate channel is one spatial kernel C_in×d×d plus one temporal kernel "
         "C_out×t; `network_profile` of a one-conv network shows `full_rank` and "
         "`params_at(rank)`.",
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
    if not isinstance(answer, dict):
        raise Incorrect(f"hand in a dict layer name -> M like {{'0': 5, '2': 9}}, got {answer!r}")
    _expect(set(answer) == set(expected), f"the two convs are named {sorted(expected)} (their "
                                          f"positions in the Sequential), got {sorted(answer)}")
    _expect(answer == expected, f"with budget=0.5 the plan gives {expected}, not {answer}")
    return (f"M = {expected}: each channel goes where it buys the most energy share per "
            "weight, so the layer whose energy sits in few directions needs fewer channels")


register(
    "08", 3,
    prompt="Share half of a small network's parameters between its two convs "
           "(`budget=0.5`). Which M does each conv get? Set up the network with the code in "
           "the hint.",
    hand_in="a dict layer name -> M (the report's `ranks`)",
    hint="Build the network as in the solution's first lines, then "
         "`network_profile(net).plan(budget=0.5).ranks`."
         + _BUDGET_SETUP.replace("\n        ", "\n"),
    solution=_BUDGET_SETUP + """
        from r21d_edu import network_profile

        report = network_profile(net).plan(budget=0.5)
        print(report)
        answer = report.ranks
    """,
    check=_check_08_3,
)


# --------------------------------------------------------------------------
# 08.4: compose a factorized network back into 3D convs
# --------------------------------------------------------------------------


def _check_08_4(answer: Any) -> str:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise Incorrect(f"hand in the largest absolute difference as a float, got {answer!r}")
    _expect(answer >= 0, f"a largest absolute difference is >= 0, got {answer}")
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
)
