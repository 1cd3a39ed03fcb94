"""Kernel and feature-map figures: what was asked is drawn, and bad input is explained."""

from __future__ import annotations

import io

import matplotlib.image
import pytest
import torch
from torch import nn

from r21d_edu import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv, compose, factorize
from r21d_edu.data import flash, moving_shape, static_scene
from r21d_edu.viz.features import (
    feature_maps,
    layer_output,
    middle_feature_maps,
    middle_output,
)
from r21d_edu.viz.kernels import (
    effective_kernel,
    effective_kernel_figure,
    kernel_grid,
    spatial_filters,
    temporal_profiles,
)
from r21d_edu.widgets._base import figure_to_png


def not_blank(fig) -> bool:
    pixels = matplotlib.image.imread(io.BytesIO(figure_to_png(fig, dpi=40)))
    return float(pixels[..., :3].std()) > 0


def mosaic(fig):
    """The one axes holding the tiles, and its image as a tensor (NaN in the gaps)."""
    (ax,) = [ax for ax in fig.axes if ax.images]
    return ax, torch.as_tensor(ax.images[0].get_array().filled(float("nan")))


def tile(picture, r, c, h, w):
    """Tile (r, c) of a mosaic of h × w tiles with 1-pixel gaps."""
    return picture[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w]


def labels(ticks) -> list:
    return [t.get_text() for t in ticks]


def seeded(make):
    torch.manual_seed(0)
    return make()


def linear_two_plus_one(c_in=2, c_out=3, kernel=(3, 3, 3), m=4):
    return seeded(lambda: SpatioTemporalConv(c_in, c_out, kernel, intermediate_channels=m,
                                             middle_bn_relu=False))


# --------------------------------------------------------------------------
# effective_kernel
# --------------------------------------------------------------------------


def test_effective_kernel_of_each_kind():
    conv = seeded(lambda: FullConv3d(2, 3, (3, 5, 5)))
    assert torch.equal(effective_kernel(conv), conv.weight.detach())
    assert torch.equal(effective_kernel(conv.weight), conv.weight.detach())
    full_rank = factorize(conv, rank=9)  # min(3·3, 2·25) = 9: exact
    assert torch.allclose(effective_kernel(full_rank), conv.weight, atol=1e-6)
    naive = NaiveConv2Plus1d.from_factorized(full_rank)
    assert torch.allclose(effective_kernel(naive), conv.weight, atol=1e-6)


def test_a_layer_with_bn_relu_has_no_effective_kernel_unless_asked():
    layer = seeded(lambda: SpatioTemporalConv(2, 3, 3, intermediate_channels=4))
    with pytest.raises(ValueError, match=r"has no single effective 3D kernel: ReLU is not linear"):
        effective_kernel(layer)
    linear = effective_kernel(layer, ignore_bn_relu=True)
    expected = torch.einsum("omt,mihw->oithw", layer.temporal.weight[:, :, :, 0, 0],
                            layer.spatial.weight[:, :, 0])
    assert torch.allclose(linear, expected, atol=1e-7)


# --------------------------------------------------------------------------
# kernel_grid
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "out_channel", "in_channels", "size"),
    [
        (lambda: FullConv3d(2, 3, (3, 3, 3)), 0, None, (2, 3, 3, 3)),
        (lambda: FullConv3d(1, 2, (2, 5, 5)), 1, None, (1, 2, 5, 5)),
        (lambda: FullConv3d(12, 2, (3, 3, 3)), 0, None, (8, 3, 3, 3)),  # at most 8 rows
        (lambda: linear_two_plus_one(), 2, [1], (1, 3, 3, 3)),
        (lambda: torch.randn(4, 3, 5, 3, 3), 3, [0, 2], (2, 5, 3, 3)),
    ],
)
def test_kernel_grid_draws_inputs_by_time_slices(make, out_channel, in_channels, size):
    layer = seeded(make)
    rows, t, d_h, d_w = size
    fig = kernel_grid(layer, out_channel, in_channels=in_channels)
    ax, picture = mosaic(fig)
    assert len(fig.axes) == 2  # the mosaic and its colour bar
    assert picture.shape == (rows * (d_h + 1) - 1, t * (d_w + 1) - 1)
    assert labels(ax.get_xticklabels()) == [f"τ = {tau}" for tau in range(t)]
    shown = in_channels or list(range(rows))
    assert labels(ax.get_yticklabels()) == [f"in {i}" for i in shown]
    assert f"output channel {out_channel}" in fig._suptitle.get_text()
    kernel = effective_kernel(layer)
    last = kernel[out_channel, shown[-1], t - 1]
    assert torch.allclose(tile(picture, rows - 1, t - 1, d_h, d_w), last.float())
    assert torch.isnan(picture[:, d_w]).all()  # the white gap between time slices
    assert not_blank(fig)


