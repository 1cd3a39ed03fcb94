"""Tutorial 03's exercises (timing), registered in `r21d_edu.exercises`."""

from __future__ import annotations

import functools
import math
from typing import Any

from ._base import Prediction, register
from ._support import expect
from .answers import Choice, Function, Incorrect, Number, describe
from .behaviour import draws

# ==========================================================================
# Tutorial 03: timing
# ==========================================================================


#: How all threads compare with one, as a learner predicts it and as a ratio reads.
_SPEEDUPS = ("faster", "about equal", "slower")


def _speedup(ratio: float) -> str:
    """The word for a one-thread / all-threads ratio (10 % either way is 'about equal')."""
    return "faster" if ratio > 1.1 else "slower" if ratio < 0.9 else "about equal"


def _check_03_1(ratio: float) -> str:
    import torch

    threads = torch.get_num_threads()
    if threads == 1:
        return f"{ratio:.2f}: this process has one thread, so both timings use one."
    verdict = {"faster": "all threads are faster",
               "slower": "all threads are slower — a busy machine, or a layer too small to share",
               "about equal": "they are about equal"}[_speedup(ratio)]
    return (f"{ratio:.2f}×: {verdict}. Timer's default of one thread would understate "
            f"what a {threads}-thread training script sees (or overstate it on a busy machine).")


def _compare_03_1(predicted: str, ratio: float) -> str:
    measured = _speedup(ratio)
    if predicted == measured:
        return f"You predicted all threads {predicted}: that held here."
    return (f"You predicted all threads {predicted}; here they were {measured}. How large is "
            "the layer's work per call, and what else is this machine running?")


