"""The three layers built side by side for one configuration, and what they cost.

`compare_layers` builds a `FullConv3d`, a `NaiveConv2Plus1d` and a
`SpatioTemporalConv` with the same arguments on PyTorch's ``meta`` device —
modules with shapes but no memory — and reads their parameter counts and output
shapes off the real modules. It is instant even for 512-channel layers, which
is what lets a slider redraw it live.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import torch
from torch import nn

from ._checks import as_triple, check_int
from ._tables import Cell, html_table
from .layers import FullConv3d, NaiveConv2Plus1d, Size3, SpatioTemporalConv

Shape = tuple[int, ...]

__all__ = ["LayerComparison", "compare_layers"]


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass(frozen=True)
class LayerComparison:
    """Parameters and shapes of the three layers for one configuration.

    Attributes:
        in_channels, out_channels, kernel_size, stride, padding: the arguments.
        intermediate_channels: M of the (2+1)D layers.
        input_shape: the clip, (N, C_in, T, H, W).
        middle_shape: the (2+1)D layer's middle tensor, (N, M, T, H', W').
        output_shape: (N, C_out, T', H', W'), the same for all three layers.
        parameters: trainable parameters per layer, keyed "3d", "naive", "2plus1d"
            (including bias and the middle BatchNorm's affine weights).
        conv_weights: weights of the conv kernels alone, the quantity the
            paper's formula balances.
    """

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int]
    intermediate_channels: int
    input_shape: Shape
    middle_shape: Shape
    output_shape: Shape
    parameters: dict[str, int]
    conv_weights: dict[str, int]

    @property
    def formula(self) -> str:
        """The paper's formula for M with this layer's numbers put in."""
        t, d_h, d_w = self.kernel_size
        n_in, n_out = self.in_channels, self.out_channels
        top = t * d_h * d_w * n_in * n_out
        bottom = d_h * d_w * n_in + t * n_out
        return (
            f"M = ⌊t·d_h·d_w·N_in·N_out / (d_h·d_w·N_in + t·N_out)⌋ "
            f"= ⌊{t}·{d_h}·{d_w}·{n_in}·{n_out} / ({d_h}·{d_w}·{n_in} + {t}·{n_out})⌋ "
            f"= ⌊{top:,} / {bottom:,}⌋ = {top // bottom:,}"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("3D conv", "3d", f"{self.kernel_size} kernel"),
            ("naive Conv2d + Conv1d", "naive", f"M = {self.intermediate_channels}"),
            ("(2+1)D conv", "2plus1d", f"M = {self.intermediate_channels}"),
        ]
        body = [(name, Cell(f"{self.conv_weights[key]:,}", num=True),
                 Cell(f"{self.parameters[key]:,}", num=True), note)
                for name, key, note in rows]
        return (
            f"<p><code>{html.escape(self.formula)}</code></p>"
            + html_table(body, ["layer", "conv weights", "all parameters", ""])
            + f"<p>input {self.input_shape} → middle {self.middle_shape} → "
            f"output {self.output_shape}</p>"
        )


def compare_layers(
    in_channels: int,
    out_channels: int,
    kernel_size: Size3,
    stride: Size3 = 1,
    padding: Size3 = 0,
    input_size: Size3 = (16, 112, 112),
    batch_size: int = 1,
    intermediate_channels: int | None = None,
) -> LayerComparison:
    """Build the three layers with the same arguments and compare them.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as for
            `FullConv3d`; the (2+1)D layers use the paper's M unless
            ``intermediate_channels`` is given.
        input_size: (T, H, W) of the clip, or one int for all three.
        batch_size: N.

    Shape:
        - Input: (N, C_in, T, H, W) with (T, H, W) = ``input_size``
        - Output: ``output_shape`` (N, C_out, T', H', W'), as `nn.Conv3d` gives.

    Example::

        >>> c = compare_layers(64, 64, 3, padding=1, input_size=(8, 56, 56))
        >>> c.intermediate_channels, c.conv_weights["3d"], c.conv_weights["2plus1d"]
        (144, 110592, 110592)
    """
    size = as_triple(input_size, "input_size", minimum=1)
    n = check_int(batch_size, "batch_size", minimum=1)
    args = (in_channels, out_channels, kernel_size, stride, padding)
    with torch.device("meta"):
        full = FullConv3d(*args)
        # Shapes only, so eval mode: in training mode BatchNorm refuses a middle tensor with
        # one value per channel (N·T·H'·W' = 1), a clip nn.Conv3d itself accepts.
        naive = NaiveConv2Plus1d(*args, intermediate_channels=intermediate_channels).eval()
        factorized = SpatioTemporalConv(*args,
                                        intermediate_channels=intermediate_channels).eval()
        clip = torch.empty(n, full.in_channels, *size)
        output = full(clip)
        middle = factorized.relu(factorized.bn(factorized.spatial(clip)))
        if naive(clip).shape != output.shape or factorized(clip).shape != output.shape:
            raise AssertionError("the three layers disagree on the output shape")
    layers = {"3d": full, "naive": naive, "2plus1d": factorized}
    return LayerComparison(
        in_channels=full.in_channels,
        out_channels=full.out_channels,
        kernel_size=full.kernel_size,
        stride=full.stride,
        padding=full.padding,
        intermediate_channels=factorized.intermediate_channels,
        input_shape=tuple(clip.shape),
        middle_shape=tuple(middle.shape),
        output_shape=tuple(output.shape),
        parameters={key: _count(layer) for key, layer in layers.items()},
        conv_weights={
            "3d": full.weight.numel(),
            "naive": naive.spatial.weight.numel() + naive.temporal.weight.numel(),
            "2plus1d": factorized.spatial.weight.numel() + factorized.temporal.weight.numel(),
        },
    )
