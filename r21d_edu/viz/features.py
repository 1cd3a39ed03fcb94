"""Feature maps: what a layer's output channels see in a clip, frame by frame.

- `layer_output` / `middle_output` — the tensors (pure functions, tested alone);
- `feature_maps` — the output of any of the three layers on a clip, as a
  frames × channels grid of images;
- `middle_feature_maps` — the M-channel tensor between the spatial and the
  temporal conv of a (2+1)D layer (after BN + ReLU when the layer has them):
  the per-frame spatial features the temporal conv then combines over time.

Layers run without gradients and in eval mode (BatchNorm uses its running
statistics, so a picture does not change the layer); the layer's mode is
restored afterwards.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .._checks import check_clip
from ..data import SyntheticClip
from ._common import as_clip, check_index, method_of, new_figure, render_png, symmetric_limit
from .kernels import draw_mosaic, mosaic_image
from .style import METHOD_COLORS, METHOD_LABELS

__all__ = ["LiveGrid", "feature_maps", "layer_output", "middle_feature_maps", "middle_output",
           "middle_title", "output_feature_maps", "output_title"]


@contextmanager
def _evaluating(layer: nn.Module) -> Iterator[None]:
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        layer.train(was_training)


def layer_output(layer: nn.Module, clip: Any) -> torch.Tensor:
    """The layer's output on a clip (eval mode, no gradients).

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, `NaiveConv2Plus1d` or `SpatioTemporalConv`.
        clip: a (N, C, T, H, W) tensor or a `SyntheticClip`.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W')
    """
    method_of(layer)
    x = as_clip(clip, "layer_output")
    weight = next(layer.parameters())
    with _evaluating(layer):
        return layer(x.to(device=weight.device, dtype=weight.dtype)).detach()


def middle_output(layer: nn.Module, clip: Any) -> torch.Tensor:
    """The M-channel middle tensor of a (2+1)D layer, as (N, M, T, H', W').

    For `SpatioTemporalConv` it is ``relu(bn(spatial(x)))``; for
    `NaiveConv2Plus1d` the same tensor, which that layer holds as
    (N·T, M, H', W') and which is reshaped here to a clip.

    Args:
        layer: `SpatioTemporalConv` or `NaiveConv2Plus1d`.
        clip: a (N, C, T, H, W) tensor or a `SyntheticClip`.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, M, T, H', W') — all T input frames: the temporal conv
          has not run yet.
    """
    method = method_of(layer)
    if method == "3d":
        raise TypeError(
            f"a {type(layer).__name__} has no middle tensor: only (2+1)D layers "
            "(SpatioTemporalConv, NaiveConv2Plus1d) go through M intermediate channels; use "
            "feature_maps for its output"
        )
    x = as_clip(clip, "middle_output")
    # The parts are called one by one below, bypassing the layer's own input check.
    check_clip(x, layer.in_channels, layer.kernel_size, layer.padding, type(layer).__name__)
    weight = layer.spatial.weight
    x = x.to(device=weight.device, dtype=weight.dtype)
    with _evaluating(layer):
        if method == "2plus1d":
            return layer.relu(layer.bn(layer.spatial(x))).detach()
        n, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(n * t, c, h, w)
        middle = layer.relu(layer.bn(layer.spatial(frames)))  # (N*T, M, H', W')
        m, h_out, w_out = middle.shape[1:]
        return middle.reshape(n, t, m, h_out, w_out).transpose(1, 2).detach()


def _select(size: int, chosen: Sequence[int] | None, limit: int, what: str, owner: str) -> list:
    if chosen is None:
        return list(range(min(size, limit)))
    picked = [check_index(i, size, what, owner) for i in chosen]
    if not picked:
        raise ValueError(f"choose at least one {what} to show")
    return picked


def _grid_figure(tensor: torch.Tensor, sample: int, channels: Sequence[int] | None,
                 frames: Sequence[int] | None, channel_names: Sequence[str] | None,
                 title: str, colour: str, signed: bool, colorbar: bool = True) -> Figure:
    n, c, t = tensor.shape[:3]
    sample = check_index(sample, n, "sample", "the batch")
    cols = _select(c, channels, 8, "channel", "the output")
    rows = _select(t, frames, 8, "frame", "the output")
    if channel_names is not None and len(channel_names) != c:
        raise ValueError(
            f"channel_names has {len(channel_names)} names for {c} channels; give one per channel"
        )
    data = tensor[sample][cols][:, rows].float().cpu().transpose(0, 1)  # (frames, channels, H, W)
    limit = symmetric_limit(data)
    vmin = -limit if signed else min(0.0, float(data.min()))
    h, w = data.shape[2:]
    scale = 1.1 / max(h, w, 8)  # inches per pixel: about 1.1 inch per tile
    fig = new_figure(1.6 + scale * len(cols) * (w + 1), 0.9 + scale * len(rows) * (h + 1))
    ax = fig.add_subplot()
    names = [channel_names[c] if channel_names else f"channel {c}" for c in cols]
    image = draw_mosaic(ax, data, row_labels=[f"frame {f}" for f in rows], col_labels=names,
                        cmap="RdBu_r" if signed else "magma", vmin=vmin, vmax=limit)
    for tick in ax.get_xticklabels():
        tick.set_color(colour)  # the method's colour names the layer
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8, label="activation")
    fig.suptitle(title, fontsize=10)
    return fig


def feature_maps(
    layer: nn.Module,
    clip: Any,
    *,
    channels: Sequence[int] | None = None,
    frames: Sequence[int] | None = None,
    sample: int = 0,
    channel_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """A layer's output on a clip as a grid: rows are output frames, columns channels.

    Signed outputs use a diverging colour map with white at zero, so "no
    response" (e.g. a frame difference on a static scene) is plain white.

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, `NaiveConv2Plus1d` or `SpatioTemporalConv`.
        clip: a (N, C_in, T, H, W) tensor or a `SyntheticClip`.
        channels: output channels (columns); default the first 8.
        frames: output frames (rows); default the first 8.
        sample: which clip of the batch. Default: 0.
        channel_names: one name per output channel, for the column titles.
        title: the figure title; default names the layer and the shapes.

    Returns:
        A `Figure` with one axes holding a mosaic of ``len(frames) ×
        len(channels)`` tiles of (H', W') — rows ``frame k``, columns
        ``channel c`` — plus a colour bar.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Shown: (T', C_out) images of (H', W') from the (N, C_out, T', H', W') output.
    """
    return output_feature_maps(layer, layer_output(layer, clip), clip, channels=channels,
                          frames=frames, sample=sample, channel_names=channel_names, title=title)


def output_feature_maps(layer: nn.Module, out: torch.Tensor, clip: Any, **options: Any) -> Figure:
    """`feature_maps` for an output already computed (the explorer computes it once).

    ``options`` are `feature_maps`' keywords (all of them), plus ``colorbar``.
    """
    return _grid_figure(out, options["sample"], options["channels"], options["frames"],
                        options["channel_names"], options["title"] or output_title(layer, out, clip),
                        METHOD_COLORS[method_of(layer)], signed=True,
                        colorbar=options.get("colorbar", True))


def output_title(layer: nn.Module, out: torch.Tensor, clip: Any) -> str:
    """The default title of `feature_maps`: the layer, the output's shape and the clip."""
    what = clip.describe() if isinstance(clip, SyntheticClip) else f"a clip {tuple(clip.shape)}"
    return f"{METHOD_LABELS[method_of(layer)]} output {tuple(out.shape)} on {what}"


