"""The method vocabulary: the four ways this package computes a spatio-temporal conv.

One key per method, used everywhere a method is named — in a `ConvSpec`'s
``method`` (called ``kind`` before; the old name still works, deprecated), a timing
`Variant`'s ``method``, the colour of a figure
(`r21d_edu.viz.style.METHOD_COLORS`) and the labels of tables and widgets:

- ``"3d"`` — a full t x d x d 3D convolution (`FullConv3d`, `nn.Conv3d`);
- ``"naive"`` — `nn.Conv2d` per frame, a reshape, `nn.Conv1d` per pixel (`NaiveConv2Plus1d`);
- ``"2plus1d"`` — the factorized (2+1)D layer (`SpatioTemporalConv`);
- ``"fast"`` — the (2+1)D layer with its BatchNorm folded for inference
  (`FastSpatioTemporalConv`).

Not the same thing as ``conv_type`` in `r21d_edu.models` (``"3d"``, ``"2plus1d"``,
``"2d"``): that one says how a residual block of a video ResNet convolves — a 3D
conv, a (2+1)D conv, or a 2D conv applied to each frame (1 x d x d, "2D in time").
A method names a way to compute *one* spatio-temporal layer (and "naive" and "fast"
compute the same (2+1)D layer differently); a conv_type names the *architecture*
of a block ("2d" has no temporal kernel at all). The two share "3d" and "2plus1d"
but answer different questions, so they stay two vocabularies.

This module imports nothing from the package (it sits at the bottom of the
layering); `r21d_edu.layers.method_of` tells which method a layer object is.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["LAYER_METHODS", "METHODS", "METHOD_LABELS", "Method", "check_method"]

Method = Literal["3d", "naive", "2plus1d", "fast"]

# Every method, in the order tables and legends list them.
METHODS: tuple[str, ...] = ("3d", "naive", "2plus1d", "fast")

# The methods that are layers of their own (the fast path is a folded (2+1)D layer).
LAYER_METHODS: tuple[str, ...] = ("3d", "naive", "2plus1d")

METHOD_LABELS = {
    "3d": "3D conv",
    "naive": "naive Conv2d + Conv1d",
    "2plus1d": "(2+1)D conv",
    "fast": "(2+1)D fast path",
}


def check_method(value: object, name: str = "method", allowed: tuple[str, ...] = METHODS) -> str:
    """Return `value` if it is one of the `allowed` method keys, else raise a clear error."""
    if value not in allowed:
        meanings = ", ".join(f"{key!r} ({METHOD_LABELS[key]})" for key in allowed)
        raise ValueError(f"{name} must be one of {meanings}; got {value!r}")
    return str(value)
