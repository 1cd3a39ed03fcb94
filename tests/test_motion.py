"""Motion tuning: temporal filters as motion detectors, measured against the formula."""

from __future__ import annotations

import io
import math

import matplotlib.image
import numpy as np
import pytest
import torch
from torch import nn

from r21d_edu import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv, energy_profile, factorize
from r21d_edu.data import static_scene
from r21d_edu.motion import (
    MOTION_KERNEL_NAMES,
    MotionTuning,
    motion_kernels,
    motion_tuning,
    temporal_filters_of,
    temporal_response,
)
from r21d_edu.viz.features import layer_output
from r21d_edu.viz.motion import tuning_curves, tuning_polar
from r21d_edu.widgets._base import figure_to_png

SPEEDS = np.linspace(0, 8, 17)
DIRECTIONS = np.arange(0, 360, 45)


def not_blank(fig) -> bool:
    pixels = matplotlib.image.imread(io.BytesIO(figure_to_png(fig, dpi=40)))
    return float(pixels[..., :3].std()) > 0


@pytest.fixture(scope="module")
def taps_sweep() -> MotionTuning:
    return motion_tuning({"[-1, 1]": [-1, 1], "[-1, 2, -1]": [-1, 2, -1], "mean": [0.5, 0.5]},
                         speeds=SPEEDS, directions=DIRECTIONS)


@pytest.fixture(scope="module")
def tilted_sweep() -> MotionTuning:
    right = motion_kernels(select=["edge moving right"])
    return motion_tuning(
        {"3D tilted": right, "rank 1": factorize(right, 1), "rank 2": factorize(right, 2),
         "[-1, 1]": [-1, 1]},
        speeds=[0, 0.5, 1.0, 1.5], directions=np.arange(0, 360, 30))


def test_frame_difference_is_zero_for_a_static_grating(taps_sweep):
    for direction in DIRECTIONS:
        assert taps_sweep.curve("[-1, 1]", direction)[0] < 1e-9
    # An average passes the static grating: mean² 0.5² plus the stripes' (0.5²)/2.
    assert taps_sweep.curve("mean")[0] == pytest.approx(math.sqrt(0.25 + 0.125), rel=1e-6)


@pytest.mark.parametrize("direction", [0, 90, 180, 270])
def test_frame_difference_follows_the_sine_law(taps_sweep, direction):
    measured = taps_sweep.curve("[-1, 1]", direction)
    law = np.abs(np.sin(np.pi * SPEEDS / 8)) / math.sqrt(2)  # contrast 1, period 8
    assert np.allclose(measured, law, atol=1e-6)
    assert np.allclose(temporal_response([-1, 1], SPEEDS, 8), law, atol=1e-12)
    assert measured[np.argmax(measured)] == pytest.approx(1 / math.sqrt(2))
    assert SPEEDS[np.argmax(measured)] == 4  # half a period per frame
    assert measured[-1] < 1e-6  # a whole period per frame: the wagon-wheel effect


def test_every_taps_filter_matches_its_formula_at_every_direction(taps_sweep):
    for name in taps_sweep.names:
        for direction in DIRECTIONS:
            law = temporal_response(taps_sweep.taps[name], SPEEDS, 8)
            # Diagonal gratings do not fit a whole number of periods in the frame: 2 %.
            tolerance = 1e-6 if direction % 90 == 0 else 0.02
            assert np.allclose(taps_sweep.curve(name, direction), law, atol=tolerance)


def test_temporal_filters_cannot_tell_directions_apart(taps_sweep):
    assert taps_sweep.direction_selectivity("[-1, 1]", 2.0) < 0.02
    responses = taps_sweep.responses[0]  # (directions, speeds)
    assert np.allclose(responses[0], responses[4], atol=1e-6)  # 0° and 180°


