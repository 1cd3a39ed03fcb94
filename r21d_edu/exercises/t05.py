"""Tutorial 05's exercises (kernels and feature maps), registered in `r21d_edu.exercises`."""

from __future__ import annotations

from typing import Any

from ._base import register
from ._support import expect
from .answers import Function, Incorrect
from .behaviour import draws

# ==========================================================================
# Tutorial 05: kernels and feature maps
# ==========================================================================


def _check_05_1(answer: Any) -> str:
    expect(isinstance(answer, (int, float)) and not isinstance(answer, bool),
            f"hand in a period in pixels (a number), got {answer!r}")
    expect(abs(float(answer) - 2) < 1e-9,
            f"period {answer} is not it: the response is |sin(π·speed/period)|/√2, largest "
            "when speed/period = 1/2")
    return ("period 2 px: at 1 px/frame the stripes move half a period per frame, so each "
            "pixel flips between light and dark — |sin(π/2)| = 1, the largest change possible")


register(
    "05", 1,
    prompt="Sweep `period` in `motion_tuning` for the frame difference at a fixed speed of "
           "1 px/frame. At which period is the response largest, and why does the formula "
           "predict it?",
    hand_in="the period in pixels",
    hint="The formula is contrast·|sin(π·speed/period)|/√2; sweep periods from 2 to 16.",
    solution="""
        import numpy as np
        from r21d_edu import motion_tuning

        periods = [2, 3, 4, 6, 8, 12, 16]
        rms = [motion_tuning({"[-1, 1]": [-1, 1]}, speeds=[1.0], period=p).curve("[-1, 1]")[0]
               for p in periods]
        answer = periods[int(np.argmax(rms))]   # 2
    """,
    check=_check_05_1,
)


def _check_05_2(answer: Any) -> str:
    from torch import nn

    from ..motion import motion_tuning

    expect(isinstance(answer, nn.Module), f"hand in a conv layer (1 -> 1), got {answer!r}")
    tuning = motion_tuning({"yours": answer}, speeds=[1.0, 2.0],
                           directions=range(0, 360, 30))
    direction, speed = tuning.preferred("yours")
    expect(direction == 90.0, f"your kernel prefers {direction:g}° (0° = right, 90° = down), "
                               "not 90°: transpose the last two axes (x <-> y)")
    expect(speed == 2.0, f"it prefers {speed:g} px/frame, not 2: build it with speed=2.0")
    return "it prefers 90° (down) at 2 px/frame"


register(
    "05", 2,
    prompt="Build a kernel that prefers motion **down** at 2 px/frame (hint: "
           "`motion_kernels(speed=2.0)` and transpose the last two axes of its weight). Check "
           "with a polar tuning plot.",
    hand_in="the conv layer (1 -> 1 channel)",
    hint="`motion_kernels(speed=2.0, select=['edge moving right'])` moves right; its weight is "
         "(1, 1, t, d, d) with (y, x) last, so `.transpose(-1, -2)` turns x into y.",
    solution="""
        import torch
        from r21d_edu import motion_kernels, motion_tuning
        from r21d_edu.viz import tuning_polar

        down = motion_kernels(speed=2.0, select=["edge moving right"])
        with torch.no_grad():
            down.weight.copy_(down.weight.transpose(-1, -2).clone())
        sweep = motion_tuning({"down": down}, speeds=[2.0], directions=range(0, 360, 30))
        figure = tuning_polar(sweep)
        answer = down
    """,
    check=_check_05_2,
)


def _ball_frames_left_wins() -> list[int]:
    import torch

    from ..data import bouncing_ball
    from ..motion import MOTION_KERNEL_NAMES, motion_kernels

    bank = motion_kernels().eval()
    ball = bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)
    with torch.no_grad():
        out = bank(ball.clip.to(bank.weight.dtype))[0]
    right, left = (out[MOTION_KERNEL_NAMES.index(n)].pow(2).mean((1, 2))
                   for n in ("edge moving right", "edge moving left"))
    return [t for t in range(1, out.shape[1] - 1) if left[t] > right[t]]


def _check_05_3(answer: Any) -> str:
    from ..data import bouncing_ball

    expect(isinstance(answer, (list, tuple)), f"hand in a list of frame indices, got {answer!r}")
    expected = _ball_frames_left_wins()
    expect([int(a) for a in answer] == expected,
            f"by the mean squared response per frame (frames 1 to 10, clear of the temporal "
            f"padding) 'edge moving left' does not win in exactly the frames {list(answer)}: "
            "compare the two channels' mean squared response frame by frame")
    ball = bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)
    xs = [round(float(p[1]), 1) for p in ball.positions]
    return (f"frames {expected}: the ball's x position per frame is {xs} — it moves right, "
            "bounces off the right wall between frames 2 and 3, then moves left")


