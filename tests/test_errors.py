"""Bad input gets a message that says what was expected, what came and what to do."""

import pytest
import torch

from r21d_edu import (
    FullConv3d,
    NaiveConv2Plus1d,
    SpatioTemporalConv,
    intermediate_channels,
)

LAYERS = [FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv]


@pytest.fixture(params=LAYERS, ids=lambda cls: cls.__name__)
def layer(request):
    return request.param(3, 8, kernel_size=3, padding=1)


def test_stack_of_frames_is_explained(layer):
    frames = torch.randn(16, 3, 32, 32)  # (T, C, H, W)
    with pytest.raises(ValueError, match=r"expects a 5D clip \(N, C, T, H, W\), got the 4D shape "
                                         r"\(16, 3, 32, 32\).*x\.permute\(1, 0, 2, 3\)\.unsqueeze\(0\)"):
        layer(frames)


def test_time_and_channel_swapped_is_recognised(layer):
    clip = torch.randn(2, 16, 3, 32, 32)  # (N, T, C, H, W)
    with pytest.raises(ValueError, match=r"looks like \(N, T, C, H, W\); use x\.permute\(0, 2, 1, 3, 4\)"):
        layer(clip)


def test_channel_mismatch_names_both_counts(layer):
    with pytest.raises(ValueError, match=r"expects 3 input channels, got a clip with 4 channels"):
        layer(torch.randn(1, 4, 8, 16, 16))


def test_input_smaller_than_kernel_after_padding(layer):
    small = type(layer)(3, 8, kernel_size=(5, 3, 3))
    with pytest.raises(ValueError, match=r"smaller than the kernel along T: 4 \+ 2\*0 padding = 4 < kernel 5"):
        small(torch.randn(1, 3, 4, 16, 16))


def test_wrong_rank_other_than_4(layer):
    with pytest.raises(ValueError, match=r"expects a 5D clip \(N, C, T, H, W\), got 3D shape"):
        layer(torch.randn(3, 8, 8))


def test_integer_clip_suggests_conversion(layer):
    with pytest.raises(TypeError, match=r"floating-point clip, got dtype torch.uint8; .*x\.float\(\) / 255"):
        layer(torch.zeros(1, 3, 4, 8, 8, dtype=torch.uint8))


def test_not_a_tensor(layer):
    with pytest.raises(TypeError, match=r"expects a torch.Tensor clip .* got list"):
        layer([[1.0, 2.0]])


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
def test_kernel_tuple_of_wrong_length(cls):
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a 3-tuple \(t, h, w\), "
                                         r"got \(3, 3\) with 2 entries"):
        cls(3, 8, kernel_size=(3, 3))


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_channels": 0}, r"in_channels must be an integer >= 1, got 0"),
        ({"out_channels": -4}, r"out_channels must be an integer >= 1, got -4"),
        ({"kernel_size": (3, 0, 3)}, r"kernel_size must be >= 1 along every axis, got 0 for h"),
        ({"stride": 0}, r"stride must be >= 1 along every axis, got 0 for t"),
        ({"padding": (0, -1, 0)}, r"padding must be >= 0 along every axis, got -1 for h"),
    ],
)
def test_zero_or_negative_sizes(cls, kwargs, message):
    args = {"in_channels": 3, "out_channels": 8, "kernel_size": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        cls(**args)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_channels": 3.0}, r"in_channels must be an integer, got 3.0 \(float\)"),
        ({"kernel_size": (3, 2.5, 3)}, r"kernel_size must hold integers, got 2.5 \(float\) for h"),
        ({"kernel_size": "3"}, r"kernel_size must be an int or a 3-tuple \(t, h, w\) of ints, got '3'"),
        ({"out_channels": True}, r"out_channels must be an integer, got True \(bool\)"),
    ],
)
def test_non_integer_sizes(cls, kwargs, message):
    args = {"in_channels": 3, "out_channels": 8, "kernel_size": 3} | kwargs
    with pytest.raises(TypeError, match=message):
        cls(**args)


@pytest.mark.parametrize("cls", [NaiveConv2Plus1d, SpatioTemporalConv], ids=lambda c: c.__name__)
def test_intermediate_channels_below_one(cls):
    with pytest.raises(ValueError, match=r"intermediate_channels \(M\) must be an integer >= 1, got 0"):
        cls(3, 8, 3, intermediate_channels=0)


@pytest.mark.parametrize("cls", [NaiveConv2Plus1d, SpatioTemporalConv], ids=lambda c: c.__name__)
def test_formula_giving_zero_asks_for_an_explicit_m(cls):
    with pytest.raises(ValueError, match=r"formula gives M = 0 .* pass intermediate_channels=1 or more"):
        cls(1, 1, 1)


def test_unknown_convention():
    with pytest.raises(ValueError, match=r"convention must be 'paper' .* or 'torchvision' .* got 'caffe'"):
        intermediate_channels(64, 64, 3, convention="caffe")


@pytest.mark.parametrize("cls", [NaiveConv2Plus1d, SpatioTemporalConv], ids=lambda c: c.__name__)
def test_training_batch_norm_on_a_single_value_per_channel(cls):
    layer = cls(3, 8, kernel_size=(1, 3, 3)).train()
    with pytest.raises(ValueError, match=r"training mode the middle BatchNorm needs more than one "
                                         r"value per channel .* N\*T\*H'\*W' = 1 .* call \.eval\(\)"):
        layer(torch.randn(1, 3, 1, 3, 3))
    assert layer.eval()(torch.randn(1, 3, 1, 3, 3)).shape == (1, 8, 1, 1, 1)
