"""Facts about the three layers that a user relies on.

Equivalences are exact, so they are checked in float64 with tight tolerances:
the naive Conv2d + Conv1d layer and the factorized (2+1)D layer compute the
same function when they share weights, and all three layers produce the output
shape `nn.Conv3d` produces.
"""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from r21d_edu import (
    FullConv3d,
    NaiveConv2Plus1d,
    SpatioTemporalConv,
    block_intermediate_channels,
    copy_weights,
    intermediate_channels,
)

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


# -- the formula ------------------------------------------------------------


def weight_count(layer: nn.Module) -> int:
    return sum(p.numel() for name, p in layer.named_parameters() if name.endswith("weight")
               and p.dim() > 1)


def test_formula_64_to_64_gives_144_and_equal_weight_counts():
    assert intermediate_channels(64, 64, 3) == 144
    full = FullConv3d(64, 64, 3, bias=False)
    factorized = SpatioTemporalConv(64, 64, 3, bias=False)
    assert factorized.intermediate_channels == 144
    assert weight_count(full) == 110_592
    assert weight_count(factorized) == 110_592  # 9*64*144 + 3*144*64


@pytest.mark.parametrize(
    ("n_in", "n_out", "kernel", "expected"),
    [
        (3, 64, (3, 7, 7), 83),  # the ported code's stem
        (64, 128, 3, 230),  # torchvision's layer2.0 midplanes
        (128, 128, 3, 288),
        (256, 256, 3, 576),
        (512, 512, 3, 1152),
        (1, 1, 1, 0),  # the floor can reach 0 for tiny layers
    ],
)
def test_formula_known_values(n_in, n_out, kernel, expected):
    assert intermediate_channels(n_in, n_out, kernel) == expected


@given(
    n_in=st.integers(1, 512),
    n_out=st.integers(1, 512),
    t=st.integers(1, 7),
    d_h=st.integers(1, 7),
    d_w=st.integers(1, 7),
)
def test_formula_is_the_largest_m_within_the_3d_budget(n_in, n_out, t, d_h, d_w):
    m = intermediate_channels(n_in, n_out, (t, d_h, d_w))
    budget = t * d_h * d_w * n_in * n_out
    per_m = d_h * d_w * n_in + t * n_out  # weights one more intermediate channel costs
    assert m * per_m <= budget < (m + 1) * per_m


def test_conventions_differ_only_on_a_widening_blocks_second_conv():
    assert block_intermediate_channels(64, 64, 3, "paper") == (144, 144)
    assert block_intermediate_channels(64, 64, 3, "torchvision") == (144, 144)
    assert block_intermediate_channels(64, 128, 3, "paper") == (230, 288)
    assert block_intermediate_channels(64, 128, 3, "torchvision") == (230, 230)


# -- shapes and equivalence over random configurations ------------------------


