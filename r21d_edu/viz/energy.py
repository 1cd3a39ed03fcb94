"""How much of a 3D kernel the best rank-M (2+1)D layer keeps, as curves over M.

The numbers come from `r21d_edu.lowrank.energy_profile`; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from ..lowrank import EnergyProfile
from .style import METHOD_COLORS

__all__ = ["energy_figure"]


def energy_figure(
    profiles: Mapping[str, EnergyProfile], *, mark_ranks: Sequence[int] = ()
) -> Figure:
    """Energy kept against rank, one curve per kernel, with the paper's M marked.

    Args:
        profiles: label -> `EnergyProfile` (e.g. ``{"random": ..., "smooth": ...}``).
        mark_ranks: extra ranks to mark with dotted lines (e.g. M // 2).

    Returns:
        A matplotlib `Figure` (not shown; display it or save it).

    Shape:
        Not applicable.
    """
    if not profiles:
        raise ValueError("energy_figure needs at least one profile, got none")
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.add_subplot()
    # The package's colours belong to methods; kernels get neutral greys and blues.
    palette = ["#333333", "#0072B2", "#D55E00", "#999999"]
    for (label, profile), colour in zip(profiles.items(), palette * len(profiles), strict=False):
        ranks = range(1, profile.full_rank + 1)
        ax.plot(ranks, [100 * e for e in profile.energy], color=colour, label=label)
    first = next(iter(profiles.values()))
    paper = first.paper_rank
    if paper >= 1:
        ax.axvline(paper, color=METHOD_COLORS["2plus1d"], linestyle="--",
                   label=f"paper's M = {paper}")
    for rank in mark_ranks:
        ax.axvline(rank, color=METHOD_COLORS["2plus1d"], linestyle=":", label=f"rank {rank}")
    ax.set_xlabel(f"rank M (full rank {first.full_rank})")
    ax.set_ylabel("energy kept (%)")
    ax.set_ylim(0, 101)
    ax.set_xlim(0, max(p.full_rank for p in profiles.values()) + 1)
    ax.set_title("Energy kept by the best rank-M (2+1)D layer")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return fig
