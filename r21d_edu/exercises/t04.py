"""Tutorial 04's exercises (ResNet-18 to R(2+1)D-18), registered in `r21d_edu.exercises`."""

from __future__ import annotations

from typing import Any

from ._base import register
from ._support import as_int_tuple, expect, side
from .answers import Function, Incorrect
from .behaviour import draws

# ==========================================================================
# Tutorial 04: ResNet-18 to R(2+1)D-18
# ==========================================================================


def _check_04_1(answer: Any) -> str:
    m1, m2 = as_int_tuple(answer, 2, "(M of conv1, M of conv2)")
    expect((m1, m2) != (460, 460),
            "(460, 460) is torchvision's convention (M once per block); with "
            "convention='paper' conv2 gets M from its own 256 -> 256 channels")
    formula = ("the paper's M = floor(t·d²·N_in·N_out / (d²·N_in + t·N_out)), with that "
               "conv's own N_in and N_out")
    expect(m1 == 460, f"conv1 (128 -> 256): M = {m1} is {side(m1, 460)}; {formula}")
    expect(m2 == 576, f"conv1 is right; conv2 (256 -> 256): M = {m2} is {side(m2, 576)}; "
                      f"{formula}")
    return "conv1 M = 460 (884,736 / 1,920 = 460.8, floored), conv2 M = 576 (exact: 2.25·256)"


register(
    "04", 1,
    prompt="Build `SpatioTemporalResBlock(128, 256, 3, downsample=True, convention=\"paper\")` "
           "and predict both M values before printing them.",
    hand_in="a pair (M of conv1, M of conv2)",
    hint="The paper computes M per conv from that conv's own channels: conv1 is 128 → 256, "
         "conv2 is 256 → 256.",
    solution="""
        from r21d_edu import SpatioTemporalResBlock

        block = SpatioTemporalResBlock(128, 256, 3, downsample=True, convention="paper")
        answer = (block.conv1[0].intermediate_channels, block.conv2[0].intermediate_channels)
    """,
    check=_check_04_1,
)


def _mc3_excess() -> tuple[str, dict[str, int]]:
    import torch

    from ..models import mc3_18, r3d_18
    from ..summary import compare_networks

    with torch.device("meta"):
        comparison = compare_networks({"R3D-18": r3d_18(), "MC3-18": mc3_18()})
    stages = ("stem", "layer1", "layer2", "layer3", "layer4")
    excess = {s: comparison.cells["MC3-18"][s].macs - comparison.cells["R3D-18"][s].macs
              for s in stages}
    return max(excess, key=excess.get), excess


def _check_04_2(answer: Any) -> str:
    stage, excess = _mc3_excess()
    expect(isinstance(answer, str), f"hand in a stage name such as 'layer2', got {answer!r}")
    expect(answer == stage, f"{answer!r} is not the stage with the largest excess: compare "
                             "the two summaries stage by stage (MACs of MC3-18 minus those of "
                             "R3D-18), and look at how many frames each stage's output keeps")
    return (f"{stage}: MC3's 2D stages never stride over time, so layer4 runs on 16 frames "
            "where R3D's runs on 2 — 8× the positions at a third of the kernel: "
            + ", ".join(f"{k} {v / 1e9:+.2f} G" for k, v in excess.items()))


register(
    "04", 2,
    prompt="`mc3_18` has a third of R3D-18's parameters but *more* MACs (43.3 G). Use "
           "`compare_networks({\"R3D-18\": r3d_18(), \"MC3-18\": mc3_18()})` to find the stage "
           "responsible, and explain it with the clip's shape.",
    hand_in="the name of the stage with the largest MAC excess, e.g. 'layer2'",
    hint="Compare each stage's MACs and output shapes: which axis does a 2D-in-time stage "
         "never halve?",
    solution="""
        import torch
        from r21d_edu import compare_networks, mc3_18, r3d_18

        with torch.device("meta"):   # shapes and counts only: no memory
            comparison = compare_networks({"R3D-18": r3d_18(), "MC3-18": mc3_18()})
        print(comparison)
        stages = ("stem", "layer1", "layer2", "layer3", "layer4")
        excess = {s: comparison.cells["MC3-18"][s].macs - comparison.cells["R3D-18"][s].macs for s in stages}
        answer = max(excess, key=excess.get)   # 'layer4'
    """,
    check=_check_04_2,
)