def test_kernel_grid_names_the_linear_part_of_a_bn_relu_layer():
    layer = seeded(lambda: SpatioTemporalConv(1, 2, 3, intermediate_channels=2))
    fig = kernel_grid(layer, ignore_bn_relu=True)
    assert "BN/ReLU ignored: linear part only" in fig._suptitle.get_text()


# --------------------------------------------------------------------------
# spatial_filters
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kwargs", "count", "shape"),
    [
        (lambda: SpatioTemporalConv(3, 8, 3, intermediate_channels=12), {}, 12, (3, 3, 3)),
        (lambda: SpatioTemporalConv(3, 8, 3, intermediate_channels=12), {"in_channel": 2},
         12, (3, 3)),
        (lambda: NaiveConv2Plus1d(2, 4, (3, 5, 5), intermediate_channels=20), {"in_channel": 1},
         16, (5, 5)),
        (lambda: NaiveConv2Plus1d(2, 4, (3, 5, 5), intermediate_channels=20),
         {"max_filters": 5, "columns": 3}, 5, (5, 5)),
        (lambda: FullConv3d(3, 6, (1, 3, 3)), {}, 6, (3, 3, 3)),
        (lambda: torch.randn(7, 1, 1, 4, 4), {}, 7, (4, 4)),
    ],
)
def test_spatial_filters_draw_one_image_per_filter(make, kwargs, count, shape):
    layer = seeded(make)
    fig = spatial_filters(layer, **kwargs)
    ax, picture = mosaic(fig)
    columns = min(kwargs.get("columns", 8), count)
    rows = -(-count // columns)
    h, w = shape[:2]
    assert picture.shape[:2] == (rows * (h + 1) - 1, columns * (w + 1) - 1)
    assert picture.shape[2:] == shape[2:]
    assert [t.get_text() for t in ax.texts] == [f"#{k}" for k in range(count)]
    rgb = len(shape) == 3
    assert ("as RGB (grey = 0)" in fig._suptitle.get_text()) == rgb
    assert len(fig.axes) == (1 if rgb else 2)  # no colour bar for RGB
    if rgb:
        assert 0 <= float(picture.min()) and float(picture.max()) <= 1
    else:
        weight = layer if isinstance(layer, torch.Tensor) else (
            layer.weight if isinstance(layer, nn.Conv3d) else layer.spatial.weight)
        weight = weight.detach().reshape(weight.shape[0], weight.shape[1], h, w)
        channel = kwargs.get("in_channel", 0)
        assert torch.allclose(tile(picture, 0, 1, h, w), weight[1, channel].float())
    assert not_blank(fig)


# --------------------------------------------------------------------------
# temporal_profiles
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kwargs", "panels", "lines", "t"),
    [
        (lambda: SpatioTemporalConv(2, 5, 3, intermediate_channels=8), {}, 4, 6, 3),
        (lambda: SpatioTemporalConv(2, 5, (5, 3, 3), intermediate_channels=8),
         {"out_channels": [4], "middle_channels": [0, 7]}, 1, 2, 5),
        (lambda: NaiveConv2Plus1d(1, 2, 3, intermediate_channels=3), {}, 2, 3, 3),
        (lambda: {"[-1, 1]": [-1, 1], "[-1, 2, -1]": [-1, 2, -1], "mean": [1 / 3] * 3}, {}, 1,
         3, None),
    ],
)
def test_temporal_profiles_draw_a_line_per_filter(make, kwargs, panels, lines, t):
    filters = seeded(make)
    fig = temporal_profiles(filters, **kwargs)
    drawn = [ax for ax in fig.axes if ax.lines]
    assert len(drawn) == panels
    for ax in drawn:
        curves = ax.lines[:-1]  # the last line is the zero reference
        assert len(curves) == lines
        if t is not None:
            assert all(len(c.get_xdata()) == t for c in curves)
        assert ax.get_xlabel() == "time offset τ (frames)"
    if isinstance(filters, nn.Module):
        first = kwargs.get("out_channels", [0])[0]
        m = kwargs.get("middle_channels", [0])[0]
        expected = filters.temporal.weight.detach().reshape(*filters.temporal.weight.shape[:3])
        assert drawn[0].get_title() == f"output channel {first}"
        assert torch.allclose(torch.as_tensor(drawn[0].lines[0].get_ydata()),
                              expected[first, m].float())
    assert not_blank(fig)


