"""The trade-off study's figure: accuracy against MACs and against CPU latency.

One panel per cost. The unfactorized 3D network is a star (before and after
its own control fine-tune), each factorization a point per energy: hollow
before fine-tuning, filled after (mean over seeds, bars ± one standard
deviation), in the (2+1)D colour for the linear
factorization and a darker one with BN + ReLU in the middle. The points no
other point beats on both MACs and accuracy are joined: the Pareto front.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from .._checks import check_optional_number
from ._common import new_figure
from .style import METHOD_COLORS

__all__ = ["PANELS", "RING", "VARIANT_COLORS", "pareto_figure", "ring_positions"]

#: The 3D network in the 3D colour, the factorizations in (2+1)D greens.
VARIANT_COLORS = {"3d": METHOD_COLORS["3d"], "linear": METHOD_COLORS["2plus1d"],
                  "bn-relu": "#005a42"}
_LABELS = {"3d": "3D (unfactorized)", "linear": "(2+1)D linear", "bn-relu": "(2+1)D + BN/ReLU"}


def _front(points: Sequence[Mapping[str, Any]], cost: str) -> list[Mapping[str, Any]]:
    """Points that no other point beats on both `cost` (lower) and accuracy (higher)."""
    scored = sorted((p for p in points if p.get("accuracy_after_mean") is not None
                     and p.get(cost) is not None), key=lambda p: p[cost])
    front, best = [], -1.0
    for p in scored:
        if p["accuracy_after_mean"] > best:
            front.append(p)
            best = p["accuracy_after_mean"]
    return front


#: How the points of the chosen energy are ringed (the tutorial's slider moves the ring).
RING = {"marker": "o", "linestyle": "none", "ms": 16, "mfc": "none", "color": "#D55E00",
        "mew": 2}

#: The two panels: the point's field, its scale on the axis, the axis label.
PANELS = (("macs", 1e-6, "MACs per clip (millions)"),
          ("latency_ms", 1.0, "CPU latency, 1 clip, 1 thread (ms)"))


def ring_positions(points: Sequence[Mapping[str, Any]], energy: float, cost: str,
                   scale: float) -> tuple[list[float], list[float]]:
    """(x, y) of the factorized points at `energy`: after fine-tuning where measured, else before.

    Shape:
        Not a tensor function.
    """
    xs, ys = [], []
    for p in points:
        if p["variant"] == "3d" or abs(p["energy"] - energy) > 1e-9 or p.get(cost) is None:
            continue
        after = p.get("accuracy_after_mean")
        xs.append(p[cost] * scale)
        ys.append(100 * (after if after is not None else p["accuracy_before"]))
    return xs, ys


def pareto_figure(points: Sequence[Mapping[str, Any]], *, highlight: float | None = None,
                  highlight_costs: Mapping[str, float] | None = None) -> Figure:
    """Accuracy (%) against MACs and against single-clip CPU latency.

    Args:
        points: the study's points (``results.json["points"]``): dicts with
            ``variant``, ``energy``, ``macs``, ``latency_ms``,
            ``accuracy_before``, ``accuracy_after_mean`` and ``_std``.
        highlight: an energy whose points are ringed (the tutorial's slider).
        highlight_costs: ``{"macs": ...}`` of a plan between the studied
            energies, drawn as a vertical line on the MACs panel.

    Returns:
        A matplotlib `Figure` with two panels.

    Shape:
        Not a tensor function.
    """
    if not points:
        raise ValueError("pareto_figure needs the study's points, got none")
    highlight = check_optional_number(highlight, "highlight (an energy)")
    fig = new_figure(10.0, 4.0)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (cost, scale, label) in zip(axes, PANELS, strict=True):
        for variant, colour in VARIANT_COLORS.items():
            mine = [p for p in points if p["variant"] == variant and p.get(cost) is not None]
            if not mine:
                continue
            marker = "*" if variant == "3d" else "o"
            size = 14 if variant == "3d" else 6
            xs = [p[cost] * scale for p in mine]
            ax.plot(xs, [100 * p["accuracy_before"] for p in mine], marker, mfc="none",
                    color=colour, ms=size, label=f"{_LABELS[variant]}, before fine-tune")
            done = [p for p in mine if p.get("accuracy_after_mean") is not None]
            if done:
                ax.errorbar([p[cost] * scale for p in done],
                            [100 * p["accuracy_after_mean"] for p in done],
                            yerr=[100 * (p.get("accuracy_after_std") or 0) for p in done],
                            fmt=marker, color=colour, ms=size, capsize=2,
                            label=f"{_LABELS[variant]}, after (mean ± std)")
            if variant != "3d":
                for p in mine:
                    ax.annotate(f"{p['energy']:g}", (p[cost] * scale, 100 * p["accuracy_before"]),
                                textcoords="offset points", xytext=(3, -9), fontsize=7,
                                color=colour)
        front = _front(points, cost)
        if len(front) > 1:
            ax.plot([p[cost] * scale for p in front],
                    [100 * p["accuracy_after_mean"] for p in front], "-", color="#666666",
                    lw=1, zorder=0, label="Pareto front (after)")
        if highlight is not None:
            ax.plot(*ring_positions(points, highlight, cost, scale), **RING)
        if highlight_costs and cost in highlight_costs:
            ax.axvline(highlight_costs[cost] * scale, color="#D55E00", ls="--", lw=1)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].set_title("Accuracy against compute")
    axes[1].set_title("Accuracy against CPU latency")
    axes[0].axhline(12.5, color="#999999", ls=":", lw=1)
    axes[1].axhline(12.5, color="#999999", ls=":", lw=1)
    for ax in (axes[1], axes[0]):  # latency stays empty until the study has timed them
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
            break
    fig.suptitle("Factorizing a trained R3D on the direction task (energy kept per layer "
                 "labels each point; dotted: chance)", fontsize=10)
    return fig
