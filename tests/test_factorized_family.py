"""The factorized family: every member builds the family's network, and the widths match r3d.

Counting, not training: the matched widths are proved by `network_cost` (parameters and
the MACs of one 1x8x32x32 clip, as the experiment records them), and the search that
found them is re-run on members from both ends of the cost range.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from r21d_edu.blocks import ConvBuilder, SpatioTemporalResBlock
from r21d_edu.factorized import DepthwiseConv2Plus1d, IrCSNConv, TemporalShiftConv
from r21d_edu.factorized_family import (
    MATCHED_WIDTHS,
    MATCHINGS,
    MEMBERS,
    STUDY_MODELS,
    TOLERANCE,
    ChannelProjection,
    FactorizedBuilder,
    factorized_model,
    matched_widths,
    network_cost,
    study_model,
)
from r21d_edu.family import family_model

R3D = network_cost(family_model("r3d"))


@pytest.mark.parametrize("matching", MATCHINGS)
@pytest.mark.parametrize("member", list(MEMBERS))
def test_every_member_matches_r3d_within_3_percent(member, matching) -> None:
    cost = network_cost(factorized_model(member, MATCHED_WIDTHS[matching][member]))
    assert abs(cost[matching] / R3D[matching] - 1) <= TOLERANCE, (member, matching, cost, R3D)


def test_the_two_matchings_give_different_networks_where_the_costs_part() -> None:
    # Depthwise members spend few weights per MAC: matching MACs leaves them far fewer weights.
    for member in ("ip-csn", "ir-csn", "dw-2plus1d"):
        at_macs = network_cost(factorized_model(member, MATCHED_WIDTHS["macs"][member]))
        assert at_macs["params"] < 0.6 * R3D["params"], member
        at_params = network_cost(factorized_model(member, MATCHED_WIDTHS["params"][member]))
        assert at_params["macs"] > 1.8 * R3D["macs"], member


@pytest.mark.parametrize("member, matching", [("tsm", "params"), ("p3d-b", "macs"),
                                              ("ir-csn", "macs")])
def test_the_search_reproduces_the_fixed_widths(member, matching) -> None:
    assert matched_widths(member, matching) == MATCHED_WIDTHS[matching][member]


def test_the_search_finds_the_closest_scaled_widths() -> None:
    # Neither neighbour of the found widths (one channel more or less in the last stage,
    # the finest step of the scaling) is closer to r3d's count.
    widths = MATCHED_WIDTHS["params"]["p3d-a"]
    best = abs(network_cost(factorized_model("p3d-a", widths))["params"] - R3D["params"])
    for step in (-1, 1):
        near = (*widths[:3], widths[3] + step)
        assert abs(network_cost(factorized_model("p3d-a", near))["params"]
                   - R3D["params"]) >= best


@pytest.mark.parametrize("name", STUDY_MODELS)
def test_every_study_model_trains_a_step_on_the_task_clip(name) -> None:
    torch.manual_seed(0)
    model = study_model(name)
    out = model(torch.rand(2, 1, 8, 32, 32))
    assert out.shape == (2, 8)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_s3d_and_p3d_a_are_one_network_which_is_why_the_study_trains_p3d_a_for_both() -> None:
    widths = MATCHED_WIDTHS["params"]["s3d"]
    assert widths == MATCHED_WIDTHS["params"]["p3d-a"]
    models = []
    for member in ("s3d", "p3d-a"):
        torch.manual_seed(3)
        models.append(factorized_model(member, widths).eval())
    a, b = (m.state_dict() for m in models)
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.rand(2, 1, 8, 32, 32)
    assert torch.equal(models[0](x), models[1](x))


def test_depthwise_members_change_channels_through_a_1x1x1_projection() -> None:
    model = factorized_model("ir-csn", (20, 30, 50, 70))
    first = model.layer2[0].conv1[0]
    assert isinstance(first, ChannelProjection)
    assert first[0].kernel_size == (1, 1, 1) and first[0].out_channels == 30
    assert isinstance(first[1], IrCSNConv) and first[1].in_channels == 30
    assert isinstance(model.layer2[0].conv2[0], IrCSNConv)   # 30 -> 30: depthwise alone
    assert model(torch.rand(2, 1, 8, 32, 32)).shape == (2, 8)


def test_the_depthwise_2plus1d_stem_is_x3d_s_stem() -> None:
    stem = factorized_model("dw-2plus1d").stem[0]
    assert isinstance(stem, DepthwiseConv2Plus1d) and not stem.depthwise_spatial
    assert stem.spatial.kernel_size == (1, 7, 7) and stem.temporal.groups == 16


def test_the_builder_has_conv_builder_s_interface() -> None:
    builder = FactorizedBuilder(member="tsm")
    assert isinstance(builder, ConvBuilder) and builder.kernel(3) == (3, 3, 3)
    assert builder.stride(True) == (2, 2, 2) and builder.intermediate(8, 8, (3, 3, 3)) == (
        None, None)
    block = SpatioTemporalResBlock(8, 16, 3, downsample=True, conv_type=builder)
    assert isinstance(block.conv1[0], TemporalShiftConv)
    assert block(torch.rand(2, 8, 4, 8, 8)).shape == (2, 16, 2, 4, 4)
    assert isinstance(block.downsample[0], nn.Conv3d)


@pytest.mark.parametrize("call, message", [
    (lambda: FactorizedBuilder(member="p3d"), "member must be one of"),
    (lambda: FactorizedBuilder(conv_type="2d", member="tsm"), "conv_type is '3d'"),
    (lambda: study_model("p3d-a@flops"), "member@matching"),
    (lambda: study_model("csn"), "unknown model 'csn'"),
    (lambda: factorized_model("tsm", (8, 16, 32)), "channels of the 4 stages"),
    (lambda: matched_widths("tsm", "flops"), "matching must be one of"),
])
def test_bad_names_are_refused_with_what_was_expected(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_the_docstring_examples_hold() -> None:
    import doctest

    import r21d_edu.factorized_family as module

    result = doctest.testmod(module, extraglobs={"torch": torch})
    assert result.attempted >= 4 and result.failed == 0
