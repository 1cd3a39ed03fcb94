"""Tutorial 01's exercises (from 3D to (2+1)D), registered in `r21d_edu.exercises`."""

from __future__ import annotations

import math
from typing import Any

from ._base import register
from ._support import as_int_tuple, expect
from .answers import Incorrect

# ==========================================================================
# Tutorial 01: from 3D to (2+1)D
# ==========================================================================


def _check_01_1(answer: Any) -> str:
    import torch

    from ..layers import SpatioTemporalConv

    shape = as_int_tuple(tuple(answer), 5, "the output shape (N, C, T, H, W)")
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
    expect(isinstance(answer, bool), f"hand in True or False, got {answer!r}")
    expect(answer is False,
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
    from ..layers import intermediate_channels

    n_in, n_out = as_int_tuple(answer, 2, "the channel counts (N_in, N_out)")
    expect(n_in >= 1 and n_out >= 1, f"channel counts must be >= 1, got {(n_in, n_out)}")
    m = intermediate_channels(n_in, n_out, 3)
    full = 27 * n_in * n_out
    factorized = m * (9 * n_in + 3 * n_out)
    expect(factorized < full,
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
    expect(isinstance(answer, dict) and set(answer) == set(_NET_NAMES),
            f"hand in a dict of medians in ms with the keys {list(_NET_NAMES)}, got {answer!r}")
    values = {k: float(v) for k, v in answer.items()}
    expect(all(math.isfinite(v) and v > 0 for v in values.values()),
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

