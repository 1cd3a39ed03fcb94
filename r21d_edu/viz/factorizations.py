"""Figures of the family of factorizations (tutorial 10): block diagrams and the cost plane.

`block_diagram(layer)` draws a layer's dataflow *from the module itself*: the layer is
rebuilt on the meta device (no weights, no compute), run once with a forward hook on
every leaf module, and each call becomes a box — S (1×d×d), T (t×1×1), DW (depthwise),
P (1×1×1), 3D, BN, ReLU, shift, gate, +, ⊙ — with its kernel shape and channel counts
read from that module, joined by the tensors that actually flow between them. So the
picture of P3D-B has two branches because P3D-B's forward has two, and a layer built
with ``middle_bn_relu=False`` shows no BN box because it has none. `layer_structure`
is the same description as data, for tests and for code.

`FamilyPlane` places every member of the family on the weights–MACs plane and, beside
it, on the weights–latency plane (an estimate from measured throughput), for the
family explorer; it is a live figure that only moves its points on an update.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import LogLocator, NullLocator
from torch import nn

from ..factorized import CentreTaps, FactorizedConv, FeatureGate, Sum, TemporalShift
from ._common import new_figure
from .style import METHOD_COLORS

__all__ = ["FAMILY_COLORS", "FAMILY_MARKERS", "Block", "FamilyPlane", "block_diagram",
           "family_legend", "family_plane_figure", "layer_structure"]

#: Fill colour of each kind of box: convs by what they mix, the rest light.
KIND_COLORS = {
    "S": "#9ecae1", "T": "#a1d99b", "DW": "#c7a0d8", "P": "#d9d9d9", "3D": "#fdd0a2",
    "BN": "#f7f7f7", "ReLU": "#fff7bc", "shift": "#fdae6b", "gate": "#fc9272",
    "+": "#ffffff", "⊙": "#ffffff", "taps": "#eeeeee", "other": "#eeeeee",
}

#: One colour per member of the family, the 3D and (2+1)D ones as in every other figure.
FAMILY_COLORS = {
    "3d": METHOD_COLORS["3d"], "2plus1d": METHOD_COLORS["2plus1d"],
    "p3d_a": "#0072B2", "p3d_b": "#3a8fd0", "p3d_c": "#7fb8e6",
    "s3d": "#D55E00", "s3d_g": "#f08a4b",
    "ip_csn": "#CC79A7", "ir_csn": "#8e3b6f",
    "dw_2plus1d": "#56B4E9", "x3d_stem": "#1b6f8f", "tsm": "#000000",
}
#: One marker per group, so members that coincide (P3D-A, P3D-C, S3D) stay apart.
FAMILY_MARKERS = {
    "3d": "*", "2plus1d": "*", "p3d_a": "o", "p3d_b": "o", "p3d_c": "o", "s3d": "s",
    "s3d_g": "s", "ip_csn": "^", "ir_csn": "^", "dw_2plus1d": "D", "x3d_stem": "D",
    "tsm": "v",
}


@dataclass(frozen=True)
class Block:
    """One box of a block diagram: one call of a leaf module of the layer.

    Fields: ``kind`` (S, T, DW, P, 3D, BN, ReLU, shift, gate, +, ⊙, taps, other),
    ``label`` (the box's text: kernel shape, channels, groups — read from the module),
    ``inputs`` (indices of the blocks it reads; -1 is the layer's input x),
    ``module`` (the module's name in the layer, e.g. ``"spatial"``), ``channels``
    (the channels it writes) and ``kernel`` (a conv's kernel size, else None).
    """

    kind: str
    label: str
    inputs: tuple[int, ...]
    module: str
    channels: int
    kernel: tuple[int, ...] | None = None


def _ghost(layer: nn.Module) -> nn.Module:
    """The layer's structure on the meta device: no weights copied, nothing computed."""
    if isinstance(layer, FactorizedConv):
        with torch.device("meta"):
            return type(layer)(**layer.config).eval()
    return copy.deepcopy(layer).to("meta").eval()


def _size(kernel: Sequence[int]) -> str:
    return "×".join(str(k) for k in kernel)


def _conv_block(conv: nn.Module) -> tuple[str, str]:
    kernel = tuple(conv.kernel_size)
    groups, c_in, c_out = conv.groups, conv.in_channels, conv.out_channels
    depthwise = groups > 1 and groups == c_in
    if len(kernel) == 3 and all(k == 1 for k in kernel):
        kind, name = "P", "P"
    elif len(kernel) == 3 and kernel[0] == 1:
        kind, name = "S", "S"
    elif len(kernel) == 3 and kernel[1:] == (1, 1):
        kind, name = "T", "T"
    elif len(kernel) == 3:
        kind, name = "3D", "3D"
    else:  # the naive layer's Conv2d / Conv1d on reshaped tensors
        kind, name = ("S", "S (2D)") if len(kernel) == 2 else ("T", "T (1D)")
    if depthwise:
        name = f"DW {name}" if name != "3D" else "DW 3D"
        kind = "DW"
    lines = [name, _size(kernel), f"{c_in}→{c_out}"]
    if groups > 1:
        lines.append(f"groups {groups}")
    stride = tuple(conv.stride)
    if any(s != 1 for s in stride):
        lines.append(f"stride {_size(stride)}")
    return kind, "\n".join(lines)


def layer_structure(layer: nn.Module) -> tuple[Block, ...]:
    """The dataflow of ``layer``, one `Block` per leaf-module call, in the order they run.

    The layer is rebuilt on the meta device and run once on a small (1, C_in, T, H, W)
    input with a forward hook on every leaf module; a block's ``inputs`` are the blocks
    that wrote the tensors it reads (-1: the layer's input). Pass-throughs are left
    out (`nn.Identity` where the middle BatchNorm + ReLU is off, centre taps that are
    the identity); S3D-G's gate becomes two blocks, the gate σ(W·pool(z) + b) and the
    product ⊙.

    Args:
        layer: any layer of the package taking (N, C, T, H, W) clips: a factorized
            layer, `SpatioTemporalConv`, `FullConv3d` / `nn.Conv3d`, ...

    Returns:
        A tuple of `Block`.

    Shape:
        Traces an input (1, C_in, T, H, W) with T, H, W two more than the kernel's.
    """
    if not isinstance(layer, nn.Module):
        raise TypeError(f"layer_structure needs a layer (an nn.Module taking (N, C, T, H, W) "
                        f"clips), got {type(layer).__name__}")
    c_in = getattr(layer, "in_channels", None)
    kernel = tuple(getattr(layer, "kernel_size", (3, 3, 3)))
    if not isinstance(c_in, int) or len(kernel) != 3:
        raise TypeError(f"layer_structure needs a layer with in_channels and a 3D kernel_size "
                        f"(a Conv3d-like layer), got {type(layer).__name__}")
    ghost = _ghost(layer)
    names = {module: name for name, module in ghost.named_modules()}
    blocks: list[Block] = []
    producer: dict[int, int] = {}
    alive: list[torch.Tensor] = []  # keeps every traced tensor, so no id() is reused

    def source(tensor: Any) -> int:
        if isinstance(tensor, torch.Tensor) and id(tensor) in producer:
            return producer[id(tensor)]
        return len(blocks) - 1  # made inside the module: read as the previous block's

    def add(block: Block, output: torch.Tensor) -> None:
        blocks.append(block)
        producer[id(output)] = len(blocks) - 1
        alive.append(output)

    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        if isinstance(module, nn.Identity) or (isinstance(module, CentreTaps)
                                               and module.is_identity):
            return  # nothing happens here: the tensor passes through
        reads = tuple(source(t) for t in inputs if isinstance(t, torch.Tensor))
        name = names.get(module, type(module).__name__) or type(layer).__name__
        channels = int(output.shape[1]) if isinstance(output, torch.Tensor) else 0
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            kind, label = _conv_block(module)
            add(Block(kind, label, reads, name, channels, tuple(module.kernel_size)), output)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            add(Block("BN", f"BN\n{module.num_features}", reads, name, channels), output)
        elif isinstance(module, nn.ReLU):
            add(Block("ReLU", "ReLU", reads, name, channels), output)
        elif isinstance(module, Sum):
            add(Block("+", "+", reads, name, channels), output)
        elif isinstance(module, TemporalShift):
            label = f"shift ±1 frame\n{module.fold} of {module.channels}\neach way"
            add(Block("shift", label, reads, name, channels), output)
        elif isinstance(module, FeatureGate):
            c = module.channels
            gate = Block("gate", f"gate\nσ(W·pool+b)\nW {c}×{c}", reads, name, c)
            blocks.append(gate)
            add(Block("⊙", "⊙", (*reads, len(blocks) - 1), name, channels), output)
        elif isinstance(module, CentreTaps):
            label = f"centre taps\nof {_size(module.kernel)}"
            add(Block("taps", label, reads, name, channels), output)
        else:
            add(Block("other", type(module).__name__, reads, name, channels), output)

    leaves = [m for m in ghost.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    size = tuple(k + 2 for k in kernel)
    x = torch.empty((1, c_in, *size), device="meta")
    producer[id(x)] = -1
    try:
        with torch.no_grad():
            out = ghost(x)
    finally:
        for handle in handles:
            handle.remove()
    last = producer.get(id(out), len(blocks) - 1)
    # The block that writes the output is the last: a layer's blocks run in order and the
    # output is what its last call returns (checked, so a diagram never ends mid-way).
    if last != len(blocks) - 1:
        raise RuntimeError(f"layer_structure: the output of {type(layer).__name__} was not "
                           "written by its last leaf module")
    return tuple(blocks)


def _layout(blocks: Sequence[Block]) -> list[tuple[int, int]]:
    """(column, row) per block: the column is the longest path from the input."""
    columns: list[int] = []
    for block in blocks:
        columns.append(1 + max((columns[i] if i >= 0 else 0) for i in block.inputs)
                       if block.inputs else 1)
    rows, used = [], {}
    for column in columns:
        rows.append(used.get(column, 0))
        used[column] = rows[-1] + 1
    return list(zip(columns, rows, strict=True))


def block_diagram(layer: nn.Module, title: str | None = None) -> Figure:
    """Draw a layer's dataflow from the module itself: one box per leaf-module call.

    Boxes (from `layer_structure`): S, T, DW, P and 3D convs with their kernel shape,
    channels in → out, groups and stride; BN with its channels; ReLU; TSM's shift with
    its fold; S3D-G's gate and the product ⊙; the sum + of two paths. Arrows follow
    the tensors the forward pass hands from module to module, from x to y.

    Args:
        layer: a layer taking (N, C, T, H, W) clips (any member of the family).
        title: default: the layer's label and formula (``P3D-B: y = S(x) + T(x)``).

    Returns:
        A matplotlib `Figure`.

    Shape:
        Not a tensor function (traces an input (1, C_in, T, H, W) on the meta device).
    """
    blocks = layer_structure(layer)
    places = _layout(blocks)
    out_x = max((c for c, _ in places), default=0) + 1
    w, h, dy = 0.84, 0.78, 1.0
    per_column = {c: sum(1 for k, _ in places if k == c) for c, _ in places}
    # Rows of a column are centred on the main line, branches above and below it.
    points = {-1: (0.0, 0.0), len(blocks): (float(out_x), 0.0)}
    for index, (column, row) in enumerate(places):
        points[index] = (float(column), (per_column[column] - 1) / 2 * dy - row * dy)

    def round_box(index: int) -> bool:
        return 0 <= index < len(blocks) and blocks[index].kind in ("+", "⊙")

    edges = [(i, j) for j, block in enumerate(blocks) for i in block.inputs]
    edges.append((len(blocks) - 1, len(blocks)))
    arrows, bottom = [], min(y for _, y in points.values()) - h / 2
    for i, j in edges:
        (x0, y0), (x1, y1) = points[i], points[j]
        skip = x1 - x0 > 1 and abs(y1 - y0) < 1e-9  # would run through the boxes between
        if skip:  # under them instead, on an arc
            start, end = (x0, y0 - h / 2), (x1, y1 - (0.2 if round_box(j) else h / 2))
            bottom = min(bottom, y0 - h / 2 - 0.2 * (x1 - x0))
        else:
            start = (x0 + (0.22 if i < 0 or round_box(i) else w / 2), y0)
            end = (x1 - (0.22 if j == len(blocks) or round_box(j) else w / 2), y1)
        arrows.append(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10,
                                      color="#444", lw=1,
                                      connectionstyle=f"arc3,rad={0.35 if skip else 0}"))
    top = max(y for _, y in points.values()) + h / 2
    fig = new_figure(1.15 * (out_x + 1) + 0.4, 1.1 * (top - bottom) + 0.7)
    ax = fig.add_subplot()
    ax.set_axis_off()
    for index, block in enumerate(blocks):
        x, y = points[index]
        if round_box(index):
            ax.add_patch(FancyBboxPatch((x - 0.2, y - 0.2), 0.4, 0.4,
                                        boxstyle="circle,pad=0.02", fc="white", ec="#333"))
            ax.text(x, y, block.label, ha="center", va="center", fontsize=14)
        else:
            ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                        boxstyle="round,pad=0.02,rounding_size=0.08",
                                        fc=KIND_COLORS.get(block.kind, "#eee"), ec="#333"))
            ax.text(x, y, block.label, ha="center", va="center", fontsize=7.5,
                    linespacing=1.15)
    for name, (x, y) in (("x", points[-1]), ("y", points[len(blocks)])):
        ax.text(x, y, name, ha="center", va="center", fontsize=13, style="italic")
    for arrow in arrows:
        ax.add_patch(arrow)
    ax.set_xlim(-0.5, out_x + 0.5)
    ax.set_ylim(bottom - 0.1, top + 0.1)
    ax.set_aspect("equal")
    if title is None:
        label = getattr(layer, "label", "") or type(layer).__name__
        formula = getattr(layer, "formula", "")
        title = f"{label}: {formula}" if formula else label
    ax.set_title(title, fontsize=10, loc="left")
    return fig


# ---------------------------------------------------------------------------
# The weights–MACs–latency plane of the whole family
# ---------------------------------------------------------------------------


def _value(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


class FamilyPlane:
    """Every member of the family on the weights–MACs plane and the weights–latency plane.

    A live figure for the family explorer: built once, then `update` moves each
    member's point (or hides it when the member cannot take the setting) and rescales
    the axes, so a slider does not pay for a new figure. Latency is an *estimate*
    (MACs over the member's measured throughput) and the axis says so; a member with
    no measurement has no point on the right panel.

    Args:
        rows: one per member, mappings or objects with ``key``, ``label``, ``weights``,
            ``macs``, ``latency_ms`` (None when not estimated) and ``available``.
        legend: draw the legend beside the panels. An explorer draws it once on its own
            (`family_legend`): redrawn with every change it would cost a third of the
            time. Default: True.

    Attributes:
        figure: the matplotlib `Figure` (two panels and a legend).
    """

    def __init__(self, rows: Sequence[Any], legend: bool = True) -> None:
        self.keys = [_value(r, "key") for r in rows]
        self.figure = new_figure(9.5 if legend else 8.0, 3.4)
        self.axes = self.figure.subplots(1, 2)
        self.points: dict[str, list] = {}
        for key, row in zip(self.keys, rows, strict=True):
            self.points[key] = [ax.plot([], [], **_style(key), label=_value(row, "label"))[0]
                                for ax in self.axes]
        left, right = self.axes
        for ax in self.axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            # Decades only: log axes' minor ticks are most of a redraw's time.
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(LogLocator(numticks=7))
                axis.set_minor_locator(NullLocator())
            ax.set_xlabel("weights (parameters)")
            ax.grid(True, which="major", alpha=0.3)
        left.set_ylabel("MACs per clip")
        right.set_ylabel("CPU latency, estimated (ms)")
        left.set_title("weights against MACs", fontsize=10)
        # An estimate, and the title says from what: MACs over the measured MACs per ms.
        right.set_title("latency: MACs ÷ measured MACs/ms", fontsize=10)
        if legend:
            self.figure.legend(handles=[self.points[k][0] for k in self.keys],
                               loc="outside right", fontsize=7.5, frameon=False)
        self.update(rows)

    def update(self, rows: Sequence[Any]) -> None:
        """Move every member to its new (weights, MACs) and (weights, latency) point."""
        spans: list[list[float]] = [[], [], []]  # weights, MACs, latency
        for row in rows:
            key = _value(row, "key")
            if key not in self.points:
                raise ValueError(f"FamilyPlane.update: member {key!r} is not on the figure "
                                 f"(it has {self.keys})")
            left, right = self.points[key]
            if not _value(row, "available"):
                left.set_data([], [])
                right.set_data([], [])
                continue
            params, macs = max(_value(row, "weights"), 1), max(_value(row, "macs"), 1)
            left.set_data([params], [macs])
            spans[0].append(params)
            spans[1].append(macs)
            latency = _value(row, "latency_ms")
            if latency is None:
                right.set_data([], [])
            else:
                right.set_data([params], [max(latency, 1e-6)])
                spans[2].append(max(latency, 1e-6))
        for ax, (xs, ys) in zip(self.axes, ((spans[0], spans[1]), (spans[0], spans[2])),
                                strict=True):
            if xs:
                ax.set_xlim(*_log_limits(xs))
            if ys:
                ax.set_ylim(*_log_limits(ys))
        self.axes[1].set_visible(bool(spans[2]))


def _style(key: str) -> dict:
    """A member's marker: its colour and its group's shape, larger for the 3D and (2+1)D."""
    return {"marker": FAMILY_MARKERS.get(key, "o"), "ls": "",
            "color": FAMILY_COLORS.get(key, "#777"),
            "ms": 9 if key in ("3d", "2plus1d") else 7, "mec": "white", "mew": 0.6}


def family_legend(rows: Sequence[Any]) -> Figure:
    """The legend of `FamilyPlane` alone: each member's marker and label, in one row block.

    Args:
        rows: mappings or objects with ``key`` and ``label``.

    Returns:
        A matplotlib `Figure`.

    Shape:
        Not a tensor function.
    """
    fig = new_figure(8.0, 0.9)
    handles = [Line2D([], [], **_style(_value(r, "key")), label=_value(r, "label")) for r in rows]
    fig.legend(handles=handles, loc="center", ncols=4, fontsize=9, frameon=False)
    return fig


def _log_limits(values: Sequence[float]) -> tuple[float, float]:
    """Limits a factor of about 2 beyond the data, and at least a decade wide."""
    low, high = min(values) / 2, max(values) * 2
    if math.log10(high / low) < 1:
        middle = math.sqrt(low * high)
        low, high = middle / math.sqrt(10), middle * math.sqrt(10)
    return low, high


def family_plane_figure(rows: Sequence[Any]) -> Figure:
    """The family on the weights–MACs and weights–estimated-latency planes, as a figure.

    Args:
        rows: as `FamilyPlane` (e.g. the rows of `r21d_edu.widgets.family.family_point`).

    Returns:
        A matplotlib `Figure`.

    Shape:
        Not a tensor function.
    """
    return FamilyPlane(rows).figure
