"""A stack of layers and a whole network: receptive field, a per-module summary from one
forward pass with hooks, and M conv by conv under the paper's and torchvision's conventions.

Part of `r21d_edu.counting`; import the public names from there.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .._checks import (
    Triple,
    as_triple,
    check_dtype,
    check_fits_in_memory,
    check_shape,
    check_torch_device,
)
from ..factorized import FactorizedConv, FeatureGate, S3DGConv, TemporalShift, TemporalShiftConv
from ..layers import NaiveConv2Plus1d, SpatioTemporalConv
from .spec import (
    ConvSpec,
    Explained,
    Shape,
    fmt,
    shape_text,
)

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
class ReceptiveField(Explained):
    """How many input frames and pixels one output value of a stack sees.

    Fields: ``temporal``, ``height``, ``width`` (the field, in input frames and
    pixels); ``jump`` (input steps between neighbouring outputs, the product of
    strides, per axis); ``rows`` (one `ReceptiveFieldRow` per layer);
    ``global_context`` (the names of layers that also read a summary of the whole
    clip, such as S3D-G's feature gate: through them every output depends on every
    input, and the field above is that of the conv path alone; empty for a chain of
    plain convs).
    """

    temporal: int
    height: int
    width: int
    jump: Triple
    rows: tuple[ReceptiveFieldRow, ...]
    global_context: tuple[str, ...] = ()
    explanation: str = field(default="", compare=False)

    def __repr__(self) -> str:
        extra = f", global_context={self.global_context}" if self.global_context else ""
        return (f"ReceptiveField(temporal={self.temporal}, height={self.height}, "
                f"width={self.width}, jump={self.jump}{extra})")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        return ["layer", "kernel", "stride", "field (T, H, W)", "jump"], [
            [r.name, shape_text(r.kernel), shape_text(r.stride), shape_text(r.size),
             shape_text(r.jump)]
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
    if isinstance(layer, TemporalShiftConv):
        # The shift reads the window's centre frame and its two neighbours (a 2D conv has
        # no temporal extent), whatever t is: 3 frames, or 1 when no channel is shifted.
        return (_shift_extent(layer.shift), *layer.kernel_size[1:]), layer.stride
    if isinstance(layer, FactorizedConv):
        # Every other member sees the t x d_h x d_w block of the 3D conv it replaces:
        # P3D-B and -C only a cross or a cross plus a block inside it, whose extent is
        # still the block's (the field counts extents).
        return layer.kernel_size, layer.stride
    if isinstance(layer, TemporalShift):
        return (_shift_extent(layer), 1, 1), (layer.stride, 1, 1)
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
    if isinstance(layer, (*_PASS_THROUGH, FeatureGate)):
        return None
    raise TypeError(
        f"receptive_field follows a chain of Conv3d / (2+1)D layers / the factorized layers "
        f"of r21d_edu.factorized / 3D pools; got "
        f"{type(layer).__name__} at {name!r}. Residual blocks (conv1 … and downsample), "
        "stems, stages and a global pool followed by a classifier are walked; for another "
        "structure pass its main path, e.g. [stem, block.conv1, block.conv2, ...]"
    )


def _shift_extent(shift: TemporalShift) -> int:
    """Frames one output frame of TSM's shift reads: the centre and one on each side."""
    return 3 if shift.fold else 1


def _reads_whole_clip(layer: object) -> bool:
    """Whether a layer mixes in a summary of its whole input (S3D-G's pooled gate)."""
    return isinstance(layer, (S3DGConv, FeatureGate))


#: A network's head: after a global pool every output reads the whole clip, and the
#: flatten and classifier that follow it add nothing to the field.
_GLOBAL_POOLS = (nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool3d)
_HEAD = (nn.Flatten, nn.Linear, *_PASS_THROUGH)


#: Layers that are one conv as far as the field goes, though they hold several modules.
_ONE_LAYER = (NaiveConv2Plus1d, SpatioTemporalConv, FactorizedConv, TemporalShiftConv)


def _is_residual_block(layer: object) -> bool:
    """A residual block by torchvision's naming: ``conv1`` … on the main path, ``downsample``
    on the shortcut (our basic blocks, torchvision's basic and bottleneck blocks)."""
    return isinstance(layer, nn.Module) and "conv1" in dict(layer.named_children())


def _flatten(layers: Iterable[object]) -> list[tuple[str, object]]:
    if not isinstance(layers, (nn.Module, Iterable)) or isinstance(layers, (str, bytes)):
        raise TypeError(f"receptive_field expects an nn.Sequential or a list of layers, got "
                        f"{layers!r} ({type(layers).__name__})")
    named = layers.named_children() if isinstance(layers, nn.Module) else enumerate(layers)
    return _walk(named, "")


def _walk(named: Iterable[tuple[object, object]], prefix: str) -> list[tuple[str, object]]:
    """(name, layer) along the path the field follows, in order."""
    items: list[tuple[str, object]] = []
    for key, layer in named:
        name = f"{prefix}{key}"
        if isinstance(layer, _ONE_LAYER):
            items.append((name, layer))
        elif _is_residual_block(layer):
            # The main path, in order. The shortcut (identity, or a 1x1x1 conv with the
            # block's stride) sees less than the main path, so it never widens the field.
            items += _walk(((k, c) for k, c in layer.named_children() if k != "downsample"),
                           name + ".")
        elif isinstance(layer, nn.Sequential):
            # A chain (a stem, a stage of blocks, a plain Sequential): walk into it.
            items += _walk(layer.named_children(), name + ".")
        else:
            items.append((name, layer))
    return items


