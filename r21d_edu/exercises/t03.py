"""Tutorial 03's exercises (timing), registered in `r21d_edu.exercises`."""

from __future__ import annotations

import math
from typing import Any

from ._base import register
from ._support import expect
from .answers import Incorrect

# ==========================================================================
# Tutorial 03: timing
# ==========================================================================


def _check_03_1(answer: Any) -> str:
    import torch

    ratio = float(answer)
    expect(math.isfinite(ratio) and 0.02 < ratio < 100,
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
    from ..layers import SpatioTemporalConv
    from ..timing import count_work

    layer = SpatioTemporalConv(64, 64, 3, padding=1, bias=False).eval()
    batch = 1
    while count_work(layer, (batch, 64, 8, 56, 56)).bytes_moved < 2**30:
        batch += 1
    return batch


def _check_03_2(answer: Any) -> str:
    expect(isinstance(answer, int) and not isinstance(answer, bool),
            f"hand in a batch size (int), got {answer!r}")
    batch = _layer1_gib_batch()
    expect(answer == batch, f"batch {answer} is not the smallest that moves at least 1 GiB "
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

    from ..layers import FullConv3d, SpatioTemporalConv
    from ..timing import KNOWN_DEVICES, count_work

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
    expect(isinstance(answer, dict) and set(answer) == {"3d", "2plus1d"},
            f"hand in {{'3d': 'compute' or 'memory', '2plus1d': ...}}, got {answer!r}")
    expected = _layer4_bounds()
    for name, bound in expected.items():
        expect(str(answer[name]).lower().startswith(bound),
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

