"""Whole-network factorization: exactness, the errors Eckart–Young promises, budgets, refusals."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from r21d_edu import (
    SpatioTemporalConv,
    compose_network,
    factorize_network,
    insert_middle_bn_relu,
    network_profile,
    r3d_18,
    summarize_network,
)
from r21d_edu.lowrank import unfold_kernel
from r21d_edu.models import BasicStem, VideoResNet
from r21d_edu.netfactor import NetworkProfile, is_eligible

SMALL_WIDTHS = (8, 16, 16, 32)


def small_video_resnet(arch: str, seed: int = 0) -> VideoResNet:
    """r3d_18 / mc3_18's structure (stem, 2 blocks per stage, shortcuts) at a small width."""
    torch.manual_seed(seed)
    types = {"r3d": ("3d",) * 4, "mc3": ("3d", "2d", "2d", "2d")}[arch]
    model = VideoResNet(types, (2, 2, 2, 2), BasicStem(3, SMALL_WIDTHS[0]), num_classes=5,
                        widths=SMALL_WIDTHS).double()
    # Random BN statistics, so that eval mode is not an identity that hides a mistake.
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def state(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("arch", ["r3d", "mc3"])
def test_full_rank_equals_the_network_exactly(arch):
    model = small_video_resnet(arch)
    x = torch.randn(2, 3, 4, 16, 16, dtype=torch.float64)
    new = factorize_network(model, rank=10**6)
    eligible = [n for n, m in model.named_modules() if is_eligible(m)]
    assert len(new.factorization.layers) == len(eligible) == (17 if arch == "r3d" else 5)
    assert all(isinstance(new.get_submodule(n), SpatioTemporalConv) for n in eligible)
    assert torch.allclose(new(x), model(x), rtol=0, atol=1e-12)


def test_the_real_r3d_18_structure_at_full_rank_in_float64():
    torch.manual_seed(0)
    model = r3d_18(num_classes=4).double().eval()
    x = torch.randn(1, 3, 2, 16, 16, dtype=torch.float64)
    new = factorize_network(model, rank=10**6)
    report = new.factorization
    assert len(report.layers) == 17  # the stem and 16 block convs; 3 shortcuts are 1x1x1
    assert len(report.kept) == 3 and all("1, 1, 1" in reason for _, reason in report.kept)
    assert torch.allclose(new(x), model(x), rtol=0, atol=1e-10)
    assert report.params_after == sum(p.numel() for p in new.parameters())


def test_each_layer_error_is_the_discarded_singular_values():
    model = small_video_resnet("r3d", seed=1)
    profile = network_profile(model)
    new = factorize_network(model, energy=0.7, profile=profile)
    for layer, row in zip(profile.layers, new.factorization.layers, strict=True):
        original = model.get_submodule(layer.name).weight
        factorized = new.get_submodule(layer.name)
        t, d_h, d_w = layer.kernel_size
        kernel = torch.einsum(
            "omt,mihw->oithw",
            factorized.temporal.weight.reshape(layer.out_channels, row.rank, t),
            factorized.spatial.weight.reshape(row.rank, layer.in_channels, d_h, d_w))
        error = float((kernel - original).detach().norm())
        discarded = math.sqrt(sum(s * s for s in layer.singular_values[row.rank:]))
        assert error == pytest.approx(discarded, rel=1e-9, abs=1e-12)
        assert row.relative_error == pytest.approx(error / float(original.detach().norm()),
                                                   rel=1e-9)
        assert row.energy >= 0.7 - 1e-12
        assert row.rank == 1 or layer.energy_at(row.rank - 1) < 0.7  # the smallest such rank
        svals = torch.linalg.svdvals(unfold_kernel(original.detach()))
        assert layer.singular_values[0] == pytest.approx(float(svals[0]))


@settings(max_examples=25, deadline=None)
@given(share=st.floats(0.25, 1.0), cost=st.sampled_from(["params", "macs"]))
def test_a_budget_is_never_exceeded(share, cost):
    profile = _PROFILE
    report = profile.plan(budget=share, cost=cost)
    limit = int(share * (profile.params if cost == "params" else profile.macs))
    spent = report.params_after if cost == "params" else report.macs_after
    assert spent <= limit
    # ... and greedy filling leaves no layer that one more channel would still fit into.
    for layer, row in zip(profile.layers, report.layers, strict=True):
        unit = layer.rank_params() if cost == "params" else layer.rank_macs()
        assert row.rank == layer.full_rank or spent + unit > limit


_MODEL = small_video_resnet("r3d", seed=2)
_PROFILE = network_profile(_MODEL, (1, 3, 4, 16, 16))


def test_the_report_counts_what_the_built_network_has():
    new = factorize_network(_MODEL, budget=0.4, cost="macs", profile=_PROFILE)
    report = new.factorization
    assert report.params_after == sum(p.numel() for p in new.parameters())
    shape, dtype = (1, 3, 4, 16, 16), torch.float64
    assert report.macs_after == summarize_network(new, shape, dtype=dtype).macs
    assert report.macs_before == summarize_network(_MODEL, shape, dtype=dtype).macs
    assert network_profile(new, shape).macs == report.macs_after
    assert report.macs_after <= 0.4 * report.macs_before


def test_an_absolute_budget_and_one_too_small():
    report = _PROFILE.plan(budget=50_000)
    assert report.params_after <= 50_000
    with pytest.raises(ValueError, match="ask for at least"):
        _PROFILE.plan(budget=1_000)
    with pytest.raises(ValueError, match="share of the network's params in"):
        _PROFILE.plan(budget=1.5)


def test_paper_rank_keeps_each_layer_at_most_as_large():
    for row in _PROFILE.plan(rank="paper").layers:
        assert row.params_after <= row.params_before


def test_a_fixed_rank_is_capped_at_full_rank_and_a_mapping_is_checked():
    report = _PROFILE.plan(rank=40)
    assert all(row.rank == min(40, row.full_rank) for row in report.layers)
    ranks = report.ranks
    assert _PROFILE.plan(rank=ranks).ranks == ranks
    with pytest.raises(ValueError, match="not eligible Conv3d"):
        _PROFILE.plan(rank={**ranks, "fc": 3})
    with pytest.raises(ValueError, match="gives no M for"):
        _PROFILE.plan(rank={"stem.0": 3})


@pytest.mark.parametrize("given", [{}, {"rank": 4, "energy": 0.9}])
def test_exactly_one_rule(given):
    with pytest.raises(ValueError, match="exactly one of rank="):
        _PROFILE.plan(**given)


@pytest.mark.parametrize("energy", [0, 1.2, "0.9"])
def test_energy_out_of_range_is_refused(energy):
    with pytest.raises(ValueError, match=r"energy must be a share in \(0, 1\]"):
        _PROFILE.plan(energy=energy)


@pytest.mark.parametrize("conv, words", [
    (nn.Conv3d(4, 4, 3, dilation=2, padding=2), "dilation=(2, 2, 2)"),
    (nn.Conv3d(4, 4, 3, padding=1, padding_mode="reflect"), "padding_mode='reflect'"),
    (nn.Conv3d(4, 4, 3, padding=1, padding_mode="circular", groups=2), "zeros only"),
    (nn.Conv3d(4, 4, 3, padding="same"), "padding='same'"),
])
def test_unsupported_convs_are_refused_naming_the_layer(conv, words):
    model = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.Sequential(nn.ReLU(), conv))
    with pytest.raises(ValueError, match=r"layer '1\.1'") as info:
        factorize_network(model, energy=0.9)
    assert words in str(info.value) and "unsupported='keep'" in str(info.value)
    kept = factorize_network(model, energy=0.9, unsupported="keep")
    assert kept[1][1] is not conv and type(kept[1][1]) is nn.Conv3d
    assert [name for name, _ in kept.factorization.kept] == ["1.1"]
    assert isinstance(kept[0], SpatioTemporalConv)


