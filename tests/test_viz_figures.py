"""Figures show what was asked: the right panels, titles, labels and data, and they render.

Each figure function runs over a grid of configurations. matplotlib figures are
rendered to PNG and must not be blank; plotly figures cannot be rendered here
(no kaleido), so their traces, frames, sliders and data arrays are checked
against the numbers they claim to draw (from `r21d_edu.counting`, the clip, the
kernel). Bad input must fail with a message that says what went wrong.
"""

from __future__ import annotations

import base64
import io
import math
import re
from fractions import Fraction
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from matplotlib.container import BarContainer
from torch import nn

from r21d_edu import FullConv3d, SpatioTemporalConv, factorize
from r21d_edu.counting import ConvSpec, compare_costs, layer_cost, receptive_field, spec_of
from r21d_edu.layers import intermediate_channels
from r21d_edu.viz import METHOD_COLORS
from r21d_edu.viz.clips import clip_animation, clip_strip
from r21d_edu.viz.costs import (
    cost_vs_kernel_size,
    cost_vs_m,
    cost_vs_width,
    intermediate_channels_figure,
)
from r21d_edu.viz.interactive import (
    cost_surface,
    feature_maps_over_time,
    kernel_3d_figure,
    receptive_field_figure,
)
from r21d_edu.viz.timing import plot_timings
from r21d_edu.widgets._base import figure_to_png


def assert_not_blank(fig) -> np.ndarray:
    """Render to PNG (which also frees the figure) and check something was drawn."""
    image = mpimg.imread(io.BytesIO(figure_to_png(fig, dpi=40)))
    assert image.std() > 0
    # More than a title: a real share of the pixels is not background white.
    assert (image[..., :3] < 0.9).any(axis=-1).mean() > 0.01
    return image


def moving_dot(channels: int = 1, frames: int = 6, size: int = 12) -> torch.Tensor:
    """A clip whose frame t has one bright pixel at column t: easy to recognise in a drawing."""
    x = torch.zeros(2, channels, frames, size, size)
    for t in range(frames):
        x[:, :, t, size // 2, t % size] = 1.0
    x[1] *= 0.5  # sample 1 differs from sample 0
    return x


# ---- clip_strip -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "channels, frames, max_frames, channel, mode",
    [
        (3, 16, 8, None, "RGB"),
        (1, 5, 8, None, "grey"),
        (4, 12, 4, 2, "channel 2 of 4"),
        (5, 7, 3, None, "channel 0 of 5"),
        (3, 1, 8, 0, "channel 0 of 3"),
    ],
)
def test_clip_strip_draws_the_frames_asked_for(channels, frames, max_frames, channel, mode):
    x = torch.rand(2, channels, frames, 10, 14)
    fig = clip_strip(x, sample=1, channel=channel, max_frames=max_frames)
    shown = min(frames, max_frames)
    assert len(fig.axes) == shown
    indices = [int(ax.get_title().removeprefix("t = ")) for ax in fig.axes]
    assert indices[0] == 0 and indices[-1] == frames - 1 and indices == sorted(set(indices))
    assert f"sample 1, {mode}" in fig._suptitle.get_text()
    for ax, t in zip(fig.axes, indices):
        drawn = np.asarray(ax.images[0].get_array())
        if mode == "RGB":
            expected = x[1, :, t].permute(1, 2, 0).numpy()
        else:
            expected = x[1, 0 if channel is None else channel, t].numpy()
        # Values already in [0, 1] are drawn exactly as they are.
        np.testing.assert_allclose(drawn, expected, rtol=0, atol=1e-7)
    assert_not_blank(fig)