def test_a_tilted_kernel_prefers_its_direction_and_rank_1_cannot(tilted_sweep):
    assert tilted_sweep.preferred("3D tilted") == (0.0, 1.0)
    assert tilted_sweep.direction_selectivity("3D tilted", 1.0) > 0.3
    # A separable (rank-1) kernel answers a grating and its mirror image alike.
    assert tilted_sweep.direction_selectivity("rank 1", 1.0) < 1e-5
    assert tilted_sweep.direction_selectivity("rank 2", 1.0) > 0.3
    left = motion_tuning({"left": motion_kernels(select=["edge moving left"])},
                         speeds=[1.0], directions=[0, 180])
    assert left.preferred("left") == (180.0, 1.0)


def test_the_tilted_kernel_needs_rank_above_one():
    assert energy_profile(motion_kernels(select=["edge moving right"])).energy[0] < 0.9
    assert energy_profile(motion_kernels(select=["static edge"])).energy[0] == pytest.approx(1.0)
    assert energy_profile(motion_kernels(select=["flicker"])).energy[0] == pytest.approx(1.0)


def test_the_flicker_kernel_ignores_a_static_scene():
    bank = motion_kernels()
    out = layer_output(bank, static_scene(frames=6, size=16, seed=2))
    flicker = out[:, MOTION_KERNEL_NAMES.index("flicker"), 1:-1]  # frames clear of padding
    assert float(flicker.abs().max()) < 1e-5
    assert float(out[:, 0, 1:-1].abs().max()) > 0.1  # the static edge detector does respond


def test_a_layers_own_temporal_filters_follow_the_law():
    torch.manual_seed(0)
    layer = SpatioTemporalConv(2, 3, (3, 3, 3), intermediate_channels=5)
    taps = temporal_filters_of(layer, out_channel=2, middle_channels=[0, 4])
    assert list(taps) == ["o2·m0", "o2·m4"]
    assert torch.equal(taps["o2·m4"], layer.temporal.weight[2, 4, :, 0, 0].double())
    result = motion_tuning(taps, speeds=SPEEDS)
    for name, values in taps.items():
        assert np.allclose(result.curve(name), temporal_response(values, SPEEDS, 8), atol=1e-6)


def test_padding_does_not_leak_into_the_response():
    # The same kernel with "same" padding, numeric padding or none: the border that saw
    # zero padding is left out, so all three measure the grating alone.
    right = motion_kernels(select=["edge moving right"])
    same = nn.Conv3d(1, 1, (3, 5, 5), padding="same", bias=False)
    valid = nn.Conv3d(1, 1, (3, 5, 5), bias=False)
    with torch.no_grad():
        same.weight.copy_(right.weight)
        valid.weight.copy_(right.weight)
    result = motion_tuning({"padded": right, "same": same, "valid": valid}, speeds=[0.5, 1.0],
                           directions=[0, 180])
    assert np.allclose(result.responses[0], result.responses[2], atol=1e-5)
    assert np.allclose(result.responses[1], result.responses[2], atol=1e-5)


def test_naive_and_factorized_layers_are_tuned_alike():
    torch.manual_seed(0)
    layer = SpatioTemporalConv(1, 2, 3, padding=1)
    naive = NaiveConv2Plus1d.from_factorized(layer)
    result = motion_tuning({"2plus1d": layer, "naive": naive, "one": (layer, 1)},
                           speeds=[0, 1, 2], directions=[0, 90])
    assert result.kinds == ("2plus1d", "naive", "2plus1d")
    assert np.allclose(result.responses[0], result.responses[1], atol=1e-5)
    assert not np.allclose(result.responses[0], result.responses[2])