register(
    "05", 3,
    prompt="Feed `bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)` through the "
           "bank: in which frames does \"edge moving left\" win over \"edge moving right\"? "
           "Compare with the ball's `positions`.",
    hand_in="the output frames (1 to 10, clear of the temporal padding) where the mean "
            "squared response of 'edge moving left' is larger, as a list",
    hint="`layer_output(bank, ball)` is (1, 4, T, H, W); average the squares over H and W.",
    solution="""
        from r21d_edu import bouncing_ball, motion_kernels
        from r21d_edu.motion import MOTION_KERNEL_NAMES
        from r21d_edu.viz import layer_output

        bank = motion_kernels()
        ball = bouncing_ball(frames=12, size=32, velocity=(1.5, 2.0), seed=0)
        out = layer_output(bank, ball)[0]
        right = out[MOTION_KERNEL_NAMES.index("edge moving right")].pow(2).mean((1, 2))
        left = out[MOTION_KERNEL_NAMES.index("edge moving left")].pow(2).mean((1, 2))
        answer = [t for t in range(1, 11) if left[t] > right[t]]
        print(answer, "x per frame:", [round(x, 1) for _, x in ball.positions])
    """,
    check=_check_05_3,
)


def _smallest_selective_rank() -> int:
    from ..lowrank import factorize
    from ..motion import motion_kernels, motion_tuning

    bank = motion_kernels()
    for rank in range(1, 13):
        fit = factorize(bank, rank)
        selective = []
        for channel in (2, 3):  # the two moving edges
            one = _one_channel(fit, channel)
            sweep = motion_tuning({"c": one}, speeds=[1.0], directions=range(0, 360, 30))
            selective.append(sweep.direction_selectivity("c", 1.0))
        if min(selective) > 0.3:
            return rank
    raise RuntimeError("no rank up to 12 keeps both moving edges selective")


def _one_channel(layer: Any, channel: int) -> Any:
    """The 1 -> 1 layer of output `channel` of a linear (2+1)D layer, as a 3D conv."""
    from torch import nn

    from ..lowrank import compose

    conv = compose(layer)
    single = nn.Conv3d(1, 1, conv.kernel_size, padding=conv.padding, bias=False,
                       dtype=conv.weight.dtype)
    single.weight.data.copy_(conv.weight.data[channel:channel + 1])
    return single


def _check_05_4(answer: Any) -> str:
    expect(isinstance(answer, int) and not isinstance(answer, bool),
            f"hand in a rank (int), got {answer!r}")
    rank = _smallest_selective_rank()
    expect(answer == rank, f"rank {answer} is not the smallest at which both moving-edge "
                            "channels have a direction selectivity above 0.3 at 1 px/frame")
    return (f"rank {rank}: a rank-1 fit cannot tilt at all, and here two middle channels "
            "already give both moving edges their direction — they are shifted copies of one "
            "edge filter, so they can share components")


register(
    "05", 4,
    prompt="Factorize the whole 4-channel bank with `factorize(bank, rank)` for rank 1 to 12. "
           "What is the smallest rank at which both moving-edge channels keep a direction "
           "selectivity above 0.3 (at 1 px/frame)?",
    hand_in="the rank (int)",
    hint="For each rank, compose the fit into a 3D conv, take output channels 2 and 3 as "
         "1 -> 1 convs, and sweep directions with `motion_tuning`.",
    solution="""
        from torch import nn
        from r21d_edu import compose, factorize, motion_kernels, motion_tuning

        bank = motion_kernels()

        def channel(conv, c):
            single = nn.Conv3d(1, 1, conv.kernel_size, padding=conv.padding, bias=False, dtype=conv.weight.dtype)
            single.weight.data.copy_(conv.weight.data[c:c + 1])
            return single

        def selectivity(conv, c):
            sweep = motion_tuning({"c": channel(conv, c)}, speeds=[1.0], directions=range(0, 360, 30))
            return sweep.direction_selectivity("c", 1.0)

        answer = next(rank for rank in range(1, 13)
                      if min(selectivity(compose(factorize(bank, rank)), c) for c in (2, 3)) > 0.3)
        print(answer)
    """,
    check=_check_05_4,
)


# --------------------------------------------------------------------------
# 05.5: capture a feature map with a forward hook (coding, checked by behaviour)
# --------------------------------------------------------------------------

CAPTURE_CASES = 6

#: Stage widths of the check's networks: the family's layout at a size that runs in
#: milliseconds.
_WIDTHS = (4, 8, 8, 8)