def test_the_input_model_is_unchanged():
    model = small_video_resnet("mc3", seed=3).train()
    before = state(model)
    modules = [type(m) for m in model.modules()]
    new = factorize_network(model, energy=0.5)
    insert_middle_bn_relu(new, torch.randn(4, 3, 4, 16, 16, dtype=torch.float64))
    compose_network(new)
    assert [type(m) for m in model.modules()] == modules and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not hasattr(model, "factorization")
    assert new.training  # the copy keeps the mode it was given


def test_compose_network_undoes_factorize_network():
    model = small_video_resnet("r3d", seed=4)
    x = torch.randn(2, 3, 4, 16, 16, dtype=torch.float64)
    low = factorize_network(model, energy=0.6)
    back = compose_network(low)
    assert not any(isinstance(m, SpatioTemporalConv) for m in back.modules())
    assert torch.allclose(back(x), low(x), rtol=0, atol=1e-12)
    full = compose_network(factorize_network(model, rank=10**6))
    for name, module in model.named_modules():
        if is_eligible(module):
            assert torch.allclose(full.get_submodule(name).weight, module.weight, atol=1e-12)


def test_compose_network_refuses_a_middle_relu_naming_the_layer():
    model = nn.Sequential(SpatioTemporalConv(3, 4, 3, padding=1))
    with pytest.raises(ValueError, match=r"layer '0' has BatchNorm \+ ReLU"):
        compose_network(model)
    assert compose_network(model, unsupported="keep")[0].middle_bn_relu


