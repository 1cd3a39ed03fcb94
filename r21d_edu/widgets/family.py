"""Explorer for tutorial 10: one layer configuration, every member of the family at once.

`family_point` is the pure function behind the controls (tested without a browser):
for a configuration — channels in and out, kernel (t, d), input (T, H, W), TSM's shift
fraction — it counts every member's weights, MACs and bytes with `r21d_edu.counting`
(the factorized layers on the meta device: no weights, no compute) and estimates its
CPU latency as MACs over the member's *measured* MACs per millisecond, read from the
committed benchmark ``benchmarks/family.json`` (`family_throughput`). A member that
cannot take the configuration (a depthwise member whose C_out is not a multiple of
C_in, TSM with t < 3, a kernel larger than the padded input) is marked unavailable
with the reason; the others are still shown. `FamilyExplorer` only wires controls to
it, draws `r21d_edu.viz.factorizations.FamilyPlane` and a table.

Every layer gets "same" padding, ``(k - 1) // 2`` per axis, and batch size 1.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ipywidgets as w
import torch

from .._checks import check_int, check_number
from .._tables import Cell, html_table
from ..counting import ConvSpec, activation_memory, count_macs, count_parameters
from ..counting.factorized import checked_shape, factorized_stages
from ..factorized import (
    P3DA,
    P3DB,
    P3DC,
    DepthwiseConv2Plus1d,
    FeatureGate,
    IpCSNConv,
    IrCSNConv,
    S3DConv,
    S3DGConv,
    TemporalShiftConv,
)
from ._base import Explorer, problem_html

__all__ = ["FAMILY_BENCHMARK", "MEMBERS", "FamilyExplorer", "FamilyPoint", "FamilyRow",
           "Throughput", "family_explorer", "family_point", "family_throughput"]

#: The committed CPU benchmark of the family (where a source checkout keeps it).
FAMILY_BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "family.json"


def _factorized(cls: type, **extra: Any) -> Callable[..., Any]:
    def build(c_in: int, c_out: int, kernel: tuple[int, int, int], padding: tuple[int, int, int],
              shift: float) -> Any:
        with torch.device("meta"):  # the shapes only: counting needs no weights
            return cls(c_in, c_out, kernel, padding=padding, bias=False,
                       **({"shift_fraction": shift} if cls is TemporalShiftConv else {}),
                       **extra)
    return build


def _spec(method: str) -> Callable[..., Any]:
    def build(c_in: int, c_out: int, kernel: tuple[int, int, int], padding: tuple[int, int, int],
              shift: float) -> Any:
        return ConvSpec(method, c_in, c_out, kernel, padding=padding, bias=False)
    return build


#: Every member, in the order tables list them: key -> (label, formula, builder).
MEMBERS: dict[str, tuple[str, str, Callable[..., Any]]] = {
    "3d": ("3D conv", "y = K * x", _spec("3d")),
    "2plus1d": ("R(2+1)D, paper's M", "y = T(ReLU(BN(S(x))))", _spec("2plus1d")),
    "p3d_a": (P3DA.label, P3DA.formula, _factorized(P3DA)),
    "p3d_b": (P3DB.label, P3DB.formula, _factorized(P3DB)),
    "p3d_c": (P3DC.label, P3DC.formula, _factorized(P3DC)),
    "s3d": (S3DConv.label, S3DConv.formula, _factorized(S3DConv)),
    "s3d_g": (S3DGConv.label, "y = σ(W·pool(z) + b) ⊙ z", _factorized(S3DGConv)),
    "ip_csn": (IpCSNConv.label, IpCSNConv.formula, _factorized(IpCSNConv)),
    "ir_csn": (IrCSNConv.label, IrCSNConv.formula, _factorized(IrCSNConv)),
    "dw_2plus1d": (DepthwiseConv2Plus1d.label, "y = DW_T(DW_S(x))",
                   _factorized(DepthwiseConv2Plus1d)),
    "x3d_stem": ("X3D stem", "y = DW_T(S(x))",
                 _factorized(DepthwiseConv2Plus1d, depthwise_spatial=False)),
    "tsm": (TemporalShiftConv.label, TemporalShiftConv.formula, _factorized(TemporalShiftConv)),
}


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: Names a benchmark record may give a member (its key, its label, common spellings).
_ALIASES = {_normal(name): key for key, (label, _, _) in MEMBERS.items()
            for name in (key, label)}
_ALIASES.update({_normal(k): v for k, v in {
    "r2plus1d": "2plus1d", "(2+1)D": "2plus1d", "spatiotemporalconv": "2plus1d",
    "full3d": "3d", "conv3d": "3d", "FullConv3d": "3d", "depthwise_2plus1d": "dw_2plus1d",
    "x3d": "x3d_stem", "TemporalShiftConv": "tsm", "S3DConv": "s3d", "S3DGConv": "s3d_g",
    "IpCSNConv": "ip_csn", "IrCSNConv": "ir_csn", "DepthwiseConv2Plus1d": "dw_2plus1d"}.items()})


@dataclass(frozen=True)
class Throughput:
    """Measured CPU throughput per member, from the committed family benchmark.

    Fields: ``records`` (member key -> ((MACs, median ms), ...) of its measurements),
    ``cpu`` (the CPU model the benchmark names), ``threads`` and ``source`` (the file).
    """

    records: Mapping[str, tuple[tuple[int, float], ...]]
    cpu: str
    threads: int
    source: str

    def estimate(self, key: str, macs: int) -> float | None:
        """Milliseconds for ``macs`` at the MACs-per-ms of the member's measurement
        nearest in MACs (log scale); None when the member was not measured."""
        measured = self.records.get(key)
        if not measured or macs <= 0:
            return None
        ref_macs, ref_ms = min(measured, key=lambda r: abs(math.log(r[0] / macs)))
        return macs / (ref_macs / ref_ms)


def family_throughput(path: str | Path | None = None, threads: int | None = None
                      ) -> Throughput | None:
    """Read the family benchmark's records: per member, its MACs and median milliseconds.

    Args:
        path: the benchmark's JSON (records with ``layer``, ``threads``, ``median_ms``,
            ``macs``). Default: `FAMILY_BENCHMARK`, or None when the file is not there
            (an installed package has no benchmarks).
        threads: keep the records of this thread count. Default: the fewest measured
            (one thread: on a shared 2-core machine the 2-thread timings measure the
            contention with other jobs more than the layer, as the benchmark's notes say).

    Returns:
        `Throughput`, or None when no file is found.

    Shape:
        Not a tensor function.
    """
    if path is None:
        if not FAMILY_BENCHMARK.exists():
            return None
        path = FAMILY_BENCHMARK
    path = Path(path)
    data = json.loads(path.read_text())
    records = data if isinstance(data, list) else next(
        (data[k] for k in ("records", "results", "rows") if isinstance(data.get(k), list)), None)
    if records is None:
        raise ValueError(f"{path}: expected a list of records (or a dict with 'records'), "
                         f"got {type(data).__name__} with keys {sorted(data)[:8]}")
    for i, record in enumerate(records):
        missing = [k for k in ("layer", "threads", "median_ms", "macs") if k not in record]
        if missing:
            raise ValueError(f"{path}: record {i} lacks {', '.join(missing)}; each record needs "
                             "layer, threads, median_ms and macs")
    counts = sorted({int(r["threads"]) for r in records})
    chosen = counts[0] if threads is None else check_int(threads, "threads", minimum=1)
    if chosen not in counts:
        raise ValueError(f"{path} has measurements at {counts} threads, not {chosen}")
    found: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        key = _ALIASES.get(_normal(str(record["layer"])))
        if key is None or int(record["threads"]) != chosen or record["median_ms"] <= 0:
            continue
        found.setdefault(key, []).append((int(record["macs"]), float(record["median_ms"])))
    meta = data if isinstance(data, dict) else {}
    environment = meta.get("environment", meta.get("machine", {}))
    cpu = (environment.get("cpu") or environment.get("cpu_model") or meta.get("cpu")
           or "a CPU the file does not name") if isinstance(environment, dict) else str(
        environment)
    return Throughput({k: tuple(v) for k, v in found.items()}, str(cpu), chosen, str(path))


@dataclass(frozen=True)
class FamilyRow:
    """One member at one configuration.

    Fields: ``key``, ``label``, ``formula``, ``weights`` (no bias, no BatchNorm; S3D-G's
    gate included),
    ``macs``, ``bytes`` (every tensor the layer writes, float32), ``latency_ms`` (the
    estimate, None without a measurement), ``available`` and ``reason`` (why not).
    """

    key: str
    label: str
    formula: str
    weights: int
    macs: int
    bytes: int
    latency_ms: float | None
    available: bool = True
    reason: str = ""


@dataclass(frozen=True)
class FamilyPoint:
    """What the explorer shows for one configuration: ``rows`` (one `FamilyRow` per
    member), ``input_shape`` (N, C_in, T, H, W), ``kernel`` (t, d, d), ``throughput``
    (the `Throughput` used, or None) and ``text`` (one line on the configuration)."""

    rows: tuple[FamilyRow, ...]
    input_shape: tuple[int, ...]
    kernel: tuple[int, int, int]
    throughput: Throughput | None
    text: str

    def row(self, key: str) -> FamilyRow:
        """The row of one member, by key (``"p3d_a"``, ``"tsm"``, ...)."""
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(f"no member {key!r}; members are {[r.key for r in self.rows]}")

    def _repr_html_(self) -> str:
        header = ["member", "formula", "weights", "MACs", "bytes written",
                  "latency (ms, estimated)"]
        rows = []
        for r in self.rows:
            if not r.available:
                rows.append([r.label, r.formula, Cell(f"unavailable: {r.reason}", colspan=4)])
                continue
            latency = "—" if r.latency_ms is None else f"{r.latency_ms:.3g}"
            rows.append([r.label, r.formula, Cell(f"{r.weights:,}", num=True),
                         Cell(f"{r.macs:,}", num=True), Cell(f"{r.bytes:,}", num=True),
                         Cell(latency, num=True)])
        return f"<p>{html.escape(self.text)}</p>" + html_table(rows, header)


def _first_sentence(error: Exception) -> str:
    text = str(error).strip()
    return text.split("; ")[0].split(". ")[0]


def _cost(layer: Any, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(weights, MACs, bytes written in float32) of one member on one input shape."""
    if isinstance(layer, ConvSpec):
        return (count_parameters(layer).weights, count_macs(layer, shape).macs,
                activation_memory(layer, shape).total_bytes)
    # One meta pass over the leaf modules gives all three (counting's own stages);
    # weights leave BatchNorm out (bias is off), and keep S3D-G's gate, as counting does.
    stages = factorized_stages(layer, checked_shape(layer, shape), 4)
    return (sum(s.params for s in stages if not s.operation.startswith("BatchNorm")),
            sum(s.macs for s in stages), sum(s.output_bytes for s in stages))


@lru_cache(maxsize=1024)
def _member(key: str, c_in: int, c_out: int, t: int, d: int, shift: float
            ) -> tuple[int, tuple[int, int], tuple[int, int]] | str:
    """A member's weights and its MACs and bytes as ``a + b·P`` in the number of input
    positions P = T·H·W, or the reason it refuses the setting.

    With odd kernels, "same" padding and stride 1 every stage keeps the input's T, H
    and W, so each conv's MACs and each tensor's size are its channels times P, and
    only S3D-G's gate adds a constant (its C x C map and three C-vectors): a count at
    P = 1 gives the coefficient, and for a layer with a gate a second count at P = 2
    the constant, exactly (the tests check them against counting at full size). So a
    change of T, H or W costs no meta pass at all, and a change of channels one per
    member.
    """
    triple = (t, d, d)
    padding = tuple((k - 1) // 2 for k in triple)
    try:
        layer = MEMBERS[key][2](c_in, c_out, triple, padding, shift)
        w1, m1, b1 = _cost(layer, (1, c_in, 1, 1, 1))
        if isinstance(layer, ConvSpec) or not any(isinstance(m, FeatureGate)
                                                  for m in layer.modules()):
            return w1, (0, m1), (0, b1)
        _, m2, b2 = _cost(layer, (1, c_in, 2, 1, 1))
    except (ValueError, TypeError) as error:  # this member refuses the setting
        return _first_sentence(error)
    return w1, (2 * m1 - m2, m2 - m1), (2 * b1 - b2, b2 - b1)


def family_point(in_channels: int, out_channels: int, kernel: Sequence[int] = (3, 3),
                 input_size: Sequence[int] = (8, 56, 56), shift_fraction: float = 1 / 8,
                 throughput: Throughput | None = None) -> FamilyPoint:
    """Every member of the family at one configuration: weights, MACs, bytes, latency.

    Args:
        in_channels, out_channels: C_in and C_out of every member.
        kernel: (t, d): a t×d×d kernel, "same" padding ``(k - 1) // 2`` per axis.
        input_size: (T, H, W) of a single clip (batch size 1).
        shift_fraction: TSM's share of channels shifted each way (it uses 1/8).
        throughput: measured MACs per ms per member (`family_throughput`), for the
            latency estimate; None leaves ``latency_ms`` at None.

    Returns:
        `FamilyPoint`, one `FamilyRow` per member of `MEMBERS`; a member that cannot
        take the configuration has ``available=False`` and the reason.

    Raises:
        ValueError / TypeError: for a setting no member can take (no channels, a kernel
        that is not (t, d), an input smaller than every kernel).

    Shape:
        Counts for an input (1, C_in, T, H, W); no tensor is made.
    """
    c_in = check_int(in_channels, "in_channels", minimum=1)
    c_out = check_int(out_channels, "out_channels", minimum=1)
    if isinstance(kernel, (str, bytes)) or not isinstance(kernel, Sequence) or len(kernel) != 2:
        raise TypeError(f"kernel must be a pair (t, d) for a t×d×d kernel, got {kernel!r}")
    t, d = (check_int(k, name, minimum=1) for k, name in zip(kernel, ("t", "d"), strict=True))
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) or len(
            input_size) != 3:
        raise TypeError(f"input_size must be (T, H, W) of one clip, got {input_size!r}")
    size = tuple(check_int(s, name, minimum=1)
                 for s, name in zip(input_size, ("T", "H", "W"), strict=True))
    shift = check_number(shift_fraction, "shift_fraction")
    if throughput is not None and not isinstance(throughput, Throughput):
        raise TypeError(f"throughput must be a Throughput (family_throughput()) or None, "
                        f"got {type(throughput).__name__}")
    triple = (t, d, d)
    shape = (1, c_in, *size)
    positions = math.prod(size)
    rows = []
    for key, (label, formula, build) in MEMBERS.items():
        if t % 2 and d % 2:  # odd kernels keep the input's size: scale two small counts
            found = _member(key, c_in, c_out, t, d, shift)
            if isinstance(found, str):
                rows.append(FamilyRow(key, label, formula, 0, 0, 0, None, False, found))
                continue
            weights, (m0, m1), (b0, b1) = found
            macs, written = m0 + m1 * positions, b0 + b1 * positions
        else:  # an even kernel shrinks the output: count at full size
            padding = tuple((k - 1) // 2 for k in triple)
            try:
                weights, macs, written = _cost(build(c_in, c_out, triple, padding, shift), shape)
            except (ValueError, TypeError) as error:
                rows.append(FamilyRow(key, label, formula, 0, 0, 0, None, False,
                                      _first_sentence(error)))
                continue
        latency = throughput.estimate(key, macs) if throughput is not None else None
        rows.append(FamilyRow(key, label, formula, weights, macs, written, latency))
    if not any(r.available for r in rows):
        raise ValueError(f"no member can take this setting: {rows[0].reason}")
    text = (f"{c_in} → {c_out} channels, kernel {t}×{d}×{d} ('same' padding), input "
            f"(1, {c_in}, {size[0]}, {size[1]}, {size[2]})"
            + (f"; latency estimated from the measured throughput on {throughput.cpu} "
               f"({throughput.threads} thread{'s' if throughput.threads != 1 else ''})"
               if throughput is not None else
               "; no measured throughput, so no latency estimate"))
    return FamilyPoint(tuple(rows), shape, triple, throughput, text)


CHANNELS = (3, 8, 16, 24, 32, 48, 64, 96, 128, 256)
KERNELS = (1, 3, 5, 7)
FRAMES = (4, 8, 16, 32)
SIZES = (14, 28, 56, 112)
SHIFTS = (("0", 0.0), ("1/16", 1 / 16), ("1/8 (TSM)", 1 / 8), ("1/4", 1 / 4), ("1/2", 1 / 2))


class FamilyExplorer(Explorer):
    """Controls for one layer configuration; every member placed on the cost planes.

    Args:
        throughput: the measured throughput for the latency estimate. Default: the
            committed ``benchmarks/family.json`` when it is there (`family_throughput`);
            pass ``False`` for no estimate.
        in_channels, out_channels, t, d, frames, size: where the controls start.

    Attributes:
        controls: in_channels, out_channels, t, d, frames, height, width, shift_fraction.
        summary: HTML, the configuration in one line.
        notes: HTML, the members that cannot take the setting and why.
        table: HTML, weights, MACs, bytes and latency estimate of every member.
        plot: `ipywidgets.Image`, the weights–MACs and weights–latency planes.
        legend: `ipywidgets.Image`, which marker is which member (drawn once).
        point: the `FamilyPoint` on screen (the last valid one).
        message: empty, or why no member can take the setting.
        stale: True while the view shows an earlier setting (see `Explorer`).
    """

    def __init__(self, throughput: Throughput | None | bool = None, *, in_channels: int = 64,
                 out_channels: int = 64, t: int = 3, d: int = 3, frames: int = 8,
                 size: int = 56) -> None:
        if throughput is None:
            throughput = family_throughput()
        self.throughput = throughput or None
        style = {"description_width": "90px"}

        def choose(options: Sequence[Any], value: Any, description: str) -> w.Dropdown:
            return w.Dropdown(options=options, value=value, description=description,
                              style=style, layout=w.Layout(width="190px"))

        controls = {
            "in_channels": choose(CHANNELS, in_channels, "C_in"),
            "out_channels": choose(CHANNELS, out_channels, "C_out"),
            "t": choose(KERNELS, t, "kernel t"),
            "d": choose(KERNELS, d, "kernel d"),
            "frames": choose(FRAMES, frames, "frames T"),
            "height": choose(SIZES, size, "height H"),
            "width": choose(SIZES, size, "width W"),
            "shift_fraction": choose(SHIFTS, 1 / 8, "TSM shift"),
        }
        self.summary, self.notes, self.table = w.HTML(), w.HTML(), w.HTML()
        self.plot = w.Image(format="png")
        self.legend = w.Image(format="png")
        self.point: FamilyPoint | None = None
        self._plane = None
        names = list(controls)
        rows = w.VBox([w.HBox([controls[n] for n in names[i:i + 4]]) for i in (0, 4)])
        view = w.VBox([self.summary, self.plot, self.legend, self.notes, self.table])
        self._start(controls, view, [rows, view])

    def _update(self) -> None:
        c = {name: control.value for name, control in self.controls.items()}
        point = family_point(c["in_channels"], c["out_channels"], (c["t"], c["d"]),
                             (c["frames"], c["height"], c["width"]), c["shift_fraction"],
                             self.throughput)
        self.point = point
        self.summary.value = f"<p>{html.escape(point.text)}</p>"
        missing = [r for r in point.rows if not r.available]
        self.notes.value = "".join(problem_html(f"{r.label} is unavailable here: {r.reason}.")
                                   for r in missing)
        self.table.value = point._repr_html_()
        self.plot.value = self._render(point.rows)

    def _render(self, rows: Sequence[FamilyRow]) -> bytes:
        # One live figure: only the points move (see FamilyPlane), drawn without cropping.
        from ..viz._common import figure_to_png, render_png
        from ..viz.factorizations import FamilyPlane, family_legend

        if self._plane is None:
            self._plane = FamilyPlane(rows, legend=False)
            self.legend.value = figure_to_png(family_legend(rows), dpi=72)
        else:
            self._plane.update(rows)
        return render_png(self._plane.figure, dpi=60)


def family_explorer(throughput: Throughput | None | bool = None, **start: int) -> FamilyExplorer:
    """`FamilyExplorer` with the committed benchmark's throughput (see its Args).

    Shape:
        Not a tensor function.
    """
    return FamilyExplorer(throughput, **start)