def middle_title(layer: nn.Module, middle: torch.Tensor) -> str:
    """The default title of `middle_feature_maps`: the layer, M and what the middle holds."""
    after = {(True, True): "after BN + ReLU", (True, False): "after BN, no ReLU",
             (False, True): "after ReLU, no BN", (False, False): "linear, no BN/ReLU"}[
        (layer.middle_bn, layer.middle_relu)]
    return (f"{METHOD_LABELS[method_of(layer)]}: middle tensor {tuple(middle.shape)} "
            f"(M = {layer.intermediate_channels}, {after})")


def middle_feature_maps(
    layer: nn.Module,
    clip: Any,
    *,
    channels: Sequence[int] | None = None,
    frames: Sequence[int] | None = None,
    sample: int = 0,
    title: str | None = None,
) -> Figure:
    """The middle M-channel tensor of a (2+1)D layer as a frames × channels grid.

    This is the spatial conv's output for every input frame (after BN and
    ReLU, if the layer has them: then it is non-negative and drawn on a
    sequential colour map). The temporal conv will combine these maps across
    frames; anything that is not in them, the layer cannot use.

    Args:
        layer: `SpatioTemporalConv` or `NaiveConv2Plus1d`.
        clip: a (N, C_in, T, H, W) tensor or a `SyntheticClip`.
        channels: middle channels (columns); default the first 8 of M.
        frames: frames (rows); default the first 8.
        sample: which clip of the batch. Default: 0.
        title: the figure title.

    Returns:
        A `Figure` with one axes holding a mosaic of ``len(frames) ×
        len(channels)`` tiles of (H', W') — rows ``frame k``, columns
        ``channel c`` — plus a colour bar.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Shown: from the (N, M, T, H', W') middle tensor.
    """
    middle = middle_output(layer, clip)
    return _grid_figure(middle, sample, channels, frames, None,
                        title or middle_title(layer, middle), METHOD_COLORS[method_of(layer)],
                        signed=not layer.middle_relu)


