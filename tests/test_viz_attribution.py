"""Attribution figures: the overlay shows the importance it was given, the profile its shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from r21d_edu.attribution import attribute
from r21d_edu.family import family_model
from r21d_edu.pointing import temporal_profile
from r21d_edu.viz import attribution_volume, spacetime_overlay, temporal_profile_figure


@pytest.fixture(scope="module")
def case():
    torch.manual_seed(0)
    model = family_model("r3d").eval()
    clips = torch.rand(2, 1, 8, 32, 32)
    maps = {m: attribute(model, clips, m) for m in ("grad_cam", "gradient_x_input")}
    masks = torch.zeros(2, 8, 32, 32, dtype=torch.bool)
    masks[:, :, 10:16, 12:18] = True
    return clips, maps, masks


def heat_images(fig):
    """Every panel's second image: the heat map over the frame."""
    return [ax.images[1] for ax in fig.axes if len(ax.images) == 2]


def test_the_overlay_has_a_row_per_map_and_a_column_per_frame(case) -> None:
    clips, maps, masks = case
    fig = spacetime_overlay(clips, maps, masks=masks, sample=1, frames=[0, 3, 7])
    heats = heat_images(fig)
    assert len(heats) == 2 * 3
    importance = maps["gradient_x_input"].maps[1].abs()
    shown = heats[3 + 1].get_array()  # row 2, the second column: frame 3
    assert np.allclose(shown, (importance[3] / importance.max()).numpy(), atol=1e-6)
    assert [t.get_text() for t in fig.axes[0].texts] == [] and fig.axes[0].get_title() == "frame 0"
    assert all(len(ax.collections) >= 1 for ax in fig.axes if len(ax.images) == 2)  # outlines


def test_the_overlay_takes_a_single_attribution_or_raw_maps(case) -> None:
    clips, maps, _ = case
    one = spacetime_overlay(clips, maps["grad_cam"])
    assert len(heat_images(one)) == 8
    raw = spacetime_overlay(clips, {"mine": torch.rand(2, 8, 32, 32)}, frames=[1])
    assert len(heat_images(raw)) == 1


def test_the_profile_plots_each_maps_shares_and_the_even_line(case) -> None:
    _, maps, _ = case
    fig = temporal_profile_figure(maps)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 3  # two maps and the even spread
    expected = temporal_profile(maps["grad_cam"].maps).mean(dim=0).numpy()
    assert np.allclose(lines[0].get_ydata(), expected)
    assert lines[2].get_ydata()[0] == pytest.approx(1 / 8)
    assert "effective frames" in ax.get_legend().get_texts()[0].get_text()


def test_the_volume_has_one_point_per_value(case) -> None:
    _, maps, _ = case
    fig = attribution_volume(maps["grad_cam"], sample=1, keep=0.5)
    assert len(fig.data) == 1 and fig.data[0].type == "volume"
    assert len(fig.data[0].value) == 8 * 32 * 32
    assert max(fig.data[0].value) == pytest.approx(1.0)


def test_bad_inputs_say_what_was_expected(case) -> None:
    clips, maps, masks = case
    with pytest.raises(TypeError, match="Attribution"):
        spacetime_overlay(clips, "maps")
    with pytest.raises(ValueError, match=r"\(N, T, H, W\)"):
        spacetime_overlay(clips, torch.rand(2, 1, 8, 32, 32))
    with pytest.raises(ValueError, match="do not belong to a clip"):
        spacetime_overlay(clips[:, :, :4], maps)
    with pytest.raises(TypeError, match="bool tensor"):
        spacetime_overlay(clips, maps, masks=masks.float())
    with pytest.raises(IndexError, match="sample 2 is out of range"):
        spacetime_overlay(clips, maps, sample=2)
    with pytest.raises(IndexError, match="frame 8 is out of range"):
        spacetime_overlay(clips, maps, frames=[8])
    with pytest.raises(ValueError, match="one shape"):
        temporal_profile_figure({"a": torch.rand(2, 8, 4, 4), "b": torch.rand(2, 4, 4, 4)})
    with pytest.raises(ValueError, match="empty"):
        temporal_profile_figure({})
    with pytest.raises(ValueError, match="keep"):
        attribution_volume(maps["grad_cam"], keep=1.0)
