"""The frame rule: a video network accepts every clip its layers can process.

A padded stride-2 conv maps 1 frame to 1 frame, so `clip_stride` is how much a
network shrinks a clip, not a minimum size. torchvision's R(2+1)D-18 runs a
4-frame clip (T: 4 -> 4 -> 2 -> 1 -> 1 over the stem and stages 1-4); only a
shape that some conv would shrink to zero is refused, with a message that names
the conv, the axis and the arithmetic.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from r21d_edu import VideoResNet, mc3_18, r2plus1d_18, r3d_18


def stage_frames(model: nn.Module, clip: torch.Tensor) -> list[int]:
    seen: list[int] = []
    hooks = [model.get_submodule(name).register_forward_hook(
        lambda module, args, out: seen.append(out.shape[2]))
        for name in ("stem", "layer1", "layer2", "layer3", "layer4")]
    with torch.no_grad():
        model(clip)
    for hook in hooks:
        hook.remove()
    return seen


def test_r2plus1d_18_runs_a_four_frame_clip_like_torchvision() -> None:
    torch.manual_seed(0)
    model = r2plus1d_18(num_classes=5).eval()
    assert stage_frames(model, torch.randn(1, 3, 4, 32, 32)) == [4, 4, 2, 1, 1]


@pytest.mark.parametrize("builder", [r3d_18, mc3_18, r2plus1d_18])
@pytest.mark.parametrize("sizes", [(1, 1, 1), (2, 3, 5), (4, 16, 16), (7, 9, 1)])
def test_every_clip_the_layers_can_process_is_accepted(builder, sizes) -> None:
    with torch.device("meta"):
        model = builder().eval()
    out = model(torch.empty(1, 3, *sizes, device="meta"))
    assert tuple(out.shape) == (1, 400)
    # The traced sizes are what the layers really give: ceil(size / stride) here.
    expected = tuple(-(-s // c) for s, c in zip(sizes, model.clip_stride))
    assert model.trace_sizes(sizes) == expected


@settings(max_examples=15, deadline=None)
@given(t=st.integers(1, 9), h=st.integers(1, 40), w=st.integers(1, 40))
def test_trace_matches_the_real_forward_pass(t: int, h: int, w: int) -> None:
    torch.manual_seed(0)
    model = r2plus1d_18(num_classes=3).eval()
    seen = {}
    hook = model.layer4.register_forward_hook(lambda m, a, out: seen.update(shape=out.shape))
    with torch.no_grad():
        model(torch.randn(1, 3, t, h, w))
    hook.remove()
    assert tuple(seen["shape"][2:]) == model.trace_sizes((t, h, w))


def unpadded_temporal_stem() -> nn.Module:
    # A stem whose temporal conv has no padding: a 2-frame clip would leave it nothing.
    return nn.Sequential(
        nn.Conv3d(3, 64, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(64),
        nn.ReLU(inplace=True), nn.Conv3d(64, 64, (3, 1, 1), bias=False), nn.BatchNorm3d(64),
        nn.ReLU(inplace=True))


def test_a_shape_shrunk_to_zero_is_refused_with_the_arithmetic() -> None:
    model = VideoResNet(("2plus1d",) * 4, (1, 1, 1, 1), unpadded_temporal_stem()).eval()
    with pytest.raises(ValueError) as info:
        model(torch.randn(1, 3, 2, 16, 16))
    assert str(info.value) == (
        "VideoResNet: stem.3 would shrink T (frames) to zero: 2 + 2*0 padding = 2 < kernel 3 "
        "(clip shape (1, 3, 2, 16, 16)). Use a clip with more frames")
    with torch.no_grad():  # one more frame and it runs
        assert model(torch.randn(1, 3, 3, 16, 16)).shape == (1, 400)


def test_the_first_conv_still_explains_a_clip_smaller_than_its_kernel() -> None:
    stem = nn.Sequential(nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (0, 3, 3)), nn.BatchNorm3d(64),
                         nn.ReLU())
    model = VideoResNet(("3d",) * 4, (1, 1, 1, 1), stem).eval()
    with pytest.raises(ValueError, match=r"smaller than the kernel along T: 2 \+ 2\*0 padding"):
        model(torch.randn(1, 3, 2, 16, 16))


def test_training_mode_still_needs_more_than_one_value_per_channel() -> None:
    with torch.device("meta"):
        model = r2plus1d_18().train()
    with pytest.raises(ValueError, match=r"\(N, 512, 1, 1, 1\) with N = 1.*model\.eval\(\)"):
        model(torch.empty(1, 3, 4, 16, 16, device="meta"))
    model(torch.empty(2, 3, 4, 16, 16, device="meta"))  # two clips: fine