def _capture_cases(seed: int = 505) -> list[tuple[str, Any, Any, Any, Any]]:
    """(label, model, module, clip, reference), each model seeded, float64, in eval mode.

    ``reference(model, clip)`` computes the module's output by calling the model's parts
    one by one, without any hook, so the check does not trust the mechanism it tests.
    The first case's module keeps its input's shape (layer1), so that handing back the
    module's input differs by its values, not by a shape; the others are a downsampling
    stage, a (2+1)D layer's spatial conv (its middle tensor before BN), a stem, the
    spatial conv of the motion bank's rank-4 fit (tutorial 05's middle tensor) on a
    moving square, and a conv inside a block whose ReLU works in place.
    Only modules whose output no later step overwrites in place are chosen: a hook sees
    the tensor itself, and the check compares what the forward pass produced.
    """
    import torch

    from .._checks import rng_kept
    from ..data import moving_shape
    from ..family import family_model
    from ..lowrank import factorize
    from ..motion import motion_kernels

    rng = draws(seed)
    generator = torch.Generator().manual_seed(rng.randrange(2**31))

    def network(name: str) -> Any:
        with rng_kept():  # the check's own seed; the learner's streams stay as they were
            torch.manual_seed(rng.randrange(2**31))
            return family_model(name, widths=_WIDTHS).double().eval()

    def clip(n: int) -> Any:
        return torch.rand(n, 1, 8, 16, 16, generator=generator, dtype=torch.float64)

    r3d, r21d, mc3, deep = (network(n) for n in ("r3d", "r2plus1d", "mc3", "r3d"))
    fit = factorize(motion_kernels(), 4).double().eval()
    square = moving_shape(frames=12, size=32, velocity=(0.5, 1.0), seed=0).clip.double()
    cases = [
        ("family_model('r3d'), module model.layer1", r3d, r3d.layer1, clip(1),
         lambda m, x: m.layer1(m.stem(x))),
        ("family_model('r2plus1d'), module model.layer2", r21d, r21d.layer2, clip(2),
         lambda m, x: m.layer2(m.layer1(m.stem(x)))),
        ("family_model('r2plus1d'), module model.layer1[0].conv1[0].spatial", r21d,
         r21d.layer1[0].conv1[0].spatial, clip(1),
         lambda m, x: m.layer1[0].conv1[0].spatial(m.stem(x))),
        ("family_model('mc3'), module model.stem", mc3, mc3.stem, clip(2),
         lambda m, x: m.stem(x)),
        ("factorize(motion_kernels(), 4), module fit.spatial, on a moving square", fit,
         fit.spatial, square, lambda m, x: m.spatial(x)),
        ("family_model('r3d'), module model.layer3[0].conv1", deep, deep.layer3[0].conv1,
         clip(1), lambda m, x: m.layer3[0].conv1(m.layer2(m.layer1(m.stem(x))))),
    ]
    return [(f"case {k + 1}: {label}, a clip {tuple(x.shape)}", model, module, x, reference)
            for k, (label, model, module, x, reference) in enumerate(cases)]


def _hooks_left(model: Any, module: Any) -> str | None:
    """Where a forward hook (or pre-hook) is still registered in `model`, or None."""
    for name, part in model.named_modules():
        if part._forward_hooks or part._forward_pre_hooks:
            return ("the module" if part is module else
                    f"model.{name}" if name else "the model itself")
    return None


def _check_05_5(capture: Any) -> str:
    import torch

    from .behaviour import AXES, call, same_tensor

    cases = _capture_cases()
    assert len(cases) == CAPTURE_CASES
    for case, model, module, clip, reference in cases:
        with torch.no_grad():
            want = reference(model, clip.clone())
        got = call(capture, model, module, clip.clone(), case=case,
                   what="capture(model, module, clip)")
        where = _hooks_left(model, module)
        if where is not None:
            raise Incorrect(f"{case}: capture returned, but a forward hook is still "
                            f"registered on {where}: it would run on every later forward "
                            "pass. Keep the handle that registering gives you and remove it "
                            "before you return, also when the forward pass fails")
        same_tensor(got, want, case=case, what="the tensor capture returned",
                    reference="the module's output", atol=1e-10, rtol=1e-8, axes=AXES)
    return (f"the module's own output on all {CAPTURE_CASES} cases, and no hook left behind: "
            "a forward hook sees (module, inputs, output) each time the module runs, so one "
            "forward pass of the whole model hands you any inner feature map without "
            "changing the network's code — how Grad-CAM by hand (tutorial 11) catches its "
            "layer, and how factorize_network measures each layer's input shape")


register(
    "05", 5,
    prompt="Read a feature map from inside a network: write `capture(model, module, clip)`, "
           "which runs `model(clip)` once and returns the output tensor of `module` (a "
           "submodule of `model`, e.g. `model.layer2`) from that forward pass, using "
           "`module.register_forward_hook` — and leaves no hook registered on the module "
           "when it returns.",
    hand_in="your function capture (the function itself, not a call)",
    hint=["A forward hook is a function PyTorch calls as hook(module, inputs, output) every "
          "time the module runs. Where can it put `output` so that you still have it after "
          "`model(clip)` returns — and what does `register_forward_hook` give back that "
          "lets you take the hook off again?",
          "Keep a list; register a hook that appends `output.detach()` to it; run "
          "`model(clip)` under `torch.no_grad()` inside `try:`, call `handle.remove()` in "
          "`finally:`, and return the first tensor the list holds."],
    solution="""
        import torch

        def capture(model, module, clip):
            ### BEGIN SOLUTION
            kept = []

            def hook(_module, _inputs, output):
                kept.append(output.detach())

            handle = module.register_forward_hook(hook)
            try:
                with torch.no_grad():
                    model(clip)
            finally:
                handle.remove()  # even when the forward pass fails: no hook left behind
            return kept[0]
            ### END SOLUTION

        answer = capture
    """,
    check=_check_05_5,
    expects=Function("a function capture(model, module, clip)"),
)
