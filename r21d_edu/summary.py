"""Whole networks as tables: a layer-by-layer view and ResNet-18 beside R3D-18 and R(2+1)D-18.

Built on `r21d_edu.counting.summarize_network`, which runs one forward pass
on the meta device (shapes only: instant, no memory) with a hook on every
leaf module. This module groups those leaf rows into the units a reader
thinks in — blocks (``layer2.0``), stages (``layer2``) — and lays several
networks side by side, stage by stage.

MACs count convolutions and the classifier only (FLOPs = 2 x MACs); these are
the numbers torchvision publishes as "GFLOPS".
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ._checks import check_int, check_shape
from ._tables import Cell, html_table
from .counting import ModuleRow, summarize_network
from .models import r2plus1d_18, r3d_18, resnet18

__all__ = [
    "LayerTable",
    "NetworkComparison",
    "SummaryRow",
    "compare_networks",
    "layer_table",
]

Shape = tuple[int, ...]

#: The paper's name (Table 1) for each stage of torchvision's networks.
PAPER_STAGE_NAMES: dict[str, str] = {
    "stem": "conv1",
    "layer1": "conv2_x",
    "layer2": "conv3_x",
    "layer3": "conv4_x",
    "layer4": "conv5_x",
    "head": "pool + fc",
}

# ResNet-2D's stem is four top-level modules; video ResNets wrap theirs in `stem`.
_STEM_PARTS = {"stem", "conv1", "bn1", "relu", "maxpool"}
_HEAD_PARTS = {"avgpool", "fc"}


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _macs_text(macs: int) -> str:
    return f"{macs / 1e9:.3f} G" if macs >= 1e8 else f"{macs / 1e6:.1f} M"


@dataclass(frozen=True)
class SummaryRow:
    """One module of the table: its output shape and the cost of everything inside it.

    ``kind`` is the class name of the module the row stands for (the leaf's
    own when the row is a single leaf).
    """

    name: str
    kind: str
    output_shape: Shape
    params: int
    macs: int


@dataclass(frozen=True)
class LayerTable:
    """A network's layers: name, kind, output shape, parameters and MACs.

    Fields: ``network`` (a label), ``input_shape``, ``depth`` (how many name
    components a row keeps; None for every leaf module), ``rows``
    (`SummaryRow`), and totals ``params`` and ``macs``. Rows add up to the
    totals.
    """

    network: str
    input_shape: Shape
    depth: int | None
    rows: tuple[SummaryRow, ...]
    params: int
    macs: int

    @property
    def flops(self) -> int:
        """FLOPs = 2 x MACs, what `torch.utils.flop_counter.FlopCounterMode` reports."""
        return 2 * self.macs

    def __repr__(self) -> str:
        return (f"LayerTable({self.network!r}, input_shape={self.input_shape}, "
                f"rows={len(self.rows)}, params={self.params:,}, macs={self.macs:,})")

    def as_records(self) -> list[dict]:
        """Rows as dicts (``pandas.DataFrame(table.as_records())`` makes a DataFrame)."""
        return [vars(row).copy() for row in self.rows]

    def __str__(self) -> str:
        header = ("module", "kind", "output shape", "params", "MACs")
        body = [(r.name, r.kind, _shape_text(r.output_shape), f"{r.params:,}", f"{r.macs:,}")
                for r in self.rows]
        body.append(("total", "", "", f"{self.params:,}", f"{self.macs:,}"))
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(5)]
        lines = [self._caption()]
        for line in [header, *body]:
            cells = [c.ljust(w) if i < 3 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(line, widths, strict=True))]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def _caption(self) -> str:
        return (f"{self.network} on {_shape_text(self.input_shape)}: {self.params:,} "
                f"parameters, {self.macs:,} MACs ({self.macs / 1e9:.3f} G)")

    def _repr_html_(self) -> str:
        share = [100 * r.macs / self.macs if self.macs else 0.0 for r in self.rows]
        body = [(Cell(f"<code>{html.escape(r.name)}</code>", raw=True), r.kind,
                 _shape_text(r.output_shape), Cell(f"{r.params:,}", num=True),
                 Cell(f"{r.macs:,}", num=True), Cell(f"{s:.1f} %", num=True))
                for r, s in zip(self.rows, share, strict=True)]
        total = ("total", "", "", Cell(f"{self.params:,}", num=True),
                 Cell(f"{self.macs:,}", num=True), Cell("100.0 %", num=True))
        return html_table(body, ["module", "kind", "output shape", "params", "MACs",
                                 "share of MACs"], sections=True, caption=self._caption(),
                          total=total)


def _default_shape(model: nn.Module, input_shape: Sequence[int] | None,
                   label: str | None = None) -> Shape:
    if not isinstance(model, nn.Module):
        which = f"network {label!r}" if label is not None else "model"
        raise TypeError(f"the {which} must be an nn.Module such as r2plus1d_18(), got "
                        f"{model!r} ({type(model).__name__})")
    if input_shape is None:
        default = getattr(model, "default_input_shape", None)
        if default is None:
            raise ValueError(
                f"pass input_shape for a {type(model).__name__}, e.g. (1, 3, 16, 112, 112) "
                "for a video network; only r21d_edu's networks know their default input"
            )
        return tuple(default)
    return check_shape(input_shape)


def _leaf_rows(model: nn.Module, shape: Shape) -> tuple[list[ModuleRow], int, int]:
    summary = summarize_network(model, shape)
    return list(summary.rows), summary.params, summary.macs


def _group(rows: Sequence[ModuleRow], key, kinds: Mapping[str, str]) -> list[SummaryRow]:
    """Merge consecutive leaf rows with the same key into one row.

    The group's output shape is that of its last leaf call: for a residual
    block that is the final ReLU, after the shortcut has been added.
    """
    grouped: list[SummaryRow] = []
    for row in rows:
        name = key(row.name)
        if grouped and grouped[-1].name == name:
            last = grouped[-1]
            grouped[-1] = SummaryRow(name, last.kind, row.output_shape,
                                     last.params + row.params, last.macs + row.macs)
        else:
            grouped.append(SummaryRow(name, kinds.get(name, ""), row.output_shape,
                                      row.params, row.macs))
    return grouped


def layer_table(
    model: nn.Module,
    input_shape: Sequence[int] | None = None,
    depth: int | None = 2,
    name: str | None = None,
) -> LayerTable:
    """Per-layer table of any network: output shape, parameters and MACs of each module.

    One forward pass on a meta-device copy of the model (the model's own
    weights are not touched, and nothing is computed).

    Args:
        model: any `nn.Module` taking one tensor, e.g. ``r2plus1d_18()``.
        input_shape: shape of that tensor. Default: the network's
            ``default_input_shape`` — (1, 3, 16, 112, 112) for the video
            networks, (1, 3, 224, 224) for `resnet18`.
        depth: how many components of the module names to keep: 1 gives
            ``stem``, ``layer1``, …, ``fc``; 2 (default) gives the blocks
            (``layer2.0``) and the stem's parts; None gives every leaf module.
        name: label of the network in the caption. Default: its class name.

    Returns:
        `LayerTable` (rich display in Jupyter, ``print`` for text).

    Shape:
        - Input: ``input_shape``, (N, C, T, H, W) for video networks.
    """
    if depth is not None:
        depth = check_int(depth, "depth", minimum=1)
    shape = _default_shape(model, input_shape)
    leaves, params, macs = _leaf_rows(model, shape)
    kinds = {n: type(m).__name__ for n, m in model.named_modules()}
    if depth is None:
        rows = [SummaryRow(r.name, r.kind, r.output_shape, r.params, r.macs) for r in leaves]
    else:
        rows = _group(leaves, lambda n: ".".join(n.split(".")[:depth]), kinds)
    return LayerTable(name or type(model).__name__, shape, depth, tuple(rows), params, macs)


# --------------------------------------------------------------------------
# Several networks side by side, stage by stage
# --------------------------------------------------------------------------


def _stage_of(module_name: str) -> str:
    top = module_name.split(".")[0]
    if top in _STEM_PARTS:
        return "stem"
    if top in _HEAD_PARTS:
        return "head"
    return top


@dataclass(frozen=True)
class NetworkComparison:
    """Networks side by side: per stage, each one's output shape, parameters and MACs.

    Fields: ``networks`` (labels), ``input_shapes`` (one per network),
    ``stages`` (``"stem"``, ``"layer1"`` … ``"layer4"``, ``"head"``),
    ``cells`` (``cells[network][stage]`` is a `SummaryRow`), and the totals
    ``params`` and ``macs`` per network.
    """

    networks: tuple[str, ...]
    input_shapes: dict[str, Shape]
    stages: tuple[str, ...]
    cells: dict[str, dict[str, SummaryRow]]
    params: dict[str, int]
    macs: dict[str, int]

    def __repr__(self) -> str:
        totals = ", ".join(f"{n!r}: {self.params[n]:,} params" for n in self.networks)
        return f"NetworkComparison({totals})"

    def __str__(self) -> str:
        lines = []
        for network in self.networks:
            lines.append(f"{network} on {_shape_text(self.input_shapes[network])}: "
                         f"{self.params[network]:,} parameters, "
                         f"{_macs_text(self.macs[network])} MACs")
            for stage in self.stages:
                cell = self.cells[network].get(stage)
                if cell is not None:
                    lines.append(f"  {stage:<7} {_shape_text(cell.output_shape):<24} "
                                 f"{cell.params:>12,} params {_macs_text(cell.macs):>10}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        top = [Cell("stage", rowspan=2)] + [
            Cell(f"{html.escape(n)}<br><small>input {_shape_text(self.input_shapes[n])}</small>",
                 raw=True, colspan=3) for n in self.networks]
        sub = ["output shape", "params", "MACs"] * len(self.networks)
        body = []
        for stage in self.stages:
            row: list[object] = [Cell(f"<code>{stage}</code> <small>"
                                      f"({PAPER_STAGE_NAMES.get(stage, '')})</small>", raw=True)]
            for network in self.networks:
                cell = self.cells[network].get(stage)
                row += (["", "", ""] if cell is None else
                        [_shape_text(cell.output_shape), Cell(f"{cell.params:,}", num=True),
                         Cell(_macs_text(cell.macs), num=True)])
            body.append(row)
        total: list[object] = ["total"]
        for n in self.networks:
            total += ["", Cell(f"{self.params[n]:,}", num=True),
                      Cell(_macs_text(self.macs[n]), num=True)]
        return html_table(body, top, sections=True, total=total, header_rows=[sub])


def compare_networks(
    networks: Mapping[str, nn.Module] | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> NetworkComparison:
    """Lay networks side by side, stage by stage (stem, layer1-4, head).

    Args:
        networks: label -> network. Default: ResNet-18, R3D-18 and R(2+1)D-18,
            built on the meta device (no memory, no weights).
        input_shapes: label -> input shape. Default: each network's
            ``default_input_shape`` — a 224 x 224 image for ResNet-18 and a
            16 x 112 x 112 clip for the video networks, the sizes their
            published figures are measured at.

    Returns:
        `NetworkComparison` (rich display in Jupyter, ``print`` for text).

    Shape:
        - Inputs: (N, C, H, W) for 2D networks, (N, C, T, H, W) for video ones.
    """
    if networks is None:
        with torch.device("meta"):
            networks = {"ResNet-18": resnet18(), "R3D-18": r3d_18(),
                        "R(2+1)D-18": r2plus1d_18()}
    if not networks:
        raise ValueError("compare_networks needs at least one network")
    input_shapes = dict(input_shapes or {})
    unknown = set(input_shapes) - set(networks)
    if unknown:
        raise ValueError(f"input_shapes names networks that are not compared: {sorted(unknown)}; "
                         f"the networks are {list(networks)}")
    shapes, cells, params, macs = {}, {}, {}, {}
    stages: list[str] = []
    for label, model in networks.items():
        shapes[label] = _default_shape(model, input_shapes.get(label), label)
        leaves, params[label], macs[label] = _leaf_rows(model, shapes[label])
        kinds = {n: type(m).__name__ for n, m in model.named_modules()}
        grouped = _group(leaves, _stage_of, kinds)
        cells[label] = {row.name: row for row in grouped}
        stages += [row.name for row in grouped if row.name not in stages]
    return NetworkComparison(tuple(networks), shapes, tuple(stages), cells, params, macs)
