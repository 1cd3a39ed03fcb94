"""Tutorial 02's exercises (the parameter budget), registered in `r21d_edu.exercises`."""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any

from ._base import register
from ._support import as_int_tuple, expect, side
from .answers import Function, Incorrect, describe
from .behaviour import draws

# ==========================================================================
# Tutorial 02: the parameter budget
# ==========================================================================


def _floor_is_exact(n_in: int, n_out: int) -> bool:
    return (27 * n_in * n_out) % (9 * n_in + 3 * n_out) == 0


def _check_02_1(answer: Any) -> str:
    expect(callable(answer), f"hand in a function exact(n_in, n_out) -> bool, got {answer!r}")
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
    from ..counting import ConvSpec, activation_memory

    shape = (1, 64, 16, 56, 56)
    two = activation_memory(ConvSpec("2plus1d", 64, 64, 3, padding=1, bias=False), shape,
                            dtype=dtype)
    three = activation_memory(ConvSpec("3d", 64, 64, 3, padding=1, bias=False), shape,
                              dtype=dtype)
    return two.total_bytes, two.total_bytes / three.total_bytes


def _check_02_2(answer: Any) -> str:
    import torch

    expect(isinstance(answer, dict) and set(answer) == {"bytes", "ratio"},
            f"hand in {{'bytes': ..., 'ratio': ...}}, got {answer!r}")
    total, ratio = _memory_64(torch.bfloat16)
    full_total, _ = _memory_64(torch.float32)
    expect(int(answer["bytes"]) == total,
            f"the (2+1)D layer writes {int(answer['bytes']):,} bytes by your count; in "
            f"bfloat16 (2 bytes a value) it is half of float32's {full_total:,}")
    expect(abs(float(answer["ratio"]) - ratio) < 1e-9,
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
    from ..counting import compare_costs

    m, weights = as_int_tuple(answer, 2, "(M, weights)")

    def at_most_double(k: int) -> bool:
        costs = compare_costs(64, 64, 3, (1, 64, 16, 56, 56), intermediate_channels=k)
        return costs["2plus1d"].total_bytes <= 2 * costs["3d"].total_bytes

    best = max(k for k in range(1, 200) if at_most_double(k))
    expect(m == best, f"M = {m} is not the largest: the (2+1)D layer writes (2M + 64)/64 "
                       "times the 3D conv's bytes (middle tensor, its BatchNorm copy, output)")
    expect(weights == best * (9 * 64 + 3 * 64),
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
    expect(isinstance(answer, dict) and set(answer) == {"r3d_18", "r2plus1d_18"},
            f"hand in {{'r3d_18': MACs, 'r2plus1d_18': MACs}}, got {answer!r}")
    expected = {"r3d_18": 40_696_553_472, "r2plus1d_18": 40_519_080_960}
    for name, macs in expected.items():
        got = int(answer[name])
        if got == 2 * macs:
            raise Incorrect(f"{name}: {got:,} is FLOPs (2 per MAC); torchvision's GFLOPS are MACs")
        expect(got == macs, f"{name}: {got:,} MACs at (1, 3, 16, 112, 112) is "
                            f"{side(got, macs)}; count the network itself with "
                            "summarize_network(model, shape).macs")
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



# --------------------------------------------------------------------------
# 02.5: write intermediate_channels (coding, checked by behaviour)
# --------------------------------------------------------------------------

CHANNEL_CASES = 6


def _exact(n_in: int, n_out: int, t: int, area: int) -> Fraction:
    """t·area·N_in·N_out / (area·N_in + t·N_out) as an exact fraction: the mistakes are
    told apart from the floor by exact arithmetic, never by float rounding."""
    return Fraction(t * area * n_in * n_out, area * n_in + t * n_out)


def _channel_cases(seed: int = 205) -> list[tuple[str, int, int, Any]]:
    """(label, N_in, N_out, kernel_size): cube kernels as an int and as a tuple, a kernel
    whose h and w differ, one input channel, wide layers, and divisions that are exact and
    that are not — with N_in ≠ N_out wherever a swap of the two would go unnoticed."""
    rng = draws(seed)

    def uneven(low: int, high: int, kernel: tuple[int, int, int]) -> tuple[int, int]:
        t, h, w = kernel
        while True:  # two different widths whose division leaves a remainder
            n_in = rng.randint(low, high)
            n_out = n_in + rng.randint(1, high - low)
            if _exact(n_in, n_out, t, h * w).denominator != 1:
                return n_in, n_out

    cube_in, cube_out = uneven(5, 40, (3, 3, 3))
    width = 4 * rng.randint(4, 32)           # C -> C with 4 | C: 27C²/12C divides evenly
    t, h, w = rng.choice((3, 5)), 3, 5
    odd_in, odd_out = uneven(4, 24, (t, h, w))
    grey_out = rng.choice((32, 45, 64))
    wide_in = 64 * rng.randint(4, 8)
    five_in, five_out = uneven(8, 48, (5, 5, 5))
    cases = [
        ("a 3×3×3 kernel given as the int 3", cube_in, cube_out, 3),
        ("a C -> C layer with a 3×3×3 kernel given as the int 3", width, width, 3),
        (f"a {t}×{h}×{w} kernel, whose spatial part is not square", odd_in, odd_out, (t, h, w)),
        ("one input channel (a grey clip) into a 3×7×7 stem", 1, grey_out, (3, 7, 7)),
        ("a wide layer with a 3×3×3 kernel given as a tuple", wide_in, 2 * wide_in, (3, 3, 3)),
        ("a 5×5×5 kernel given as the int 5", five_in, five_out, 5),
    ]
    return [(f"case {k + 1}: intermediate_channels({n_in}, {n_out}, {kernel!r}), {label}",
             n_in, n_out, kernel) for k, (label, n_in, n_out, kernel) in enumerate(cases)]


def _what_went_wrong(got: int, n_in: int, n_out: int, kernel: Any) -> str:
    """A nudge when `got` is what a typical slip gives: the formula with N_in and N_out
    swapped, d for d², one side of the spatial kernel squared, or the quotient rounded
    instead of floored. Empty when it matches none of them."""
    t, h, w = (kernel,) * 3 if isinstance(kernel, int) else kernel
    area = h * w
    right = _exact(n_in, n_out, t, area)
    slips = [
        (_exact(n_out, n_in, t, area) // 1,
         "it is what the formula gives with N_in and N_out swapped: d² goes with N_in (the "
         "spatial conv reads the input channels), t with N_out (the temporal conv writes "
         "the output ones)"),
        (_exact(n_in, n_out, t, h) // 1,
         "it is what the formula gives with d where d² belongs: a spatial kernel holds "
         "h·w weights per channel pair"),
        (_exact(n_in, n_out, t, max(h, w) ** 2) // 1,
         "it is what the formula gives with one side of the spatial kernel squared: for "
         "(t, h, w) the spatial kernel holds h·w weights, not h² or w²"),
        (_exact(n_in, n_out, t, min(h, w) ** 2) // 1,
         "it is what the formula gives with one side of the spatial kernel squared: for "
         "(t, h, w) the spatial kernel holds h·w weights, not h² or w²"),
        (-(-right // 1),
         "it is the quotient rounded (to the nearest, or up), not floored: M must round "
         "down, so the (2+1)D layer never has more weights than the 3D conv"),
    ]
    return next((f" — {why}" for value, why in slips if value == got and value != right // 1),
                "")


def _check_02_5(intermediate_channels: Any) -> str:
    from ..layers import intermediate_channels as reference
    from .behaviour import call

    assert len(_channel_cases()) == CHANNEL_CASES
    for case, n_in, n_out, kernel in _channel_cases():
        want = reference(n_in, n_out, kernel)
        got = call(intermediate_channels, n_in, n_out, kernel, case=case,
                   what="intermediate_channels(in_channels, out_channels, kernel_size)")
        if hasattr(got, "item") and getattr(got, "ndim", 1) == 0:
            got = got.item()  # a 0-d tensor or a NumPy scalar
        if isinstance(got, float):
            raise Incorrect(f"{case}: intermediate_channels returned a float; M counts "
                            "channels, so return an int — `/` gives a float even when it "
                            "divides evenly, `//` floors and stays an int")
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise Incorrect(f"{case}: intermediate_channels returned {describe(got)}; "
                            "return M as an int")
        got = int(got)
        if got > want:
            raise Incorrect(f"{case}: M is too large — the (2+1)D layer's "
                            "M·(h·w·N_in + t·N_out) weights would exceed the 3D conv's "
                            "t·h·w·N_in·N_out" + _what_went_wrong(got, n_in, n_out, kernel))
        if got < want:
            raise Incorrect(f"{case}: M is too small — one more intermediate channel would "
                            "still fit in the 3D conv's budget"
                            + _what_went_wrong(got, n_in, n_out, kernel))
    return (f"the same M as r21d_edu.intermediate_channels on all {CHANNEL_CASES} cases: "
            "equate t·h·w·N_in·N_out with M·(h·w·N_in + t·N_out) and floor the quotient, so "
            "the (2+1)D layer spends at most the 3D conv's weights — an int kernel d means "
            "(d, d, d), and a non-square spatial kernel counts h·w, not d²")


register(
    "02", 5,
    prompt="Write the paper's formula: `intermediate_channels(in_channels, out_channels, "
           "kernel_size)` returns the M that keeps a t×h×w 3D conv's weight budget, for a "
           "kernel given as an int d (meaning d×d×d) or as a tuple (t, h, w) — the largest M "
           "whose (2+1)D layer has no more weights than the 3D conv, as "
           "`r21d_edu.intermediate_channels` computes it (paper convention).",
    hand_in="your function intermediate_channels (the function itself, not a call)",
    hint=["Count both layers' weights as this tutorial did — the 3D conv's, and the (2+1)D "
          "layer's for M channels, with h·w in place of d² when the spatial kernel is not "
          "square — set them equal and solve for M. Which way must M be rounded, and what "
          "type is a channel count?",
          "Unpack the kernel (an int d means t = h = w = d), then return "
          "(t·h·w·N_in·N_out) // (h·w·N_in + t·N_out): integer floor division floors and "
          "keeps an int, where `/` and round() would not."],
    solution="""
        def intermediate_channels(in_channels, out_channels, kernel_size):
            ### BEGIN SOLUTION
            if isinstance(kernel_size, int):
                t = h = w = kernel_size
            else:
                t, h, w = kernel_size
            area = h * w                        # d² for a square d×d spatial kernel
            budget = t * area * in_channels * out_channels   # the 3D conv's weights
            return budget // (area * in_channels + t * out_channels)
            ### END SOLUTION

        answer = intermediate_channels
    """,
    check=_check_02_5,
    expects=Function("a function intermediate_channels(in_channels, out_channels, "
                     "kernel_size)"),
)
