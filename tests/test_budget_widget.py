"""The budget and rank explorers: the numbers they show, and no tracebacks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from r21d_edu.counting import ConvSpec, layer_cost
from r21d_edu.lowrank import energy_profile
from r21d_edu.widgets.budget import (
    BudgetExplorer,
    RankExplorer,
    budget,
    budget_figure,
    rank_energy,
)


def test_budget_of_the_papers_64_to_64_conv() -> None:
    result = budget(64, 64, 3, 3)
    assert result.m == 144
    assert result.m_formula.endswith("= ⌊110,592 / 768⌋ = 144")
    assert result.ratios["params"] == 1.0
    three = layer_cost(ConvSpec("3d", 64, 64, 3, padding=1, bias=False), (1, 64, 16, 56, 56))
    assert result.costs["3d"].flops == three.flops
    # Middle (144 ch) + BN output (144 ch) + output (64 ch) against the output alone.
    assert result.ratios["memory"] == pytest.approx((144 + 144 + 64) / 64)


def test_conventions_differ_on_the_second_conv_of_a_widening_block() -> None:
    paper = budget(64, 128, 3, 3, convention="paper", position="conv2")
    vision = budget(64, 128, 3, 3, convention="torchvision", position="conv2")
    assert (paper.m, vision.m) == (288, 230)
    assert "N_in = 128, N_out = 128" in paper.m_formula
    assert "N_in = 64, N_out = 128" in vision.m_formula
    assert paper.costs["2plus1d"].weights == 128 * 128 * 27
    assert vision.costs["2plus1d"].weights == 9 * 128 * 230 + 3 * 230 * 128
    assert budget(64, 128, 3, 3, convention="torchvision", position="conv1").m == 230


def test_budget_refuses_impossible_settings() -> None:
    with pytest.raises(ValueError, match="M = 0"):
        budget(1, 1, 1, 1)
    with pytest.raises(ValueError, match="position must be 'conv1' or 'conv2'"):
        budget(8, 8, 3, 3, position="conv3")


def test_budget_figure_shows_three_pairs_of_bars() -> None:
    fig = budget_figure(budget(64, 64, 3, 3))
    assert len(fig.axes[0].patches) == 6


def test_budget_explorer_updates_and_flags_without_tracebacks() -> None:
    explorer = BudgetExplorer()
    assert explorer.result.m == 288  # 64 -> 128 block, conv2, paper convention
    assert bytes(explorer.plot.value).startswith(b"\x89PNG")
    explorer.controls["convention"].value = "torchvision"
    assert explorer.result.m == 230 and "230" in explorer.summary.value
    explorer.controls["in_channels"].value = 1
    explorer.controls["out_channels"].value = 1
    good = explorer.result
    assert good.m == 2  # floor(27 / (9 + 3))
    explorer.controls["t"].value = 1  # floor(9 / (9 + 1)) = 0
    assert "Not possible" in explorer.message.value and "M = 0" in explorer.message.value
    assert explorer.result is good
    explorer.controls["t"].value = 3
    explorer.controls["d"].value = 3
    explorer.controls["in_channels"].value = 64
    explorer.controls["out_channels"].value = 64
    assert explorer.message.value == "" and explorer.result.m == 144


def test_rank_energy_matches_the_library() -> None:
    profile, text = rank_energy("random", 16, 3, 3, 12)
    torch.manual_seed(0)
    expected = energy_profile(nn.Conv3d(16, 16, 3, bias=False))
    assert profile.energy == expected.energy
    assert f"keeps {expected.energy_at(12):.2%}" in text
    smooth, _ = rank_energy("smooth", 16, 3, 3, 12)
    assert smooth.energy_at(12) > profile.energy_at(12)
    with pytest.raises(ValueError, match="between 1 and the full rank 48"):
        rank_energy("random", 16, 3, 3, 49)


def test_rank_explorer_keeps_the_rank_in_range() -> None:
    explorer = RankExplorer()
    assert explorer.controls["rank"].max == 192
    explorer.controls["channels"].value = 8
    assert explorer.controls["rank"].max == 24
    assert explorer.controls["rank"].value == 24
    assert explorer.message.value == ""
    assert "rank 24 of 24 (100%) keeps 100.00%" in explorer.summary.value
