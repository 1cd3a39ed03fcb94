"""A slice of a layer, a stem or a stage is an nn.Sequential of the same modules.

`nn.Sequential` slices by calling the subclass's constructor, which for these classes
takes sizes, not modules: `SpatioTemporalConv(3, 8, 3)[:3]` used to fail with a
TypeError about `out_channels`.
"""

import pytest
import torch
from torch import nn

from r21d_edu.blocks import BasicStem, R2Plus1dStem, SpatioTemporalResLayer
from r21d_edu.factorized_family import ChannelProjection
from r21d_edu.layers import SpatioTemporalConv


def _instances():
    return {
        "SpatioTemporalConv": SpatioTemporalConv(3, 8, 3, padding=1),
        "BasicStem": BasicStem(),
        "R2Plus1dStem": R2Plus1dStem(),
        "SpatioTemporalResLayer": SpatioTemporalResLayer(8, 8, 3, layer_size=2),
        "ChannelProjection": ChannelProjection(4, 8, nn.Identity()),
    }


@pytest.mark.parametrize("name", list(_instances()))
def test_a_slice_is_a_sequential_of_the_same_modules_under_the_same_keys(name):
    whole = _instances()[name]
    part = whole[:-1]
    assert type(part) is nn.Sequential
    assert list(part._modules) == list(whole._modules)[:-1]
    assert all(a is b for a, b in zip(part, list(whole)[:-1]))
    assert type(whole[0]) is type(list(whole)[0])  # an index still gives the module


def test_the_spatial_half_computes_what_the_layer_computes_first():
    torch.manual_seed(0)
    layer = SpatioTemporalConv(3, 8, 3, padding=1).double().eval()
    x = torch.randn(2, 3, 4, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(layer[3:](layer[:3](x)), layer(x))