@pytest.mark.parametrize("stride", [1, 2])
def test_middle_bn_relu_starts_as_the_linear_layer_where_relu_does_not_clip(stride):
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv3d(3, 6, 3, stride=stride, padding=1, bias=False)).double()
    x = torch.randn(8, 3, 5, 9, 9, dtype=torch.float64)
    linear = factorize_network(model.eval(), rank=7)
    # A margin no activation reaches: BN + ReLU is then exactly linear, border frames included.
    block = insert_middle_bn_relu(linear, x, margin=50.0)
    assert block[0].middle_bn_relu and block[0].temporal.bias is not None
    assert torch.allclose(block.eval()(x), linear(x), rtol=0, atol=1e-11)
    # At the default margin some values clip, but few.
    near = insert_middle_bn_relu(linear, x).eval()
    with torch.no_grad():
        assert float((near(x) - linear(x)).norm() / linear(x).norm()) < 0.05


def test_middle_bn_relu_needs_a_linear_factorization_and_clips():
    with pytest.raises(ValueError, match="factorize it first"):
        insert_middle_bn_relu(nn.Sequential(nn.Conv3d(3, 4, 3)), torch.randn(2, 3, 4, 8, 8))
    with pytest.raises(ValueError, match=r"clips must be a batch of clips \(N, C, T, H, W\)"):
        insert_middle_bn_relu(factorize_network(nn.Sequential(nn.Conv3d(3, 4, 3)), rank=2),
                              torch.randn(3, 4, 8, 8))


def test_the_profile_round_trips_through_json_and_plans_the_same():
    import json

    again = NetworkProfile.from_dict(json.loads(json.dumps(_PROFILE.to_dict())))
    assert again.plan(energy=0.8).rows() == _PROFILE.plan(energy=0.8).rows()
    assert again.plan(budget=0.5, cost="macs").ranks == _PROFILE.plan(budget=0.5, cost="macs").ranks


def test_a_profile_of_another_network_is_refused():
    other = nn.Sequential(nn.Conv3d(3, 4, 3))
    with pytest.raises(ValueError, match="belongs to another network"):
        factorize_network(other, energy=0.9, profile=_PROFILE)


def test_the_report_displays_a_table_and_has_plain_rows():
    report = _PROFILE.plan(energy=0.9)
    page = report._repr_html_()
    assert "<table>" in page and "whole network" in page and "layer1.0.conv1.0" in page
    assert "kept as they are" in page
    assert "energy ≥ 0.9" in str(report) and "whole network" in str(report)
    row = report.rows()[0]
    assert row["name"] == "stem.0" and isinstance(row["params_after"], int)
    assert 0 < row["energy"] <= 1


def test_without_an_input_shape_there_are_no_macs_and_a_mac_budget_says_why():
    model = nn.Sequential(nn.Conv3d(3, 4, 3))
    profile = network_profile(model)
    assert profile.macs is None and profile.plan(energy=0.5).macs_after is None
    with pytest.raises(ValueError, match="build the profile with an input_shape"):
        profile.plan(budget=0.5, cost="macs")


def test_a_diverged_kernel_is_refused_naming_the_layer():
    model = nn.Sequential(nn.Conv3d(3, 4, 3), nn.ReLU(), nn.Conv3d(4, 4, 3))
    with torch.no_grad():
        model[2].weight[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"layer '2' holds 1 weights that are NaN or inf"):
        factorize_network(model, energy=0.9)


def test_the_eligible_convs_are_the_ones_with_time_and_space():
    assert is_eligible(nn.Conv3d(2, 2, (3, 3, 3)))
    assert is_eligible(nn.Conv3d(2, 2, (3, 1, 3)))
    assert not is_eligible(nn.Conv3d(2, 2, (1, 3, 3)))
    assert not is_eligible(nn.Conv3d(2, 2, (3, 1, 1)))
    assert not is_eligible(nn.Conv2d(2, 2, 3))


def test_tutorial_08_registers_every_exercise_and_explains_wrong_answers():
    import re
    from pathlib import Path

    import nbformat

    from r21d_edu.exercises import all_exercises, exercise

    path = Path(__file__).resolve().parent.parent / "notebooks" / "08_factorize_a_network.ipynb"
    notebook = nbformat.read(path, as_version=4)
    section = next(c.source for c in notebook.cells
                   if c.cell_type == "markdown" and "## Exercises" in c.source)
    listed = re.findall(r"^\d+\. ", section.split("## Exercises", 1)[1], flags=re.M)
    assert [e.number for e in all_exercises("08")] == list(range(1, len(listed) + 1)) == [1, 2, 3, 4, 5]
    wrong = {"08.1": (20, 0), "08.2": (1536, 9_437_184), "08.3": {"0": 1, "2": 1}, "08.4": 0.5}
    for key, answer in wrong.items():
        feedback = exercise(key).check(answer)
        assert feedback.correct is False and len(feedback.text) > 30, key
    assert "at most its smaller side" in exercise("08.2").check((1536, 1)).text