# --------------------------------------------------------------------------
# effective_kernel_figure
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 9])
@pytest.mark.parametrize("with_full", [True, False])
def test_effective_kernel_figure_rows_and_ranks(rank, with_full):
    conv = seeded(lambda: FullConv3d(2, 3, (3, 3, 3)))
    layer = factorize(conv, rank)
    fig = effective_kernel_figure(layer, conv if with_full else None, out_channel=1, in_channel=1)
    rows = 3 if with_full else 1
    ax, picture = mosaic(fig)
    assert picture.shape == (rows * 4 - 1, 3 * 4 - 1)
    names = labels(ax.get_yticklabels())
    assert len(names) == rows
    assert labels(ax.get_xticklabels()) == ["τ = 0", "τ = 1", "τ = 2"]
    effective_label = names[1] if with_full else names[0]
    assert effective_label.endswith(f"unfolded rank {rank}")
    assert torch.allclose(tile(picture, 1 if with_full else 0, 2, 3, 3),
                          compose(layer).weight[1, 1, 2].detach().float(), atol=1e-6)
    if with_full:
        assert names[0].startswith("3D conv") and names[0].endswith("unfolded rank 9")
        assert names[2].endswith(f"unfolded rank {9 - rank}")
        expected = (conv.weight - compose(layer).weight)[1, 1, 0].detach()
        assert torch.allclose(tile(picture, 2, 0, 3, 3), expected.float(), atol=1e-6)
    assert f"M = {rank} (rank ≤ {rank})" in fig._suptitle.get_text()
    assert not_blank(fig)


# --------------------------------------------------------------------------
# feature maps
# --------------------------------------------------------------------------

LAYERS = {
    "3d": lambda: FullConv3d(1, 4, 3, padding=1),
    "naive": lambda: NaiveConv2Plus1d(1, 4, 3, padding=1),
    "2plus1d": lambda: SpatioTemporalConv(1, 4, 3, padding=1),
    "2plus1d-valid": lambda: SpatioTemporalConv(1, 3, (2, 3, 3), middle_bn_relu=False),
}
CLIPS = {
    "shape": lambda: moving_shape(frames=6, size=16, velocity=(0, 1)),
    "flash": lambda: flash(frames=6, size=16),
    "tensor": lambda: torch.rand(2, 1, 5, 12, 12, generator=torch.Generator().manual_seed(1)),
}


@pytest.mark.parametrize("layer_name", LAYERS)
@pytest.mark.parametrize("clip_name", CLIPS)
@pytest.mark.parametrize(("channels", "frames"), [(None, None), ([2, 0], [1])])
def test_feature_maps_grid(layer_name, clip_name, channels, frames):
    layer = seeded(LAYERS[layer_name])
    clip = CLIPS[clip_name]()
    out = layer_output(layer, clip)
    fig = feature_maps(layer, clip, channels=channels, frames=frames)
    cols = channels or list(range(out.shape[1]))
    rows = frames or list(range(out.shape[2]))
    ax, picture = mosaic(fig)
    h, w = out.shape[3:]
    assert picture.shape == (len(rows) * (h + 1) - 1, len(cols) * (w + 1) - 1)
    assert labels(ax.get_xticklabels()) == [f"channel {c}" for c in cols]
    assert labels(ax.get_yticklabels()) == [f"frame {f}" for f in rows]
    assert torch.allclose(tile(picture, len(rows) - 1, 0, h, w), out[0, cols[0], rows[-1]])
    assert str(tuple(out.shape)) in fig._suptitle.get_text()
    assert not_blank(fig)


def test_feature_maps_leave_the_layer_as_it_was():
    layer = seeded(LAYERS["2plus1d"])
    layer.train()
    before = layer.bn.running_mean.clone()
    feature_maps(layer, moving_shape(frames=4, size=12, velocity=(0, 1)))
    assert layer.training and torch.equal(layer.bn.running_mean, before)


def test_frame_difference_layer_shows_nothing_on_a_static_scene():
    layer = SpatioTemporalConv(1, 1, (2, 1, 1), intermediate_channels=1, middle_bn_relu=False,
                               bias=False)
    with torch.no_grad():
        layer.spatial.weight.fill_(1.0)
        layer.temporal.weight.copy_(torch.tensor([-1.0, 1.0]).reshape(1, 1, 2, 1, 1))
    assert torch.count_nonzero(layer_output(layer, static_scene(frames=5, size=8))) == 0
    assert torch.count_nonzero(layer_output(layer, flash(frames=5, size=8))) > 0


