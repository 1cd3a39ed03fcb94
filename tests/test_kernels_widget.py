"""The feature-map explorer: the numbers it shows, its controls, and no tracebacks."""

from __future__ import annotations

import io

import matplotlib.image
import pytest
import torch

from r21d_edu import NaiveConv2Plus1d, SpatioTemporalConv, compose
from r21d_edu.data import CLIP_KINDS
from r21d_edu.motion import MOTION_KERNEL_NAMES, motion_kernels
from r21d_edu.widgets import FeatureExplorer, feature_explorer
from r21d_edu.widgets.kernels import feature_view


def png_pixels(data: bytes):
    assert bytes(data).startswith(b"\x89PNG")
    return matplotlib.image.imread(io.BytesIO(bytes(data)))


@pytest.mark.parametrize("kind", CLIP_KINDS)
@pytest.mark.parametrize("method", ["3d", "2plus1d", "naive"])
def test_feature_view_over_clips_and_layers(kind, method):
    result = feature_view(kind, 90, 1.0, method, rank=3)
    assert result.clip.kind == kind and result.clip.clip.shape == (1, 1, 6, 24, 24)
    assert list(result.rms) == list(MOTION_KERNEL_NAMES)
    (ax,) = result.figure.axes  # one mosaic, no colour bar in the explorer
    assert [t.get_text() for t in ax.get_xticklabels()] == list(MOTION_KERNEL_NAMES)
    if method == "3d":
        assert torch.equal(result.layer.weight, motion_kernels().weight)
    else:
        assert isinstance(result.layer, SpatioTemporalConv if method == "2plus1d"
                          else NaiveConv2Plus1d)
        assert result.layer.intermediate_channels == 3


def test_the_flicker_channel_is_silent_on_a_static_scene_at_every_rank():
    for method, rank in [("3d", 1), ("2plus1d", 1), ("2plus1d", 2), ("naive", 12)]:
        rms = feature_view("static", method=method, rank=rank).rms
        assert rms["flicker"] < 1e-5 and rms["static edge"] > 0.1


def test_direction_selectivity_appears_at_rank_two():
    def right_minus_left(method, rank):
        rms = feature_view("grating", 0, 1.0, method, rank).rms
        return rms["edge moving right"] - rms["edge moving left"]

    assert right_minus_left("3d", 1) > 0.1
    assert right_minus_left("2plus1d", 12) == pytest.approx(right_minus_left("3d", 1), abs=1e-4)
    full = feature_view("grating", 0, 1.0, "2plus1d", 12).layer
    assert torch.allclose(compose(full).weight, motion_kernels().weight, atol=1e-5)


def test_explorer_updates_and_flags_without_tracebacks():
    explorer = feature_explorer()
    assert isinstance(explorer, FeatureExplorer)
    pixels = png_pixels(explorer.plot.value)
    assert float(pixels[..., :3].std()) > 0
    assert "moving shape" in explorer.summary.value and "flicker" in explorer.summary.value
    explorer.controls["kind"].value = "static"
    assert explorer.result.clip.kind == "static" and explorer.message.value == ""
    explorer.controls["method"].value = "2plus1d"
    explorer.controls["rank"].value = 1
    assert explorer.result.layer.intermediate_channels == 1
    assert "best rank-1 (2+1)D fit" in explorer.summary.value
    explorer.controls["view"].value = "middle"
    assert explorer.result.rms == {} and explorer.message.value == ""
    good = explorer.result
    explorer.controls["method"].value = "3d"  # a 3D conv has no middle tensor: flagged
    assert "Not possible" in explorer.message.value
    assert "has no middle tensor" in explorer.message.value
    assert explorer.result is good
    explorer.controls["view"].value = "output"
    assert explorer.message.value == "" and explorer.result.layer is not good.layer


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match=r"method must be one of '3d' .*'naive' .*'2plus1d' "):
        feature_view(method="4d")
    with pytest.raises(ValueError, match=r"rank must be between 1 and 12"):
        feature_view(method="2plus1d", rank=13)
    with pytest.raises(ValueError, match=r"view must be 'output' or 'middle'"):
        feature_view(view="input")
    with pytest.raises(ValueError, match=r"kind must be one of"):
        feature_view(kind="video")
