"""Grouped and depthwise convs through the low-rank tools, proved in float64.

A Conv3d with groups = g is g convs C_in/g -> C_out/g side by side, so its best
(2+1)D layer with r intermediate channels per group is g truncated SVDs, one per
group's (C_out/g·t) × (C_in/g·d_h·d_w) unfolded kernel (`r21d_edu.lowrank_groups`).
The oracle here is that statement taken literally: each group cut out as its own
ungrouped nn.Conv3d and factorized by the ungrouped code.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from r21d_edu import summarize_network
from r21d_edu.factorized import DepthwiseConv2Plus1d
from r21d_edu.layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv, copy_weights
from r21d_edu.lowrank import compose, composed_kernel, energy_profile, factorize, unfold_kernel
from r21d_edu.netfactor import (
    ConvProfile,
    NetworkProfile,
    compose_network,
    factorize_network,
    insert_middle_bn_relu,
    network_profile,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: extra threads only add synchronisation on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


@st.composite
def grouped_convs(draw: st.DrawFn) -> tuple[nn.Conv3d, tuple[int, ...]]:
    """A small random grouped Conv3d (depthwise and channel multipliers included) and an
    input shape it accepts, in float64."""
    groups = draw(st.integers(1, 4))
    per_in, per_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(3))
    torch.manual_seed(draw(st.integers(0, 2**31 - 1)))
    conv = nn.Conv3d(groups * per_in, groups * per_out, kernel,
                     stride=tuple(draw(st.integers(1, 2)) for _ in range(3)), padding=padding,
                     bias=draw(st.booleans()), groups=groups).double()
    sizes = tuple(max(1, k - 2 * p) + draw(st.integers(0, 3))
                  for k, p in zip(kernel, padding, strict=True))
    return conv, (draw(st.integers(1, 2)), conv.in_channels, *sizes)


def _group_convs(conv: nn.Conv3d) -> list[nn.Conv3d]:
    """Each group of ``conv`` as its own ungrouped Conv3d (the oracle)."""
    g, co = conv.groups, conv.out_channels // conv.groups
    parts = []
    for j in range(g):
        part = nn.Conv3d(conv.in_channels // g, co, conv.kernel_size, conv.stride, conv.padding,
                         bias=False).double()
        part.weight.data.copy_(conv.weight.detach()[j * co:(j + 1) * co])
        parts.append(part)
    return parts


@settings(max_examples=120, deadline=None)
@given(grouped_convs())
def test_full_per_group_rank_is_the_grouped_conv_and_compose_inverts_it(case) -> None:
    conv, shape = case
    g = conv.groups
    profile = energy_profile(conv)
    full = profile.full_rank
    co, ci = conv.out_channels // g, conv.in_channels // g
    t, d_h, d_w = conv.kernel_size
    assert full == min(co * t, ci * d_h * d_w) and profile.groups == g
    layer = factorize(conv, full)
    assert isinstance(layer, SpatioTemporalConv) and layer.is_linear
    assert (layer.groups, layer.intermediate_channels) == (g, g * full)
    assert layer.spatial.groups == layer.temporal.groups == g
    back = compose(layer)
    assert isinstance(back, FullConv3d) and back.groups == g
    assert _relative(back.weight, conv.weight) <= 1e-9
    assert _relative(composed_kernel(layer), conv.weight) <= 1e-9
    if conv.bias is not None:
        assert torch.equal(back.bias, conv.bias)
    x = torch.randn(shape, dtype=torch.float64)
    assert _relative(layer(x), conv(x)) <= 1e-9
    assert _relative(back(x), conv(x)) <= 1e-9
    # compose ∘ factorize at full rank is the identity on the conv (kernel, bias, geometry).
    assert (back.stride, back.padding, back.kernel_size) == (conv.stride, conv.padding,
                                                             conv.kernel_size)


@settings(max_examples=120, deadline=None)
@given(grouped_convs(), st.integers(1, 40))
def test_truncation_is_each_groups_eckart_young_optimum(case, rank_seed) -> None:
    conv, _ = case
    profile = energy_profile(conv)
    rank = 1 + rank_seed % profile.full_rank
    kernel = compose(factorize(conv, rank)).weight.detach()
    g, co = conv.groups, conv.out_channels // conv.groups
    parts = _group_convs(conv)
    tails, kept, total = 0.0, 0.0, float(conv.weight.detach().square().sum())
    for j, part in enumerate(parts):
        s = torch.linalg.svdvals(unfold_kernel(part.weight.detach()))
        tails += float(s[rank:].square().sum())
        kept += float(s[:rank].square().sum())
        block = kernel[j * co:(j + 1) * co]
        # Each block has rank <= r, and is the ungrouped truncated SVD of its group
        # (unique where s_r > s_{r+1}: compare only there).
        assert torch.linalg.matrix_rank(unfold_kernel(block), atol=1e-10) <= rank
        if rank < len(s) and s[rank - 1] - s[rank] > 1e-6 * s[0]:
            alone = compose(factorize(part, rank)).weight.detach()
            assert (block - alone).norm() <= 1e-7 * max(float(s[0]), 1e-12)
    error = float((kernel - conv.weight.detach()).norm())
    assert error == pytest.approx(math.sqrt(tails), rel=1e-9, abs=1e-12)
    assert error == pytest.approx(profile.error_at(rank), rel=1e-9, abs=1e-12)
    assert profile.energy_at(rank) == pytest.approx(kept / total, abs=1e-12)
    assert profile.energy_at(rank) == pytest.approx(1 - error**2 / total, abs=1e-9)
    own = profile.group_energy_at(rank)
    assert len(own) == g
    for j, part in enumerate(parts):
        if float(part.weight.detach().square().sum()) > 0:
            assert own[j] == pytest.approx(energy_profile(part).energy_at(rank), abs=1e-12)


def test_no_grouped_layer_with_r_channels_per_group_comes_closer() -> None:
    torch.manual_seed(0)
    conv = nn.Conv3d(6, 9, 3, groups=3, bias=False).double()
    best = float((compose(factorize(conv, 2)).weight - conv.weight).detach().norm())
    for seed in range(20):
        torch.manual_seed(seed)
        other = SpatioTemporalConv(6, 9, 3, bias=False, intermediate_channels=6,
                                   middle_bn_relu=False, groups=3).double()
        assert float((composed_kernel(other) - conv.weight.detach()).norm()) >= best


def test_a_depthwise_conv_has_rank_min_t_dd_per_channel_and_rank_1_is_depthwise_2plus1d():
    torch.manual_seed(0)
    c = 64
    conv = nn.Conv3d(c, c, 3, padding=1, groups=c).double()  # ir-CSN's conv
    profile = energy_profile(conv)
    # Per channel the unfolded kernel is t × d_h·d_w = 3 × 9: rank up to 3, not 1.
    assert (profile.unfolded_shape, profile.full_rank, profile.paper_rank) == ((3, 9), 3, 2)
    assert "groups = 64" in profile.explanation and "(M = 128)" in profile.explanation
    x = torch.randn(1, c, 5, 6, 6, dtype=torch.float64)
    exact = factorize(conv, 3)
    assert exact.intermediate_channels == 192 and _relative(exact(x), conv(x)) <= 1e-9
    # Rank 1 per channel: M = C, a depthwise spatial then a depthwise temporal conv —
    # MoViNet's / X3D's depthwise (2+1)D layer, 9·64 + 3·64 = 768 weights.
    one = factorize(conv, 1)
    assert sum(p.numel() for p in one.parameters()) == 768 + c
    dw = DepthwiseConv2Plus1d(c, c, 3, padding=1).double()
    with torch.no_grad():
        dw.spatial.weight.copy_(one.spatial.weight)
        dw.temporal.weight.copy_(one.temporal.weight)
        dw.temporal.bias.copy_(one.temporal.bias)
    assert _relative(dw(x), one(x)) <= 1e-12
    assert float((compose(one).weight - conv.weight).detach().norm()) == pytest.approx(
        profile.error_at(1), rel=1e-9)


def test_a_channel_multiplier_widens_each_groups_block():
    torch.manual_seed(1)
    conv = nn.Conv3d(4, 8, (3, 3, 3), groups=4).double()  # 2 outputs per input channel
    profile = energy_profile(conv)
    assert (profile.unfolded_shape, profile.full_rank) == ((6, 9), 6)
    assert _relative(compose(factorize(conv, 6)).weight, conv.weight) <= 1e-9


def test_the_naive_layer_takes_groups_too_and_equals_the_factorized_one():
    torch.manual_seed(2)
    layer = SpatioTemporalConv(6, 9, (3, 3, 2), stride=(2, 1, 2), padding=1,
                               intermediate_channels=12, groups=3).double().eval()
    naive = NaiveConv2Plus1d.from_factorized(layer)
    assert naive.groups == 3 and naive.config == layer.config
    x = torch.randn(2, 6, 5, 7, 6, dtype=torch.float64)
    assert _relative(naive(x), layer(x)) <= 1e-12
    assert _relative(SpatioTemporalConv.from_naive(naive)(x), layer(x)) <= 1e-12
    # Grouped layers keep the ungrouped layer's config keys untouched (no "groups" key).
    assert "groups" not in SpatioTemporalConv(4, 4, 3).config
    # None for M: g times the paper's M of one group (2 -> 3 per group, t = d = 3:
    # ⌊27·2·3 / (9·2 + 3·3)⌋ = 6), so the weights match the grouped 3D conv's 486.
    paper = SpatioTemporalConv(6, 9, 3, bias=False, groups=3)
    assert paper.intermediate_channels == 3 * 6
    assert sum(p.numel() for p in paper.parameters() if p.dim() == 5) == 27 * 2 * 9 == 486
    linear = NaiveConv2Plus1d(6, 9, 3, intermediate_channels=6, middle_bn_relu=False,
                              groups=3).double()
    assert _relative(compose(linear)(x), linear(x)) <= 1e-12


# --------------------------------------------------------------------------
# A network with an ir-CSN-like depthwise conv and a grouped conv
# --------------------------------------------------------------------------

SHAPE = (2, 3, 4, 10, 10)


def _grouped_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv3d(3, 8, 3, padding=1, bias=False),              # ungrouped stem
        nn.BatchNorm3d(8), nn.ReLU(),
        nn.Conv3d(8, 8, 3, padding=1, groups=8, bias=False),    # ir-CSN: depthwise 3×3×3
        nn.BatchNorm3d(8), nn.ReLU(),
        nn.Conv3d(8, 16, 3, stride=(1, 2, 2), padding=1, groups=4),  # grouped, with bias
        nn.Conv3d(16, 16, 1),                                   # 1×1×1: kept
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(16, 5),
    ).double()
    for module in net.modules():  # random BN statistics, so eval mode hides nothing
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_factorize_network_at_full_rank_keeps_the_outputs_and_compose_network_inverts_it():
    net = _grouped_net()
    x = torch.randn(SHAPE, dtype=torch.float64)
    new = factorize_network(net, rank=10**6, input_shape=SHAPE)
    report = new.factorization
    assert [(r.name, r.groups, r.rank, r.full_rank) for r in report.layers] == [
        ("0", 1, 24, 24), ("3", 8, 3, 3), ("6", 4, 12, 12)]
    assert [name for name, _ in report.kept] == ["7"]
    for name, g in (("3", 8), ("6", 4)):
        layer = new.get_submodule(name)
        assert isinstance(layer, SpatioTemporalConv) and layer.groups == g
    assert torch.allclose(new(x), net(x), rtol=0, atol=1e-12)
    back = compose_network(new)
    for name in ("0", "3", "6"):
        assert back.get_submodule(name).groups == net.get_submodule(name).groups
        assert _relative(back.get_submodule(name).weight, net.get_submodule(name).weight) <= 1e-9
    assert torch.allclose(back(x), net(x), rtol=0, atol=1e-12)
    assert "8·3 / 8·3" in str(report) and "4·12 / 4·12" in str(report)


@pytest.mark.parametrize("plan", [{"rank": 2}, {"rank": "paper"}, {"energy": 0.8},
                                  {"budget": 0.7}, {"budget": 0.6, "cost": "macs"}])
def test_the_plans_costs_match_counting_of_the_built_network(plan):
    net = _grouped_net(1)
    new = factorize_network(net, input_shape=SHAPE, **plan)
    report = new.factorization
    before, after = (summarize_network(m, SHAPE, dtype=torch.float64) for m in (net, new))
    assert report.params_before == before.params == _params(net)
    assert report.params_after == after.params == _params(new)
    assert (report.macs_before, report.macs_after) == (before.macs, after.macs)
    with FlopCounterMode(display=False) as flops:  # PyTorch's own count: 2 FLOPs per MAC
        new(torch.zeros(SHAPE, dtype=torch.float64))
    assert flops.get_total_flops() == 2 * report.macs_after
    for row in report.layers:
        layer = new.get_submodule(row.name)
        t, d_h, d_w = row.kernel_size
        g = row.groups
        # g·r·(d_h·d_w·C_in/g + t·C_out/g) weights, plus the bias.
        weights = g * row.rank * (d_h * d_w * row.in_channels // g + t * row.out_channels // g)
        bias = row.out_channels if layer.temporal.bias is not None else 0
        assert row.params_after == weights + bias == _params(layer)
        assert layer.intermediate_channels == g * row.rank
    if "energy" in plan:
        assert all(row.energy >= plan["energy"] - 1e-12 for row in report.layers)
    if "budget" in plan:
        total = report.params_before if plan.get("cost", "params") == "params" else \
            report.macs_before
        spent = report.params_after if plan.get("cost", "params") == "params" else \
            report.macs_after
        assert spent <= int(plan["budget"] * total)
    if plan == {"rank": "paper"}:  # the depthwise conv: the paper's M of one channel is 2
        assert report.ranks["3"] == 2 and report.layers[1].params_after <= 8 * 27


def test_the_profiles_energies_agree_with_energy_profile_and_survive_json():
    net = _grouped_net(2)
    profile = network_profile(net, SHAPE)
    for layer in profile.layers:
        direct = energy_profile(net.get_submodule(layer.name))
        assert layer.groups == direct.groups and layer.full_rank == direct.full_rank
        assert layer.energy == pytest.approx(direct.energy, abs=1e-12)
        assert layer.singular_values == pytest.approx(direct.singular_values, abs=1e-10)
    again = NetworkProfile.from_dict(profile.to_dict())
    assert again.plan(energy=0.9).ranks == profile.plan(energy=0.9).ranks
    assert [p.groups for p in again.layers] == [1, 8, 4]
    # A profile stored before groups existed reads as ungrouped.
    stored = profile.to_dict()["layers"][0]
    del stored["groups"]
    assert ConvProfile.from_dict(stored).groups == 1


def test_bn_relu_goes_between_the_halves_of_a_grouped_layer_near_the_linear_one():
    net = _grouped_net(3)
    linear = factorize_network(net, rank=2)
    x = torch.randn(SHAPE, dtype=torch.float64)
    # A margin so wide that ReLU clips nothing: the block equals the linear one, which
    # holds only if each output group's bias takes back its own group's shift.
    wide = insert_middle_bn_relu(linear, x, margin=1e3)
    for name in ("3", "6"):
        assert wide.get_submodule(name).groups == linear.get_submodule(name).groups
    assert _relative(wide(x), linear(x)) <= 1e-9


def test_grouped_errors_say_what_was_expected():
    with pytest.raises(ValueError, match="in_channels = 8 is not a multiple of groups = 3"):
        SpatioTemporalConv(8, 9, 3, groups=3)
    with pytest.raises(ValueError, match="intermediate_channels = 5 is not a multiple of "
                                         "groups = 2"):
        SpatioTemporalConv(8, 8, 3, intermediate_channels=5, groups=2)
    with pytest.raises(ValueError, match="out_channels = 6 is not a multiple of groups = 4"):
        FullConv3d(8, 6, 3, groups=4)
    with pytest.raises(ValueError, match=r"full rank of each of the 8 groups.* = 3, got 4"):
        factorize(nn.Conv3d(8, 8, 3, groups=8), 4)
    with pytest.raises(ValueError, match="groups=3.*shape \\(4, 2, 3, 3, 3\\)"):
        energy_profile(torch.randn(4, 2, 3, 3, 3), groups=3)
    with pytest.raises(ValueError, match="groups=2 was given for a conv with groups=4"):
        energy_profile(nn.Conv3d(4, 4, 3, groups=4), groups=2)
    grouped = SpatioTemporalConv(4, 4, 3, intermediate_channels=4, groups=2)
    with pytest.raises(ValueError, match="differ in groups"):
        copy_weights(grouped, SpatioTemporalConv(4, 4, 3, intermediate_channels=4))


@pytest.mark.parametrize("name", ["IrCSNConv", "IpCSNConv"])
def test_the_csn_layers_depthwise_convs_are_factorized_inside_them(name):
    from r21d_edu import factorized

    torch.manual_seed(4)
    model = nn.Sequential(getattr(factorized, name)(8, 8, 3, padding=1)).double().eval()
    x = torch.randn(1, 8, 4, 6, 6, dtype=torch.float64)
    new = factorize_network(model, rank=10**6)
    assert [(r.name, r.groups, r.rank) for r in new.factorization.layers] == [
        ("0.depthwise", 8, 3)]
    assert _relative(new(x), model(x)) <= 1e-12


def test_the_fast_path_and_per_layer_counting_refuse_a_grouped_layer_by_name() -> None:
    """Neither builds dense convs from grouped weights (that would compute something else)."""
    from r21d_edu.counting import count_parameters
    from r21d_edu.fast import FastSpatioTemporalConv

    grouped = factorize(nn.Conv3d(8, 8, 3, groups=8, dtype=torch.float64), 1)
    with pytest.raises(ValueError, match="groups=8"):
        FastSpatioTemporalConv.from_layer(grouped)
    with pytest.raises(ValueError, match="summarize_network"):
        count_parameters(grouped)
