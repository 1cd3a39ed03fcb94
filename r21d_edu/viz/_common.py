"""Checks and small helpers shared by the figure modules.

Every figure function validates its input here, so a clip of the wrong rank,
a channel that does not exist or a layer the package does not know gets the
same teaching error in every figure.
"""

from __future__ import annotations

from typing import Any

import torch
from matplotlib.figure import Figure
from torch import nn

from .._checks import check_clip, check_int
from ..layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv

TWO_PLUS_ONE = (SpatioTemporalConv, NaiveConv2Plus1d)
KNOWN_LAYERS = "FullConv3d / nn.Conv3d, NaiveConv2Plus1d or SpatioTemporalConv"


def as_clip(clip: Any, name: str) -> torch.Tensor:
    """Return the (N, C, T, H, W) tensor of a clip (a tensor or a `SyntheticClip`), checked."""
    # A tensor has a .clip *method* (torch.clip), so only non-tensors are unwrapped.
    x = clip if isinstance(clip, torch.Tensor) else getattr(clip, "clip", clip)
    channels = x.shape[1] if isinstance(x, torch.Tensor) and x.dim() == 5 else 0
    # check_clip explains 4D stacks of frames, integer videos and non-tensors.
    check_clip(x, channels, (1, 1, 1), (0, 0, 0), name)
    return x.detach()


def check_index(value: Any, size: int, what: str, owner: str) -> int:
    """Return `value` if it indexes one of `size` things, else raise a clear error."""
    # A very low minimum lets a negative index reach the clearer range message below.
    index = check_int(value, what, minimum=-(10**9))
    if not 0 <= index < size:
        raise IndexError(
            f"{what} {index} is out of range: {owner} has {size} "
            f"(valid: 0 to {size - 1})"
        )
    return index


def method_of(layer: Any) -> str:
    """The `METHOD_COLORS` key of a layer: "3d", "naive" or "2plus1d"."""
    if isinstance(layer, SpatioTemporalConv):
        return "2plus1d"
    if isinstance(layer, NaiveConv2Plus1d):
        return "naive"
    if isinstance(layer, (FullConv3d, nn.Conv3d)):
        return "3d"
    raise TypeError(
        f"expected a spatio-temporal conv layer ({KNOWN_LAYERS}), got "
        f"{type(layer).__name__}; build one with r21d_edu.FullConv3d(...) or "
        "r21d_edu.SpatioTemporalConv(...)"
    )


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure: it displays inline in Jupyter and never leaks into a global state."""
    return Figure(figsize=(max(width, 1.0), max(height, 1.0)), layout="constrained")


def symmetric_limit(*tensors: torch.Tensor) -> float:
    """One colour limit for signed values, so that zero is white in every panel."""
    largest = max(float(t.abs().max()) for t in tensors)
    return largest if largest > 0 else 1.0


def hide_ticks(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