register(
    "03", 1,
    prompt="Time `fresh` with `torch.utils.benchmark.Timer(stmt=\"fresh(x)\", "
           "globals=globals()).blocked_autorange()` and again with "
           "`num_threads=torch.get_num_threads()`. How far apart are they? Predict first "
           "with `.predict(...)`: are all threads faster, about equal or slower?",
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
    expects=Number(minimum=0.02, maximum=100),
    prediction=Prediction("whether all threads are faster, about equal or slower than one "
                          "('faster', 'about equal' or 'slower')", Choice(*_SPEEDUPS),
                          _compare_03_1),
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



# --------------------------------------------------------------------------
# 03.5: time a layer correctly (coding, the protocol checked by behaviour)
# --------------------------------------------------------------------------

#: (threads, warmup, repeats) of each case; the check sets a different thread count first.
PROTOCOL_CASES = ((1, 2, 3), (2, 3, 5), (1, 1, 1), (3, 4, 2))


class _Probe:
    """What the check hands `time_layer`: a layer, a clock and a synchronize that log."""

    def __init__(self, seed: int) -> None:
        import torch

        self.events: list[tuple] = []
        self.rng = draws(seed)
        self.now = 1000.0 + self.rng.randint(0, 1024) / 64
        events = self.events

        class ProbeLayer(torch.nn.Module):
            def forward(self, x):
                events.append(("call", torch.get_num_threads(), torch.is_grad_enabled()))
                return x * 2

        self.layer = ProbeLayer()

    def clock(self) -> float:
        # exact binary fractions, so that a difference of two reads is exact
        self.now += self.rng.randint(1, 64) / 1024
        self.events.append(("read", self.now))
        return self.now

    def synchronize(self) -> None:
        self.events.append(("sync",))


def _protocol(events: list[tuple], case: str, threads: int, warmup: int,
              repeats: int) -> list[float]:
    """Walk the log in order; raise at the first step of the protocol that is wrong, and
    return the clock's difference around each timed call."""
    calls = reads = 0
    pending = None  # the number of a call not yet followed by a synchronize()
    last_read: float | None = None
    in_interval: list[int] = []
    timed: list[float] = []
    for event in events:
        if event[0] == "call":
            calls += 1
            _, running, grad = event
            expect(running == threads,
                   f"{case}: call {calls} ran with {running} thread(s); threads={threads} asks "
                   "for that many during every call (torch.set_num_threads)")
            expect(not grad, f"{case}: call {calls} ran with gradients enabled — time under "
                             "torch.inference_mode() (or torch.no_grad()), as inference runs")
            pending = calls
            in_interval.append(calls)
        elif event[0] == "sync":
            pending = None
        else:
            reads += 1
            if reads == 1:
                expect(calls > 0 or warmup == 0,
                       f"{case}: call 1 was timed before any warm-up call: run warmup={warmup} "
                       "untimed calls before the first clock read")
                expect(calls >= warmup,
                       f"{case}: only {calls} untimed call(s) ran before the first clock read; "
                       f"warmup={warmup} asks for {warmup}")
            expect(pending is None,
                   f"{case}: clock read {reads} came right after call {pending} with no "
                   "synchronize() between them: the clock was read before synchronize(), "
                   "so on a GPU it would stop while the call's kernels are still queued")
            if reads > 1:
                if len(in_interval) > 1:
                    raise Incorrect(f"{case}: calls {in_interval[0]} to {in_interval[-1]} ran "
                                    f"between clock reads {reads - 1} and {reads}: time one "
                                    "call per sample")
                if in_interval:
                    assert last_read is not None
                    timed.append(event[1] - last_read)
            last_read, in_interval = event[1], []
    expect(reads > 0, f"{case}: the `clock` handed to time_layer was never read — read the "
                      "time with clock(), not with a clock of your own")
    expect(not in_interval,
           f"{case}: call {calls} ran after the last clock read, so no sample timed it")
    expect(len(timed) == repeats,
           f"{case}: {len(timed)} call(s) were timed (between two clock reads); "
           f"repeats={repeats} asks for {repeats}")
    return timed


def _check_03_5(time_layer: Any) -> str:
    import torch

    from .behaviour import call, same_number

    for k, (threads, warmup, repeats) in enumerate(PROTOCOL_CASES):
        case = f"case {k + 1}: threads={threads}, warmup={warmup}, repeats={repeats}"
        before = threads + 1 if threads < 3 else 1
        probe = _Probe(350 + k)
        torch.set_num_threads(before)
        clip = torch.zeros(1, 2, 3, 4, 4)
        times = call(functools.partial(time_layer, threads=threads, warmup=warmup,
                                       repeats=repeats, clock=probe.clock,
                                       synchronize=probe.synchronize), probe.layer, clip,
                     case=case, what="time_layer")
        timed = _protocol(probe.events, case, threads, warmup, repeats)
        after = torch.get_num_threads()
        expect(after == before,
               f"{case}: after time_layer returned, torch.get_num_threads() is {after}, not the "
               f"{before} it was before the call: set the caller's setting back (try/finally)")
        if isinstance(times, torch.Tensor):
            times = times.tolist()
        expect(isinstance(times, (list, tuple)) and len(times) == repeats,
               f"{case}: time_layer returned {describe(times)}; hand back a list of "
               f"repeats={repeats} per-call times")
        for i, (got, want) in enumerate(zip(times, timed)):
            try:
                value = float(got)
            except (TypeError, ValueError):
                value = math.nan
            if math.isfinite(value) and want and abs(value / want - 1000) < 1e-6:
                raise Incorrect(f"{case}: time {i + 1} is 1000 × the clock's difference "
                                "around its call: return seconds, as the clock gives them")
            same_number(got, want, case=case, what=f"time {i + 1}",
                        reference=f"the clock's difference around timed call {i + 1} (the "
                                  "read after it minus the read before it)")
    return (f"the protocol holds on all {len(PROTOCOL_CASES)} cases: warm-up calls before the "
            "first clock read, synchronize() after every call before the clock is read, one "
            "call per sample, the threads asked for during the calls and the caller's setting "
            "back afterwards, no autograd, and times in seconds straight from the clock")


register(
    "03", 5,
    prompt="Write `time_layer(layer, clip, *, threads, warmup, repeats, clock, synchronize)`: "
           "it runs `layer(clip)` `warmup` times untimed, then `repeats` times, each call "
           "timed on its own with `clock()` (seconds), and returns the list of the `repeats` "
           "per-call times — avoiding the three pitfalls: warm up first, call `synchronize()` "
           "after the work and before each clock read, use `threads` threads during the calls "
           "(and give the caller back its own setting), and time inference without autograd.",
    hand_in="your function time_layer (the function itself, not a call)",
    hint=["The check hands in a layer, a clock and a synchronize that log every call, so it "
          "sees the order of your steps: which calls came before the first clock read, whether "
          "synchronize() came between each call and the clock read after it, how many threads "
          "and whether autograd were on during each call, and the threads after you return.",
          "Remember torch.get_num_threads(), then torch.set_num_threads(threads) and, in "
          "try/finally, set it back. Inside torch.inference_mode(): warmup calls, then "
          "synchronize(); then for each repeat: start = clock(), layer(clip), synchronize(), "
          "append clock() - start."],
    solution="""
        import time
        import torch

        def no_sync():
            \"\"\"On a CPU a call returns when its work is done: nothing to wait for.\"\"\"

        def time_layer(layer, clip, *, threads, warmup=3, repeats=10, clock=time.perf_counter,
                       synchronize=no_sync):
            \"\"\"Per-call seconds of `repeats` calls of layer(clip), after `warmup` calls.\"\"\"
            ### BEGIN SOLUTION
            callers_threads = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                with torch.inference_mode():
                    for _ in range(warmup):
                        layer(clip)
                    synchronize()
                    times = []
                    for _ in range(repeats):
                        start = clock()
                        layer(clip)
                        synchronize()
                        times.append(clock() - start)
            finally:
                torch.set_num_threads(callers_threads)
            return times
            ### END SOLUTION

        answer = time_layer
    """,
    check=_check_03_5,
    expects=Function("a function time_layer(layer, clip, *, threads, warmup, repeats, clock, "
                     "synchronize)"),
)