@pytest.mark.parametrize("layer_name", ["naive", "2plus1d", "2plus1d-valid"])
@pytest.mark.parametrize("channels", [None, [2, 1]])
def test_middle_feature_maps(layer_name, channels):
    layer = seeded(LAYERS[layer_name])
    clip = moving_shape(frames=5, size=14, velocity=(1, 0))
    middle = middle_output(layer, clip)
    m = layer.intermediate_channels
    assert middle.shape[:3] == (1, m, 5)
    fig = middle_feature_maps(layer, clip, channels=channels)
    cols = channels or list(range(min(m, 8)))
    ax, picture = mosaic(fig)
    h, w = middle.shape[3:]
    assert picture.shape == (5 * (h + 1) - 1, len(cols) * (w + 1) - 1)
    assert labels(ax.get_xticklabels()) == [f"channel {c}" for c in cols]
    assert torch.allclose(tile(picture, 4, len(cols) - 1, h, w), middle[0, cols[-1], 4])
    assert f"M = {m}" in fig._suptitle.get_text()
    assert not_blank(fig)


def test_middle_output_is_the_same_for_naive_and_factorized():
    layer = seeded(LAYERS["2plus1d"])
    naive = NaiveConv2Plus1d.from_factorized(layer)
    clip = moving_shape(frames=5, size=14, velocity=(1, 1))
    assert torch.allclose(middle_output(layer, clip), middle_output(naive, clip), atol=1e-6)
    assert (middle_output(layer, clip) >= 0).all()  # after ReLU


# --------------------------------------------------------------------------
# Errors that teach
# --------------------------------------------------------------------------


def test_bad_input_is_explained():
    conv = seeded(lambda: FullConv3d(1, 2, 3, padding=1))
    clip = moving_shape(frames=4, size=12, velocity=(0, 1))
    with pytest.raises(ValueError, match=r"expects a 5D clip \(N, C, T, H, W\), got the 4D shape"):
        feature_maps(conv, clip.clip[0])
    with pytest.raises(IndexError, match=r"channel 5 is out of range: the output has 2 "
                                         r"\(valid: 0 to 1\)"):
        feature_maps(conv, clip, channels=[5])
    with pytest.raises(IndexError, match=r"frame -1 is out of range"):
        feature_maps(conv, clip, frames=[-1])
    with pytest.raises(TypeError, match=r"expected a spatio-temporal conv layer .*got Linear"):
        feature_maps(nn.Linear(3, 3), clip)
    with pytest.raises(TypeError, match=r"expected a spatio-temporal conv layer .*got Conv2d"):
        kernel_grid(nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match=r"expects 1 input channels, got a clip with 3 channels"):
        feature_maps(conv, moving_shape(frames=4, size=12, channels=3))
    with pytest.raises(TypeError, match=r"has no middle tensor: only \(2\+1\)D layers"):
        middle_feature_maps(conv, clip)
    with pytest.raises(ValueError, match=r"expects 1 input channels"):
        middle_output(seeded(LAYERS["2plus1d"]), torch.rand(1, 2, 4, 8, 8))
    with pytest.raises(IndexError, match=r"out_channel 2 is out of range"):
        kernel_grid(conv, 2)
    with pytest.raises(IndexError, match=r"in_channel 1 is out of range"):
        spatial_filters(seeded(LAYERS["2plus1d"]), in_channel=1)
    with pytest.raises(ValueError, match=r"has t = 3 time slices, so it has no separate spatial"):
        spatial_filters(conv)
    with pytest.raises(TypeError, match=r"a 3D conv has no separate temporal filters"):
        temporal_profiles(conv)
    with pytest.raises(ValueError, match=r"no single effective 3D kernel"):
        effective_kernel_figure(seeded(LAYERS["2plus1d"]), conv)
    with pytest.raises(TypeError, match=r"expects a \(2\+1\)D layer .* first, got FullConv3d"):
        effective_kernel_figure(conv)
    with pytest.raises(ValueError, match=r"the kernels differ in shape"):
        effective_kernel_figure(linear_two_plus_one(), conv)
    with pytest.raises(ValueError, match=r"expected a 3D-conv kernel of shape"):
        kernel_grid(torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"channel_names has 1 names for 2 channels"):
        feature_maps(conv, clip, channel_names=["edge"])