def receptive_field(layers: nn.Module | Iterable[nn.Module | ConvSpec]) -> ReceptiveField:
    """Receptive field (frames × pixels) of a chain of convolutions and pools.

    Layer by layer, with ``r`` the field and ``j`` the jump (the input distance
    between neighbouring outputs), per axis::

        r_new = r + (k - 1) * j        j_new = j * s

    A (2+1)D layer has the field of the t × d × d 3D conv it replaces: its
    spatial conv adds d - 1 pixels, its temporal conv t - 1 frames. So do the
    factorized layers of `r21d_edu.factorized` (P3D-A/B/C, S3D, S3D-G, ip-/ir-CSN,
    depthwise (2+1)D; P3D-B sees only the centre cross of that block, whose
    extent is the block's), except TSM: its shift reads 3 frames (the centre one
    and one on each side) whatever t is, and its conv is 2D, so it adds 2 frames.
    S3D-G's gate averages the whole clip: the layer's name goes into
    ``global_context`` (every output depends on every input through the gate),
    and the field counts the conv path.

    Args:
        layers: an `nn.Sequential` or a list of layers: `nn.Conv3d` (dilation
            allowed), `NaiveConv2Plus1d`, `SpatioTemporalConv`, `ConvSpec`, the
            factorized layers (and `TemporalShift` or `FeatureGate` alone),
            `nn.MaxPool3d` / `nn.AvgPool3d`; BatchNorm, ReLU, Identity and
            Dropout pass through. Nested `nn.Sequential`s (stems, stages) are
            walked, and so is a whole video ResNet: a residual block
            (torchvision's naming, ``conv1`` … and ``downsample``) counts its main
            path, since the shortcut never sees more; a global pool
            (`nn.AdaptiveAvgPool3d`) ends the walk, goes into ``global_context``,
            and may be followed only by a flatten and a classifier.

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
    whole_clip: list[str] = []
    lines = ["per axis: r_new = r + (k - 1)·j,  j_new = j·s   (start r = 1, j = 1)"]
    pooled: str | None = None  # the global pool, once one is passed
    for name, layer in _flatten(layers):
        if pooled is not None:
            if not isinstance(layer, _HEAD):
                raise TypeError(f"receptive_field: after the global pool {pooled!r} only a "
                                f"flatten and a classifier can follow, got "
                                f"{type(layer).__name__} at {name!r}")
            continue
        if isinstance(layer, _GLOBAL_POOLS):
            pooled = name
            whole_clip.append(name)
            continue
        if _reads_whole_clip(layer):
            whole_clip.append(name)
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
    gates = [name for name in whole_clip if name != pooled]
    if gates:
        lines.append(f"  plus the whole clip through the gate of {', '.join(gates)} "
                     "(S3D-G's σ(W·pool(z) + b) averages every frame and pixel): the field "
                     "above is the conv path's")
    if pooled is not None:
        lines.append(f"  then {pooled} pools the whole clip: each of the network's outputs "
                     "reads every frame and pixel; the field above is that of one value "
                     "before the pool")
    return ReceptiveField(field_[0], field_[1], field_[2], tuple(jump), tuple(rows),
                          tuple(whole_clip), explanation="\n".join(lines))


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
class NetworkSummary(Explained):
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
            [r.name, r.kind, shape_text(r.output_shape), fmt(r.params), fmt(r.macs)]
            for r in self.rows
        ] + [["total", "", "", fmt(self.params), fmt(self.macs)]]


def _leaf_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # Each output value sums C_in / groups × kernel-volume products.
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, FeatureGate):  # S3D-G's gate: a C x C linear map per clip
        return module.macs(output.shape)
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
    shape = check_shape(input_shape)
    dtype = check_dtype(dtype)
    device = check_torch_device(device)
    if device.type == "cpu":
        # Known before the pass: the input alone; the activations come on top.
        check_fits_in_memory(
            math.prod(shape) * dtype.itemsize, f"an input of shape {shape} in {dtype}",
            "summarize on the meta device (the default: shapes only, no memory), or with a "
            "smaller input_shape")
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
    lines = [f"{type(model).__name__} on input {shape_text(shape)}: {len(rows)} leaf-module calls"]
    lines.append(f"  parameters = {fmt(total_params)}")
    lines.append("  MACs = " + " + ".join(f"{fmt(v)} ({k})" for k, v in by_kind.items())
                 + f" = {fmt(macs)} ({macs / 1e9:.3f} G)")
    lines.append(f"  FLOPs = 2 × MACs = {fmt(2 * macs)}  (BN, ReLU, pooling, bias not counted)")
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
class IntermediateChannelsTable(Explained):
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
            + [fmt(r.weights[lab]) for lab in self.labels] + [fmt(r.weights_3d)]
            for r in self.rows
        ]
        rows.append(["total", ""] + [""] * len(self.labels)
                    + [fmt(self.total_weights[lab]) for lab in self.labels]
                    + [fmt(self.total_weights_3d)])
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
    # One prefix given as a string means that prefix, not its letters.
    skip = (skip,) if isinstance(skip, str) else tuple(skip)
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
                     f"{t}·{r.m[lab]}·{r.out_channels} = {fmt(r.weights[lab])}"
                     for lab in labels]
            lines.append(f"  {r.name} ({r.in_channels} -> {r.out_channels}): "
                         + ";  ".join(parts) + f";  3D: {fmt(r.weights_3d)}")
    if not differing:
        lines.append("  every conv has the same M in all networks")
    for lab in labels:
        lines.append(f"  total conv weights {lab}: {fmt(totals[lab])} "
                     f"({totals[lab] / total_3d:.2%} of the 3D convs' {fmt(total_3d)})")
    return IntermediateChannelsTable(labels, tuple(rows), totals, total_3d, differing,
                                     "\n".join(lines))


# --------------------------------------------------------------------------
# 3D against (2+1)D, across sizes: numbers and a figure
