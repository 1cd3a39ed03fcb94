"""Checks and small helpers shared by the figure modules.

Every figure function validates its input here, so a clip of the wrong rank,
a channel that does not exist or a layer the package does not know gets the
same teaching error in every figure.
"""

from __future__ import annotations

import io
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from PIL import Image

from .._checks import check_clip, check_index
from ..layers import KNOWN_LAYERS, NaiveConv2Plus1d, SpatioTemporalConv, method_of

# check_index and method_of live below viz (figures and core share them); they are
# re-exported here because the figure modules have always found them here.
__all__ = ["KNOWN_LAYERS", "TWO_PLUS_ONE", "as_clip", "check_index", "figure_to_png",
           "hide_ticks", "method_of", "new_figure", "render_png", "symmetric_limit"]

TWO_PLUS_ONE = (SpatioTemporalConv, NaiveConv2Plus1d)


def as_clip(clip: Any, name: str) -> torch.Tensor:
    """Return the (N, C, T, H, W) tensor of a clip (a tensor or a `SyntheticClip`), checked."""
    # A tensor has a .clip *method* (torch.clip), so only non-tensors are unwrapped.
    x = clip if isinstance(clip, torch.Tensor) else getattr(clip, "clip", clip)
    channels = x.shape[1] if isinstance(x, torch.Tensor) and x.dim() == 5 else 0
    # check_clip explains 4D stacks of frames, integer videos and non-tensors.
    check_clip(x, channels, (1, 1, 1), (0, 0, 0), name)
    return x.detach()


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure: it displays inline in Jupyter and never leaks into a global state."""
    return Figure(figsize=(max(width, 1.0), max(height, 1.0)), layout="constrained")


def figure_to_png(fig: Figure, dpi: int = 90) -> bytes:
    """Render a matplotlib figure to PNG bytes (and free it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    fig.clear()
    return buffer.getvalue()


def render_png(fig: Figure, dpi: int = 72) -> bytes:
    """Render a live figure to PNG bytes and keep it, for the next update of its data.

    Unlike `figure_to_png` it neither crops (``bbox_inches="tight"`` draws the
    figure twice) nor frees the figure: an explorer redraws the same figure on
    every change. The figure keeps one Agg canvas, drawn once per call, and the
    PNG is written with light compression: a slider waits for neither.

    The first call lays the figure out (constrained layout) and then freezes that
    layout: solving it again on every change would cost more than the drawing, and
    a live figure keeps its panels, so the first layout fits the later ones.
    """
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    if fig.dpi != dpi:
        fig.set_dpi(dpi)
    fig.canvas.draw()
    if not isinstance(fig.get_layout_engine(), (type(None), PlaceHolderLayoutEngine)):
        fig.set_layout_engine("none")  # keeps the positions just computed
    buffer = io.BytesIO()
    Image.frombuffer("RGBA", fig.canvas.get_width_height(physical=True),
                     fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
        buffer, format="png", compress_level=1)
    return buffer.getvalue()


def symmetric_limit(*tensors: torch.Tensor) -> float:
    """One colour limit for signed values, so that zero is white in every panel."""
    largest = max(float(t.abs().max()) for t in tensors)
    return largest if largest > 0 else 1.0


def hide_ticks(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
