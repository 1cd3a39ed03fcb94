"""Interactive figures (plotly): turn a kernel, scrub through feature maps, see a receptive field.

Each function returns a `plotly.graph_objects.Figure` and sets no renderer: a
notebook chooses how to show it (the tutorials use
``plotly.io.renderers.default = "plotly_mimetype"``), and tests read the
figure's data and layout directly.

- `kernel_3d_figure` — the t × d × d weights of one kernel as coloured points
  in (x, y, t), to turn and inspect;
- `feature_maps_over_time` — a few channels of an (N, C, T, H, W) tensor, one
  frame at a time, with a frame slider and a play button;
- `receptive_field_figure` — which input values one output of a (2+1)D layer
  depends on: a d × d footprint of the spatial stage on each of the t frames
  the temporal stage spans;
- `cost_surface` — M, or the (2+1)D / 3D ratio of parameters, FLOPs or
  activation memory, over (N_in, N_out).

Every number drawn comes from `r21d_edu.counting`, `r21d_edu.layers` and
`r21d_edu.lowrank`; nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from .._checks import as_triple, check_int
from ..counting import ConvSpec, compare_costs, receptive_field, spec_of, stage_shapes
from ..layers import NaiveConv2Plus1d, SpatioTemporalConv
from ..lowrank import compose
from ._common import as_clip, check_index, symmetric_limit
from .style import METHOD_COLORS, METHOD_LABELS

__all__ = ["cost_surface", "feature_maps_over_time", "kernel_3d_figure", "receptive_field_figure"]

# x and y are pixel columns and rows, t is time: the same axes in every 3D view of the package.
_SCENE_AXES = {
    "xaxis_title": "x (pixels)",
    "yaxis_title": "y (pixels)",
    "zaxis_title": "t (frames)",
}


# --------------------------------------------------------------------------
# A kernel in 3D
# --------------------------------------------------------------------------


def _kernel_block(kernel: Any, out_channel: int, in_channel: int) -> tuple[torch.Tensor, str]:
    """The (t, d_h, d_w) block to draw and where it came from."""
    if isinstance(kernel, (SpatioTemporalConv, NaiveConv2Plus1d)):
        # compose explains why a layer with BN + ReLU in the middle has no single kernel.
        kernel, source = compose(kernel).weight, "effective kernel of the (2+1)D layer"
    elif isinstance(kernel, nn.Conv3d):
        kernel, source = kernel.weight, "Conv3d kernel"
    elif isinstance(kernel, torch.Tensor):
        source = "kernel"
    else:
        raise TypeError(
            f"kernel_3d_figure expects a kernel tensor (t, d_h, d_w) or (C_out, C_in, t, d_h, "
            f"d_w), an nn.Conv3d, or a (2+1)D layer without middle BN + ReLU; got "
            f"{type(kernel).__name__}"
        )
    weight = kernel.detach().float().cpu()
    if weight.dim() == 5:
        c_out, c_in = weight.shape[:2]
        o = check_index(out_channel, c_out, "out_channel",
                        f"dim 0 (C_out) of the kernel of shape {tuple(weight.shape)}")
        i = check_index(in_channel, c_in, "in_channel",
                        f"dim 1 (C_in) of the kernel of shape {tuple(weight.shape)}")
        return weight[o, i], f"{source}, output channel {o} ← input channel {i}"
    if weight.dim() == 3:
        return weight, source
    raise ValueError(
        f"kernel_3d_figure expects a kernel of shape (t, d_h, d_w) or (C_out, C_in, t, d_h, "
        f"d_w) like nn.Conv3d.weight, got {weight.dim()}D shape {tuple(weight.shape)}; "
        "for one channel pair of a conv use conv.weight[o, i]"
    )


def kernel_3d_figure(kernel: Any, out_channel: int = 0, in_channel: int = 0) -> go.Figure:
    """The weights of one 3D kernel as points in (x, y, t), coloured and sized by weight.

    Positive weights are red, negative blue, zero white; a point's size grows
    with the weight's magnitude, so the strong taps stand out when the figure
    is turned. A kernel that responds to motion shows up as a pattern that
    slides across x or y as t grows.

    Args:
        kernel: a tensor (t, d_h, d_w) or (C_out, C_in, t, d_h, d_w) like
            ``nn.Conv3d.weight``; an `nn.Conv3d` / `FullConv3d`; or a
            `SpatioTemporalConv` / `NaiveConv2Plus1d` built with
            ``middle_bn_relu=False``, drawn as its effective 3D kernel
            (`r21d_edu.lowrank.compose`).
        out_channel: output channel o of a 5D kernel. Default: 0.
        in_channel: input channel i of a 5D kernel. Default: 0.

    Returns:
        A plotly `Figure` with one ``scatter3d`` trace of t·d_h·d_w points.

    Shape:
        - Kernel: (t, d_h, d_w) or (C_out, C_in, t, d_h, d_w)
    """
    block, source = _kernel_block(kernel, out_channel, in_channel)
    t, d_h, d_w = block.shape
    ts, ys, xs = torch.meshgrid(torch.arange(t), torch.arange(d_h), torch.arange(d_w),
                                indexing="ij")
    values = block.flatten()
    limit = symmetric_limit(block)
    fig = go.Figure(go.Scatter3d(
        x=xs.flatten().tolist(), y=ys.flatten().tolist(), z=ts.flatten().tolist(),
        mode="markers",
        marker={
            "size": (5 + 15 * values.abs() / limit).tolist(),
            "color": values.tolist(),
            "colorscale": "RdBu_r", "cmin": -limit, "cmax": limit,
            "colorbar": {"title": {"text": "weight"}},
            "opacity": 0.9, "line": {"width": 0},
        },
        name="weights",
        hovertemplate="t=%{z}, y=%{y}, x=%{x}<br>weight %{marker.color:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title=f"{source}: {t}×{d_h}×{d_w} = {t * d_h * d_w} weights (t × d_h × d_w)",
        # One tick per tap; rows grow downwards, as in an image.
        scene={**_SCENE_AXES, "aspectmode": "data", "xaxis": {"dtick": 1},
               "yaxis": {"autorange": "reversed", "dtick": 1}, "zaxis": {"dtick": 1}},
        margin={"l": 0, "r": 0, "t": 50, "b": 0},
    )
    return fig


# --------------------------------------------------------------------------
# Feature maps, frame by frame
# --------------------------------------------------------------------------


def feature_maps_over_time(
    features: Any,
    sample: int = 0,
    channels: Sequence[int] | None = None,
    *,
    max_channels: int = 4,
    title: str = "Feature maps over time",
) -> go.Figure:
    """A few channels of a feature tensor side by side, one frame at a time, with a slider.

    Moving the slider (or pressing play) steps through time: a channel that
    answers motion lights up where things move and stays dark on a static
    background. All panels and frames share one colour scale, so brightness
    compares across channels and time; signed features use a red–blue scale
    centred on zero.

    Args:
        features: an (N, C, T, H, W) float tensor (a clip or a layer's
            output), or an object with such a tensor in ``.clip``.
        sample: which element of the batch. Default: 0.
        channels: the channels to show; None shows the first ``max_channels``.
        max_channels: how many channels None shows. Default: 4.
        title: the figure title.

    Returns:
        A plotly `Figure` with one ``heatmap`` per channel, one animation
        frame and one slider step per time step T.

    Shape:
        - Input: (N, C, T, H, W)
        - Drawn: T frames of len(channels) H × W maps
    """
    x = as_clip(features, "feature_maps_over_time")
    n, c, t_len, height, width = x.shape
    shape = tuple(x.shape)
    sample = check_index(sample, n, "sample", f"dim 0 (N) of the features of shape {shape}")
    if channels is None:
        count = check_int(max_channels, "max_channels", minimum=1)
        chosen = list(range(min(c, count)))
    else:
        chosen = [check_index(ch, c, "channel", f"dim 1 (C) of the features of shape {shape}")
                  for ch in channels]
        if not chosen:
            raise ValueError("channels must name at least one channel, got an empty list")
    maps = x[sample, chosen].float()  # (k, T, H, W)
    signed = float(maps.min()) < 0
    if signed:
        limit = symmetric_limit(maps)
        colour = {"colorscale": "RdBu_r", "cmin": -limit, "cmax": limit}
    else:
        top = float(maps.max())
        colour = {"colorscale": "Viridis", "cmin": 0.0, "cmax": top if top > 0 else 1.0}
    fig = make_subplots(rows=1, cols=len(chosen), horizontal_spacing=0.02,
                        subplot_titles=[f"channel {ch}" for ch in chosen])

    def heatmaps(frame: int) -> list[go.Heatmap]:
        return [go.Heatmap(z=maps[k, frame].tolist(), coloraxis="coloraxis",
                           hovertemplate="x=%{x}, y=%{y}: %{z:.3f}<extra></extra>")
                for k in range(len(chosen))]

    for k, trace in enumerate(heatmaps(0)):
        fig.add_trace(trace, row=1, col=k + 1)
    fig.frames = [go.Frame(data=heatmaps(f), traces=list(range(len(chosen))), name=str(f))
                  for f in range(t_len)]
    # redraw=True: heatmaps do not update on frame change otherwise.
    step_args = {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                 "transition": {"duration": 0}}
    fig.update_layout(
        title=f"{title} (sample {sample}, {t_len} frames of {height}×{width} pixels)",
        coloraxis={**colour, "colorbar": {"title": {"text": "activation"}}},
        sliders=[{
            "active": 0,
            "currentvalue": {"prefix": "frame t = "},
            "pad": {"t": 30},
            "steps": [{"label": str(f), "method": "animate", "args": [[str(f)], step_args]}
                      for f in range(t_len)],
        }],
        updatemenus=[{
            "type": "buttons", "direction": "left", "x": 0.0, "y": -0.05,
            "xanchor": "right", "yanchor": "top", "pad": {"t": 30, "r": 10},
            "buttons": [
                {"label": "play", "method": "animate",
                 "args": [None, {**step_args, "frame": {"duration": 250, "redraw": True},
                                 "fromcurrent": True}]},
                {"label": "pause", "method": "animate", "args": [[None], step_args]},
            ],
        }],
        margin={"t": 80},
    )
    for k in range(len(chosen)):
        # Image orientation: row 0 at the top, square pixels.
        # constrain="domain" shrinks the panel to square pixels instead of padding the range.
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{k + 1 if k else ''}",
                         constrain="domain", showticklabels=k == 0, row=1, col=k + 1)
        fig.update_xaxes(title_text="x (pixels)", constrain="domain", row=1, col=k + 1)
    fig.update_yaxes(title_text="y (pixels)", row=1, col=1)
    return fig


# --------------------------------------------------------------------------
# The receptive field of one output value
# --------------------------------------------------------------------------


def _two_plus_one_spec(layer: Any) -> ConvSpec:
    if isinstance(layer, (int, Sequence)) and not isinstance(layer, (str, bool)):
        kernel = as_triple(layer, "kernel_size", minimum=1)
        # Channels do not change which inputs an output sees; one is enough to draw it.
        return ConvSpec("2plus1d", 1, 1, kernel, padding=tuple(k // 2 for k in kernel),
                        intermediate_channels=1)
    spec = spec_of(layer)
    if spec.method == "3d":
        raise ValueError(
            "receptive_field_figure draws the two stages of a (2+1)D layer; got a 3D conv. "
            "Pass its kernel size (e.g. 3 or (3, 3, 3)) or ConvSpec('2plus1d', ...) to see "
            "how the (2+1)D layer covers the same field"
        )
    return spec


def _box_edges(t_len: int, height: int, width: int) -> tuple[list, list, list]:
    """The 12 edges of the input volume, as one line with gaps (None) between edges."""
    x0, x1, y0, y1, z0, z1 = -0.5, width - 0.5, -0.5, height - 0.5, -0.5, t_len - 0.5
    corners = [(x, y, z) for z in (z0, z1) for y in (y0, y1) for x in (x0, x1)]
    edges = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7),
             (0, 4), (1, 5), (2, 6), (3, 7)]
    xs: list = []
    ys: list = []
    zs: list = []
    for a, b in edges:
        for axis, values in zip(range(3), (xs, ys, zs)):
            values += [corners[a][axis], corners[b][axis], None]
    return xs, ys, zs


def receptive_field_figure(
    layer: Any = 3,
    input_size: Sequence[int] = (8, 9, 9),
    output_voxel: Sequence[int] | None = None,
) -> go.Figure:
    """Which input values one output value of a (2+1)D layer depends on, drawn in the clip.

    The temporal stage (t × 1 × 1) reads t values of the middle tensor, one per
    frame, at the output's pixel; each of those came from the spatial stage
    (1 × d × d), which read a d × d footprint of one input frame. Together:
    t footprints stacked in time, the t × d × d block a 3D conv would read.
    Footprint cells outside the clip fall on zero padding and are drawn hollow.

    Args:
        layer: a kernel size (t or (t, d_h, d_w); padded to keep the size,
            stride 1), a `ConvSpec` of kind ``"2plus1d"`` or ``"naive"``, or a
            `SpatioTemporalConv` / `NaiveConv2Plus1d` (its stride and padding
            are used).
        input_size: (T, H, W) of the input clip. Default: (8, 9, 9).
        output_voxel: (t', y', x') of the output value; None takes the middle
            of the output.

    Returns:
        A plotly `Figure` with ``scatter3d`` traces: the clip's outline, the
        spatial footprints inside the clip (and on padding when there is
        some), the temporal span through the middle tensor, and the output.
        Its size is `r21d_edu.counting.receptive_field`'s.

    Shape:
        - Input: (N, C, T, H, W) with (T, H, W) = ``input_size``
        - Output: (N, C_out, T', H', W') from `r21d_edu.counting.stage_shapes`
    """
    spec = _two_plus_one_spec(layer)
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) \
            or len(input_size) != 3:
        raise ValueError(
            f"input_size must be (T, H, W) of the input clip, got {input_size!r}; the "
            "batch and channel sizes do not change the receptive field"
        )
    t_len, height, width = (check_int(s, "input_size entries", minimum=1) for s in input_size)
    out_shape = stage_shapes(spec, (1, spec.in_channels, t_len, height, width)).output_shape
    out_thw = out_shape[2:]
    if output_voxel is None:
        voxel = tuple(size // 2 for size in out_thw)
    else:
        if isinstance(output_voxel, (str, bytes)) or not isinstance(output_voxel, Sequence) \
                or len(output_voxel) != 3:
            raise ValueError(f"output_voxel must be (t', y', x'), got {output_voxel!r}")
        voxel = tuple(
            check_index(v, size, f"output_voxel {axis}",
                        f"the output of shape (T', H', W') = {tuple(out_thw)} along {axis}")
            for v, size, axis in zip(output_voxel, out_thw, ("t'", "y'", "x'"))
        )
    field = receptive_field([spec])
    (k_t, k_h, k_w), (s_t, s_h, s_w), (p_t, p_h, p_w) = spec.kernel_size, spec.stride, \
        spec.padding
    # First input index each axis reads: output index × stride − padding.
    t0, y0, x0 = voxel[0] * s_t - p_t, voxel[1] * s_h - p_h, voxel[2] * s_w - p_w
    frames = [t0 + k for k in range(field.temporal)]
    rows = [y0 + k for k in range(field.height)]
    cols = [x0 + k for k in range(field.width)]
    inside: list[tuple[int, int, int]] = []
    padded: list[tuple[int, int, int]] = []
    for f in frames:
        for r in rows:
            for c in cols:
                ok = 0 <= f < t_len and 0 <= r < height and 0 <= c < width
                (inside if ok else padded).append((c, r, f))
    colour = METHOD_COLORS["2plus1d"]
    fig = go.Figure()
    xs, ys, zs = _box_edges(t_len, height, width)
    fig.add_trace(go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", name=f"input clip {t_len}×"
                               f"{height}×{width} (T × H × W)",
                               line={"color": "#888888", "width": 2}, hoverinfo="skip"))
    footprint = f"spatial stage: a {k_h}×{k_w} footprint on each of {k_t} frames"
    fig.add_trace(go.Scatter3d(
        x=[p[0] for p in inside], y=[p[1] for p in inside], z=[p[2] for p in inside],
        mode="markers", name=footprint,
        marker={"symbol": "square", "size": 6, "color": colour, "opacity": 0.55},
        hovertemplate="input t=%{z}, y=%{y}, x=%{x}<extra></extra>",
    ))
    if padded:
        fig.add_trace(go.Scatter3d(
            x=[p[0] for p in padded], y=[p[1] for p in padded], z=[p[2] for p in padded],
            mode="markers", name="zero padding (outside the clip)",
            marker={"symbol": "square-open", "size": 6, "color": "#999999"},
            hovertemplate="padding t=%{z}, y=%{y}, x=%{x}<extra></extra>",
        ))
    centre_y, centre_x = y0 + (field.height - 1) / 2, x0 + (field.width - 1) / 2
    fig.add_trace(go.Scatter3d(
        x=[centre_x] * len(frames), y=[centre_y] * len(frames), z=frames,
        mode="lines+markers", name=f"temporal stage: {k_t} middle values, one per frame",
        line={"color": "#333333", "width": 6},
        marker={"symbol": "diamond", "size": 5, "color": "#333333"},
        hovertemplate="middle tensor at t=%{z}<extra></extra>",
    ))
    fig.add_trace(go.Scatter3d(
        x=[centre_x], y=[centre_y], z=[t0 + (field.temporal - 1) / 2], mode="markers",
        name=f"output (t', y', x') = {voxel}",
        marker={"symbol": "x", "size": 9, "color": METHOD_COLORS["3d"]},
        hovertemplate="output value, drawn at the centre of its field<extra></extra>",
    ))
    fig.update_layout(
        title=(f"{METHOD_LABELS['2plus1d']}: output {voxel} sees {field.temporal} frames × "
               f"{field.height} × {field.width} pixels = "
               f"{field.temporal * field.height * field.width} input values per channel"),
        scene={**_SCENE_AXES, "aspectmode": "data", "yaxis": {"autorange": "reversed"}},
        legend={"x": 0.0, "y": 0.0, "xanchor": "left", "yanchor": "bottom"},
        margin={"l": 0, "r": 0, "t": 50, "b": 0},
    )
    return fig


# --------------------------------------------------------------------------
# A cost surface over the channel widths
# --------------------------------------------------------------------------

_QUANTITIES = {
    "M": ("intermediate channels M", "M"),
    "params_ratio": ("(2+1)D / 3D parameters", "parameter ratio"),
    "flops_ratio": ("(2+1)D / 3D FLOPs", "FLOP ratio"),
    "memory_ratio": ("(2+1)D / 3D activation memory written", "memory ratio"),
}


def _value(quantity: str, three: Any, two: Any) -> float:
    if quantity == "M":
        return float(two.spec.intermediate_channels)
    if quantity == "params_ratio":
        return two.params / three.params
    if quantity == "flops_ratio":
        return two.flops / three.flops
    return two.total_bytes / three.total_bytes


def cost_surface(
    quantity: str = "memory_ratio",
    kernel_size: int | Sequence[int] = 3,
    channels: Sequence[int] = (16, 32, 64, 128, 256, 512),
    input_size: Sequence[int] = (8, 56, 56),
) -> go.Figure:
    """A surface over (N_in, N_out): the paper's M, or what (2+1)D costs relative to 3D.

    With M from the paper's formula the parameter ratio stays at about 1
    everywhere — that is what the formula is for (the conv weights never
    exceed the 3D conv's; the middle BatchNorm adds 2·M) — and so does the FLOP
    ratio at stride 1 with "same" padding, since every weight is then used
    once per output position. The activation memory ratio moves with the
    widths: the (2+1)D layer also writes its middle tensor (M channels at full
    length, plus its BatchNorm output), and M grows with N_in and N_out.
    Ratios above the grey plane at 1 mean the (2+1)D layer costs more than
    the 3D conv it replaces.

    Args:
        quantity: ``"M"``, ``"params_ratio"``, ``"flops_ratio"`` or
            ``"memory_ratio"`` ((2+1)D / 3D, both bias-free, "same" padding,
            stride 1, as `r21d_edu.counting.compare_costs` builds them).
        kernel_size: t, or (t, d_h, d_w). Default: 3.
        channels: the widths tried for both N_in and N_out (at least 2).
        input_size: (T, H, W) of the input clip, for FLOPs and memory.

    Returns:
        A plotly `Figure` with one ``surface`` of shape
        (len(channels), len(channels)) — rows N_out, columns N_in — plus a
        flat surface at 1 for the ratios.

    Shape:
        - Input: (1, N_in, T, H, W) with (T, H, W) = ``input_size``
    """
    if quantity not in _QUANTITIES:
        raise ValueError(
            f"quantity must be one of {sorted(_QUANTITIES)}, got {quantity!r}"
        )
    widths = [check_int(c, "channels entries", minimum=1) for c in channels]
    if len(widths) < 2 or len(set(widths)) != len(widths):
        raise ValueError(
            f"channels must hold at least 2 different widths for a surface, got {list(channels)}"
        )
    widths.sort()
    if isinstance(input_size, (str, bytes)) or len(input_size) != 3:
        raise ValueError(f"input_size must be (T, H, W), got {input_size!r}")
    t_len, height, width = (check_int(s, "input_size entries", minimum=1) for s in input_size)
    z: list[list[float]] = []
    for n_out in widths:
        row = []
        for n_in in widths:
            cost = compare_costs(n_in, n_out, kernel_size, (1, n_in, t_len, height, width))
            row.append(_value(quantity, cost["3d"], cost["2plus1d"]))
        z.append(row)
    name, short = _QUANTITIES[quantity]
    kernel = as_triple(kernel_size, "kernel_size", minimum=1)
    fig = go.Figure(go.Surface(
        x=widths, y=widths, z=z, colorscale="Viridis", name=name,
        colorbar={"title": {"text": short}},
        hovertemplate="N_in=%{x}, N_out=%{y}<br>" + short + " %{z:.3f}<extra></extra>",
    ))
    if quantity != "M":
        fig.add_trace(go.Surface(x=widths, y=widths, z=[[1.0] * len(widths)] * len(widths),
                                 colorscale=[[0, "#BBBBBB"], [1, "#BBBBBB"]], showscale=False,
                                 opacity=0.35, name="3D conv = 1", hoverinfo="skip"))
    kernel_text = "×".join(map(str, kernel))
    fig.update_layout(
        title=(f"{name}, kernel {kernel_text}, input {t_len}×{height}×{width} (T × H × W), "
               "paper's M"),
        scene={"xaxis": {"title": {"text": "N_in (channels)"}, "type": "log",
                         "tickvals": widths, "ticktext": [str(n) for n in widths]},
               "yaxis": {"title": {"text": "N_out (channels)"}, "type": "log",
                         "tickvals": widths, "ticktext": [str(n) for n in widths]},
               "zaxis": {"title": {"text": short}}},
        margin={"l": 0, "r": 0, "t": 50, "b": 0},
    )
    return fig
