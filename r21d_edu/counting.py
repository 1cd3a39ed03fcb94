"""What a convolution costs: parameters, MACs, FLOPs, memory, shapes, receptive field.

Every number comes from arithmetic on shapes (no timing, no real data), and every
result is a small dataclass with plain fields for code, an ``explanation`` that
shows the arithmetic with the numbers put in (``print(result)`` shows it), and a
rich display in Jupyter.

Vocabulary used throughout:

- a **MAC** is one multiply-accumulate; a conv output value with a kernel of
  C_in x t x d_h x d_w weights costs C_in*t*d_h*d_w MACs;
- **FLOPs = 2 x MACs** (one multiply plus one add), which is what
  `torch.utils.flop_counter.FlopCounterMode` reports. torchvision's published
  "GFLOPS", fvcore, ptflops and thop report MACs;
- only convolutions and `nn.Linear` are counted. Bias additions, BatchNorm,
  ReLU and pooling are elementwise and left out, as they are by
  `FlopCounterMode` and by torchvision's figures.

Stable API
----------

One layer — ``layer`` is a `FullConv3d` / `nn.Conv3d`, a `NaiveConv2Plus1d`, a
`SpatioTemporalConv`, or a `ConvSpec` (the same description without building
weights, for fast what-if arithmetic):

- ``ConvSpec(kind, in_channels, out_channels, kernel_size, stride=1, padding=0,
  bias=True, intermediate_channels=None, middle_bn_relu=True)`` with
  ``kind`` one of ``"3d"``, ``"naive"``, ``"2plus1d"``; ``spec_of(layer)``.
- ``count_parameters(layer) -> ParameterCount``  (fields ``total``, ``weights``, ``stages``)
- ``count_macs(layer, input_shape) -> ComputeCount``  (``macs``, ``flops``, ``stages``)
- ``activation_memory(layer, input_shape, dtype=torch.float32) -> MemoryCount``
  (``input_bytes``, ``middle_bytes``, ``output_bytes``, ``total_bytes``,
  ``middle_to_input``, ``stages``). Counts every tensor the layer writes:
  conv outputs, BatchNorm's output (the ReLU is in place), and the naive
  layer's reshapes where torch must copy (a reshape that can be a view writes
  nothing). Copies a conv kernel may make internally are not counted.
- ``stage_shapes(layer, input_shape) -> ShapeTrace``  (``output_shape``, ``stages``)
- ``layer_cost(layer, input_shape, dtype=torch.float32) -> LayerCost`` — all of
  the above at once (``params``, ``macs``, ``flops``, ``memory``, ...).

``stages`` is a tuple of `Stage` rows (name, operation, output_shape, params,
macs, output_bytes), one per step of the layer (spatial conv, BN, ReLU,
temporal conv, and for the naive layer its reshapes).

A stack of layers:

- ``receptive_field(layers) -> ReceptiveField`` (``temporal``, ``height``,
  ``width``, ``jump``, ``rows``) for a chain of convs / pools.

A whole network (any `nn.Module`, e.g. torchvision's ``r3d_18``):

- ``summarize_network(model, input_shape) -> NetworkSummary`` runs one forward
  pass with hooks on every leaf module — on the meta device by default, so no
  memory for activations and no compute is spent — and returns ``rows``
  (`ModuleRow`: name, kind, output_shape, params, macs, one per leaf call) and
  ``params``, ``macs``, ``flops`` totals.

Comparisons and figures:

- ``compare_costs(in, out, kernel, input_shape) -> {"3d": LayerCost, "2plus1d": LayerCost}``;
- the figure of such a sweep is `r21d_edu.viz.cost_sweep_figure` (figures live in
  `r21d_edu.viz`; ``r21d_edu.counting.cost_sweep_figure`` still works, with a
  deprecation warning);
- ``intermediate_channels_table({"torchvision": net_a, "paper": net_b})`` — M and
  conv weights of every (2+1)D conv of several networks, conv by conv.

Shapes are (N, C, T, H, W) clips everywhere, as for `nn.Conv3d`.
"""

from __future__ import annotations

import copy
import html
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ._checks import Triple, as_triple, check_clip, check_formula_m, check_int, is_int
from ._tables import html_table
from .layers import NaiveConv2Plus1d, SpatioTemporalConv, intermediate_channels
from .methods import LAYER_METHODS, METHOD_LABELS, check_method

