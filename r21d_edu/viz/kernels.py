"""Kernels as pictures: 3D kernels slice by slice, spatial filters, temporal profiles.

A t × d × d kernel is shown as t small d × d images side by side, one per time
offset τ, with one colour scale for the whole kernel (white = 0, red > 0,
blue < 0) so that slices compare. A kernel whose slices are shifted copies of
each other is tilted in space-time: it prefers things that move.

- `effective_kernel` — the one 3D kernel a layer applies (the layer's own for a
  3D conv, `lowrank.compose` for a linear (2+1)D layer);
- `kernel_grid` — one output channel's kernel: input channels × time slices;
- `spatial_filters` — the 1 × d × d filters of a (2+1)D layer (RGB for RGB input);
- `temporal_profiles` — the t × 1 × 1 filters as line plots over τ;
- `effective_kernel_figure` — a (2+1)D layer's effective kernel next to a 3D one;
- `draw_mosaic` — the helper that draws a grid of small images as one image.

A (2+1)D layer with BatchNorm + ReLU between its convs has **no** single
effective kernel (ReLU is not linear). These functions refuse it with an
explanation unless asked for ``ignore_bn_relu=True``, which composes the two
convs as if BN and ReLU were absent and says so in the title.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from .._checks import check_bool, check_int
from ..lowrank import composed_kernel, unfold_kernel
from ._common import (
    KNOWN_LAYERS,
    TWO_PLUS_ONE,
    check_index,
    method_of,
    new_figure,
    symmetric_limit,
)
from .style import METHOD_COLORS, METHOD_LABELS

__all__ = [
    "draw_mosaic",
    "mosaic_image",
    "effective_kernel",
    "effective_kernel_figure",
    "kernel_grid",
    "spatial_filters",
    "temporal_profiles",
]

CMAP = "RdBu_r"  # diverging: white is zero, so sign and size read at a glance


# --------------------------------------------------------------------------
# Which kernel does a layer apply?
# --------------------------------------------------------------------------


def effective_kernel(layer: Any, *, ignore_bn_relu: bool = False) -> torch.Tensor:
    """The 3D kernel a layer applies, as a (C_out, C_in, t, d_h, d_w) tensor.

    - `FullConv3d` / `nn.Conv3d`: its weight.
    - a (2+1)D layer built with ``middle_bn_relu=False``: the kernel of
      `r21d_edu.lowrank.compose`, ``W[o,i,τ] = Σ_m temporal[o,m,τ]·spatial[m,i]``,
      whose unfolded rank is at most M.
    - a (2+1)D layer with BN + ReLU in the middle: refused, because
      ``relu(a) + relu(b) != relu(a + b)`` — no single kernel gives its output.
      With ``ignore_bn_relu=True`` the two convs are composed as if BN and ReLU
      were not there: the kernel of the layer's *linear part*, not of the layer.
    - a weight tensor: returned as it is (after a shape check).

    Args:
        layer: a layer of a known kind, or a 5D kernel tensor.
        ignore_bn_relu: compose the convs of a layer with middle BN/ReLU anyway.

    Returns:
        A detached float tensor.

    Shape:
        - Output: (C_out, C_in, t, d_h, d_w), like ``nn.Conv3d.weight``.
    """
    ignore_bn_relu = check_bool(ignore_bn_relu, "ignore_bn_relu")
    if isinstance(layer, torch.Tensor):
        if layer.dim() != 5:
            raise ValueError(
                "expected a 3D-conv kernel of shape (C_out, C_in, t, d_h, d_w) like "
                f"nn.Conv3d.weight, got shape {tuple(layer.shape)}"
            )
        return layer.detach()
    method = method_of(layer)  # raises, naming the known kinds, for anything else
    if method == "3d":
        return layer.weight.detach()
    if not layer.is_linear:
        if not ignore_bn_relu:
            raise ValueError(
                f"this {type(layer).__name__} has BatchNorm + ReLU between its convs, so it "
                "has no single effective 3D kernel: ReLU is not linear (relu(a) + relu(b) != "
                "relu(a + b)). Build it with middle_bn_relu=False (as lowrank.factorize does), "
                "or pass ignore_bn_relu=True to see the kernel of its two convs composed as if "
                "BN and ReLU were absent"
            )
    return composed_kernel(layer)


def _kernel_and_label(layer: Any, ignore_bn_relu: bool) -> tuple[torch.Tensor, str, str | None]:
    kernel = effective_kernel(layer, ignore_bn_relu=ignore_bn_relu)
    if isinstance(layer, torch.Tensor):
        return kernel, "kernel", None
    method = method_of(layer)
    label = METHOD_LABELS[method]
    if method != "3d":
        label += " effective kernel"
        if not layer.is_linear:
            label += " (BN/ReLU ignored: linear part only)"
    return kernel, label, method


def mosaic_image(tiles: torch.Tensor, gap: int, fill: float) -> np.ndarray:
    """(R, C, h, w[, 3]) tiles -> one (R·h + (R−1)·gap, C·w + (C−1)·gap[, 3]) image."""
    rows, cols, h, w = tiles.shape[:4]
    extra = tuple(tiles.shape[4:])
    canvas = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, *extra), fill,
                     dtype=np.float32)
    data = tiles.detach().float().cpu().numpy()
    for r in range(rows):
        for c in range(cols):
            canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = data[r, c]
    return canvas


def draw_mosaic(
    ax: Any,
    tiles: torch.Tensor,
    *,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    cmap: str = CMAP,
    vmin: float | None = None,
    vmax: float | None = None,
    gap: int = 1,
) -> Any:
    """Draw a grid of small images as ONE image on one axes, labelled by ticks.

    One image instead of one axes per tile: matplotlib lays out and renders a
    single axes in a fraction of the time of dozens, which is what lets a
    slider redraw a frames × channels grid well under 0.3 s. Gaps are NaN and
    show as white (or white for RGB tiles).

    Args:
        ax: the axes.
        tiles: (R, C, h, w) values or (R, C, h, w, 3) RGB in [0, 1].
        row_labels, col_labels: tick labels at the centre of each row / column.
        cmap, vmin, vmax: as `imshow` (ignored for RGB).
        gap: pixels between tiles.

    Returns:
        The `AxesImage` (for a colour bar).

    Shape:
        - tiles: (R, C, h, w) or (R, C, h, w, 3); image (R·h + (R−1)·gap, C·w + (C−1)·gap[, 3]).
    """
    rgb = tiles.dim() == 5
    picture = mosaic_image(tiles, gap, 1.0 if rgb else np.nan)
    if rgb:
        image = ax.imshow(picture, interpolation="nearest")
    else:
        colours = matplotlib.colormaps[cmap].with_extremes(bad="white")
        image = ax.imshow(picture, cmap=colours, vmin=vmin, vmax=vmax, interpolation="nearest")
    rows, cols, h, w = tiles.shape[:4]
    ax.set_xticks([c * (w + gap) + (w - 1) / 2 for c in range(cols)] if col_labels else [],
                  list(col_labels))
    ax.set_yticks([r * (h + gap) + (h - 1) / 2 for r in range(rows)] if row_labels else [],
                  list(row_labels))
    ax.xaxis.tick_top()
    ax.tick_params(length=0, labelsize=8)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


# --------------------------------------------------------------------------
# 1. One output channel's kernel, slice by slice
# --------------------------------------------------------------------------


def kernel_grid(
    layer: Any,
    out_channel: int = 0,
    *,
    in_channels: Sequence[int] | None = None,
    ignore_bn_relu: bool = False,
    title: str | None = None,
) -> Figure:
    """One output channel's 3D kernel as a grid: input channels × time slices.

    Row i, column τ is the d_h × d_w image ``W[out_channel, i, τ]``: what the
    output takes from input channel i at time offset τ. One symmetric colour
    scale for the whole grid (white = 0), shared by one colour bar.

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, a linear (2+1)D layer (its
            `effective_kernel`), or a (C_out, C_in, t, d_h, d_w) tensor.
        out_channel: which output channel's kernel.
        in_channels: which input channels (rows); default all, at most 8.
        ignore_bn_relu: see `effective_kernel`.
        title: the figure title; default names the layer and the channel.

    Returns:
        A `Figure` with one axes holding one mosaic image of
        ``len(in_channels) × t`` tiles of d_h × d_w (1-pixel white gaps), rows
        labelled ``in i`` and columns ``τ = k``, plus a colour-bar axes.

    Shape:
        - Kernel: (C_out, C_in, t, d_h, d_w).
    """
    kernel, label, _ = _kernel_and_label(layer, ignore_bn_relu)
    c_out, c_in, t, d_h, d_w = kernel.shape
    out_channel = check_index(out_channel, c_out, "out_channel", "the kernel")
    rows = list(range(min(c_in, 8))) if in_channels is None else [
        check_index(i, c_in, "input channel", "the kernel") for i in in_channels
    ]
    if not rows:
        raise ValueError("in_channels is empty: pick at least one input channel to show")
    chosen = kernel[out_channel, rows]  # (rows, t, d_h, d_w)
    limit = symmetric_limit(chosen)
    # Inches per kernel pixel: small kernels are drawn larger.
    scale = 0.32 * max(1.0, 5 / max(d_h, d_w))
    fig = new_figure(1.6 + scale * t * (d_w + 1), 1.0 + scale * len(rows) * (d_h + 1))
    ax = fig.add_subplot()
    image = draw_mosaic(ax, chosen, row_labels=[f"in {i}" for i in rows],
                        col_labels=[f"τ = {tau}" for tau in range(t)], vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    fig.suptitle(title or f"{label}: output channel {out_channel}, t × (d_h×d_w) = "
                 f"{t} × ({d_h}×{d_w}) per input channel", fontsize=10)
    return fig


# --------------------------------------------------------------------------
# 2. Spatial filters of a (2+1)D layer
# --------------------------------------------------------------------------


def _spatial_weight(layer: Any) -> tuple[torch.Tensor, str]:
    """(K, C_in, d_h, d_w) spatial filters and the name of what they are."""
    if isinstance(layer, torch.Tensor):
        weight = layer.detach()
        if weight.dim() == 5 and weight.shape[2] == 1:
            weight = weight[:, :, 0]
        if weight.dim() != 4:
            raise ValueError(
                "spatial_filters expects filters of shape (K, C_in, d_h, d_w) or "
                f"(K, C_in, 1, d_h, d_w), got shape {tuple(layer.shape)}"
            )
        return weight, "spatial filters"
    method = method_of(layer)
    if method == "3d":
        if layer.weight.shape[2] != 1:
            raise ValueError(
                f"a 3D conv's kernel has t = {layer.weight.shape[2]} time slices, so it has no "
                "separate spatial filters; show it with kernel_grid, or pass one slice as a "
                "tensor: spatial_filters(conv.weight[:, :, tau])"
            )
        return layer.weight.detach()[:, :, 0], "1 × d × d filters"
    weight = layer.spatial.weight.detach()
    weight = weight[:, :, 0] if weight.dim() == 5 else weight
    return weight, f"{METHOD_LABELS[method]}: the M = {weight.shape[0]} spatial filters"


def spatial_filters(
    layer: Any,
    *,
    in_channel: int | None = None,
    max_filters: int = 16,
    columns: int = 8,
    title: str | None = None,
) -> Figure:
    """The 1 × d × d filters of a (2+1)D layer, one small image each.

    With 3 input channels (and ``in_channel=None``) each filter is drawn as one
    RGB image — the colour it looks for — scaled so that grey is zero; with
    other inputs (or a chosen ``in_channel``) each filter's weights for one
    input channel are drawn with the signed colour map.

    Args:
        layer: a `SpatioTemporalConv` or `NaiveConv2Plus1d` (its spatial conv),
            a 3D conv with t = 1, or a tensor (K, C_in, d_h, d_w) or
            (K, C_in, 1, d_h, d_w).
        in_channel: the input channel to show; default 0, or RGB for C_in = 3.
        max_filters: show the first this many filters. Default: 16.
        columns: filters per row. Default: 8.
        title: the figure title.

    Returns:
        A `Figure` with one axes holding a mosaic of ``min(K, max_filters)``
        tiles of (d_h, d_w) — (d_h, d_w, 3) for RGB — in rows of ``columns``,
        each labelled ``#k``; a colour bar unless RGB.

    Shape:
        - Filters: (K, C_in, d_h, d_w).
    """
    weight, label = _spatial_weight(layer)
    k, c_in, d_h, d_w = weight.shape
    rgb = in_channel is None and c_in == 3
    if not rgb:
        in_channel = check_index(0 if in_channel is None else in_channel, c_in, "in_channel",
                                 "the filter bank")
    count = min(k, check_int(max_filters, "max_filters", minimum=1))
    columns = min(check_int(columns, "columns", minimum=1), count)
    rows = math.ceil(count / columns)
    shown = weight[:count]
    if rgb:
        # Each filter on its own scale, grey = 0: the pattern and its colour, not its size.
        tiles = shown.permute(0, 2, 3, 1).float()  # (count, d_h, d_w, 3)
        peak = tiles.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        tiles = (0.5 + 0.5 * tiles / peak).clamp(0, 1)
        blank = torch.ones(d_h, d_w, 3)
    else:
        tiles = shown[:, in_channel].float()
        blank = torch.full((d_h, d_w), float("nan"))
    padded = list(tiles) + [blank] * (rows * columns - count)
    grid = torch.stack(padded).reshape(rows, columns, *tiles.shape[1:])
    limit = symmetric_limit(tiles) if not rgb else 1.0
    # Small filters drawn larger, but the whole row never wider than about 6.5 inches.
    scale = min(0.14 * max(1.0, 5 / max(d_h, d_w)), 6.5 / (columns * (d_w + 1)))
    fig = new_figure(1.4 + scale * columns * (d_w + 1), 0.9 + scale * rows * (d_h + 1))
    ax = fig.add_subplot()
    image = draw_mosaic(ax, grid, vmin=-limit, vmax=limit)
    for index in range(count):
        r, c = divmod(index, columns)
        ax.text(c * (d_w + 1) + (d_w - 1) / 2, r * (d_h + 1) - 0.6, f"#{index}", ha="center",
                va="bottom", fontsize=6)
    if not rgb:
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    which = "as RGB (grey = 0)" if rgb else f"input channel {in_channel}"
    fig.suptitle(title or f"{label}, {d_h}×{d_w} px, {which}"
                 + (f" — first {count} of {k}" if count < k else ""), fontsize=10)
    return fig


# --------------------------------------------------------------------------
# 3. Temporal profiles
# --------------------------------------------------------------------------


def _temporal_series(filters: Any, out_channels: Sequence[int] | None,
                     middle_channels: Sequence[int] | None) -> tuple[dict, str, str]:
    """{panel title: {line label: 1D taps}}, the figure label and the line colour key."""
    if isinstance(filters, Mapping):
        if not filters:
            raise ValueError("temporal_profiles needs at least one filter, got an empty mapping")
        lines = {}
        for name, taps in filters.items():
            values = torch.as_tensor(taps, dtype=torch.float64).flatten()
            if values.numel() == 0:
                raise ValueError(f"filter {name!r} has no taps")
            lines[str(name)] = values
        return {"hand-made temporal filters": lines}, "temporal filters", "taps"
    if isinstance(filters, torch.Tensor):
        weight, label, key = filters.detach(), "temporal filters", "taps"
    else:
        method = method_of(filters)
        if method == "3d":
            raise TypeError(
                "a 3D conv has no separate temporal filters: its kernel mixes space and time. "
                "Show it with kernel_grid, or pass a (2+1)D layer (SpatioTemporalConv or "
                "NaiveConv2Plus1d) or a mapping name -> taps"
            )
        weight, key = filters.temporal.weight.detach(), method
        label = f"{METHOD_LABELS[method]}: temporal t × 1 × 1 filters"
    if weight.dim() == 5:
        if weight.shape[3:] != (1, 1):
            raise ValueError(
                f"temporal filters have a 1 × 1 spatial extent, got a kernel of shape "
                f"{tuple(weight.shape)}"
            )
        weight = weight[:, :, :, 0, 0]
    if weight.dim() != 3:
        raise ValueError(
            "expected temporal filters of shape (C_out, M, t) or (C_out, M, t, 1, 1), got "
            f"shape {tuple(weight.shape)}"
        )
    c_out, m, _ = weight.shape
    outs = list(range(min(c_out, 4))) if out_channels is None else [
        check_index(o, c_out, "out_channel", "the layer") for o in out_channels
    ]
    mids = list(range(min(m, 6))) if middle_channels is None else [
        check_index(i, m, "middle channel", "the layer") for i in middle_channels
    ]
    if not outs or not mids:
        raise ValueError("choose at least one output channel and one middle channel to plot")
    panels = {f"output channel {o}": {f"m = {i}": weight[o, i] for i in mids} for o in outs}
    return panels, label, key


def temporal_profiles(
    filters: Any,
    *,
    out_channels: Sequence[int] | None = None,
    middle_channels: Sequence[int] | None = None,
    title: str | None = None,
) -> Figure:
    """The t × 1 × 1 temporal filters as weight-against-time-offset line plots.

    A temporal filter is what a pixel's time series is correlated with:
    ``[-1, 1]`` is a frame difference (blind to anything static), ``[1, 1]``
    an average, ``[-1, 2, -1]`` a second difference (flicker detector).

    Args:
        filters: a (2+1)D layer (one panel per output channel, one line per
            middle channel m: ``temporal[o, m, :]``), a tensor (C_out, M, t)
            or (C_out, M, t, 1, 1), or a mapping ``name -> taps`` of hand-made
            filters (one panel, one line each).
        out_channels: panels to draw; default the first 4 output channels.
        middle_channels: lines per panel; default the first 6 middle channels.
        title: the figure title.

    Returns:
        A `Figure` with one line-plot axes per panel; x is the time offset τ
        in frames, y the weight.

    Shape:
        - Layer: temporal weight (C_out, M, t, 1, 1).
    """
    panels, label, key = _temporal_series(filters, out_channels, middle_channels)
    columns = min(len(panels), 4)
    rows = math.ceil(len(panels) / columns)
    fig = new_figure(0.6 + 3.0 * columns, 0.6 + 2.4 * rows)
    grid = fig.subplots(rows, columns, squeeze=False)
    # Lines within a panel are channels, not methods: neutral colours, except that the
    # first line of a layer's panel carries the layer's method colour.
    palette = ["#333333", "#0072B2", "#999999", "#882255", "#44AA99", "#DDCC77"]
    for ax, (panel, lines) in zip(grid.flat, panels.items()):
        for number, (name, taps) in enumerate(lines.items()):
            colour = palette[number % len(palette)]
            if key in METHOD_COLORS and number == 0:
                colour = METHOD_COLORS[key]
            ax.plot(np.arange(len(taps)), taps.float().cpu().numpy(), marker="o", color=colour,
                    label=name)
        ax.axhline(0, color="#999999", linewidth=0.8)
        longest = max(len(t) for t in lines.values())
        ax.set_xticks(range(longest))
        ax.set_xlabel("time offset τ (frames)")
        ax.set_ylabel("weight")
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(grid.flat)[len(panels):]:
        ax.set_axis_off()
    fig.suptitle(title or label, fontsize=10)
    return fig


# --------------------------------------------------------------------------
# 4. The (2+1)D layer's effective kernel next to a full 3D kernel
# --------------------------------------------------------------------------


def effective_kernel_figure(
    two_plus_one: Any,
    full: Any = None,
    *,
    out_channel: int = 0,
    in_channel: int = 0,
    ignore_bn_relu: bool = False,
    title: str | None = None,
) -> Figure:
    """A (2+1)D layer's effective 3D kernel, next to a full 3D kernel and their difference.

    Row 1: the full 3D kernel (if given); row 2: the (2+1)D layer's effective
    kernel ``Σ_m temporal[o,m,τ]·spatial[m,i]``, whose unfolded rank is at
    most M; row 3 (when both are given): the difference, i.e. what the
    factorization cannot represent. One colour scale for all rows, and each
    row is labelled with its unfolded rank.

    Args:
        two_plus_one: a linear `SpatioTemporalConv` or `NaiveConv2Plus1d`
            (``middle_bn_relu=False``, e.g. from `lowrank.factorize`). A layer
            with middle BN + ReLU has no effective kernel; it is refused with
            the reason unless ``ignore_bn_relu=True`` (see `effective_kernel`).
        full: a `FullConv3d` / `nn.Conv3d` or a kernel tensor of the same shape
            to compare with, or None.
        out_channel: the output channel shown.
        in_channel: the input channel shown.
        ignore_bn_relu: compose a BN/ReLU layer's convs anyway.
        title: the figure title.

    Returns:
        A `Figure` with one axes holding a mosaic of (1, 2 or 3) × t tiles of
        d_h × d_w, rows labelled with their name and unfolded rank (in the
        method's colour), columns ``τ = k``; and a colour bar.

    Shape:
        - Kernels: (C_out, C_in, t, d_h, d_w), equal for both layers.
    """
    if not isinstance(two_plus_one, TWO_PLUS_ONE):
        raise TypeError(
            "effective_kernel_figure expects a (2+1)D layer (SpatioTemporalConv or "
            f"NaiveConv2Plus1d) first, got {type(two_plus_one).__name__}; known layers are "
            f"{KNOWN_LAYERS}"
        )
    effective, label, method = _kernel_and_label(two_plus_one, ignore_bn_relu)
    rows: list[tuple[str, torch.Tensor, str]] = []
    if full is not None:
        if not isinstance(full, torch.Tensor) and method_of(full) != "3d":
            raise TypeError(
                f"full must be a FullConv3d / nn.Conv3d or a kernel tensor, got "
                f"{type(full).__name__}"
            )
        reference = effective_kernel(full)
        if tuple(reference.shape) != tuple(effective.shape):
            raise ValueError(
                f"the kernels differ in shape: (2+1)D {tuple(effective.shape)} vs 3D "
                f"{tuple(reference.shape)}; compare layers of the same channels and kernel size"
            )
        rows.append((METHOD_LABELS["3d"], reference.to(effective.dtype), METHOD_COLORS["3d"]))
    rows.append((label, effective, METHOD_COLORS[method]))
    if full is not None:
        rows.append(("difference (3D − (2+1)D)", rows[0][1] - effective, "#555555"))
    c_out, c_in, t, d_h, d_w = effective.shape
    o = check_index(out_channel, c_out, "out_channel", "the kernel")
    i = check_index(in_channel, c_in, "in_channel", "the kernel")
    limit = symmetric_limit(*(k[o, i] for _, k, _ in rows))
    scale = 0.32 * max(1.0, 5 / max(d_h, d_w))
    fig = new_figure(3.0 + scale * t * (d_w + 1), 1.0 + scale * len(rows) * (d_h + 1))
    ax = fig.add_subplot()
    # One absolute tolerance for all rows: a difference that is rounding noise (an exact
    # factorization) must read as rank 0, not as the full rank of the noise.
    matrices = [unfold_kernel(kernel.double()) for _, kernel, _ in rows]
    tolerance = 1e-5 * max(float(torch.linalg.matrix_norm(a, ord=2)) for a in matrices)
    labels = [f"{name}\nunfolded rank {int(torch.linalg.matrix_rank(a, atol=tolerance, rtol=0))}"
              for (name, _, _), a in zip(rows, matrices)]
    tiles = torch.stack([kernel[o, i] for _, kernel, _ in rows]).float()  # (rows, t, d_h, d_w)
    image = draw_mosaic(ax, tiles, row_labels=labels,
                        col_labels=[f"τ = {tau}" for tau in range(t)], vmin=-limit, vmax=limit)
    for tick, (_, _, colour) in zip(ax.get_yticklabels(), rows):
        tick.set_color(colour)  # the method's colour names the row
    fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    m = two_plus_one.intermediate_channels
    fig.suptitle(title or f"Effective kernel of a (2+1)D layer with M = {m} (rank ≤ {m}), "
                 f"output {o}, input {i}", fontsize=10)
    return fig