def test_clip_strip_takes_a_clip_object_and_stretches_other_ranges_over_the_whole_clip():
    x = moving_dot()[:1] * 4 - 1  # dot 3, background -1
    x[:, :, 2] += 2  # frame 2 brighter all over: background 1, dot 5
    fig = clip_strip(SimpleNamespace(clip=x))
    frames = [np.asarray(ax.images[0].get_array()) for ax in fig.axes]
    assert min(f.min() for f in frames) == 0.0 and max(f.max() for f in frames) == 1.0
    for t, frame in enumerate(frames):
        # One scale over the clip (-1 -> 0, 5 -> 1), so the bright frame stays brighter.
        dot, background = (1.0, 2 / 6) if t == 2 else (4 / 6, 0.0)
        assert frame[6, t] == pytest.approx(dot) and frame[0, 0] == pytest.approx(background)
    fig.clear()


def test_clip_strip_shows_a_synthetic_clip_with_its_motion():
    data = pytest.importorskip("r21d_edu.data")
    made = data.moving_shape(frames=8, size=24, velocity=(0, 2), seed=1)
    fig = clip_strip(made)
    columns = [np.asarray(ax.images[0].get_array()).sum(0) for ax in fig.axes]
    centres = [float((c * np.arange(c.size)).sum() / c.sum()) for c in columns]
    np.testing.assert_allclose(np.diff(centres), 2.0, atol=1e-5)
    assert_not_blank(fig)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: clip_strip(torch.rand(3, 8, 10, 10)), ValueError, r"5D clip \(N, C, T, H, W\)"),
        (lambda: clip_strip(torch.rand(1, 3, 4, 8, 8), channel=3), IndexError,
         r"channel 3 is out of range: dim 1 \(C\).* has 3 \(valid: 0 to 2\)"),
        (lambda: clip_strip(torch.rand(1, 3, 4, 8, 8), channel=-1), IndexError,
         "channel -1 is out of range"),
        (lambda: clip_strip(torch.rand(2, 1, 4, 8, 8), sample=2), IndexError,
         r"sample 2 is out of range: dim 0 \(N\)"),
        (lambda: clip_strip(torch.zeros(1, 1, 4, 8, 8, dtype=torch.uint8)), TypeError,
         "floating-point"),
        (lambda: clip_strip([[1.0]]), TypeError, "expects a torch.Tensor clip"),
        (lambda: clip_strip(torch.rand(1, 1, 4, 8, 8), max_frames=0), ValueError,
         "max_frames must be an integer >= 1"),
        (lambda: clip_animation(torch.rand(1, 1, 4, 8, 8), max_frames=33), ValueError,
         "at most 32"),
        (lambda: clip_animation(torch.rand(1, 1, 4, 8, 8), fps=0), ValueError, "fps"),
        (lambda: clip_animation(torch.rand(2, 6, 4, 8)), ValueError, "5D clip"),
    ],
)
def test_clip_figures_reject_bad_input_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- clip_animation -------------------------------------------------------------------

def _frames_of(html: str) -> list[np.ndarray]:
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [mpimg.imread(io.BytesIO(base64.b64decode(s))) for s in sources]


@pytest.mark.parametrize(
    "channels, frames, size, max_frames, max_size",
    [(1, 6, 12, 32, 64), (3, 40, 20, 32, 64), (3, 10, 96, 4, 32), (2, 3, 50, 8, 25)],
)
def test_clip_animation_holds_one_image_per_frame(channels, frames, size, max_frames, max_size):
    x = torch.rand(1, channels, frames, size, size)
    animation = clip_animation(x, max_frames=max_frames, max_size=max_size)
    html = animation._repr_html_()
    images = _frames_of(html)
    shown = min(frames, max_frames)
    assert len(images) == len(animation.frames) == len(animation.frame_indices) == shown
    side = min(size, max_size)
    assert all(img.shape[:2] == (side, side) for img in images)
    assert all(img.ndim == (3 if channels == 3 else 2) for img in images)
    assert f'max="{shown - 1}"' in html and "<script>" in html
    # Small enough to live in a notebook: well under 1 KiB of HTML per stored pixel row.
    assert len(html) < 4 * shown * side * side * (3 if channels == 3 else 1) + 5000
    # The same clip gives the same HTML (no random ids), so notebooks stay reproducible.
    assert clip_animation(x, max_frames=max_frames, max_size=max_size).html == html