@pytest.mark.parametrize("show_law", [True, False])
@pytest.mark.parametrize("direction", [None, 90])
def test_tuning_curves_figure(taps_sweep, show_law, direction):
    fig = tuning_curves(taps_sweep, direction, show_law=show_law)
    (ax,) = fig.axes
    measured = [line for line in ax.lines if line.get_linestyle() == "-"]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(measured) == 3 and len(dashed) == (3 if show_law else 0)
    assert all(len(line.get_xdata()) == len(SPEEDS) for line in measured)
    assert np.allclose(measured[0].get_ydata(), taps_sweep.curve("[-1, 1]", direction or 0))
    assert ax.get_xlabel() == "grating speed (px/frame; period 8 px)"
    assert ax.get_title() == f"Speed tuning to gratings drifting at {direction or 0}°"
    assert not_blank(fig)


@pytest.mark.parametrize("speed", [None, 0.5, 1.5])
def test_tuning_polar_figure(tilted_sweep, speed):
    fig = tuning_polar(tilted_sweep, speed)
    (ax,) = fig.axes
    assert ax.name == "polar"
    assert len(ax.lines) == 4
    assert all(len(line.get_xdata()) == 13 for line in ax.lines)  # 12 directions, closed
    shown = 1.0 if speed is None else speed
    assert ax.get_title().startswith(f"Direction tuning at {shown:g} px/frame")
    assert not_blank(fig)


def test_layers_are_coloured_by_method(tilted_sweep):
    fig = tuning_polar(tilted_sweep, 1.0)
    colours = [line.get_color() for line in fig.axes[0].lines]
    assert colours[0] == "#E69F00" and colours[1] == "#009E73"  # 3D orange, (2+1)D green
    assert len(set(colours)) == 4


def test_motion_kernels_shapes_and_names():
    bank = motion_kernels(t=5, d=7, speed=0.5)
    assert isinstance(bank, FullConv3d) and bank.weight.shape == (4, 1, 5, 7, 7)
    assert bank.padding == (2, 3, 3)
    norms = bank.weight.detach().flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.ones(4), atol=1e-6)


def test_bad_input_is_explained(taps_sweep, tilted_sweep):
    with pytest.raises(TypeError, match=r"expected a spatio-temporal conv layer .*got Linear"):
        motion_tuning({"linear": nn.Linear(2, 2)})
    with pytest.raises(IndexError, match=r"out_channel 4 is out of range: the layer of filter "
                                         r"'bank' has 4 \(valid: 0 to 3\)"):
        motion_tuning({"bank": (motion_kernels(), 4)}, speeds=[1])
    with pytest.raises(ValueError, match=r"filters must be a non-empty mapping"):
        motion_tuning({})
    with pytest.raises(ValueError, match=r"speeds must be >= 0"):
        motion_tuning({"d": [-1, 1]}, speeds=[-1])
    with pytest.raises(ValueError, match=r"a filter with 5 taps needs at least 5 frames, got 4"):
        motion_tuning({"long": [1, 0, 0, 0, -1]}, frames=4, speeds=[1])
    with pytest.raises(ValueError, match=r"period must be at least 2 pixels"):
        motion_tuning({"d": [-1, 1]}, period=1, speeds=[1])
    with pytest.raises(ValueError, match=r"direction 10° is not in the sweep"):
        taps_sweep.curve("[-1, 1]", 10)
    with pytest.raises(KeyError, match=r"no filter named 'x'"):
        taps_sweep.curve("x")
    with pytest.raises(ValueError, match=r"at least 3 directions"):
        tuning_polar(motion_tuning({"d": [-1, 1]}, speeds=[1]))
    with pytest.raises(ValueError, match=r"speed 0.7 is not in the sweep"):
        tuning_polar(tilted_sweep, 0.7)
    with pytest.raises(TypeError, match=r"expected a MotionTuning"):
        tuning_curves({"d": [1, 2]})
    with pytest.raises(TypeError, match=r"has no separate temporal filters"):
        temporal_filters_of(motion_kernels())
    with pytest.raises(ValueError, match=r"d must be odd"):
        motion_kernels(d=4)
    with pytest.raises(ValueError, match=r"select must name some of static edge"):
        motion_kernels(select=["edge moving up"])