def _check_04_3(answer: Any) -> str:
    import torch

    from ..models import r2plus1d_34

    fewest, layer4_frames = as_int_tuple(answer, 2, "(fewest frames, layer4's frames)")
    with torch.device("meta"):
        model = r2plus1d_34().eval()
    expect(fewest == 1, f"{fewest} frames is not the fewest: a padded stride-2 conv maps 1 "
                         "frame to 1 frame, so clip_stride is not a minimum. Try a 1-frame clip")
    expected = model.trace_sizes((4, 112, 112))[0]
    expect(layer4_frames == expected,
            f"for 4 frames T goes 4 -> 4 -> 2 -> 1 -> 1, so layer4 outputs {expected}, "
            f"not {layer4_frames}")
    return ("1 frame, and layer4 outputs 1 frame for a 4-frame clip: clip_stride (8, 16, 16) "
            "says how much T, H, W shrink, not how many frames are needed")


register(
    "04", 3,
    prompt="`r2plus1d_34()` has `clip_stride` (8, 16, 16). What is the fewest frames it "
           "accepts, and how many frames does layer4 output for a 4-frame clip?",
    hand_in="a pair (fewest frames, layer4's frames for a 4-frame clip)",
    hint="Try clips of 1, 2, 4 frames on the meta device, or use `model.trace_sizes((T, H, "
         "W))`. Each stride-2 conv with padding 1 gives floor((T + 2 - 3) / 2) + 1 frames.",
    solution="""
        import torch
        from r21d_edu import r2plus1d_34

        with torch.device("meta"):
            model = r2plus1d_34().eval()
        model(torch.empty(1, 3, 1, 112, 112, device="meta"))   # runs: 1 frame is enough
        answer = (1, model.trace_sizes((4, 112, 112))[0])      # (1, 1)
    """,
    check=_check_04_3,
)


def _check_04_4(answer: Any) -> str:
    expect(isinstance(answer, (set, frozenset, list, tuple)),
            f"hand in the set of keys the report lists as mismatched, got {answer!r}")
    keys = set(answer)
    expect(keys == {"fc.weight", "fc.bias"},
            f"expected the two entries of the classifier, fc.weight (400, 512) vs (10, 512) "
            f"and fc.bias; got {sorted(keys)}")
    return ("only fc.weight and fc.bias differ (400 vs 10 classes): strict=False loads the "
            "other 222 entries and reports these two, so the backbone is reused and the new "
            "head starts from its own initialization")


register(
    "04", 4,
    prompt="Replace the head of a loaded `r2plus1d_18` for 10 classes: load the weights into "
           "`r2plus1d_18()`, then swap `model.fc`. Why does `load_weights(r2plus1d_18("
           "num_classes=10), path, strict=False)` also work, and what does its report say?",
    hand_in="the set of state_dict keys the report lists as of another shape",
    hint="The report's `mismatched` holds (key, shape in the model, shape in the file).",
    solution="""
        from r21d_edu import load_weights, r2plus1d_18

        kinetics = r2plus1d_18().state_dict()   # stands in for the downloaded file
        report = load_weights(r2plus1d_18(num_classes=10), kinetics, strict=False)
        print(report)
        answer = {key for key, _, _ in report.mismatched}   # {'fc.weight', 'fc.bias'}
    """,
    check=_check_04_4,
)



# --------------------------------------------------------------------------
# 04.5: a residual block's forward, from its parts (coding, checked by behaviour)
# --------------------------------------------------------------------------

BLOCK_CASES = 6