def test_clip_animation_frames_are_the_clip_frames():
    x = moving_dot(frames=6, size=12)
    animation = clip_animation(x, sample=1)
    images = _frames_of(animation.html)
    assert animation.frame_indices == tuple(range(6))
    for t, img in enumerate(images):
        # Sample 1 holds 0.5 dots on 0, already in [0, 1]: stored as they are, not resized.
        expected = x[1, 0, t].numpy()
        np.testing.assert_allclose(img, expected, atol=1 / 255)
    assert "t = 0" in animation.html


# ---- plotly: kernels ------------------------------------------------------------------

def _layer_kernel():
    """A linear (2+1)D layer and its kernel Σ_m temporal[o, m, τ] · spatial[m, i, y, x]."""
    torch.manual_seed(0)
    layer = factorize(FullConv3d(2, 3, (3, 3, 3)), 2)
    kernel = torch.einsum("omt,mihw->oithw", layer.temporal.weight.detach().reshape(3, 2, 3),
                          layer.spatial.weight.detach().reshape(2, 2, 3, 3))
    return layer, kernel


@pytest.mark.parametrize(
    "make, out_channel, in_channel, block_of",
    [
        (lambda: torch.randn(3, 3, 3), 0, 0, lambda k: k),
        (lambda: torch.randn(4, 2, 3, 5, 5), 3, 1, lambda k: k[3, 1]),
        (lambda: torch.randn(1, 1, 1, 7, 7), 0, 0, lambda k: k[0, 0]),
        (lambda: nn.Conv3d(2, 4, (1, 3, 3)), 2, 0, lambda k: k.weight.detach()[2, 0]),
        (lambda: _layer_kernel()[0], 1, 1, lambda k: _layer_kernel()[1][1, 1]),
    ],
)
def test_kernel_3d_figure_places_every_weight(make, out_channel, in_channel, block_of):
    kernel = make()
    fig = kernel_3d_figure(kernel, out_channel, in_channel)
    block = block_of(kernel).float()
    t, d_h, d_w = block.shape
    assert [trace.type for trace in fig.data] == ["scatter3d"]
    trace = fig.data[0]
    assert len(trace.x) == len(trace.y) == len(trace.z) == t * d_h * d_w
    for x, y, z, value in zip(trace.x, trace.y, trace.z, trace.marker.color):
        assert value == pytest.approx(float(block[z, y, x]), abs=1e-6)
    assert trace.marker.cmin == -trace.marker.cmax  # zero is white
    assert f"{t}×{d_h}×{d_w} = {t * d_h * d_w} weights" in fig.layout.title.text
    assert fig.layout.scene.zaxis.title.text == "t (frames)"


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: kernel_3d_figure(torch.randn(2, 3, 3, 3)), ValueError,
         r"expects a kernel of shape \(t, d_h, d_w\) or \(C_out, C_in, t, d_h, d_w\)"),
        (lambda: kernel_3d_figure(torch.randn(2, 2, 3, 3, 3), out_channel=2), IndexError,
         "out_channel 2 is out of range"),
        (lambda: kernel_3d_figure(torch.randn(2, 2, 3, 3, 3), in_channel=5), IndexError,
         "in_channel 5 is out of range"),
        (lambda: kernel_3d_figure("3x3x3"), TypeError, "got str"),
        (lambda: kernel_3d_figure(SpatioTemporalConv(2, 2, 3)), ValueError,
         "middle_bn_relu=False"),
    ],
)
def test_kernel_3d_figure_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- plotly: feature maps -------------------------------------------------------------

