"""The paper's family at laptop size: same builder, matched parameters, the ablations as described."""

import pytest
import torch
from torch import nn

from r21d_edu import SpatioTemporalConv, VideoResNet, intermediate_channels
from r21d_edu.family import FAMILY, family_model, family_parameters
from r21d_edu.models import ConvBuilder, R2Plus1dStem, SpatioTemporalResBlock

# Printed in the experiment's README; a change here changes the committed comparison.
EXPECTED_PARAMETERS = {
    "r2d": 314_408, "f-r2d": 308_920, "r3d": 900_312, "mc3": 319_704, "rmc3": 889_528,
    "r2plus1d": 901_668, "r2plus1d-no-relu": 901_668, "r2plus1d-no-bn": 899_664,
    "r2plus1d-linear": 899_664, "r2plus1d-rank4": 234_432,
}


def test_parameter_counts_are_the_documented_ones():
    assert family_parameters() == EXPECTED_PARAMETERS


def test_r2plus1d_is_matched_to_r3d_by_the_papers_m_within_a_fifth_of_a_percent():
    counts = family_parameters()
    assert abs(counts["r2plus1d"] / counts["r3d"] - 1) < 0.002


def test_the_linear_ablation_loses_exactly_the_middle_batchnorms():
    full, linear = family_model("r2plus1d"), family_model("r2plus1d-linear")
    middle_bn = sum(2 * m.intermediate_channels for m in full.modules()
                    if isinstance(m, (SpatioTemporalConv, R2Plus1dStem)))
    counts = family_parameters()
    assert counts["r2plus1d"] - counts["r2plus1d-linear"] == middle_bn
    for module in linear.modules():
        if isinstance(module, SpatioTemporalConv):
            assert isinstance(module.bn, nn.Identity) and isinstance(module.relu, nn.Identity)
    assert isinstance(linear.stem[1], nn.Identity) and isinstance(linear.stem[2], nn.Identity)


@pytest.mark.parametrize(("name", "bn", "relu"), [
    ("r2plus1d", nn.BatchNorm3d, nn.ReLU), ("r2plus1d-no-relu", nn.BatchNorm3d, nn.Identity),
    ("r2plus1d-no-bn", nn.Identity, nn.ReLU), ("r2plus1d-linear", nn.Identity, nn.Identity),
])
def test_the_middle_ablations_change_only_what_sits_between_the_halves(name, bn, relu):
    model, reference = family_model(name), family_model("r2plus1d")
    middles = [m for m in model.modules() if isinstance(m, SpatioTemporalConv)]
    assert middles and all(isinstance(m.bn, bn) and isinstance(m.relu, relu) for m in middles)
    assert isinstance(model.stem[1], bn) and isinstance(model.stem[2], relu)
    # The conv weights are the same shapes as r2plus1d's, layer for layer.
    convs = [tuple(p.shape) for n, p in model.named_parameters() if p.dim() == 5]
    assert convs == [tuple(p.shape) for n, p in reference.named_parameters() if p.dim() == 5]
    assert model.stem.intermediate_channels == reference.stem.intermediate_channels


def test_a_middle_batchnorm_without_relu_is_linear_at_eval_time():
    torch.manual_seed(0)
    model = family_model("r2plus1d-no-relu").double()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    layer = next(m for m in model.modules() if isinstance(m, SpatioTemporalConv)).eval()
    x, y = (torch.randn(2, layer.in_channels, 4, 8, 8, dtype=torch.float64) for _ in range(2))
    zero = layer(torch.zeros_like(x))
    # An affine map: f(x + y) - f(0) == (f(x) - f(0)) + (f(y) - f(0)).
    assert torch.allclose(layer(x + y) - zero, (layer(x) - zero) + (layer(y) - zero), atol=1e-12)


def test_the_rank_ablation_divides_every_m_by_four():
    full, rank = family_model("r2plus1d"), family_model("r2plus1d-rank4")
    pairs = zip([m for m in full.modules() if isinstance(m, SpatioTemporalConv)],
                [m for m in rank.modules() if isinstance(m, SpatioTemporalConv)])
    for a, b in pairs:
        assert b.intermediate_channels == max(a.intermediate_channels // 4, 1)
    assert rank.stem.intermediate_channels == intermediate_channels(1, 16, (3, 7, 7)) // 4


@pytest.mark.parametrize("name", FAMILY)
def test_every_member_is_a_video_resnet_that_classifies_a_clip(name):
    torch.manual_seed(0)
    model = family_model(name).eval()
    assert isinstance(model, VideoResNet)
    assert model(torch.rand(2, 1, 8, 32, 32)).shape == (2, 8)


def _frames_after_stem(name):
    model = family_model(name).eval()
    return model.stem(torch.rand(1, 1, 8, 32, 32)).shape[2]


def test_r2d_collapses_time_at_the_stem_and_the_others_keep_it():
    assert _frames_after_stem("r2d") == 1
    for name in ("f-r2d", "r3d", "mc3", "rmc3", "r2plus1d"):
        assert _frames_after_stem(name) == 8


def test_f_r2d_cannot_see_the_order_of_frames():
    torch.manual_seed(0)
    model = family_model("f-r2d").double().eval()
    clip = torch.rand(3, 1, 8, 32, 32, dtype=torch.float64)
    reordered = clip[:, :, torch.randperm(8)]
    torch.testing.assert_close(model(reordered), model(clip), rtol=1e-12, atol=1e-12)


def test_r3d_can_see_the_order_of_frames():
    torch.manual_seed(0)
    model = family_model("r3d").double().eval()
    clip = torch.rand(1, 1, 8, 32, 32, dtype=torch.float64)
    assert not torch.allclose(model(clip.flip(2)), model(clip))


def test_mixed_convolutions_put_3d_where_the_paper_says():
    assert family_model("mc3").conv_types == ("3d", "2d", "2d", "2d")
    assert family_model("rmc3").conv_types == ("2d", "3d", "3d", "3d")
    assert family_model("mc3").stem[0].kernel_size == (3, 7, 7)
    assert family_model("rmc3").stem[0].kernel_size == (1, 7, 7)


def test_the_18_layer_builders_and_the_family_share_one_block_class():
    block = family_model("r3d").layer2[0]
    assert type(block) is SpatioTemporalResBlock
    assert block.conv_builder == ConvBuilder("3d")


def test_unknown_members_and_bad_widths_are_refused_with_the_family_listed():
    with pytest.raises(ValueError, match="unknown model 'r4d'; the family is r2d, f-r2d, r3d"):
        family_model("r4d")
    with pytest.raises(ValueError, match="widths must give the channels of the 4 stages"):
        family_model("r3d", widths=(16, 32))


def test_conv_builder_options_only_shape_2plus1d_convs():
    with pytest.raises(ValueError, match="middle_bn_relu and rank_divisor shape"):
        ConvBuilder("3d", rank_divisor=2)
    with pytest.raises(TypeError, match="middle_bn_relu must be True or False"):
        ConvBuilder("2plus1d", middle_bn_relu="False")
    assert ConvBuilder("2plus1d", "paper", rank_divisor=4).intermediate(16, 16, (3, 3, 3)) \
        == (9, 9)
