"""The report of a factorization plan: one row per layer, with a rich Jupyter display.

`NetworkProfile.plan` (in `r21d_edu.netprofile`) makes a `FactorizationReport`;
`factorize_network` attaches the same report to the network it builds as
``.factorization``. This module only formats: what each layer keeps (M, energy,
relative error) and costs (parameters and MACs before and after), as text, as an
HTML table and as rows for pandas.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass

from ._checks import Triple

__all__ = ["FactorizationReport", "LayerReport", "format_count"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerReport:
    """What factorizing one layer keeps and costs: a row of `FactorizationReport`."""

    name: str
    in_channels: int
    out_channels: int
    kernel_size: Triple
    stride: Triple
    rank: int
    full_rank: int
    energy: float
    relative_error: float
    params_before: int
    params_after: int
    macs_before: int | None
    macs_after: int | None
    groups: int = 1


def format_count(n: int | None) -> str:
    """A count with thousands separators, or "n/a" where it could not be counted."""
    return "n/a" if n is None else f"{n:,}"


def _rank_text(layer: LayerReport) -> str:
    if layer.groups == 1:
        return f"{layer.rank} / {layer.full_rank}"
    return f"{layer.groups}·{layer.rank} / {layer.groups}·{layer.full_rank}"


def _ratio(after: int | None, before: int | None) -> str:
    return "" if not after or not before else f" ({after / before:.1%})"


@dataclass(frozen=True, repr=False)
class FactorizationReport:
    """Per-layer choice of M and its effect on the network's size and compute.

    Fields: ``rule`` (how M was chosen, e.g. ``"energy ≥ 0.9"``); ``layers``
    (`LayerReport`, one per factorized conv, in the network's order);
    ``kept`` ((name, reason) of every Conv3d left as it is); ``input_shape``
    the MACs are counted for (None: no MACs); ``params_before`` /
    ``params_after`` and ``macs_before`` / ``macs_after`` of the *whole*
    network (every other module included; MACs as `summarize_network` counts
    them: convs and linear layers).
    """

    rule: str
    layers: tuple[LayerReport, ...]
    kept: tuple[tuple[str, str], ...]
    input_shape: Shape | None
    params_before: int
    params_after: int
    macs_before: int | None
    macs_after: int | None

    @property
    def ranks(self) -> dict[str, int]:
        """Layer name -> M (per group for a grouped conv, what `factorize` takes), e.g. to
        rebuild the same network with ``rank=report.ranks``."""
        return {layer.name: layer.rank for layer in self.layers}

    def rows(self) -> list[dict]:
        """One plain dict per layer (``pandas.DataFrame(report.rows())`` makes a table)."""
        return [asdict(layer) for layer in self.layers]

    def _table(self) -> tuple[list[str], list[list[str]]]:
        header = ["layer", "C_in → C_out", "kernel", "stride", "M / full", "energy kept",
                  "rel. error", "params before → after", "MACs before → after"]
        body = [[layer.name, f"{layer.in_channels} → {layer.out_channels}",
                 "×".join(map(str, layer.kernel_size)), "×".join(map(str, layer.stride)),
                 _rank_text(layer), f"{layer.energy:.2%}",
                 f"{layer.relative_error:.3f}",
                 f"{layer.params_before:,} → {layer.params_after:,}",
                 f"{format_count(layer.macs_before)} → {format_count(layer.macs_after)}"]
                for layer in self.layers]
        body.append(["whole network", "", "", "", "", "", "",
                     f"{self.params_before:,} → {self.params_after:,}"
                     f"{_ratio(self.params_after, self.params_before)}",
                     f"{format_count(self.macs_before)} → {format_count(self.macs_after)}"
                     f"{_ratio(self.macs_after, self.macs_before)}"])
        return header, body

    def summary(self) -> str:
        """One line: the rule, how many layers, and the network's parameters and MACs."""
        macs = ("" if self.macs_before is None else
                f", MACs {self.macs_before:,} → {self.macs_after:,}"
                f"{_ratio(self.macs_after, self.macs_before)} on {self.input_shape}")
        return (f"{self.rule}: {len(self.layers)} Conv3d factorized, {len(self.kept)} kept; "
                f"parameters {self.params_before:,} → {self.params_after:,}"
                f"{_ratio(self.params_after, self.params_before)}{macs}")

    def __str__(self) -> str:
        header, body = self._table()
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in [header, *body]]
        return self.summary() + "\n" + "\n".join(lines)

    def __repr__(self) -> str:
        return f"FactorizationReport({self.summary()})"

    def _repr_html_(self) -> str:
        header, body = self._table()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
                       + "</tr>" for row in body)
        kept = ""
        if self.kept:
            kept = (f"<br><i>kept as they are: {len(self.kept)} Conv3d (e.g. "
                    f"{html.escape(self.kept[0][0])}: {html.escape(self.kept[0][1])})</i>")
        return (f"<p><b>{html.escape(self.summary())}</b></p><table><thead><tr>{head}</tr>"
                f"</thead><tbody>{rows}</tbody></table>{kept}")