def _block_cases(seed: int = 405) -> list[tuple[str, dict[str, Any], tuple[int, ...]]]:
    """(label, SpatioTemporalResBlock keyword arguments, clip shape): every conv type and
    both conventions, with and without a downsample — the projection shortcut comes from a
    stride (case 2, 3, 5) or from a change of width alone (case 4) — and clips whose sizes
    all differ, so that an axis mixed up shows as a shape or a value, not as luck."""
    rng = draws(seed)
    settings = [  # conv_type, convention, downsample, widens
        ("2plus1d", "torchvision", False, False),
        ("2plus1d", "paper", True, True),
        ("3d", "torchvision", True, False),
        ("2plus1d", "torchvision", False, True),
        ("2d", "torchvision", True, True),
        ("3d", "torchvision", False, False),
    ]
    cases = []
    for k, (conv_type, convention, downsample, widens) in enumerate(settings):
        c_in = rng.randint(2, 4)
        c_out = c_in + rng.randint(1, 3) if widens else c_in
        n, frames, h = rng.randint(1, 2), rng.randint(4, 6), rng.randint(5, 7)
        shape = (n, c_in, frames, h, h + rng.randint(1, 2))
        arguments = {"in_channels": c_in, "out_channels": c_out, "kernel_size": 3,
                     "downsample": downsample, "conv_type": conv_type,
                     "convention": convention}
        label = (f"SpatioTemporalResBlock({c_in}, {c_out}, 3, downsample={downsample}, "
                 f"conv_type={conv_type!r}"
                 + (f", convention={convention!r}" if conv_type == "2plus1d" else "")
                 + f") in eval mode on a {shape} float64 clip")
        cases.append((f"case {k + 1}: {label}", arguments, shape))
    return cases


def _drawn_block(arguments: dict[str, Any], generator: Any) -> Any:
    """The block in float64 and eval mode, every weight, BatchNorm scale, shift and running
    statistic drawn from `generator`: the check never reads the learner's global RNG, and
    BatchNorm is no identity, so a part left out changes the output."""
    import torch

    from ..models import SpatioTemporalResBlock

    with torch.random.fork_rng(devices=[]):  # construction's default init: not our stream
        block = SpatioTemporalResBlock(**arguments).double().eval()
    with torch.no_grad():
        for module in block.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                size = module.num_features
                module.weight.copy_(0.5 + torch.rand(size, generator=generator,
                                                     dtype=torch.float64))
                module.bias.copy_(0.3 * torch.randn(size, generator=generator,
                                                    dtype=torch.float64))
                module.running_mean.copy_(0.3 * torch.randn(size, generator=generator,
                                                            dtype=torch.float64))
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator,
                                                          dtype=torch.float64))
            elif isinstance(module, torch.nn.Conv3d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator,
                                                dtype=torch.float64) / fan_in ** 0.5)
                if module.bias is not None:
                    module.bias.zero_()
    return block


def _slip(got: Any, block: Any, x: Any) -> str:
    """Which typical slip `got` is, if any: the sum without its final ReLU, the ReLU put on
    the residual branch before the addition, or the shortcut left out. Empty otherwise."""
    import torch

    with torch.no_grad():
        branch = block.conv2(block.conv1(x))
        shortcut = x if block.downsample is None else block.downsample(x)
        slips = [
            (branch + shortcut,
             "it is the block's sum before the final ReLU: the block ends with `block.relu` "
             "applied to conv2's output plus the shortcut"),
            (torch.relu(branch) + shortcut,
             "it is ReLU(residual) + shortcut: the final ReLU acts on the sum, after the "
             "addition, so negative sums are cut too"),
            (torch.relu(branch),
             "it is the residual branch alone, through the ReLU: the shortcut is missing"),
        ]
    for value, why in slips:
        if got.shape == value.shape and torch.allclose(got.detach().double(), value,
                                                       atol=1e-9, rtol=1e-7):
            return why
    return ""


