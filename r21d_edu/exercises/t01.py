"""Tutorial 01's exercises (from 3D to (2+1)D), registered in `r21d_edu.exercises`."""

from __future__ import annotations

from typing import Any

from ._base import Prediction, register
from ._support import as_int_tuple, expect
from .answers import DictOf, Function, Incorrect, ModuleClass, Number, Ranking
from .behaviour import draws

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


def _check_01_4(answer: dict) -> str:
    order = " < ".join(sorted(answer, key=answer.get))
    return (f"with one thread, fastest first: {order}. There is no single right order: it "
            "depends on the CPU, the PyTorch build and the load. Compare it with your "
            "all-threads run — if the order changed, the kernels scale differently with threads.")


def _compare_01_4(predicted: tuple[str, ...], measured: dict) -> str:
    order = tuple(sorted(measured, key=measured.get))
    if predicted == order:
        return "Your prediction of the order held on this machine."
    first = next(i for i, (a, b) in enumerate(zip(predicted, order)) if a != b)
    return (f"You predicted {' < '.join(predicted)}; the measurement differs from place "
            f"{first + 1} on. What did your prediction assume that this CPU does not do?")


register(
    "01", 4,
    prompt="Predict first, with `.predict([...])`, the order of the three nets, fastest first, "
           "when they run on one thread; then time them with one thread. Does the order change?",
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
    expects=DictOf({name: Number(above=0) for name in _NET_NAMES},
                   "a dict of one-thread medians in ms with the keys "
                   + ", ".join(repr(n) for n in _NET_NAMES)),
    prediction=Prediction("the one-thread order of the three nets, fastest first",
                          Ranking(*_NET_NAMES), _compare_01_4),
)



# --------------------------------------------------------------------------
# 01.5: make the question's hybrid3d work (coding, checked by behaviour)
# --------------------------------------------------------------------------

HYBRID_CASES = 5


