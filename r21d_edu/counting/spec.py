"""Describing a layer without building it (`ConvSpec`), the stages every count is made
of, and the results the counts come back as: `ParameterCount`, `ComputeCount`,
`MemoryCount`, `ShapeTrace`, `LayerCost`, all `Explained` (plain text, markdown and
HTML displays of the arithmetic with the numbers put in).

Part of `r21d_edu.counting`; import the public names from there.
"""

from __future__ import annotations

import functools
import html
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from .._checks import (
    Triple,
    as_triple,
    check_bool,
    check_clip,
    check_dtype,
    check_formula_m,
    check_int,
    is_int,
)
from .._tables import html_table
from ..layers import NaiveConv2Plus1d, SpatioTemporalConv, intermediate_channels
from ..methods import LAYER_METHODS, METHOD_LABELS, check_method

Kind = Literal["3d", "naive", "2plus1d"]
Shape = tuple[int, ...]


# --------------------------------------------------------------------------
# Describing a layer without building it
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvSpec:
    """The shape of one of the three layers, without weights.

    Counting needs only the constructor arguments, so a widget can ask "what if
    C_in were 512?" without allocating 512-channel kernels. Arguments are those
    of the layers in `r21d_edu.layers`; ints expand to (t, h, w) triples and M
    is computed with the paper's formula when not given.

    Args:
        method: ``"3d"`` (`FullConv3d`), ``"naive"`` (`NaiveConv2Plus1d`) or
            ``"2plus1d"`` (`SpatioTemporalConv`), a key of `r21d_edu.methods`.
            (Called ``kind`` before; ``kind=`` and ``spec.kind`` still work, with a
            `DeprecationWarning`.)
        in_channels: C_in.
        out_channels: C_out.
        kernel_size: t, or (t, d_h, d_w).
        stride: int or (s_t, s_h, s_w). Default: 1.
        padding: int or (p_t, p_h, p_w). Default: 0.
        bias: a bias per output channel. Default: True.
        intermediate_channels: M of the (2+1)D kinds; None uses
            `intermediate_channels` (paper convention). Ignored for ``"3d"``.
        middle_bn_relu: BatchNorm + ReLU between the two convs of the (2+1)D
            kinds. Default: True. Ignored for ``"3d"``.
        middle_bn, middle_relu: the BatchNorm or the ReLU of the middle on its
            own; None (the default) follows ``middle_bn_relu``.

    Shape:
        Describes a layer taking (N, C_in, T, H, W) clips to
        (N, C_out, T', H', W'), ``T' = floor((T + 2*p_t - t) / s_t) + 1``.

    Example::

        >>> ConvSpec("2plus1d", 64, 64, 3).intermediate_channels
        144
    """

    method: Kind
    in_channels: int
    out_channels: int
    kernel_size: Triple | int
    stride: Triple | int = 1
    padding: Triple | int = 0
    bias: bool = True
    intermediate_channels: int | None = None
    middle_bn_relu: bool = True
    middle_bn: bool | None = None
    middle_relu: bool | None = None

    def __post_init__(self) -> None:
        check_method(self.method, "method", LAYER_METHODS)
        set_ = object.__setattr__  # frozen dataclass: normalise once, here
        set_(self, "in_channels", check_int(self.in_channels, "in_channels", minimum=1))
        set_(self, "out_channels", check_int(self.out_channels, "out_channels", minimum=1))
        set_(self, "kernel_size", as_triple(self.kernel_size, "kernel_size", minimum=1))
        set_(self, "stride", as_triple(self.stride, "stride", minimum=1))
        set_(self, "padding", as_triple(self.padding, "padding", minimum=0))
        set_(self, "bias", check_bool(self.bias, "bias"))
        both = check_bool(self.middle_bn_relu, "middle_bn_relu")
        for half in ("middle_bn", "middle_relu"):
            value = getattr(self, half)
            set_(self, half, both if value is None else check_bool(value, half))
        if self.method == "3d":
            set_(self, "intermediate_channels", None)
            for flag in ("middle_bn_relu", "middle_bn", "middle_relu"):
                set_(self, flag, False)
            return
        m = self.intermediate_channels
        if m is None:
            m = check_formula_m(
                intermediate_channels(self.in_channels, self.out_channels, self.kernel_size),
                self.in_channels, self.out_channels, self.kernel_size,
                fix="pass intermediate_channels=1 or more")
        set_(self, "intermediate_channels",
             check_int(m, "intermediate_channels (M)", minimum=1))
        # middle_bn_relu reads "both halves present", whichever way they were given.
        set_(self, "middle_bn_relu", self.middle_bn and self.middle_relu)

    @property
    def kind(self) -> str:
        """Deprecated name of `method` (the same key)."""
        warnings.warn("ConvSpec.kind is now ConvSpec.method (the same key, see "
                      "r21d_edu.methods)", DeprecationWarning, stacklevel=2)
        return self.method