__all__ = [
    "ComputeCount",
    "ConvSpec",
    "IntermediateChannelsRow",
    "IntermediateChannelsTable",
    "LayerCost",
    "MemoryCount",
    "ModuleRow",
    "NetworkSummary",
    "ParameterCount",
    "ReceptiveField",
    "ReceptiveFieldRow",
    "ShapeTrace",
    "Stage",
    "activation_memory",
    "compare_costs",
    "count_macs",
    "count_parameters",
    "intermediate_channels_table",
    "layer_cost",
    "receptive_field",
    "spec_of",
    "stage_shapes",
    "summarize_network",
]

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
        kind: ``"3d"`` (`FullConv3d`), ``"naive"`` (`NaiveConv2Plus1d`) or
            ``"2plus1d"`` (`SpatioTemporalConv`).
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

    Shape:
        Describes a layer taking (N, C_in, T, H, W) clips to
        (N, C_out, T', H', W'), ``T' = floor((T + 2*p_t - t) / s_t) + 1``.

    Example::

        >>> ConvSpec("2plus1d", 64, 64, 3).intermediate_channels
        144
    """

    kind: Kind
    in_channels: int
    out_channels: int
    kernel_size: Triple | int
    stride: Triple | int = 1
    padding: Triple | int = 0
    bias: bool = True
    intermediate_channels: int | None = None
    middle_bn_relu: bool = True

    def __post_init__(self) -> None:
        check_method(self.kind, "kind", LAYER_METHODS)
        set_ = object.__setattr__  # frozen dataclass: normalise once, here
        set_(self, "in_channels", check_int(self.in_channels, "in_channels", minimum=1))
        set_(self, "out_channels", check_int(self.out_channels, "out_channels", minimum=1))
        set_(self, "kernel_size", as_triple(self.kernel_size, "kernel_size", minimum=1))
        set_(self, "stride", as_triple(self.stride, "stride", minimum=1))
        set_(self, "padding", as_triple(self.padding, "padding", minimum=0))
        set_(self, "bias", bool(self.bias))
        if self.kind == "3d":
            set_(self, "intermediate_channels", None)
            set_(self, "middle_bn_relu", False)
            return
        m = self.intermediate_channels
        if m is None:
            m = check_formula_m(
                intermediate_channels(self.in_channels, self.out_channels, self.kernel_size),
                self.in_channels, self.out_channels, self.kernel_size,
                fix="pass intermediate_channels=1 or more")
        set_(self, "intermediate_channels",
             check_int(m, "intermediate_channels (M)", minimum=1))
        set_(self, "middle_bn_relu", bool(self.middle_bn_relu))


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
        kind: Kind = "naive" if isinstance(layer, NaiveConv2Plus1d) else "2plus1d"
        return ConvSpec(kind, **layer.config)
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


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _fmt(n: int) -> str:
    return f"{n:,}"


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _checked_input(spec: ConvSpec, input_shape: Sequence[int]) -> Shape:
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
    # wrong shape gets exactly the message the layer would give.
    check_clip(torch.empty(shape, device="meta"), spec.in_channels, spec.kernel_size,
               spec.padding, METHOD_LABELS[spec.kind])
    return shape


def _stages(spec: ConvSpec, input_shape: Shape, itemsize: int) -> list[Stage]:
    n, c_in, t_in, h_in, w_in = input_shape
    t, d_h, d_w = spec.kernel_size
    s_t, s_h, s_w = spec.stride
    p_t, p_h, p_w = spec.padding
    t_out = _out_size(t_in, t, s_t, p_t)
    h_out = _out_size(h_in, d_h, s_h, p_h)
    w_out = _out_size(w_in, d_w, s_w, p_w)
    c_out = spec.out_channels
    bias = c_out if spec.bias else 0
    bias_text = f" + {c_out} bias" if spec.bias else ""
    out_shape = (n, c_out, t_out, h_out, w_out)
    out_values = math.prod(out_shape)

    if spec.kind == "3d":
        weights = t * d_h * d_w * c_in * c_out
        per_output = c_in * t * d_h * d_w
        return [Stage(
            "conv3d", f"Conv3d {_shape(spec.kernel_size)}, {c_in} -> {c_out}",
            out_shape, weights + bias, out_values * per_output, out_values * itemsize,
            f"t·d_h·d_w·C_in·C_out = {t}·{d_h}·{d_w}·{c_in}·{c_out} = {_fmt(weights)}{bias_text}",
            f"{_fmt(out_values)} outputs {_shape(out_shape)} × C_in·t·d_h·d_w = "
            f"{c_in}·{t}·{d_h}·{d_w} = {_fmt(per_output)} each = {_fmt(out_values * per_output)}",
        )]

    m = spec.intermediate_channels
    assert m is not None  # set by ConvSpec for the (2+1)D kinds
    naive = spec.kind == "naive"
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
        stages.append(_rearrangement("frames -> batch", (n * t_in, c_in, h_in, w_in),
                                     n > 1 and t_in > 1 and c_in > 1, itemsize))
    conv2 = "Conv2d" if naive else "Conv3d"
    spatial_kernel = (d_h, d_w) if naive else (1, d_h, d_w)
    stages.append(Stage(
        "spatial", f"{conv2} {_shape(spatial_kernel)}, {c_in} -> M={m}", middle_shape,
        spatial_w, middle_values * spatial_per, middle_values * itemsize,
        f"d_h·d_w·C_in·M = {d_h}·{d_w}·{c_in}·{m} = {_fmt(spatial_w)}",
        f"{_fmt(middle_values)} outputs {_shape(middle_shape)} × C_in·d_h·d_w = "
        f"{c_in}·{d_h}·{d_w} = {_fmt(spatial_per)} each = {_fmt(middle_values * spatial_per)}",
    ))
    if spec.middle_bn_relu:
        bn = "BatchNorm2d" if naive else "BatchNorm3d"
        stages.append(Stage("bn", f"{bn}({m})", middle_shape, 2 * m, 0,
                            middle_values * itemsize,
                            f"scale and shift per channel: 2·M = 2·{m} = {_fmt(2 * m)}"))
        # ReLU(inplace=True) overwrites the BN output: no new tensor.
        stages.append(Stage("relu", "ReLU (in place)", middle_shape, 0, 0, 0))
    if naive:
        # (N*T, M, H', W') -> (N*H'*W', M, T): merging N with the pixels is a view only
        # when N is 1, there is one pixel, or T*M is 1.
        stages.append(_rearrangement("pixels -> batch", (n * h_out * w_out, m, t_in),
                                     n > 1 and h_out * w_out > 1 and t_in * m > 1, itemsize))
        temporal_shape: Shape = (n * h_out * w_out, c_out, t_out)
    else:
        temporal_shape = out_shape
    conv1 = "Conv1d" if naive else "Conv3d"
    temporal_kernel = (t,) if naive else (t, 1, 1)
    temporal_kernel_text = f"({t})" if naive else _shape(temporal_kernel)
    stages.append(Stage(
        "temporal", f"{conv1} {temporal_kernel_text}, M={m} -> {c_out}", temporal_shape,
        temporal_w + bias, out_values * temporal_per, out_values * itemsize,
        f"t·M·C_out = {t}·{m}·{c_out} = {_fmt(temporal_w)}{bias_text}",
        f"{_fmt(out_values)} outputs {_shape(out_shape)} × M·t = {m}·{t} = "
        f"{_fmt(temporal_per)} each = {_fmt(out_values * temporal_per)}",
    ))
    if naive:
        # .contiguous() copies unless (N, C_out, T', H', W') already is the memory order
        # (N, H', W', C_out, T') of the Conv1d output — size-1 axes do not count.
        sizes = {"n": n, "c": c_out, "t": t_out, "h": h_out, "w": w_out}
        logical = [a for a in "ncthw" if sizes[a] > 1]
        in_memory = [a for a in "nhwct" if sizes[a] > 1]
        stages.append(_rearrangement("back to clip", out_shape, logical != in_memory, itemsize,
                                     "permute + contiguous"))
    return stages


def _rearrangement(
    name: str, shape: Shape, copies: bool, itemsize: int, how: str = "permute + reshape"
) -> Stage:
    """A reshape step of the naive layer: a copy writes a new tensor, a view nothing."""
    if copies:
        return Stage(name, f"{how} (a copy)", shape, 0, 0, math.prod(shape) * itemsize)
    return Stage(name, f"{how} (a view: no copy)", shape, 0, 0, 0)


def _header(spec: ConvSpec) -> str:
    if spec.kind == "3d":
        return (f"{METHOD_LABELS['3d']} {spec.in_channels} -> {spec.out_channels}, "
                f"kernel {_shape(spec.kernel_size)}")
    bn = "with" if spec.middle_bn_relu else "without"
    return (f"{METHOD_LABELS[spec.kind]} {spec.in_channels} -> M={spec.intermediate_channels} -> "
            f"{spec.out_channels}, kernel {_shape(spec.kernel_size)}, {bn} middle BN + ReLU")


# --------------------------------------------------------------------------
# Results with a rich display
# --------------------------------------------------------------------------


class _Explained:
    """Shared display: the explanation as text, markdown and HTML."""

    explanation: str

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
class ParameterCount(_Explained):
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
            [s.name, s.operation, _fmt(s.params)] for s in self.stages if s.params
        ] + [["total", "", _fmt(self.total)]]


@dataclass(frozen=True, repr=False)
class ComputeCount(_Explained):
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
            [s.name, s.operation, _fmt(s.macs)] for s in self.stages if s.macs
        ] + [["total MACs", "", _fmt(self.macs)], ["FLOPs = 2·MACs", "", _fmt(self.flops)]]


@dataclass(frozen=True, repr=False)
class MemoryCount(_Explained):
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
            [s.name, _shape(s.output_shape), _fmt(s.output_bytes)] for s in self.stages
        ] + [["total", "", _fmt(self.total_bytes)]]


@dataclass(frozen=True, repr=False)
class ShapeTrace(_Explained):
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
            ["input", "", _shape(self.input_shape)]
        ] + [[s.name, s.operation, _shape(s.output_shape)] for s in self.stages]


@dataclass(frozen=True, repr=False)
class LayerCost(_Explained):
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
    def kind(self) -> str:
        return self.spec.kind

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
            [s.name, s.operation, _shape(s.output_shape), _fmt(s.params), _fmt(s.macs),
             _fmt(s.output_bytes)]
            for s in self.parameters.stages
        ] + [["total", "", _shape(self.output_shape), _fmt(self.params), _fmt(self.macs),
              _fmt(self.total_bytes)]]


# --------------------------------------------------------------------------
# One layer: the public counting functions
# --------------------------------------------------------------------------


def _dtype_size(dtype: torch.dtype) -> int:
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype such as torch.float32, got {dtype!r}")
    return dtype.itemsize


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.2f} MiB"


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
    spec = spec_of(layer)
    # The parameter count does not depend on the input; any valid size will do.
    k = spec.kernel_size
    stages = tuple(_stages(spec, (1, spec.in_channels, *k), 1))
    total = sum(s.params for s in stages)
    bias = spec.out_channels if spec.bias else 0
    bn = sum(s.params for s in stages if s.name == "bn")
    weights = total - bias - bn
    lines = [_header(spec)]
    for s in stages:
        if s.formula_params:
            lines.append(f"  {s.name:<15} {s.formula_params}")
    if spec.kind == "3d":
        lines.append(f"  total = {_fmt(total)} parameters")
    else:
        parts = " + ".join(_fmt(s.params) for s in stages if s.params)
        lines.append(f"  total = {parts} = {_fmt(total)} parameters")
        full = math.prod(k) * spec.in_channels * spec.out_channels
        lines.append(f"  conv weights alone = {_fmt(weights)}; the 3D conv has "
                     f"t·d_h·d_w·C_in·C_out = {_fmt(full)}")
    return ParameterCount(spec.kind, total, weights, stages, "\n".join(lines))


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
    spec = spec_of(layer)
    shape = _checked_input(spec, input_shape)
    stages = tuple(_stages(spec, shape, 1))
    macs = sum(s.macs for s in stages)
    lines = [_header(spec) + f", input {_shape(shape)}"]
    lines += [f"  {s.name:<15} {s.formula_macs}" for s in stages if s.formula_macs]
    if spec.kind != "3d":
        lines.append("  total = " + " + ".join(_fmt(s.macs) for s in stages if s.macs)
                     + f" = {_fmt(macs)} MACs")
    lines.append(f"  FLOPs = 2 × MACs = 2 × {_fmt(macs)} = {_fmt(2 * macs)}"
                 "  (bias, BN and ReLU not counted)")
    return ComputeCount(spec.kind, shape, macs, 2 * macs, stages, "\n".join(lines))


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
    spec = spec_of(layer)
    shape = _checked_input(spec, input_shape)
    itemsize = _dtype_size(dtype)
    stages = tuple(_stages(spec, shape, itemsize))
    input_bytes = math.prod(shape) * itemsize
    spatial = [s for s in stages if s.name == "spatial"]
    middle_bytes = spatial[0].output_bytes if spatial else 0
    output_bytes = math.prod(stages[-1].output_shape) * itemsize
    total = sum(s.output_bytes for s in stages)
    ratio = middle_bytes / input_bytes
    dtype_name = str(dtype).replace("torch.", "")
    lines = [_header(spec) + f", {dtype_name} ({itemsize} bytes per value)"]
    lines.append(f"  {'input':<15} {_shape(shape)} = {_fmt(math.prod(shape))} values = "
                 f"{_fmt(input_bytes)} bytes ({_mib(input_bytes)})")
    for s in stages:
        values = math.prod(s.output_shape)
        if s.output_bytes:
            lines.append(f"  {s.name:<15} {_shape(s.output_shape)} = {_fmt(values)} values × "
                         f"{itemsize} = {_fmt(s.output_bytes)} bytes ({_mib(s.output_bytes)})")
        else:
            lines.append(f"  {s.name:<15} writes no new tensor (in place)")
    if middle_bytes:
        m, c_in = spec.intermediate_channels, spec.in_channels
        lines.append(f"  middle / input = {_fmt(middle_bytes)} / {_fmt(input_bytes)} = "
                     f"{ratio:.3g}× (M / C_in = {m} / {c_in} = {m / c_in:.3g} when H', W' = H, W)")
    lines.append(f"  total written = {_fmt(total)} bytes ({_mib(total)})")
    return MemoryCount(spec.kind, shape, dtype_name, input_bytes, middle_bytes, output_bytes,
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
    spec = spec_of(layer)
    shape = _checked_input(spec, input_shape)
    stages = tuple(_stages(spec, shape, 1))
    out = stages[-1].output_shape
    lines = [_header(spec) + f", input {_shape(shape)}"]
    for axis, size, k, s, p, o in zip("THW", shape[2:], spec.kernel_size, spec.stride,
                                      spec.padding, out[2:], strict=True):
        lines.append(f"  {axis}' = floor(({size} + 2·{p} - {k}) / {s}) + 1 = {o}")
    lines += [f"  {s.name:<15} {s.operation:<34} -> {_shape(s.output_shape)}" for s in stages]
    return ShapeTrace(spec.kind, shape, out, stages, "\n".join(lines))


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
    spec = spec_of(layer)
    parts = (count_parameters(spec), count_macs(spec, input_shape),
             activation_memory(spec, input_shape, dtype), stage_shapes(spec, input_shape))
    titles = ("Parameters", "Compute", "Activation memory", "Shapes")
    text = "\n\n".join(f"{t}\n{p.explanation}" for t, p in zip(titles, parts, strict=True))
    return LayerCost(spec, *parts, explanation=text)


# --------------------------------------------------------------------------
# A stack of layers: receptive field
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceptiveFieldRow:
    """One layer of a stack: its kernel, stride, and the field ``size`` after it."""

    name: str
    kernel: Triple
    stride: Triple
    size: Triple
    jump: Triple


@dataclass(frozen=True, repr=False)
class ReceptiveField(_Explained):
    """How many input frames and pixels one output value of a stack sees.

    Fields: ``temporal``, ``height``, ``width`` (the field, in input frames and
    pixels); ``jump`` (input steps between neighbouring outputs, the product of
    strides, per axis); ``rows`` (one `ReceptiveFieldRow` per layer).
    """

    temporal: int
    height: int
    width: int
    jump: Triple
    rows: tuple[ReceptiveFieldRow, ...]
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return (f"ReceptiveField(temporal={self.temporal}, height={self.height}, "
                f"width={self.width}, jump={self.jump})")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["layer", "kernel", "stride", "field (T, H, W)", "jump"], [
            [r.name, _shape(r.kernel), _shape(r.stride), _shape(r.size), _shape(r.jump)]
            for r in self.rows
        ]


_PASS_THROUGH = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.ReLU, nn.Identity,
                 nn.Dropout, nn.GELU, nn.SiLU)


def _kernel_stride(layer: object, name: str) -> tuple[Triple, Triple] | None:
    """(effective kernel, stride) of one layer, or None when it keeps the field."""
    if isinstance(layer, ConvSpec):
        return layer.kernel_size, layer.stride  # type: ignore[return-value]
    if isinstance(layer, (NaiveConv2Plus1d, SpatioTemporalConv)):
        # Spatial then temporal conv: together they see exactly the 3D kernel's block.
        return layer.kernel_size, layer.stride
    if isinstance(layer, nn.Conv3d):
        k, d = tuple(layer.kernel_size), tuple(layer.dilation)
        # A dilated kernel spans d·(k-1)+1 inputs.
        return tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True)), tuple(layer.stride)
    if isinstance(layer, (nn.MaxPool3d, nn.AvgPool3d)):
        k = as_triple(layer.kernel_size, "kernel_size", minimum=1)
        stride = layer.stride if layer.stride is not None else k
        s = as_triple(stride, "stride", minimum=1)
        dil = getattr(layer, "dilation", 1)
        d = as_triple(dil, "dilation", minimum=1)
        return tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True)), s
    if isinstance(layer, _PASS_THROUGH):
        return None
    raise TypeError(
        f"receptive_field follows a chain of Conv3d / (2+1)D layers / 3D pools; got "
        f"{type(layer).__name__} at {name!r}. For a residual network pass its main path "
        "(the shortcut never widens the field), e.g. [stem, block.conv1, block.conv2, ...]"
    )


def _flatten(layers: Iterable[object], prefix: str = "") -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    named = layers.named_children() if isinstance(layers, nn.Module) else enumerate(layers)
    for key, layer in named:
        name = f"{prefix}{key}"
        # A plain Sequential is a chain: walk into it. Our (2+1)D layer is a
        # Sequential too, but it is one conv as far as the field goes.
        if type(layer) is nn.Sequential:
            items += _flatten(layer, name + ".")
        else:
            items.append((name, layer))
    return items


def receptive_field(layers: nn.Module | Iterable[nn.Module | ConvSpec]) -> ReceptiveField:
    """Receptive field (frames × pixels) of a chain of convolutions and pools.

    Layer by layer, with ``r`` the field and ``j`` the jump (the input distance
    between neighbouring outputs), per axis::

        r_new = r + (k - 1) * j        j_new = j * s

    A (2+1)D layer has the field of the t × d × d 3D conv it replaces: its
    spatial conv adds d - 1 pixels, its temporal conv t - 1 frames.

    Args:
        layers: an `nn.Sequential` or a list of layers: `nn.Conv3d` (dilation
            allowed), `NaiveConv2Plus1d`, `SpatioTemporalConv`, `ConvSpec`,
            `nn.MaxPool3d` / `nn.AvgPool3d`; BatchNorm, ReLU, Identity and
            Dropout pass through; nested plain `nn.Sequential` are walked.

    Returns:
        `ReceptiveField`.

    Shape:
        Fields are counted in input frames (T) and pixels (H, W) of an
        (N, C, T, H, W) clip.

    Example::

        >>> receptive_field([ConvSpec("2plus1d", 3, 8, 3)] * 2).temporal
        5
    """
    field_: list[int] = [1, 1, 1]
    jump: list[int] = [1, 1, 1]
    rows: list[ReceptiveFieldRow] = []
    lines = ["per axis: r_new = r + (k - 1)·j,  j_new = j·s   (start r = 1, j = 1)"]
    for name, layer in _flatten(layers):
        ks = _kernel_stride(layer, name)
        if ks is None:
            continue
        k, s = ks
        before = tuple(field_)
        steps = []
        for axis in range(3):
            field_[axis] += (k[axis] - 1) * jump[axis]
            steps.append(f"{before[axis]} + ({k[axis]} - 1)·{jump[axis]} = {field_[axis]}")
            jump[axis] *= s[axis]
        rows.append(ReceptiveFieldRow(name, tuple(k), tuple(s), tuple(field_), tuple(jump)))
        lines.append(f"  {name:<10} T: {steps[0]};  H: {steps[1]};  W: {steps[2]}")
    if not rows:
        raise ValueError("receptive_field needs at least one conv or pool layer, got none")
    lines.append(f"  field = {field_[0]} frames × {field_[1]} × {field_[2]} pixels")
    return ReceptiveField(field_[0], field_[1], field_[2], tuple(jump), tuple(rows),
                          "\n".join(lines))


# --------------------------------------------------------------------------
# A whole network: one forward pass with hooks
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleRow:
    """One call of a leaf module during the forward pass.

    ``kind`` is the class name; ``macs`` counts Conv1d/2d/3d and Linear only
    (0 for everything else); ``params`` are the module's own parameters,
    counted at its first call only, so the rows add up to the model's total
    even when a module is called twice.
    """

    name: str
    kind: str
    output_shape: Shape
    params: int
    macs: int


@dataclass(frozen=True, repr=False)
class NetworkSummary(_Explained):
    """Per-leaf-module rows and totals of one forward pass.

    Fields: ``input_shape``; ``rows`` (`ModuleRow`); ``params`` (all learnable
    parameters of the model); ``macs`` (conv + linear); ``flops`` = 2·macs.
    ``macs`` is what torchvision publishes as "GFLOPS" (×1e9).
    """

    input_shape: Shape
    rows: tuple[ModuleRow, ...]
    params: int
    macs: int
    flops: int
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return (f"NetworkSummary(input_shape={self.input_shape}, rows={len(self.rows)}, "
                f"params={self.params:,}, macs={self.macs:,}, flops={self.flops:,})")

    def as_records(self) -> list[dict]:
        """Rows as dicts (``pandas.DataFrame(summary.as_records())`` makes a table)."""
        return [
            {"name": r.name, "kind": r.kind, "output_shape": r.output_shape,
             "params": r.params, "macs": r.macs}
            for r in self.rows
        ]

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["module", "kind", "output shape", "params", "MACs"], [
            [r.name, r.kind, _shape(r.output_shape), _fmt(r.params), _fmt(r.macs)]
            for r in self.rows
        ] + [["total", "", "", _fmt(self.params), _fmt(self.macs)]]


def _leaf_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # Each output value sums C_in / groups × kernel-volume products.
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def _first_tensor(output: object) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def summarize_network(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    device: str | torch.device = "meta",
    dtype: torch.dtype = torch.float32,
) -> NetworkSummary:
    """Per-layer table of a network: output shapes, parameters and MACs.

    Runs one forward pass with a hook on every leaf module (a module without
    children). MACs are counted for Conv1d/2d/3d (``output values ×
    C_in/groups × kernel volume``) and Linear (``output values ×
    in_features``); bias, BatchNorm, ReLU and pooling rows show 0, like
    torchvision's "GFLOPS" (which are these MACs) and `FlopCounterMode` (whose
    FLOPs are 2× these MACs).

    Args:
        model: any `nn.Module` taking one tensor.
        input_shape: shape of that tensor, e.g. (1, 3, 16, 112, 112).
        device: where to run. ``"meta"`` (default) runs on shapes only —
            instant and without memory — on a copy of the model, so the
            model's own weights are untouched. Give a real device to run the
            model as it is (e.g. if a layer does not support meta tensors).
            Either way the pass runs in eval mode (BatchNorm statistics are
            not updated) and the model's train/eval modes are restored.
        dtype: dtype of the input tensor. Default: ``torch.float32``.

    Returns:
        `NetworkSummary`.

    Shape:
        - Input: ``input_shape``, (N, C, T, H, W) for video models.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summarize_network expects an nn.Module, got {type(model).__name__}")
    shape = tuple(check_int(s, "input_shape entries", minimum=1) for s in input_shape)
    device = torch.device(device)
    if device.type == "meta":
        tensors = itertools.chain(model.parameters(), model.buffers())
        if any(not t.is_meta for t in tensors):
            # A meta copy: shapes only, and the caller's weights stay as they are.
            model = copy.deepcopy(model).to("meta")
    # Eval mode: BatchNorm must not update running statistics (a side effect on the
    # caller's model) nor refuse a batch of one; the shapes are the same either way.
    modes = {module: module.training for module in model.modules()}
    model.eval()
    rows: list[ModuleRow] = []
    seen: set[int] = set()
    names = {module: name for name, module in model.named_modules()}

    def hook(module: nn.Module, _inputs: object, output: object) -> None:
        tensor = _first_tensor(output)
        out_shape = tuple(tensor.shape) if tensor is not None else ()
        first_call = id(module) not in seen
        seen.add(id(module))
        params = sum(p.numel() for p in module.parameters()) if first_call else 0
        macs = _leaf_macs(module, tensor) if tensor is not None else 0
        rows.append(ModuleRow(names[module], type(module).__name__, out_shape, params, macs))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(torch.zeros(shape, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    total_params = sum(p.numel() for p in model.parameters())
    row_params = sum(r.params for r in rows)
    if row_params != total_params:
        # Parameters held by non-leaf modules, or by leaves the forward pass never called.
        rows.append(ModuleRow("(other parameters)", "", (), total_params - row_params, 0))
    macs = sum(r.macs for r in rows)
    by_kind: dict[str, int] = {}
    for r in rows:
        if r.macs:
            by_kind[r.kind] = by_kind.get(r.kind, 0) + r.macs
    lines = [f"{type(model).__name__} on input {_shape(shape)}: {len(rows)} leaf-module calls"]
    lines.append(f"  parameters = {_fmt(total_params)}")
    lines.append("  MACs = " + " + ".join(f"{_fmt(v)} ({k})" for k, v in by_kind.items())
                 + f" = {_fmt(macs)} ({macs / 1e9:.3f} G)")
    lines.append(f"  FLOPs = 2 × MACs = {_fmt(2 * macs)}  (BN, ReLU, pooling, bias not counted)")
    return NetworkSummary(shape, tuple(rows), total_params, macs, 2 * macs, "\n".join(lines))


# --------------------------------------------------------------------------
# M in a whole network: the paper's convention against torchvision's
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class IntermediateChannelsRow:
    """One (2+1)D conv found in every compared network.

    ``m`` and ``weights`` map each network's label to its M and its conv
    weights ``d_h·d_w·C_in·M + t·M·C_out``; ``weights_3d`` is what the full
    3D conv would have, ``t·d_h·d_w·C_in·C_out``.
    """

    name: str
    in_channels: int
    out_channels: int
    kernel_size: Triple
    m: dict[str, int]
    weights: dict[str, int]
    weights_3d: int


@dataclass(frozen=True, repr=False)
class IntermediateChannelsTable(_Explained):
    """M and conv weights of every (2+1)D conv, network by network.

    Fields: ``labels`` (the networks, in order); ``rows``
    (`IntermediateChannelsRow`, one per conv name present in all networks);
    ``total_weights`` (label -> sum of conv weights over the rows);
    ``total_weights_3d``; ``differing`` (names of the rows whose M differs).
    """

    labels: tuple[str, ...]
    rows: tuple[IntermediateChannelsRow, ...]
    total_weights: dict[str, int]
    total_weights_3d: int
    differing: tuple[str, ...]
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return (f"IntermediateChannelsTable(labels={self.labels}, rows={len(self.rows)}, "
                f"differing={self.differing})")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        header = ["conv", "C_in -> C_out"] + [f"M {lab}" for lab in self.labels]
        header += [f"weights {lab}" for lab in self.labels] + ["weights 3D"]
        rows = [
            [r.name, f"{r.in_channels} -> {r.out_channels}"]
            + [str(r.m[lab]) for lab in self.labels]
            + [_fmt(r.weights[lab]) for lab in self.labels] + [_fmt(r.weights_3d)]
            for r in self.rows
        ]
        rows.append(["total", ""] + [""] * len(self.labels)
                    + [_fmt(self.total_weights[lab]) for lab in self.labels]
                    + [_fmt(self.total_weights_3d)])
        return header, rows


def intermediate_channels_table(
    networks: Mapping[str, nn.Module], *, skip: Sequence[str] = ()
) -> IntermediateChannelsTable:
    """Compare M and the conv weights of the (2+1)D convs of several networks.

    Pairs the `SpatioTemporalConv` modules of the networks by their names
    (e.g. ``layer2.0.conv2.0``), so two variants of one architecture — R(2+1)D-18
    with torchvision's M (once per block) and with the paper's (per conv) —
    line up conv by conv. Build them on the meta device to spend no memory.

    Args:
        networks: label -> network, e.g. ``{"torchvision": r2plus1d_18(),
            "paper": r2plus1d_18(convention="paper")}``.
        skip: name prefixes to leave out (e.g. ``("stem",)``).

    Returns:
        `IntermediateChannelsTable`.

    Shape:
        Not applicable: reads the convs' constructor arguments only.
    """
    if len(networks) < 1:
        raise ValueError("intermediate_channels_table needs at least one network, got none")
    found: dict[str, dict[str, SpatioTemporalConv | NaiveConv2Plus1d]] = {}
    for label, net in networks.items():
        if not isinstance(net, nn.Module):
            raise TypeError(f"networks[{label!r}] must be an nn.Module, got {type(net).__name__}")
        found[label] = {
            name: m for name, m in net.named_modules()
            if isinstance(m, (SpatioTemporalConv, NaiveConv2Plus1d))
            and not any(name.startswith(p) for p in skip)
        }
    labels = tuple(networks)
    names = [n for n in found[labels[0]] if all(n in found[lab] for lab in labels)]
    if not names:
        raise ValueError(
            "no (2+1)D conv (SpatioTemporalConv / NaiveConv2Plus1d) has the same name in all "
            f"networks {list(labels)}; compare variants of one architecture"
        )
    rows = []
    for name in names:
        first = found[labels[0]][name]
        t, d_h, d_w = first.kernel_size
        c_in, c_out = first.in_channels, first.out_channels
        ms = {lab: found[lab][name].intermediate_channels for lab in labels}
        rows.append(IntermediateChannelsRow(
            name, c_in, c_out, first.kernel_size, ms,
            {lab: d_h * d_w * c_in * m + t * m * c_out for lab, m in ms.items()},
            t * d_h * d_w * c_in * c_out,
        ))
    totals = {lab: sum(r.weights[lab] for r in rows) for lab in labels}
    total_3d = sum(r.weights_3d for r in rows)
    differing = tuple(r.name for r in rows if len(set(r.m.values())) > 1)
    lines = [f"{len(rows)} (2+1)D convs compared: " + ", ".join(labels)]
    for r in rows:
        if r.name in differing:
            t, d_h, d_w = r.kernel_size
            parts = [f"{lab}: M = {r.m[lab]} -> {d_h * d_w}·{r.in_channels}·{r.m[lab]} + "
                     f"{t}·{r.m[lab]}·{r.out_channels} = {_fmt(r.weights[lab])}"
                     for lab in labels]
            lines.append(f"  {r.name} ({r.in_channels} -> {r.out_channels}): "
                         + ";  ".join(parts) + f";  3D: {_fmt(r.weights_3d)}")
    if not differing:
        lines.append("  every conv has the same M in all networks")
    for lab in labels:
        lines.append(f"  total conv weights {lab}: {_fmt(totals[lab])} "
                     f"({totals[lab] / total_3d:.2%} of the 3D convs' {_fmt(total_3d)})")
    return IntermediateChannelsTable(labels, tuple(rows), totals, total_3d, differing,
                                     "\n".join(lines))


# --------------------------------------------------------------------------
# 3D against (2+1)D, across sizes: numbers and a figure
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


# Figures moved to r21d_edu.viz, so that `import r21d_edu` needs no matplotlib; the old
# import path keeps working, with a warning, and imports viz only when it is used.
_MOVED_TO_VIZ = {"cost_sweep_figure": "r21d_edu.viz.costs"}


def __getattr__(name: str) -> object:
    if name in _MOVED_TO_VIZ:
        import importlib
        import warnings

        warnings.warn(f"r21d_edu.counting.{name} moved to r21d_edu.viz.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED_TO_VIZ[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