@pytest.mark.parametrize(
    "shape, sample, channels, expected_channels",
    [
        ((1, 6, 5, 8, 10), 0, None, [0, 1, 2, 3]),
        ((2, 2, 3, 7, 7), 1, None, [0, 1]),
        ((1, 8, 9, 4, 6), 0, [5, 1, 7], [5, 1, 7]),
        ((3, 1, 1, 5, 5), 2, [0], [0]),
    ],
)
@pytest.mark.parametrize("signed", [True, False])
def test_feature_maps_over_time_has_one_slider_step_per_frame(
    shape, sample, channels, expected_channels, signed
):
    torch.manual_seed(1)
    x = torch.randn(shape) if signed else torch.rand(shape)
    fig = feature_maps_over_time(x, sample=sample, channels=channels)
    frames = shape[2]
    assert [t.type for t in fig.data] == ["heatmap"] * len(expected_channels)
    assert len(fig.frames) == frames
    steps = fig.layout.sliders[0].steps
    assert len(steps) == frames and [s.label for s in steps] == [str(f) for f in range(frames)]
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [f"channel {c}" for c in expected_channels]
    for f, frame in enumerate(fig.frames):
        assert len(frame.data) == len(expected_channels)
        for heatmap, c in zip(frame.data, expected_channels):
            z = np.asarray(heatmap.z)
            assert z.shape == shape[3:]
            np.testing.assert_allclose(z, x[sample, c, f].numpy(), atol=1e-6)
    colour = fig.layout.coloraxis
    if signed:
        assert colour.cmin == -colour.cmax
    else:
        assert colour.cmin == 0 and colour.cmax == pytest.approx(
            float(x[sample, expected_channels].max()))


def test_feature_maps_over_time_rejects_bad_input():
    x = torch.rand(1, 3, 4, 5, 5)
    with pytest.raises(IndexError, match=r"channel 3 is out of range: dim 1 \(C\)"):
        feature_maps_over_time(x, channels=[0, 3])
    with pytest.raises(ValueError, match="at least one channel"):
        feature_maps_over_time(x, channels=[])
    with pytest.raises(ValueError, match="5D clip"):
        feature_maps_over_time(x[0])
    with pytest.raises(IndexError, match="sample 1 is out of range"):
        feature_maps_over_time(x, sample=1)


# ---- plotly: receptive field ----------------------------------------------------------