_generated_init = ConvSpec.__init__


@functools.wraps(_generated_init)
def _init_accepting_kind(self: ConvSpec, *args: object, **kwargs: object) -> None:
    # The old keyword: ConvSpec(kind="3d", ...) still builds, with a DeprecationWarning.
    if "kind" in kwargs:
        if args or "method" in kwargs:
            raise TypeError("ConvSpec got its method twice (kind= is the old name of method=)")
        warnings.warn("ConvSpec(kind=...) is now ConvSpec(method=...) (the same key, see "
                      "r21d_edu.methods)", DeprecationWarning, stacklevel=2)
        kwargs["method"] = kwargs.pop("kind")
    _generated_init(self, *args, **kwargs)


ConvSpec.__init__ = _init_accepting_kind  # type: ignore[method-assign]


def spec_of(layer: nn.Module | ConvSpec) -> ConvSpec:
    """The `ConvSpec` of a layer (a `ConvSpec` comes back unchanged).

    Args:
        layer: `FullConv3d` or any `nn.Conv3d` (ungrouped, undilated, zero
            padding given as numbers), `NaiveConv2Plus1d` or `SpatioTemporalConv`.

    Shape:
        Not applicable: reads constructor arguments only.
    """
    if isinstance(layer, ConvSpec):
        return layer
    if isinstance(layer, (NaiveConv2Plus1d, SpatioTemporalConv)):
        if getattr(layer, "groups", 1) != 1:
            raise ValueError(
                f"per-layer counting covers ungrouped layers; got groups={layer.groups}. "
                "summarize_network counts grouped layers (it uses C_in / groups)")
        method: Kind = "naive" if isinstance(layer, NaiveConv2Plus1d) else "2plus1d"
        return ConvSpec(method, **layer.config)
    if isinstance(layer, nn.Conv3d):
        if isinstance(layer.padding, str):
            raise ValueError(
                f"counting needs numeric padding, got padding={layer.padding!r}; build the "
                "Conv3d with padding=(p_t, p_h, p_w), e.g. k // 2 for 'same' with odd k"
            )
        if layer.groups != 1 or tuple(layer.dilation) != (1, 1, 1):
            raise ValueError(
                f"per-layer counting covers ungrouped, undilated convs; got groups="
                f"{layer.groups}, dilation={tuple(layer.dilation)}. summarize_network "
                "counts any nn.Conv3d (it uses the output shape and C_in / groups)"
            )
        return ConvSpec("3d", layer.in_channels, layer.out_channels, tuple(layer.kernel_size),
                        tuple(layer.stride), tuple(layer.padding), layer.bias is not None)
    raise TypeError(
        "expected FullConv3d / nn.Conv3d, NaiveConv2Plus1d, SpatioTemporalConv or a "
        f"ConvSpec, got {type(layer).__name__}; for a whole network use summarize_network"
    )


