"""Tutorial 04's exercises (ResNet-18 to R(2+1)D-18), registered in `r21d_edu.exercises`."""

from __future__ import annotations

from typing import Any

from ._base import register
from ._support import as_int_tuple, expect

# ==========================================================================
# Tutorial 04: ResNet-18 to R(2+1)D-18
# ==========================================================================


def _check_04_1(answer: Any) -> str:
    m1, m2 = as_int_tuple(answer, 2, "(M of conv1, M of conv2)")
    expect((m1, m2) != (460, 460),
            "(460, 460) is torchvision's convention (M once per block); with "
            "convention='paper' conv2 gets M from its own 256 -> 256 channels")
    expect(m1 == 460, f"conv1 (128 -> 256): M = floor(27·128·256 / (9·128 + 3·256)) = "
                       f"floor(884,736 / 1,920) = 460, not {m1}")
    expect(m2 == 576, f"conv2 (256 -> 256): M = floor(27·256·256 / (9·256 + 3·256)) = 576, "
                       f"not {m2}")
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