@pytest.mark.parametrize(
    "layer, input_size, voxel",
    [
        (3, (8, 9, 9), None),
        ((3, 5, 5), (6, 12, 12), (0, 0, 11)),
        (ConvSpec("2plus1d", 4, 8, (5, 3, 3), padding=(2, 1, 1)), (10, 7, 7), (9, 3, 3)),
        (SpatioTemporalConv(3, 4, (3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1)),
         (8, 16, 16), (2, 5, 1)),
        (ConvSpec("naive", 2, 2, (3, 1, 1), padding=0), (5, 4, 4), (1, 2, 3)),
    ],
)
def test_receptive_field_figure_draws_the_field_counting_gives(layer, input_size, voxel):
    fig = receptive_field_figure(layer, input_size, voxel)
    if isinstance(layer, (int, tuple)):
        kernel = (layer,) * 3 if isinstance(layer, int) else layer
        # A bare kernel size means "same" padding and stride 1.
        spec = ConvSpec("2plus1d", 1, 1, kernel, padding=tuple(k // 2 for k in kernel),
                        intermediate_channels=1)
    else:
        spec = spec_of(layer)
    field = receptive_field([spec])
    traces = {t.name.split(":")[0]: t for t in fig.data}
    assert all(t.type == "scatter3d" for t in fig.data)
    footprint = traces["spatial stage"]
    padding = traces.get("zero padding (outside the clip)")
    points = list(zip(footprint.x, footprint.y, footprint.z))
    if padding is not None:
        points += list(zip(padding.x, padding.y, padding.z))
    assert len(points) == len(set(points)) == field.temporal * field.height * field.width
    t_len, height, width = input_size
    if voxel is not None:
        # The field starts at output index × stride − padding along each axis.
        firsts = (min(p[2] for p in points), min(p[1] for p in points), min(p[0] for p in points))
        assert firsts == tuple(v * s - p for v, s, p in zip(voxel, spec.stride, spec.padding))
    inside = list(zip(footprint.x, footprint.y, footprint.z))
    assert all(0 <= x < width and 0 <= y < height and 0 <= z < t_len for x, y, z in inside)
    assert len(traces["temporal stage"].z) == field.temporal
    assert (f"sees {field.temporal} frames × {field.height} × {field.width} pixels"
            in fig.layout.title.text)
    assert footprint.marker.color == METHOD_COLORS["2plus1d"]


def test_receptive_field_figure_rejects_bad_input():
    with pytest.raises(ValueError, match="draws the two stages of a"):
        receptive_field_figure(FullConv3d(2, 2, 3))
    with pytest.raises(IndexError, match="output_voxel x' 9 is out of range"):
        receptive_field_figure(3, (8, 9, 9), (0, 0, 9))
    with pytest.raises(ValueError, match=r"input_size must be \(T, H, W\)"):
        receptive_field_figure(3, (1, 1, 8, 9, 9))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        receptive_field_figure(ConvSpec("2plus1d", 1, 1, 5, intermediate_channels=1), (3, 9, 9))


# ---- plotly: cost surface -------------------------------------------------------------

@pytest.mark.parametrize("quantity", ["M", "params_ratio", "flops_ratio", "memory_ratio"])
@pytest.mark.parametrize("kernel, channels", [(3, (16, 64, 256)), ((3, 5, 5), (8, 32))])
def test_cost_surface_holds_the_counted_numbers(quantity, kernel, channels):
    size = (4, 14, 14)
    fig = cost_surface(quantity, kernel, channels, size)
    z = np.asarray(fig.data[0].z)
    assert fig.data[0].type == "surface" and z.shape == (len(channels), len(channels))
    assert [t.type for t in fig.data] == ["surface"] * (1 if quantity == "M" else 2)
    assert list(fig.data[0].x) == list(channels) == list(fig.data[0].y)
    for row, n_out in enumerate(channels):
        for col, n_in in enumerate(channels):
            cost = compare_costs(n_in, n_out, kernel, (1, n_in, *size))
            expected = {
                "M": intermediate_channels(n_in, n_out, kernel),
                "params_ratio": cost["2plus1d"].params / cost["3d"].params,
                "flops_ratio": cost["2plus1d"].flops / cost["3d"].flops,
                "memory_ratio": cost["2plus1d"].total_bytes / cost["3d"].total_bytes,
            }[quantity]
            assert z[row, col] == pytest.approx(expected)
    assert fig.layout.scene.xaxis.title.text == "N_in (channels)"
    assert fig.layout.scene.yaxis.title.text == "N_out (channels)"
    if quantity == "memory_ratio":
        assert (z > 1).all()  # the middle tensor is always extra memory


def test_cost_surface_rejects_bad_input():
    with pytest.raises(ValueError, match="quantity must be one of"):
        cost_surface("speed")
    with pytest.raises(ValueError, match="at least 2 different widths"):
        cost_surface("M", channels=(64,))
    with pytest.raises(ValueError, match=r"input_size must be \(T, H, W\)"):
        cost_surface("M", input_size=(8, 8))


# ---- matplotlib: costs ----------------------------------------------------------------

PANEL_LABELS = ["parameters (millions)", "FLOPs (G) = 2·MACs", "activations written (MiB)"]


@pytest.mark.parametrize("widths, kernel", [((16, 32, 64), 3), ((8, 24, 40, 96), (3, 5, 5))])
def test_cost_vs_width_plots_the_counted_costs(widths, kernel):
    size = (4, 16, 16)
    fig = cost_vs_width(widths, kernel, size)
    assert len(fig.axes) == 3
    assert [ax.get_ylabel() for ax in fig.axes] == PANEL_LABELS
    assert "Cost against width" in fig._suptitle.get_text()
    params = fig.axes[0]
    by_label = {line.get_label(): line for line in params.get_lines()}
    assert set(by_label) == {"3D conv", "(2+1)D conv"}
    for label, kind in (("3D conv", "3d"), ("(2+1)D conv", "2plus1d")):
        line = by_label[label]
        assert list(line.get_xdata()) == list(widths)
        expected = [compare_costs(n, n, kernel, (1, n, *size))[kind].params / 1e6
                    for n in widths]
        np.testing.assert_allclose(line.get_ydata(), expected)
        assert line.get_color() == METHOD_COLORS[kind]
    assert_not_blank(fig)


@pytest.mark.parametrize("vary, word", [("spatial", "spatial size d"),
                                        ("temporal", "temporal size t"),
                                        ("both", "kernel size k")])
def test_cost_vs_kernel_size_varies_the_axis_asked(vary, word):
    fig = cost_vs_kernel_size((1, 3, 5), vary=vary, channels=16, input_size=(6, 12, 12))
    assert len(fig.axes) == 3
    assert all(word in ax.get_xlabel() for ax in fig.axes)
    flops = {line.get_label(): line for line in fig.axes[1].get_lines()}["3D conv"]
    kernels = {"spatial": lambda k: (3, k, k), "temporal": lambda k: (k, 3, 3),
               "both": lambda k: (k, k, k)}[vary]
    expected = [compare_costs(16, 16, kernels(k), (1, 16, 6, 12, 12))["3d"].flops / 1e9
                for k in (1, 3, 5)]
    np.testing.assert_allclose(flops.get_ydata(), expected)
    assert_not_blank(fig)


@pytest.mark.parametrize("n_in, n_out, kernel", [(64, 64, 3), (3, 64, (3, 7, 7)),
                                                 (128, 256, (5, 3, 3))])
def test_cost_vs_m_marks_where_the_budgets_cross(n_in, n_out, kernel):
    fig = cost_vs_m(n_in, n_out, kernel, (4, 8, 8))
    assert len(fig.axes) == 3
    assert [ax.get_xlabel() for ax in fig.axes] == ["intermediate channels M"] * 3
    weights = fig.axes[0]
    lines = {line.get_label().split(" = ")[0]: line for line in weights.get_lines()}
    t, d_h, d_w = (kernel,) * 3 if isinstance(kernel, int) else kernel
    # M* from the budget equation, in exact arithmetic: t·d²·N_in·N_out / (d²·N_in + t·N_out).
    exact = Fraction(t * d_h * d_w * n_in * n_out, d_h * d_w * n_in + t * n_out)
    crossing = lines["budgets cross at M*"]
    assert crossing.get_xdata()[0] == pytest.approx(float(exact))
    paper = intermediate_channels(n_in, n_out, kernel)
    assert paper == math.floor(exact)
    assert list(lines["paper's M"].get_xdata()) == [paper, paper]
    curve = lines["(2+1)D conv"]
    ms, ys = list(curve.get_xdata()), list(curve.get_ydata())
    assert ms[0] == 1 and paper in ms and ms == sorted(ms)
    budget = lines["3D conv"].get_ydata()[0]
    same = (t // 2, d_h // 2, d_w // 2)
    assert budget == layer_cost(ConvSpec("3d", n_in, n_out, kernel, padding=same, bias=False),
                                (1, n_in, 4, 8, 8)).weights / 1e3
    # The paper's M is the last M within budget.
    at_paper = ys[ms.index(paper)]
    assert at_paper <= budget
    assert all(y > budget for m, y in zip(ms, ys) if m > exact)
    assert_not_blank(fig)


@pytest.mark.parametrize("kernels", [((3, 3),), ((3, 3), (3, 5), (5, 3), (1, 7))])
def test_intermediate_channels_figure_draws_the_formula(kernels):
    widths = (16, 64, 256)
    fig = intermediate_channels_figure(widths, kernels, fixed_in=32)
    left, right = fig.axes
    curves = [line for line in left.get_lines()]
    assert len(curves) == len(kernels)
    assert len(right.get_lines()) == 2 * len(kernels)  # a curve and its d²·N_in asymptote
    for line, (t, d) in zip(curves, kernels):
        assert line.get_label() == f"t = {t}, d = {d}"
        assert list(line.get_ydata()) == [intermediate_channels(n, n, (t, d, d)) for n in widths]
    for line, (t, d) in zip(right.get_lines()[::2], kernels):
        ys = list(line.get_ydata())
        assert ys == [intermediate_channels(32, n, (t, d, d)) for n in widths]
        assert all(y < d * d * 32 for y in ys)
    assert "N_in = 32" in right.get_xlabel()
    assert left.get_ylabel() == "intermediate channels M"
    assert_not_blank(fig)


def test_cost_figures_reject_bad_input():
    with pytest.raises(ValueError, match="at least 2 values"):
        cost_vs_width((64,))
    with pytest.raises(ValueError, match="vary must be"):
        cost_vs_kernel_size(vary="diagonal")
    with pytest.raises(ValueError, match=r"input_size must be \(T, H, W\)"):
        cost_vs_m(input_size=(1, 64, 8, 56, 56))
    with pytest.raises(ValueError, match=r"\(t, d\) pairs"):
        intermediate_channels_figure(kernels=((3, 3, 3),))
    with pytest.raises(ValueError, match="channels must be an integer >= 1"):
        cost_vs_kernel_size(channels=0)
    with pytest.raises(TypeError, match="widths entries must be an integer"):
        cost_vs_width((16, 32.5))


# ---- matplotlib: timing bars ----------------------------------------------------------

def _timing(label, method, q25, median, q75):
    return SimpleNamespace(label=label, method=method, q25_ms=q25, median_ms=median, q75_ms=q75)


@pytest.mark.parametrize(
    "results",
    [
        [_timing("3D", "3d", 9.0, 10.0, 12.0)],
        [_timing("3D", "3d", 9.0, 10.0, 12.0), _timing("(2+1)D", "2plus1d", 7.0, 7.5, 9.0)],
        [_timing(m, m, 1.0 + i, 2.0 + i, 2.5 + 2 * i)
         for i, m in enumerate(["3d", "naive", "2plus1d", "fast"])],
        [_timing("a", "fast", 0.0, 0.0, 0.0), _timing("b", "fast", 3.0, 3.0, 3.0)],
    ],
)
def test_plot_timings_draws_one_bar_and_whisker_per_result(results):
    fig = plot_timings(results, title="bars")
    (ax,) = fig.axes
    assert ax.get_title() == "bars"
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars.patches) == len(results)
    # First result on top: bar i sits at y = n - 1 - i.
    for i, (bar, r) in enumerate(zip(bars.patches, results)):
        assert bar.get_width() == pytest.approx(r.median_ms)
        assert bar.get_y() + bar.get_height() / 2 == pytest.approx(len(results) - 1 - i)
    whiskers = bars.errorbar.lines[2][0].get_segments()
    for segment, r in zip(whiskers, results):
        assert segment[0][0] == pytest.approx(r.q25_ms)
        assert segment[1][0] == pytest.approx(r.q75_ms)
    ticks = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    assert [ticks[len(results) - 1 - i] for i in range(len(results))] == [r.label for r in results]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == len({r.method for r in results})
    assert ax.get_xlabel().startswith("time per call (ms)")
    assert_not_blank(fig)


@pytest.mark.parametrize(
    "results, error, message",
    [
        ([], ValueError, "at least one timing result"),
        ([SimpleNamespace(label="x", method="3d", median_ms=1.0)], TypeError,
         "lacks q25_ms, q75_ms"),
        ([_timing("x", "gpu", 1.0, 2.0, 3.0)], ValueError, r"method 'gpu'; expected one of"),
        ([_timing("x", "3d", 2.5, 2.0, 3.0)], ValueError, "q25_ms <= median_ms <= q75_ms"),
        ([_timing("x", "3d", 1.0, 4.0, 3.0)], ValueError, "q25_ms <= median_ms <= q75_ms"),
    ],
)
def test_plot_timings_rejects_bad_results(results, error, message):
    with pytest.raises(error, match=message):
        plot_timings(results)


# ---- exports --------------------------------------------------------------------------

def test_every_exported_figure_function_resolves():
    import r21d_edu.viz as viz

    for name in viz.__all__:
        assert callable(getattr(viz, name)) or isinstance(getattr(viz, name), dict)
    with pytest.raises(AttributeError, match="has no attribute 'plot_everything'"):
        viz.plot_everything  # noqa: B018