class LiveGrid:
    """A frames × channels grid, as `feature_maps` draws it, kept alive between updates.

    `draw` builds a figure the first time it meets a grid shape (and keeps it);
    for a shape it has seen it only swaps the image data, the colour limits, the method's colour
    and the title. `png` renders it (`render_png`: the first render's layout is
    kept, since the same grid needs the same layout). This is what lets the feature
    explorer answer a control at slider speed.

    Attributes:
        figure: the current matplotlib `Figure` (None before the first `draw`).
    """

    def __init__(self) -> None:
        self.figure: Figure | None = None
        self._figures: dict[tuple, Figure] = {}

    def draw(self, tensor: torch.Tensor, *, title: str, colour: str, signed: bool,
             channel_names: Sequence[str] | None = None, colorbar: bool = True) -> Figure:
        """Show sample 0 of a (N, C, T, H, W) tensor: its first 8 frames and channels."""
        n, c, t = tensor.shape[:3]
        cols, rows = _select(c, None, 8, "channel", "the output"), _select(t, None, 8, "frame",
                                                                         "the output")
        data = tensor[0][cols][:, rows].float().cpu().transpose(0, 1)
        # An uncropped render clips a title wider than the grid: wrap it to the grid's width.
        width = 1.6 + 1.1 / max(*data.shape[2:], 8) * len(cols) * (data.shape[3] + 1)
        title = textwrap.fill(title, width=max(30, int(width * 9)))
        key = (tuple(data.shape), tuple(channel_names or ()), signed, colorbar)
        if key not in self._figures:
            self.figure = _grid_figure(tensor, 0, None, None, channel_names, title, colour,
                                       signed, colorbar)
            self._figures[key] = self.figure
            return self.figure
        # One figure per grid shape, kept: switching back (a view, a rank) costs no rebuild.
        self.figure = self._figures[key]
        limit = symmetric_limit(data)
        image = self.figure.axes[0].images[0]
        image.set_data(mosaic_image(data, 1, np.nan))
        image.set_clim(-limit if signed else min(0.0, float(data.min())), limit)
        for tick in self.figure.axes[0].get_xticklabels():
            tick.set_color(colour)
        self.figure.suptitle(title, fontsize=10)
        return self.figure

    def png(self, dpi: int = 50) -> bytes:
        """The figure as PNG bytes (uncropped, layout frozen; the figure stays alive)."""
        return render_png(self.figure, dpi=dpi)