# --------------------------------------------------------------------------
# Stages: the arithmetic every result is built from
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One step of a layer: what it produces and what it costs.

    ``output_bytes`` is the size of the new tensor the step writes (0 for an
    in-place ReLU); ``formula_params`` and ``formula_macs`` hold the arithmetic
    with numbers put in, for the explanations.
    """

    name: str
    operation: str
    output_shape: Shape
    params: int
    macs: int
    output_bytes: int
    formula_params: str = ""
    formula_macs: str = ""


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def fmt(n: int) -> str:
    return f"{n:,}"


def shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def checked_input(spec: ConvSpec, input_shape: Sequence[int]) -> Shape:
    if isinstance(input_shape, torch.Tensor):
        input_shape = tuple(input_shape.shape)
    try:
        entries = tuple(input_shape)
    except TypeError:
        raise TypeError(
            f"input_shape must be a sequence of ints (N, C, T, H, W), got {input_shape!r}"
        ) from None
    # int() would silently count T = 8.7 as 8 frames and True as 1: sizes must be integers.
    wrong = [s for s in entries if not is_int(s)]
    if wrong:
        raise TypeError(
            f"input_shape must hold integer sizes (N, C, T, H, W), got {wrong[0]!r} "
            f"({type(wrong[0]).__name__}) in {entries!r}; round a computed size first, "
            "e.g. int(round(t))"
        )
    shape = tuple(int(s) for s in entries)
    if any(s < 1 for s in shape):
        raise ValueError(f"input_shape must hold sizes >= 1, got {shape}")
    # A meta tensor costs nothing and lets the layers' own checks speak, so a
    # wrong shape gets exactly the message the layer would give; expanded from one
    # element, so that a shape too large for any storage is still only arithmetic.
    check_clip(torch.empty((1,) * len(shape), device="meta").expand(shape), spec.in_channels,
               spec.kernel_size, spec.padding, METHOD_LABELS[spec.method])
    return shape


def layer_stages(spec: ConvSpec, input_shape: Shape, itemsize: int) -> list[Stage]:
    n, c_in, t_in, h_in, w_in = input_shape
    t, d_h, d_w = spec.kernel_size
    s_t, s_h, s_w = spec.stride
    p_t, p_h, p_w = spec.padding
    t_out = out_size(t_in, t, s_t, p_t)
    h_out = out_size(h_in, d_h, s_h, p_h)
    w_out = out_size(w_in, d_w, s_w, p_w)
    c_out = spec.out_channels
    bias = c_out if spec.bias else 0
    bias_text = f" + {c_out} bias" if spec.bias else ""
    out_shape = (n, c_out, t_out, h_out, w_out)
    out_values = math.prod(out_shape)

    if spec.method == "3d":
        weights = t * d_h * d_w * c_in * c_out
        per_output = c_in * t * d_h * d_w
        return [Stage(
            "conv3d", f"Conv3d {shape_text(spec.kernel_size)}, {c_in} -> {c_out}",
            out_shape, weights + bias, out_values * per_output, out_values * itemsize,
            f"t·d_h·d_w·C_in·C_out = {t}·{d_h}·{d_w}·{c_in}·{c_out} = {fmt(weights)}{bias_text}",
            f"{fmt(out_values)} outputs {shape_text(out_shape)} × C_in·t·d_h·d_w = "
            f"{c_in}·{t}·{d_h}·{d_w} = {fmt(per_output)} each = {fmt(out_values * per_output)}",
        )]

    m = spec.intermediate_channels
    assert m is not None  # set by ConvSpec for the (2+1)D kinds
    naive = spec.method == "naive"
    # The spatial conv keeps all T frames; only H and W shrink.
    if naive:
        middle_shape: Shape = (n * t_in, m, h_out, w_out)
    else:
        middle_shape = (n, m, t_in, h_out, w_out)
    middle_values = math.prod(middle_shape)
    spatial_w = d_h * d_w * c_in * m
    temporal_w = t * m * c_out
    spatial_per = c_in * d_h * d_w
    temporal_per = m * t
    stages: list[Stage] = []
    if naive:
        # (N, C, T, H, W) -> (N*T, C, H, W): merging N and T is a view only when N, T
        # or C is 1; otherwise torch must copy.
        stages.append(rearrangement("frames -> batch", (n * t_in, c_in, h_in, w_in),
                                     n > 1 and t_in > 1 and c_in > 1, itemsize))
    conv2 = "Conv2d" if naive else "Conv3d"
    spatial_kernel = (d_h, d_w) if naive else (1, d_h, d_w)
    stages.append(Stage(
        "spatial", f"{conv2} {shape_text(spatial_kernel)}, {c_in} -> M={m}", middle_shape,
        spatial_w, middle_values * spatial_per, middle_values * itemsize,
        f"d_h·d_w·C_in·M = {d_h}·{d_w}·{c_in}·{m} = {fmt(spatial_w)}",
        f"{fmt(middle_values)} outputs {shape_text(middle_shape)} × C_in·d_h·d_w = "
        f"{c_in}·{d_h}·{d_w} = {fmt(spatial_per)} each = {fmt(middle_values * spatial_per)}",
    ))
    if spec.middle_bn:
        bn = "BatchNorm2d" if naive else "BatchNorm3d"
        stages.append(Stage("bn", f"{bn}({m})", middle_shape, 2 * m, 0,
                            middle_values * itemsize,
                            f"scale and shift per channel: 2·M = 2·{m} = {fmt(2 * m)}"))
    if spec.middle_relu:
        # ReLU(inplace=True) overwrites its input: no new tensor.
        stages.append(Stage("relu", "ReLU (in place)", middle_shape, 0, 0, 0))
    if naive:
        # (N*T, M, H', W') -> (N*H'*W', M, T): merging N with the pixels is a view only
        # when N is 1, there is one pixel, or T*M is 1.
        stages.append(rearrangement("pixels -> batch", (n * h_out * w_out, m, t_in),
                                     n > 1 and h_out * w_out > 1 and t_in * m > 1, itemsize))
        temporal_shape: Shape = (n * h_out * w_out, c_out, t_out)
    else:
        temporal_shape = out_shape
    conv1 = "Conv1d" if naive else "Conv3d"
    temporal_kernel = (t,) if naive else (t, 1, 1)
    temporal_kernel_text = f"({t})" if naive else shape_text(temporal_kernel)
    stages.append(Stage(
        "temporal", f"{conv1} {temporal_kernel_text}, M={m} -> {c_out}", temporal_shape,
        temporal_w + bias, out_values * temporal_per, out_values * itemsize,
        f"t·M·C_out = {t}·{m}·{c_out} = {fmt(temporal_w)}{bias_text}",
        f"{fmt(out_values)} outputs {shape_text(out_shape)} × M·t = {m}·{t} = "
        f"{fmt(temporal_per)} each = {fmt(out_values * temporal_per)}",
    ))
    if naive:
        # .contiguous() copies unless (N, C_out, T', H', W') already is the memory order
        # (N, H', W', C_out, T') of the Conv1d output — size-1 axes do not count.
        sizes = {"n": n, "c": c_out, "t": t_out, "h": h_out, "w": w_out}
        logical = [a for a in "ncthw" if sizes[a] > 1]
        in_memory = [a for a in "nhwct" if sizes[a] > 1]
        stages.append(rearrangement("back to clip", out_shape, logical != in_memory, itemsize,
                                     "permute + contiguous"))
    return stages


def rearrangement(
    name: str, shape: Shape, copies: bool, itemsize: int, how: str = "permute + reshape"
) -> Stage:
    """A reshape step of the naive layer: a copy writes a new tensor, a view nothing."""
    if copies:
        return Stage(name, f"{how} (a copy)", shape, 0, 0, math.prod(shape) * itemsize)
    return Stage(name, f"{how} (a view: no copy)", shape, 0, 0, 0)


def header(spec: ConvSpec) -> str:
    if spec.method == "3d":
        return (f"{METHOD_LABELS['3d']} {spec.in_channels} -> {spec.out_channels}, "
                f"kernel {shape_text(spec.kernel_size)}")
    middle = {(True, True): "with middle BN + ReLU", (False, False): "without middle BN + ReLU",
              (True, False): "with middle BN, no ReLU", (False, True): "with middle ReLU, no BN"}[
        (spec.middle_bn, spec.middle_relu)]
    return (f"{METHOD_LABELS[spec.method]} {spec.in_channels} -> M={spec.intermediate_channels} -> "
            f"{spec.out_channels}, kernel {shape_text(spec.kernel_size)}, {middle}")


def dtype_size(dtype: torch.dtype) -> int:
    return check_dtype(dtype).itemsize


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.2f} MiB"


# --------------------------------------------------------------------------
# Results with a rich display
# --------------------------------------------------------------------------


class Explained:
    """Shared display: the explanation as text, markdown and HTML."""

    explanation: str

    @property
    def method(self) -> str:
        """The method key (`r21d_edu.methods`); the count results store it as ``kind``."""
        return self.kind  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return self.explanation

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return [], []

    def _repr_markdown_(self) -> str:
        header, rows = self._table()
        text = "```text\n" + self.explanation + "\n```"
        if header:
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
            text = "\n".join(lines) + "\n\n" + text
        return text

    def _repr_html_(self) -> str:
        header, rows = self._table()
        parts = []
        if header:
            parts.append(html_table(rows, header, sections=True))
        parts.append(f"<pre>{html.escape(self.explanation)}</pre>")
        return "\n".join(parts)


@dataclass(frozen=True, repr=False)
class ParameterCount(Explained):
    """Learnable parameters of a layer.

    Fields: ``kind``; ``total`` (every learnable number, what
    ``sum(p.numel() for p in layer.parameters())`` gives); ``weights`` (conv
    kernels only — the count the paper's formula for M balances); ``stages``.
    """

    kind: str
    total: int
    weights: int
    stages: tuple[Stage, ...]
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"ParameterCount(kind={self.kind!r}, total={self.total:,}, weights={self.weights:,})"

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["stage", "operation", "parameters"], [
            [s.name, s.operation, fmt(s.params)] for s in self.stages if s.params
        ] + [["total", "", fmt(self.total)]]


@dataclass(frozen=True, repr=False)
class ComputeCount(Explained):
    """Multiply-accumulates (MACs) and FLOPs = 2·MACs of a layer for one input shape.

    Only convolution MACs are counted (not bias, BatchNorm, ReLU), matching
    `torch.utils.flop_counter.FlopCounterMode`, whose FLOPs equal ``flops``.
    """

    kind: str
    input_shape: Shape
    macs: int
    flops: int
    stages: tuple[Stage, ...]
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return (f"ComputeCount(kind={self.kind!r}, input_shape={self.input_shape}, "
                f"macs={self.macs:,}, flops={self.flops:,})")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["stage", "operation", "MACs"], [
            [s.name, s.operation, fmt(s.macs)] for s in self.stages if s.macs
        ] + [["total MACs", "", fmt(self.macs)], ["FLOPs = 2·MACs", "", fmt(self.flops)]]


@dataclass(frozen=True, repr=False)
class MemoryCount(Explained):
    """Bytes of the tensors a layer produces in one forward pass.

    Fields: ``input_bytes``; ``middle_bytes`` (the M-channel tensor between the
    two convs of a (2+1)D layer, 0 for the 3D conv); ``output_bytes``;
    ``total_bytes`` (every tensor the layer writes, middle and output included
    — what training keeps for the backward pass, roughly); ``middle_to_input``
    (middle / input, M/C_in when the spatial stride is 1 and padding keeps the
    size: 2.25 for 64 -> 144 -> 64); ``dtype``; ``stages``.
    """

    kind: str
    input_shape: Shape
    dtype: str
    input_bytes: int
    middle_bytes: int
    output_bytes: int
    total_bytes: int
    middle_to_input: float
    stages: tuple[Stage, ...]
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return (f"MemoryCount(kind={self.kind!r}, input_shape={self.input_shape}, "
                f"dtype={self.dtype}, middle_bytes={self.middle_bytes:,}, "
                f"output_bytes={self.output_bytes:,}, total_bytes={self.total_bytes:,})")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["stage", "tensor written", "bytes"], [
            [s.name, shape_text(s.output_shape), fmt(s.output_bytes)] for s in self.stages
        ] + [["total", "", fmt(self.total_bytes)]]


@dataclass(frozen=True, repr=False)
class ShapeTrace(Explained):
    """The shape after each stage of a layer, and the output shape."""

    kind: str
    input_shape: Shape
    output_shape: Shape
    stages: tuple[Stage, ...]
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return (f"ShapeTrace(kind={self.kind!r}, input_shape={self.input_shape}, "
                f"output_shape={self.output_shape})")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["stage", "operation", "output shape"], [
            ["input", "", shape_text(self.input_shape)]
        ] + [[s.name, s.operation, shape_text(s.output_shape)] for s in self.stages]


@dataclass(frozen=True, repr=False)
class LayerCost(Explained):
    """Everything at once: parameters, compute, memory and shapes of one layer.

    ``params``, ``weights``, ``macs``, ``flops``, ``output_shape``,
    ``middle_bytes`` and ``total_bytes`` repeat the most used fields of the
    parts (``parameters``, ``compute``, ``memory``, ``shapes``).
    """

    spec: ConvSpec
    parameters: ParameterCount
    compute: ComputeCount
    memory: MemoryCount
    shapes: ShapeTrace
    explanation: str = field(default="", compare=False)

    @property
    def method(self) -> str:
        """The method key of the layer (`ConvSpec.method`)."""
        return self.spec.method

    @property
    def kind(self) -> str:
        """The same key as `method`, the name the count results use."""
        return self.spec.method

    @property
    def params(self) -> int:
        return self.parameters.total

    @property
    def weights(self) -> int:
        return self.parameters.weights

    @property
    def macs(self) -> int:
        return self.compute.macs

    @property
    def flops(self) -> int:
        return self.compute.flops

    @property
    def output_shape(self) -> Shape:
        return self.shapes.output_shape

    @property
    def middle_bytes(self) -> int:
        return self.memory.middle_bytes

    @property
    def total_bytes(self) -> int:
        return self.memory.total_bytes

    def __repr__(self) -> str:
        return (f"LayerCost(kind={self.kind!r}, params={self.params:,}, macs={self.macs:,}, "
                f"flops={self.flops:,}, total_bytes={self.total_bytes:,}, "
                f"output_shape={self.output_shape})")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["stage", "operation", "output shape", "params", "MACs", "bytes written"], [
            [s.name, s.operation, shape_text(s.output_shape), fmt(s.params), fmt(s.macs),
             fmt(s.output_bytes)]
            for s in self.parameters.stages
        ] + [["total", "", shape_text(self.output_shape), fmt(self.params), fmt(self.macs),
              fmt(self.total_bytes)]]