def _hybrid_cases(seed: int = 105) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(label, (N, C_in, T, H, W), (M, C_out, t, d)) with every size different, so that a
    reshape that mixes two axes gives a wrong value, not a lucky one."""
    rng = draws(seed)
    cases = []
    for k in range(HYBRID_CASES):
        t, d = ((3, 3), (3, 1), (1, 3), (5, 3), (3, 3))[k]
        n, c_in = rng.randint(2, 3), rng.randint(2, 4)
        m, c_out = c_in + rng.randint(1, 3), rng.randint(2, 5)
        frames, h = rng.randint(5, 7), rng.randint(5, 7)
        w = h + rng.randint(1, 3)
        cases.append((f"case {k + 1}: Hybrid3d({c_in}, {m}, {c_out}, t={t}, d={d}) on a "
                      f"({n}, {c_in}, {frames}, {h}, {w}) clip", (n, c_in, frames, h, w),
                      (m, c_out, t, d)))
    return cases


def _check_01_5(hybrid: Any) -> str:
    import torch

    from ..layers import SpatioTemporalConv
    from .behaviour import AXES, call, same_tensor

    for case, shape, (m, c_out, t, d) in _hybrid_cases():
        c_in = shape[1]
        torch.manual_seed(len(case))  # the check's own draws: state_kept restores the RNG
        layer = call(hybrid, c_in, m, c_out, t, d, case=case,
                     what=f"Hybrid3d({c_in}, {m}, {c_out}, t={t}, d={d})")
        conv2d, conv1d = getattr(layer, "conv2d", None), getattr(layer, "conv1d", None)
        expect(isinstance(conv2d, torch.nn.Conv2d) and isinstance(conv1d, torch.nn.Conv1d),
               f"{case}: the layer needs the skeleton's `self.conv2d` (an nn.Conv2d) and "
               "`self.conv1d` (an nn.Conv1d); keep its __init__ as it is")
        layer = layer.double()
        reference = SpatioTemporalConv(c_in, c_out, (t, d, d), padding=(t // 2, d // 2, d // 2),
                                       intermediate_channels=m, middle_bn=False).double()
        with torch.no_grad():
            reference.spatial.weight.copy_(conv2d.weight.unsqueeze(2))
            reference.temporal.weight.copy_(conv1d.weight[..., None, None])
            reference.temporal.bias.copy_(conv1d.bias)
        x = torch.randn(shape, dtype=torch.float64)
        mine, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        got = call(layer, mine, case=case, what="your forward")
        want = reference(theirs)
        same_tensor(got, want, case=case, what="your output", reference="SpatioTemporalConv",
                    atol=1e-10, rtol=1e-8, axes=AXES)
        upstream = torch.randn(want.shape, dtype=torch.float64)
        expect(got.requires_grad, f"{case}: your output carries no gradient — the forward "
                                  "must stay in torch (no .detach(), .numpy() or .data)")
        call(torch.Tensor.backward, (got * upstream).sum(), case=case, what="backward")
        (want * upstream).sum().backward()
        for name, grad, ref in (
                ("the gradient of the clip", mine.grad, theirs.grad),
                ("the gradient of conv2d.weight", conv2d.weight.grad,
                 None if reference.spatial.weight.grad is None
                 else reference.spatial.weight.grad.squeeze(2)),
                ("the gradient of conv1d.weight", conv1d.weight.grad,
                 reference.temporal.weight.grad[..., 0, 0])):
            expect(grad is not None, f"{case}: {name} is None — backward did not reach it")
            same_tensor(grad, ref, case=case, what=name, reference="SpatioTemporalConv",
                        atol=1e-10, rtol=1e-8, axes=AXES if grad.dim() == 5 else None)
    return (f"the same output and gradients as SpatioTemporalConv on all {HYBRID_CASES} cases "
            "(float64): frames into the batch for the Conv2d, pixels into the batch for the "
            "Conv1d, and back. The question's layer needed these reshapes, not 3-tuple kernels")


register(
    "01", 5,
    prompt="Make the question's `hybrid3d` work: its `__init__` below has a real 2D kernel for "
           "the `nn.Conv2d` and a real 1D kernel for the `nn.Conv1d`; write `forward(x)` for a "
           "clip x (N, C_in, T, H, W) with the two reshapes, so that it returns "
           "(N, C_out, T, H, W) — the same values and gradients as `SpatioTemporalConv` with "
           "the same weights and a ReLU (no BatchNorm) in the middle.",
    hand_in="your class Hybrid3d (the class itself, not an instance)",
    hint=["Two views of one clip: for the Conv2d every frame is an image of the batch, for the "
          "Conv1d every pixel is a time series of the batch. Which axes must sit next to N "
          "before each reshape, and which must sit where the conv expects its channels?",
          "x.transpose(1, 2).reshape(N·T, C, H, W) → conv2d → ReLU gives (N·T, M, H, W); "
          "reshape to (N, T, M, H, W), permute to (N, H, W, M, T), reshape to (N·H·W, M, T) "
          "→ conv1d; then reshape to (N, H, W, C_out, T) and permute back to (N, C_out, T, "
          "H, W). `view` refuses a permuted tensor: use `reshape`."],
    solution="""
        import torch
        from torch import nn

        class Hybrid3d(nn.Module):
            def __init__(self, in_channels, mid_channels, out_channels, t=3, d=3):
                super().__init__()
                self.conv2d = nn.Conv2d(in_channels, mid_channels, d, padding=d // 2, bias=False)
                self.relu = nn.ReLU()
                self.conv1d = nn.Conv1d(mid_channels, out_channels, t, padding=t // 2)

            def forward(self, x):
                ### BEGIN SOLUTION
                n, c, frames, h, w = x.shape
                images = x.transpose(1, 2).reshape(n * frames, c, h, w)
                middle = self.relu(self.conv2d(images))                  # (N·T, M, H, W)
                m, h, w = middle.shape[1:]
                series = middle.reshape(n, frames, m, h, w).permute(0, 3, 4, 2, 1)
                out = self.conv1d(series.reshape(n * h * w, m, frames))  # (N·H·W, C_out, T)
                c_out, frames = out.shape[1:]
                return out.reshape(n, h, w, c_out, frames).permute(0, 3, 4, 1, 2)
                ### END SOLUTION

        answer = Hybrid3d
    """,
    check=_check_01_5,
    expects=ModuleClass("your nn.Module class Hybrid3d"),
)


# --------------------------------------------------------------------------
# 01.6: a 3D conv is a sum of 2D convs over shifted frames (coding)
# --------------------------------------------------------------------------

FRAME_SUM_CASES = 5


def _check_01_6(conv3d_by_frames: Any) -> str:
    import torch
    import torch.nn.functional as F

    from .behaviour import AXES, call, same_tensor

    rng = draws(106)
    for k in range(FRAME_SUM_CASES):
        t = (3, 3, 1, 2, 3)[k]
        d_h, d_w = ((3, 3), (1, 1), (3, 3), (3, 1), (3, 2))[k]
        n, c_in, c_out = rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 4)
        frames, h, w = t + rng.randint(1, 4), d_h + rng.randint(2, 4), d_w + rng.randint(3, 5)
        generator = torch.Generator().manual_seed(rng.randrange(2**31))
        x = torch.randn(n, c_in, frames, h, w, generator=generator, dtype=torch.float64)
        weight = torch.randn(c_out, c_in, t, d_h, d_w, generator=generator, dtype=torch.float64)
        case = (f"case {k + 1}: a ({n}, {c_in}, {frames}, {h}, {w}) clip and a kernel "
                f"({c_out}, {c_in}, {t}, {d_h}, {d_w})")
        got = call(conv3d_by_frames, x.clone(), weight.clone(), case=case,
                   what="conv3d_by_frames(x, weight)")
        same_tensor(got, F.conv3d(x, weight), case=case, what="conv3d_by_frames(x, weight)",
                    reference="F.conv3d(x, weight)", atol=1e-10, rtol=1e-8, axes=AXES)
    return (f"the same as F.conv3d on all {FRAME_SUM_CASES} cases: output frame τ is the sum "
            "over k of a 2D conv of input frame τ + k with the kernel's slice k: t different 2D "
            "kernels per output frame. The (2+1)D layer instead runs one 2D conv on every "
            "frame and mixes the frames afterwards")


register(
    "01", 6,
    prompt="Write a 3D convolution with 2D ones: `conv3d_by_frames(x, weight)` takes a clip "
           "x (N, C_in, T, H, W) and a kernel (C_out, C_in, t, d_h, d_w) and returns exactly "
           "`F.conv3d(x, weight)` (no padding, stride 1, no bias), using only "
           "`F.conv2d` on single frames, sums and `torch.stack`.",
    hand_in="your function conv3d_by_frames (the function itself, not a call)",
    hint=["A 3D conv's output frame τ only sees input frames τ, τ + 1, …, τ + t − 1, and "
          "input frame τ + k meets the kernel's k-th time slice.",
          "Output frame τ = Σ_k F.conv2d(x[:, :, τ + k], weight[:, :, k]) for k < t, for each "
          "τ in range(T − t + 1); stack the frames on dim 2."],
    solution="""
        import torch
        import torch.nn.functional as F

        def conv3d_by_frames(x, weight):
            ### BEGIN SOLUTION
            t = weight.shape[2]
            frames = [sum(F.conv2d(x[:, :, start + k], weight[:, :, k]) for k in range(t))
                      for start in range(x.shape[2] - t + 1)]
            return torch.stack(frames, dim=2)
            ### END SOLUTION

        answer = conv3d_by_frames
    """,
    check=_check_01_6,
    expects=Function("a function conv3d_by_frames(x, weight)"),
)