def _check_04_5(residual_forward: Any) -> str:
    import torch

    from .behaviour import AXES, call, same_tensor

    assert len(_block_cases()) == BLOCK_CASES
    rng = draws(4050)
    for case, arguments, shape in _block_cases():
        generator = torch.Generator().manual_seed(rng.randrange(2**31))
        block = _drawn_block(arguments, generator)
        x = torch.randn(shape, generator=generator, dtype=torch.float64)
        theirs = x.clone().requires_grad_()
        want = block(theirs)
        upstream = torch.randn(want.shape, generator=generator, dtype=torch.float64)
        (want * upstream).sum().backward()

        def whole_block(*args: Any, case: str = case) -> Any:
            raise Incorrect(f"{case}: residual_forward called the block itself (block(x)); "
                            "compute its output from the parts: block.conv1, block.conv2, "
                            "block.downsample and block.relu")

        block.forward = whole_block  # an instance attribute: block(x) now refuses
        projected = []
        if block.downsample is not None:
            block.downsample[0].register_forward_hook(
                lambda *_, seen=projected: seen.append(True))
        mine = x.clone().requires_grad_()
        try:
            got = call(residual_forward, block, mine, case=case,
                       what="residual_forward(block, x)")
        except Incorrect as error:
            if block.downsample is None or projected or "NotImplementedError" in str(error):
                raise
            raise Incorrect(f"{error}. Note that this block has a projection shortcut, "
                            "block.downsample (its stride or its width changes the shape), "
                            "and your function never ran it") from None
        if block.downsample is not None and not projected:
            raise Incorrect(f"{case}: this block has a projection shortcut, block.downsample "
                            "(its stride or its width changes the shape), and your function "
                            "never ran it: the shortcut adds block.downsample(x), not x")
        if isinstance(got, torch.Tensor) and got.shape == want.shape and not torch.allclose(
                got.detach().double(), want.detach(), atol=1e-9, rtol=1e-7):
            why = _slip(got, block, x)
            if why:
                raise Incorrect(f"{case}: your output differs from block(x) — {why}")
        same_tensor(got, want, case=case, what="your output", reference="block(x)",
                    atol=1e-9, rtol=1e-7, axes=AXES)
        if not got.requires_grad:
            raise Incorrect(f"{case}: your output carries no gradient — stay in torch (no "
                            ".detach(), .numpy() or .data, no torch.no_grad())")
        call(torch.Tensor.backward, (got * upstream).sum(), case=case, what="backward")
        if mine.grad is None:
            raise Incorrect(f"{case}: the gradient of x is None — backward did not reach the "
                            "clip")
        same_tensor(mine.grad, theirs.grad, case=case, what="the gradient of x",
                    reference="block(x)", atol=1e-9, rtol=1e-7, axes=AXES)
    return (f"the same output and gradient of the clip as block(x) on all {BLOCK_CASES} "
            "blocks (float64, eval mode): ReLU(conv2(conv1(x)) + shortcut(x)), the shortcut "
            "being x itself or, when the block changes stride or width, its 1×1×1 "
            "projection block.downsample. Whatever the conv type — 3D, (2+1)D or 2D — the "
            "block around it is ResNet's, and the identity path carries x to the sum "
            "unchanged")


register(
    "04", 5,
    prompt="Write a residual block's forward from its parts: `residual_forward(block, x)` "
           "takes a `SpatioTemporalResBlock` (any conv type, with or without a downsample) "
           "and a clip x (N, C_in, T, H, W), and returns what `block(x)` returns — without "
           "calling `block(x)`. Its parts: `block.conv1` = [conv, BatchNorm3d, ReLU], "
           "`block.conv2` = [conv, BatchNorm3d], `block.relu`, and `block.downsample` (None, "
           "or [1×1×1 conv, BatchNorm3d]).",
    hand_in="your function residual_forward (the function itself, not a call)",
    hint=["A ResNet block adds two paths: a residual branch of two convs, and a shortcut "
          "that carries the input to the sum. When can the shortcut be x itself, and where "
          "in the block does the last ReLU act (this tutorial's first section draws it)?",
          "Run x through block.conv1 and then block.conv2 (each a Sequential, or its parts "
          "one by one); the shortcut is x when block.downsample is None, and "
          "block.downsample(x) otherwise; add the two and apply block.relu to the sum."],
    solution="""
        def residual_forward(block, x):
            ### BEGIN SOLUTION
            conv, bn, relu = block.conv1            # conv1 = [conv, BatchNorm, ReLU]
            out = relu(bn(conv(x)))
            conv, bn = block.conv2                  # conv2 = [conv, BatchNorm]: no ReLU yet
            out = bn(conv(out))
            shortcut = x if block.downsample is None else block.downsample(x)
            return block.relu(out + shortcut)       # the last ReLU acts on the sum
            ### END SOLUTION

        answer = residual_forward
    """,
    check=_check_04_5,
    expects=Function("a function residual_forward(block, x)"),
)
