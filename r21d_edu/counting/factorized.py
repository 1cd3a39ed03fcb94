"""Counting the factorized layers of `r21d_edu.factorized` (P3D, S3D(-G), CSN, depthwise
(2+1)D, TSM): parameters, MACs, bytes written and shapes, stage by stage.

Part of `r21d_edu.counting`; the public functions (`count_parameters`, `count_macs`,
`activation_memory`, `stage_shapes`, `layer_cost`) hand these layers here.

The layers are built from a few leaf modules (convs, BatchNorm, ReLU, the centre-tap
selection, the sum of two paths, the gate, the shift), so the count is one pass over
the leaves: the layer is rebuilt on the meta device from its ``config`` (no weights,
no compute, no memory), run once on an input of the given shape, and every leaf call
becomes a `Stage` whose parameters, MACs and bytes follow from its shapes:

- a conv's output value costs ``C_in / groups × kernel volume`` MACs;
- S3D-G's gate costs ``N·C²`` MACs (its C x C linear map);
- BatchNorm, ReLU, the sum, the shift and the centre taps cost 0 MACs (elementwise or
  copies; `FlopCounterMode` counts none of them);
- bytes: every new tensor a leaf writes — a conv's or BatchNorm's output, the sum, the
  shifted copy, the padded copy the centre taps need when they are not a view, and the
  gate's three (N, C) vectors plus its gated output; an in-place ReLU writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._checks import check_clip, is_int
from ..factorized import CentreTaps, FactorizedConv, FeatureGate, Sum, TemporalShift
from .spec import (
    ComputeCount,
    LayerCost,
    MemoryCount,
    ParameterCount,
    ShapeTrace,
    Stage,
    dtype_size,
    fmt,
    mib,
    shape_text,
)

Shape = tuple[int, ...]


def header(layer: FactorizedConv) -> str:
    return (f"{layer.label} {layer.in_channels} -> {layer.out_channels}, kernel "
            f"{shape_text(layer.kernel_size)}: {layer.formula}")


def checked_shape(layer: FactorizedConv, input_shape: Sequence[int]) -> Shape:
    """The input shape as ints, checked by the layer's own clip check (on a meta tensor)."""
    if isinstance(input_shape, torch.Tensor):
        input_shape = tuple(input_shape.shape)
    try:
        entries = tuple(input_shape)
    except TypeError:
        raise TypeError(
            f"input_shape must be a sequence of ints (N, C, T, H, W), got {input_shape!r}"
        ) from None
    wrong = [s for s in entries if not is_int(s)]
    if wrong:
        raise TypeError(f"input_shape must hold integer sizes (N, C, T, H, W), got "
                        f"{wrong[0]!r} ({type(wrong[0]).__name__}) in {entries!r}")
    shape = tuple(int(s) for s in entries)
    if any(s < 1 for s in shape):
        raise ValueError(f"input_shape must hold sizes >= 1, got {shape}")
    check_clip(torch.empty((1,) * len(shape), device="meta").expand(shape),
               layer.in_channels, layer.kernel_size, layer.padding, type(layer).__name__)
    return shape


