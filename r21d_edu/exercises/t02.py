"""Tutorial 02's exercises (the parameter budget), registered in `r21d_edu.exercises`."""

from __future__ import annotations

from typing import Any

from ._base import register
from ._support import as_int_tuple, expect
from .answers import Incorrect

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
        expect(got == macs, f"{name}: expected {macs:,} MACs at (1, 3, 16, 112, 112), got {got:,}")
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

