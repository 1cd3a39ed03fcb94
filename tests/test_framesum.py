"""A 3D conv is exactly a sum of 2D convs over shifted frames: float64, any kernel, any rank."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from r21d_edu.framesum import FrameSumConv3d, conv3d_by_frames
from r21d_edu.lowrank import energy_profile


@st.composite
def conv3d_cases(draw: st.DrawFn) -> tuple[nn.Conv3d, torch.Tensor]:
    """A random float64 Conv3d (kernel, stride, padding, dilation, groups, bias) and a clip."""
    groups = draw(st.integers(1, 3))
    conv = nn.Conv3d(
        groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3)),
        kernel_size=tuple(draw(st.integers(1, 3)) for _ in range(3)),
        stride=tuple(draw(st.integers(1, 2)) for _ in range(3)),
        padding=tuple(draw(st.integers(0, 2)) for _ in range(3)),
        dilation=tuple(draw(st.integers(1, 2)) for _ in range(3)),
        groups=groups, bias=draw(st.booleans()), dtype=torch.float64)
    seed = draw(st.integers(0, 2**31 - 1))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator,
                                      dtype=torch.float64))
    span = [d * (k - 1) + 1 for d, k in zip(conv.dilation, conv.kernel_size)]
    size = [draw(st.integers(max(1, s - 2 * p), max(1, s - 2 * p) + 4))
            for s, p in zip(span, conv.padding)]
    x = torch.randn(draw(st.integers(1, 2)), conv.in_channels, *size, generator=generator,
                    dtype=torch.float64)
    return conv, x


@settings(max_examples=150, deadline=None)
@given(conv3d_cases())
def test_the_frame_sum_equals_conv3d(case) -> None:
    conv, x = case
    want = conv(x)
    functional = conv3d_by_frames(x, conv.weight, conv.bias, conv.stride, conv.padding,
                                  conv.dilation, conv.groups)
    module = FrameSumConv3d.from_conv3d(conv)
    got = module(x)
    assert functional.shape == got.shape == want.shape
    torch.testing.assert_close(functional, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # Gradients too: the same function of x and of the kernel.
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    (conv(x1) ** 2).sum().backward()
    (module(x2) ** 2).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-12, atol=1e-12)
    slice_grads = torch.stack([c.weight.grad for c in module.frames], dim=2)
    torch.testing.assert_close(slice_grads, conv.weight.grad, rtol=1e-11, atol=1e-11)


def test_it_holds_at_full_rank_where_no_2plus1d_layer_below_full_rank_does() -> None:
    """The identity is not low rank: a random 3x3x3 kernel has full rank, the frame sum
    still equals the conv, and it keeps exactly the conv's weights."""
    torch.manual_seed(0)
    conv = nn.Conv3d(4, 5, 3, padding=1, dtype=torch.float64)
    profile = energy_profile(conv)
    assert profile.full_rank == min(5 * 3, 4 * 9) == 15
    assert profile.energy_at(profile.full_rank - 1) < 1 - 1e-6
    module = FrameSumConv3d.from_conv3d(conv)
    assert len(module.frames) == 3
    assert all(isinstance(f, nn.Conv2d) and f.kernel_size == (3, 3) for f in module.frames)
    assert sum(p.numel() for p in module.parameters()) == sum(
        p.numel() for p in conv.parameters()) == 5 * 4 * 27 + 5
    torch.testing.assert_close(module.kernel(), conv.weight, rtol=0, atol=0)
    x = torch.randn(2, 4, 6, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(module(x), conv(x), rtol=1e-12, atol=1e-12)


def test_the_constructor_draws_like_conv3d() -> None:
    torch.manual_seed(3)
    conv = nn.Conv3d(2, 3, (3, 1, 2), stride=(2, 1, 1))
    torch.manual_seed(3)
    module = FrameSumConv3d(2, 3, (3, 1, 2), stride=(2, 1, 1))
    torch.testing.assert_close(module.kernel(), conv.weight, rtol=0, atol=0)
    torch.testing.assert_close(module.bias, conv.bias, rtol=0, atol=0)
    assert "3 Conv2d slices" in repr(module)


def test_bad_inputs_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="3D conv kernel"):
        conv3d_by_frames(torch.zeros(1, 1, 3, 3, 3), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="smaller than"):
        conv3d_by_frames(torch.zeros(1, 1, 2, 3, 3), torch.zeros(1, 1, 3, 1, 1))
    with pytest.raises(TypeError, match="nn.Conv3d"):
        FrameSumConv3d.from_conv3d(nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="zero padding"):
        FrameSumConv3d.from_conv3d(nn.Conv3d(1, 1, 3, padding="same"))
    with pytest.raises(ValueError):
        conv3d_by_frames(torch.zeros(1, 2, 3, 3, 3), torch.zeros(1, 1, 3, 1, 1))  # channels
    assert F.conv3d(torch.zeros(1, 1, 3, 3, 3), torch.zeros(1, 1, 3, 1, 1)).shape == \
        conv3d_by_frames(torch.zeros(1, 1, 3, 3, 3), torch.zeros(1, 1, 3, 1, 1)).shape