def _conv_stage(name: str, conv: nn.Conv3d, out: Shape, itemsize: int) -> Stage:
    c_in, c_out, g = conv.in_channels, conv.out_channels, conv.groups
    k = tuple(conv.kernel_size)
    weights = conv.weight.numel()
    bias = conv.out_channels if conv.bias is not None else 0
    per = (c_in // g) * math.prod(k)
    values = math.prod(out)
    groups = f", groups={g}" if g > 1 else ""
    per_text = f"(C_in/groups)·t·d_h·d_w = {c_in // g}·{'·'.join(map(str, k))}"
    return Stage(
        name, f"Conv3d {shape_text(k)}, {c_in} -> {c_out}{groups}", out, weights + bias,
        values * per, values * itemsize,
        f"{'·'.join(map(str, k))}·(C_in/groups)·C_out = {'·'.join(map(str, k))}·{c_in // g}·"
        f"{c_out} = {fmt(weights)}" + (f" + {bias} bias" if bias else ""),
        f"{fmt(values)} outputs {shape_text(out)} × {per_text} = {fmt(per)} each = "
        f"{fmt(values * per)}")


def _stage(name: str, module: nn.Module, in_shape: Shape, out: Shape,
           itemsize: int) -> Stage | None:
    values = math.prod(out)
    if isinstance(module, nn.Identity):
        return None
    if isinstance(module, nn.Conv3d):
        return _conv_stage(name, module, out, itemsize)
    if isinstance(module, nn.BatchNorm3d):
        c = module.num_features
        return Stage(name, f"BatchNorm3d({c})", out, 2 * c, 0, values * itemsize,
                     f"scale and shift per channel: 2·{c} = {fmt(2 * c)}")
    if isinstance(module, nn.ReLU):
        written = 0 if module.inplace else values * itemsize
        return Stage(name, "ReLU (in place)" if module.inplace else "ReLU", out, 0, 0, written)
    if isinstance(module, CentreTaps):
        if module.is_identity:
            return None
        how = "pad (a copy) + strided view" if module.copies() else "strided view (no copy)"
        padded = math.prod(in_shape[:2]) * math.prod(
            size + 2 * p for size, p in zip(in_shape[2:], module.padding, strict=True))
        return Stage(name, f"centre taps of {shape_text(module.kernel)}: {how}", out, 0, 0,
                     padded * itemsize if module.copies() else 0)
    if isinstance(module, Sum):
        return Stage(name, "sum of the two paths", out, 0, 0, values * itemsize)
    if isinstance(module, TemporalShift):
        return Stage(name, f"shift ±1 frame, {module.fold} + {module.fold} of "
                     f"{module.channels} channels (zero-filled copy)", out, 0, 0,
                     values * itemsize, "no weights", "no MACs (a copy)")
    if isinstance(module, FeatureGate):
        c, macs = module.channels, module.macs(in_shape)
        return Stage(name, f"gate σ(W·pool(z) + b) ⊙ z, W {c}x{c}", out, c * c + c, macs,
                     module.bytes_written(in_shape, itemsize),
                     f"C² + C = {c}² + {c} = {fmt(c * c + c)}",
                     f"N·C² = {in_shape[0]}·{c}² = {fmt(macs)} (pooling and product not "
                     "counted)")
    raise TypeError(f"counting does not know the leaf module {type(module).__name__} "
                    f"({name}) of a factorized layer")


def factorized_stages(layer: FactorizedConv, shape: Shape, itemsize: int) -> list[Stage]:
    """One `Stage` per leaf-module call of a factorized layer on an input of ``shape``."""
    with torch.device("meta"):
        ghost = type(layer)(**layer.config).eval()
    names = {module: name for name, module in ghost.named_modules()}
    calls: list[tuple[nn.Module, Shape, Shape]] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        calls.append((module, tuple(inputs[0].shape), tuple(output.shape)))

    handles = [m.register_forward_hook(hook) for m in ghost.modules()
               if not list(m.children()) and m is not ghost]
    try:
        with torch.no_grad():
            ghost(torch.empty((1,) * len(shape), device="meta").expand(shape))
    finally:
        for handle in handles:
            handle.remove()
    stages = [_stage(names[m], m, i, o, itemsize) for m, i, o in calls]
    return [s for s in stages if s is not None]


def _weights(layer: FactorizedConv, stages: Sequence[Stage], total: int) -> int:
    bias = layer.out_channels if layer.config["bias"] else 0
    bn = sum(s.params for s in stages if s.operation.startswith("BatchNorm"))
    return total - bias - bn


def count_parameters(layer: FactorizedConv) -> ParameterCount:
    """`r21d_edu.counting.count_parameters` of a factorized layer.

    ``weights`` leaves out the output bias and BatchNorm's scale and shift, and keeps
    S3D-G's gate (C² + C): the figures of the issue's table (64 -> 64, 3x3x3).
    """
    kernel = layer.kernel_size
    shape = (1, layer.in_channels, *(max(k, 3) for k in kernel))
    stages = tuple(factorized_stages(layer, shape, 1))
    total = sum(s.params for s in stages)
    weights = _weights(layer, stages, total)
    lines = [header(layer)]
    lines += [f"  {s.name:<15} {s.formula_params}" for s in stages if s.formula_params]
    parts = " + ".join(fmt(s.params) for s in stages if s.params) or "0"
    lines.append(f"  total = {parts} = {fmt(total)} parameters")
    full = math.prod(kernel) * layer.in_channels * layer.out_channels
    lines.append(f"  weights without bias and BatchNorm = {fmt(weights)}; the 3D conv has "
                 f"t·d_h·d_w·C_in·C_out = {fmt(full)}")
    return ParameterCount(layer.method, total, weights, stages, "\n".join(lines))


def count_macs(layer: FactorizedConv, input_shape: Sequence[int]) -> ComputeCount:
    """`r21d_edu.counting.count_macs` of a factorized layer."""
    shape = checked_shape(layer, input_shape)
    stages = tuple(factorized_stages(layer, shape, 1))
    macs = sum(s.macs for s in stages)
    lines = [header(layer) + f", input {shape_text(shape)}"]
    lines += [f"  {s.name:<15} {s.formula_macs}" for s in stages if s.formula_macs]
    lines.append("  total = " + (" + ".join(fmt(s.macs) for s in stages if s.macs) or "0")
                 + f" = {fmt(macs)} MACs")
    lines.append(f"  FLOPs = 2 × MACs = 2 × {fmt(macs)} = {fmt(2 * macs)}"
                 "  (bias, BN, ReLU, sums and shifts not counted)")
    return ComputeCount(layer.method, shape, macs, 2 * macs, stages, "\n".join(lines))


def activation_memory(layer: FactorizedConv, input_shape: Sequence[int],
                      dtype: torch.dtype = torch.float32) -> MemoryCount:
    """`r21d_edu.counting.activation_memory` of a factorized layer.

    ``middle_bytes`` is the first tensor the layer writes before its output (the
    spatial conv's output, TSM's shifted copy, ...), 0 when it writes only its output.
    """
    shape = checked_shape(layer, input_shape)
    itemsize = dtype_size(dtype)
    stages = tuple(factorized_stages(layer, shape, itemsize))
    input_bytes = math.prod(shape) * itemsize
    written = [s for s in stages[:-1] if s.output_bytes]
    middle_bytes = written[0].output_bytes if written else 0
    output_bytes = math.prod(stages[-1].output_shape) * itemsize
    total = sum(s.output_bytes for s in stages)
    dtype_name = str(dtype).replace("torch.", "")
    lines = [header(layer) + f", {dtype_name} ({itemsize} bytes per value)",
             f"  {'input':<15} {shape_text(shape)} = {fmt(input_bytes)} bytes "
             f"({mib(input_bytes)})"]
    for s in stages:
        if s.output_bytes:
            lines.append(f"  {s.name:<15} writes {fmt(s.output_bytes)} bytes "
                         f"({mib(s.output_bytes)}), {shape_text(s.output_shape)}")
        else:
            lines.append(f"  {s.name:<15} writes no new tensor (in place or a view)")
    lines.append(f"  total written = {fmt(total)} bytes ({mib(total)})")
    return MemoryCount(layer.method, shape, dtype_name, input_bytes, middle_bytes, output_bytes,
                       total, middle_bytes / input_bytes, stages, "\n".join(lines))


def stage_shapes(layer: FactorizedConv, input_shape: Sequence[int]) -> ShapeTrace:
    """`r21d_edu.counting.stage_shapes` of a factorized layer."""
    shape = checked_shape(layer, input_shape)
    stages = tuple(factorized_stages(layer, shape, 1))
    out = stages[-1].output_shape
    lines = [header(layer) + f", input {shape_text(shape)}"]
    for axis, size, k, s, p, o in zip("THW", shape[2:], layer.kernel_size, layer.stride,
                                      layer.padding, out[2:], strict=True):
        lines.append(f"  {axis}' = floor(({size} + 2·{p} - {k}) / {s}) + 1 = {o}")
    lines += [f"  {s.name:<15} {s.operation:<34} -> {shape_text(s.output_shape)}" for s in stages]
    return ShapeTrace(layer.method, shape, out, stages, "\n".join(lines))


def layer_cost(layer: FactorizedConv, input_shape: Sequence[int],
               dtype: torch.dtype = torch.float32) -> LayerCost:
    """`r21d_edu.counting.layer_cost` of a factorized layer (``spec`` holds the layer)."""
    parts = (count_parameters(layer), count_macs(layer, input_shape),
             activation_memory(layer, input_shape, dtype), stage_shapes(layer, input_shape))
    titles = ("Parameters", "Compute", "Activation memory", "Shapes")
    text = "\n\n".join(f"{t}\n{p.explanation}" for t, p in zip(titles, parts, strict=True))
    return LayerCost(layer, *parts, explanation=text)  # type: ignore[arg-type]