@st.composite
def layer_configs(draw):
    """A random conv configuration with an input big enough for its kernel."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(3))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(3))
    size = tuple(
        draw(st.integers(max(1, k - 2 * p), k - 2 * p + 5)) for k, p in zip(kernel, padding)
    )
    return {
        "in_channels": draw(st.integers(1, 4)),
        "out_channels": draw(st.integers(1, 4)),
        "kernel_size": kernel,
        "stride": stride,
        "padding": padding,
        "bias": draw(st.booleans()),
        "intermediate_channels": draw(st.integers(1, 5)),
        "middle_bn_relu": draw(st.booleans()),
        "batch": draw(st.integers(1, 3)),
        "size": size,
    }


def make_input(config, requires_grad=False):
    shape = (config["batch"], config["in_channels"], *config["size"])
    return torch.randn(shape, dtype=torch.float64, requires_grad=requires_grad)


def layer_args(config):
    return {k: v for k, v in config.items() if k not in ("batch", "size")}


@settings(max_examples=60, deadline=None)
@given(config=layer_configs())
def test_all_three_layers_give_the_shape_of_nn_conv3d(config):
    x = make_input(config)
    reference = nn.Conv3d(
        config["in_channels"], config["out_channels"], config["kernel_size"],
        config["stride"], config["padding"],
    ).double()
    expected = reference(x).shape
    args = layer_args(config)
    full = FullConv3d(**{k: args[k] for k in
                         ("in_channels", "out_channels", "kernel_size", "stride", "padding")})
    assert full.double()(x).shape == expected
    # Eval mode: shapes do not depend on BatchNorm, and in training mode a middle tensor
    # with one value per channel is refused on purpose (test_errors checks that message).
    assert NaiveConv2Plus1d(**args).double().eval()(x).shape == expected
    assert SpatioTemporalConv(**args).double().eval()(x).shape == expected


def randomize_batch_norm(layer):
    """Give the middle BN non-trivial statistics so eval mode tests something."""
    if layer.middle_bn_relu:
        m = layer.intermediate_channels
        with torch.no_grad():
            layer.bn.running_mean.copy_(torch.randn(m))
            layer.bn.running_var.copy_(torch.rand(m) + 0.5)
            layer.bn.weight.copy_(torch.randn(m))
            layer.bn.bias.copy_(torch.randn(m))


@settings(max_examples=60, deadline=None)
@given(config=layer_configs(), train=st.booleans())
@example(  # found by CI: one value per channel reaches the middle BatchNorm in training mode
    config={"in_channels": 1, "out_channels": 1, "kernel_size": (1, 1, 1), "stride": (1, 1, 1),
            "padding": (0, 0, 0), "bias": False, "intermediate_channels": 1,
            "middle_bn_relu": True, "batch": 1, "size": (1, 1, 1)},
    train=True,
)
def test_naive_equals_factorized_with_shared_weights(config, train):
    torch.manual_seed(0)
    factorized = SpatioTemporalConv(**layer_args(config)).double()
    randomize_batch_norm(factorized)
    naive = NaiveConv2Plus1d.from_factorized(factorized)
    factorized.train(train)
    naive.train(train)

    x_factorized = make_input(config, requires_grad=True)
    x_naive = x_factorized.detach().clone().requires_grad_(True)
    middle_values = factorized.spatial(x_factorized).numel() // factorized.intermediate_channels
    if train and config["middle_bn_relu"] and middle_values == 1:
        # BatchNorm cannot estimate a variance from one value: both layers say so alike.
        for layer, x in ((factorized, x_factorized), (naive, x_naive)):
            with pytest.raises(ValueError, match=r"needs more than one value per channel"):
                layer(x)
        return
    out_factorized = factorized(x_factorized)
    out_naive = naive(x_naive)
    torch.testing.assert_close(out_naive, out_factorized, **TIGHT)

    grad_out = torch.randn_like(out_factorized)
    out_factorized.backward(grad_out)
    out_naive.backward(grad_out)
    torch.testing.assert_close(x_naive.grad, x_factorized.grad, **TIGHT)
    torch.testing.assert_close(
        naive.spatial.weight.grad.unsqueeze(2), factorized.spatial.weight.grad, **TIGHT
    )
    if train and config["middle_bn_relu"]:
        # Both BatchNorms saw the same statistics, so running estimates moved alike.
        torch.testing.assert_close(naive.bn.running_mean, factorized.bn.running_mean, **TIGHT)
        torch.testing.assert_close(naive.bn.running_var, factorized.bn.running_var, **TIGHT)


def test_weight_transfer_round_trip_keeps_every_tensor():
    torch.manual_seed(1)
    original = SpatioTemporalConv(3, 6, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
    randomize_batch_norm(original)
    back = SpatioTemporalConv.from_naive(NaiveConv2Plus1d.from_factorized(original))
    for key, value in original.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value, rtol=0, atol=0)


def test_state_dict_keys_follow_torchvision_conv2plus1d_positions():
    layer = SpatioTemporalConv(64, 64, 3, padding=1, bias=False)
    assert list(layer.state_dict()) == [
        "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "3.weight",
    ]
    assert layer.spatial.weight.shape == (144, 64, 1, 3, 3)
    assert layer.temporal.weight.shape == (64, 144, 3, 1, 1)


def test_without_middle_bn_relu_the_layers_hold_only_conv_weights():
    layer = SpatioTemporalConv(4, 8, 3, intermediate_channels=5, middle_bn_relu=False)
    assert list(layer.state_dict()) == ["0.weight", "3.weight", "3.bias"]
    naive = NaiveConv2Plus1d(4, 8, 3, intermediate_channels=5, middle_bn_relu=False)
    assert sorted(naive.state_dict()) == ["spatial.weight", "temporal.bias", "temporal.weight"]


def test_copy_weights_refuses_layers_of_different_shapes():
    with pytest.raises(ValueError, match=r"differ in intermediate_channels: 5 vs 6"):
        copy_weights(
            SpatioTemporalConv(2, 3, 3, intermediate_channels=5),
            NaiveConv2Plus1d(2, 3, 3, intermediate_channels=6),
        )


def test_copy_weights_refuses_other_modules():
    with pytest.raises(TypeError, match=r"got Conv3d as source"):
        copy_weights(nn.Conv3d(2, 3, 3), SpatioTemporalConv(2, 3, 3))


def test_from_factorized_keeps_dtype():
    layer = SpatioTemporalConv(2, 3, 3).double()
    assert NaiveConv2Plus1d.from_factorized(layer).spatial.weight.dtype == torch.float64


# -- one half of the middle at a time --------------------------------------


@pytest.mark.parametrize(("bn", "relu"), [(True, False), (False, True)])
@pytest.mark.parametrize("train", [True, False])
def test_a_middle_with_only_bn_or_only_relu_is_the_same_function_both_ways(bn, relu, train):
    torch.manual_seed(0)
    factorized = SpatioTemporalConv(3, 5, 3, padding=1, intermediate_channels=4,
                                    middle_bn=bn, middle_relu=relu).double()
    naive = NaiveConv2Plus1d.from_factorized(factorized)
    assert (naive.middle_bn, naive.middle_relu) == (bn, relu) and not naive.middle_bn_relu
    assert isinstance(factorized.bn, nn.BatchNorm3d if bn else nn.Identity)
    assert isinstance(factorized.relu, nn.ReLU if relu else nn.Identity)
    factorized.train(train), naive.train(train)
    x = torch.randn(2, 3, 4, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(naive(x), factorized(x), **TIGHT)


def test_the_halves_default_to_middle_bn_relu_and_are_checked_as_bools():
    assert SpatioTemporalConv(2, 3, 3, middle_bn_relu=False).is_linear
    layer = SpatioTemporalConv(2, 3, 3, middle_bn_relu=False, middle_relu=True)
    assert (layer.middle_bn, layer.middle_relu, layer.is_linear) == (False, True, False)
    assert "middle_bn=False, middle_relu=True" in repr(layer)
    with pytest.raises(TypeError, match="middle_relu must be True or False"):
        SpatioTemporalConv(2, 3, 3, middle_relu="no")


def test_counting_follows_each_half_of_the_middle():
    from r21d_edu.counting import layer_cost
    from r21d_edu.counting.spec import layer_stages

    for bn, relu in [(True, True), (True, False), (False, True), (False, False)]:
        layer = SpatioTemporalConv(4, 6, 3, intermediate_channels=5, middle_bn=bn,
                                   middle_relu=relu)
        cost = layer_cost(layer, (1, 4, 4, 8, 8))
        assert cost.params == sum(p.numel() for p in layer.parameters())
        stages = [s.name for s in layer_stages(cost.spec, (1, 4, 4, 8, 8), 4)]
        assert ("bn" in stages, "relu" in stages) == (bn, relu)
