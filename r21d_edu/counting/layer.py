"""One layer: parameters, MACs, FLOPs, activation memory and shapes, each explained.

Part of `r21d_edu.counting`; import the public names from there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._checks import as_triple
from ..factorized import FactorizedConv
from . import factorized
from .spec import (
    ComputeCount,
    ConvSpec,
    LayerCost,
    MemoryCount,
    ParameterCount,
    ShapeTrace,
    checked_input,
    dtype_size,
    fmt,
    header,
    layer_stages,
    mib,
    shape_text,
    spec_of,
)

# --------------------------------------------------------------------------
# One layer: the public counting functions
# --------------------------------------------------------------------------


def count_parameters(layer: nn.Module | ConvSpec) -> ParameterCount:
    """Learnable parameters of a layer, stage by stage.

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, `NaiveConv2Plus1d`,
            `SpatioTemporalConv` or a `ConvSpec`.

    Returns:
        `ParameterCount`; ``total`` equals the layer's
        ``sum(p.numel() for p in layer.parameters())``.

    Shape:
        Independent of the input (N, C, T, H, W).

    Example::

        >>> count_parameters(ConvSpec("2plus1d", 64, 64, 3, bias=False)).weights
        110592
    """
    if isinstance(layer, FactorizedConv):  # P3D, S3D(-G), CSN, depthwise, TSM
        return factorized.count_parameters(layer)
    spec = spec_of(layer)
    # The parameter count does not depend on the input; any valid size will do.
    k = spec.kernel_size
    stages = tuple(layer_stages(spec, (1, spec.in_channels, *k), 1))
    total = sum(s.params for s in stages)
    bias = spec.out_channels if spec.bias else 0
    bn = sum(s.params for s in stages if s.name == "bn")
    weights = total - bias - bn
    lines = [header(spec)]
    for s in stages:
        if s.formula_params:
            lines.append(f"  {s.name:<15} {s.formula_params}")
    if spec.method == "3d":
        lines.append(f"  total = {fmt(total)} parameters")
    else:
        parts = " + ".join(fmt(s.params) for s in stages if s.params)
        lines.append(f"  total = {parts} = {fmt(total)} parameters")
        full = math.prod(k) * spec.in_channels * spec.out_channels
        lines.append(f"  conv weights alone = {fmt(weights)}; the 3D conv has "
                     f"t·d_h·d_w·C_in·C_out = {fmt(full)}")
    return ParameterCount(spec.method, total, weights, stages, "\n".join(lines))


def count_macs(layer: nn.Module | ConvSpec, input_shape: Sequence[int]) -> ComputeCount:
    """Multiply-accumulates and FLOPs (= 2·MACs) of a layer on one input shape.

    A conv output value costs (input channels) × (kernel volume) MACs; bias,
    BatchNorm and ReLU are not counted (as in `FlopCounterMode`).

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, `NaiveConv2Plus1d`,
            `SpatioTemporalConv` or a `ConvSpec`.
        input_shape: (N, C_in, T, H, W), or a tensor whose shape to use.

    Returns:
        `ComputeCount` with ``macs``, ``flops`` and per-stage ``stages``.

    Shape:
        - Input: (N, C_in, T, H, W)

    Example::

        >>> count_macs(ConvSpec("3d", 64, 64, 3, padding=1), (1, 64, 8, 56, 56)).macs
        2774532096
    """
    if isinstance(layer, FactorizedConv):  # P3D, S3D(-G), CSN, depthwise, TSM
        return factorized.count_macs(layer, input_shape)
    spec = spec_of(layer)
    shape = checked_input(spec, input_shape)
    stages = tuple(layer_stages(spec, shape, 1))
    macs = sum(s.macs for s in stages)
    lines = [header(spec) + f", input {shape_text(shape)}"]
    lines += [f"  {s.name:<15} {s.formula_macs}" for s in stages if s.formula_macs]
    if spec.method != "3d":
        lines.append("  total = " + " + ".join(fmt(s.macs) for s in stages if s.macs)
                     + f" = {fmt(macs)} MACs")
    lines.append(f"  FLOPs = 2 × MACs = 2 × {fmt(macs)} = {fmt(2 * macs)}"
                 "  (bias, BN and ReLU not counted)")
    return ComputeCount(spec.method, shape, macs, 2 * macs, stages, "\n".join(lines))


def activation_memory(
    layer: nn.Module | ConvSpec, input_shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> MemoryCount:
    """Bytes of every tensor a layer writes in one forward pass.

    For the (2+1)D layer this includes the middle M-channel tensor, which is
    M/C_in times the size of the input (2.25× for 64 -> 144 -> 64): the
    factorized layer does about the same MACs as the 3D conv but moves more
    bytes. BatchNorm writes a new tensor; the in-place ReLU does not; the naive
    layer's reshapes write a copy where torch cannot make them a view (always
    for a batch of N > 1 clips). Copies a conv kernel may make internally are
    not counted.

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, `NaiveConv2Plus1d`,
            `SpatioTemporalConv` or a `ConvSpec`.
        input_shape: (N, C_in, T, H, W), or a tensor whose shape to use.
        dtype: element type, e.g. ``torch.float32`` (4 bytes) or
            ``torch.bfloat16`` (2 bytes). Default: ``torch.float32``.

    Returns:
        `MemoryCount`.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle ((2+1)D): (N, M, T, H', W'); naive layer: (N*T, M, H', W')
    """
    if isinstance(layer, FactorizedConv):  # P3D, S3D(-G), CSN, depthwise, TSM
        return factorized.activation_memory(layer, input_shape, dtype)
    spec = spec_of(layer)
    shape = checked_input(spec, input_shape)
    itemsize = dtype_size(dtype)
    stages = tuple(layer_stages(spec, shape, itemsize))
    input_bytes = math.prod(shape) * itemsize
    spatial = [s for s in stages if s.name == "spatial"]
    middle_bytes = spatial[0].output_bytes if spatial else 0
    output_bytes = math.prod(stages[-1].output_shape) * itemsize
    total = sum(s.output_bytes for s in stages)
    ratio = middle_bytes / input_bytes
    dtype_name = str(dtype).replace("torch.", "")
    lines = [header(spec) + f", {dtype_name} ({itemsize} bytes per value)"]
    lines.append(f"  {'input':<15} {shape_text(shape)} = {fmt(math.prod(shape))} values = "
                 f"{fmt(input_bytes)} bytes ({mib(input_bytes)})")
    for s in stages:
        values = math.prod(s.output_shape)
        if s.output_bytes:
            lines.append(f"  {s.name:<15} {shape_text(s.output_shape)} = {fmt(values)} values × "
                         f"{itemsize} = {fmt(s.output_bytes)} bytes ({mib(s.output_bytes)})")
        else:
            lines.append(f"  {s.name:<15} writes no new tensor (in place)")
    if middle_bytes:
        m, c_in = spec.intermediate_channels, spec.in_channels
        lines.append(f"  middle / input = {fmt(middle_bytes)} / {fmt(input_bytes)} = "
                     f"{ratio:.3g}× (M / C_in = {m} / {c_in} = {m / c_in:.3g} when H', W' = H, W)")
    lines.append(f"  total written = {fmt(total)} bytes ({mib(total)})")
    return MemoryCount(spec.method, shape, dtype_name, input_bytes, middle_bytes, output_bytes,
                       total, ratio, stages, "\n".join(lines))


def stage_shapes(layer: nn.Module | ConvSpec, input_shape: Sequence[int]) -> ShapeTrace:
    """The tensor shape after each stage of a layer.

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, `NaiveConv2Plus1d`,
            `SpatioTemporalConv` or a `ConvSpec`.
        input_shape: (N, C_in, T, H, W), or a tensor whose shape to use.

    Returns:
        `ShapeTrace` with the per-stage shapes and ``output_shape``.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W') with ``T' = floor((T + 2*p_t - t) / s_t) + 1``
          (likewise H', W'), the same as `nn.Conv3d`.
    """
    if isinstance(layer, FactorizedConv):  # P3D, S3D(-G), CSN, depthwise, TSM
        return factorized.stage_shapes(layer, input_shape)
    spec = spec_of(layer)
    shape = checked_input(spec, input_shape)
    stages = tuple(layer_stages(spec, shape, 1))
    out = stages[-1].output_shape
    lines = [header(spec) + f", input {shape_text(shape)}"]
    for axis, size, k, s, p, o in zip("THW", shape[2:], spec.kernel_size, spec.stride,
                                      spec.padding, out[2:], strict=True):
        lines.append(f"  {axis}' = floor(({size} + 2·{p} - {k}) / {s}) + 1 = {o}")
    lines += [f"  {s.name:<15} {s.operation:<34} -> {shape_text(s.output_shape)}" for s in stages]
    return ShapeTrace(spec.method, shape, out, stages, "\n".join(lines))


def layer_cost(
    layer: nn.Module | ConvSpec, input_shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> LayerCost:
    """Parameters, MACs/FLOPs, activation memory and shapes of a layer in one result.

    Args:
        layer: `FullConv3d` / `nn.Conv3d`, `NaiveConv2Plus1d`,
            `SpatioTemporalConv` or a `ConvSpec`.
        input_shape: (N, C_in, T, H, W), or a tensor whose shape to use.
        dtype: element type for the memory count. Default: ``torch.float32``.

    Returns:
        `LayerCost`, combining `count_parameters`, `count_macs`,
        `activation_memory` and `stage_shapes`.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W')

    Example::

        >>> cost = layer_cost(ConvSpec("2plus1d", 64, 64, 3, padding=1), (1, 64, 8, 56, 56))
        >>> cost.params, cost.memory.middle_to_input
        (110944, 2.25)
    """
    if isinstance(layer, FactorizedConv):  # P3D, S3D(-G), CSN, depthwise, TSM
        return factorized.layer_cost(layer, input_shape, dtype)
    spec = spec_of(layer)
    parts = (count_parameters(spec), count_macs(spec, input_shape),
             activation_memory(spec, input_shape, dtype), stage_shapes(spec, input_shape))
    titles = ("Parameters", "Compute", "Activation memory", "Shapes")
    text = "\n\n".join(f"{t}\n{p.explanation}" for t, p in zip(titles, parts, strict=True))
    return LayerCost(spec, *parts, explanation=text)


# --------------------------------------------------------------------------


def compare_costs(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    input_shape: Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | None = None,
    intermediate_channels: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, LayerCost]:
    """`layer_cost` of the 3D conv and of its (2+1)D replacement, side by side.

    Both layers are bias-free with the middle BN + ReLU on, as in R(2+1)D.

    Args:
        in_channels, out_channels, kernel_size, stride: as for `ConvSpec`.
        input_shape: (N, C_in, T, H, W).
        padding: None (default) pads kernel // 2 per axis, so that stride 1
            keeps T, H and W.
        intermediate_channels: M; None uses the paper's formula.
        dtype: for the memory count. Default: ``torch.float32``.

    Returns:
        ``{"3d": LayerCost, "2plus1d": LayerCost}``.

    Shape:
        - Input: (N, C_in, T, H, W)
    """
    kernel = as_triple(kernel_size, "kernel_size", minimum=1)
    pad = tuple(k // 2 for k in kernel) if padding is None else padding
    common = dict(kernel_size=kernel, stride=stride, padding=pad, bias=False)
    return {
        "3d": layer_cost(ConvSpec("3d", in_channels, out_channels, **common), input_shape, dtype),
        "2plus1d": layer_cost(
            ConvSpec("2plus1d", in_channels, out_channels, **common,
                     intermediate_channels=intermediate_channels),
            input_shape, dtype),
    }


