"""How much of a 3D kernel the best rank-M (2+1)D layer keeps, as curves over M.

The numbers come from `r21d_edu.lowrank.energy_profile`; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from .._checks import check_int
from ..lowrank import EnergyProfile
from .style import METHOD_COLORS

__all__ = ["EnergyCurve", "energy_figure"]


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
    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError("energy_figure needs at least one profile, in a dict label -> "
                         f"EnergyProfile; got {profiles!r}")
    for label, profile in profiles.items():
        if not isinstance(profile, EnergyProfile):
            raise TypeError(f"profiles[{label!r}] must be an EnergyProfile (from "
                            f"r21d_edu.energy_profile), got {type(profile).__name__}")
    longest = max(p.full_rank for p in profiles.values())
    mark_ranks = [check_int(r, "mark_ranks entries", minimum=1, maximum=longest)
                  for r in mark_ranks]
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


class EnergyCurve:
    """Energy kept against rank for one kernel, with a chosen rank and the paper's M.

    The figure stays alive: `update` moves the curve and the marks instead of
    drawing a new figure (the rank explorer's slider).

    Args:
        profile: an `EnergyProfile`.
        rank: the rank to mark.

    Attributes:
        figure: the matplotlib `Figure`.
    """

    def __init__(self, profile: EnergyProfile, rank: int) -> None:
        self.figure = Figure(figsize=(4.6, 2.6), layout="constrained")
        ax = self.figure.add_subplot()
        (self._curve,) = ax.plot([], [], color="#333333")
        self._paper = ax.axvline(1, color=METHOD_COLORS["2plus1d"], linestyle="--", label=" ")
        (self._mark,) = ax.plot([], [], "o", color=METHOD_COLORS["2plus1d"], label=" ")
        ax.set_ylabel("energy kept (%)")
        ax.set_ylim(0, 101)
        ax.set_title("Energy kept by the best rank-M (2+1)D layer", fontsize=9)
        ax.grid(alpha=0.3)
        self._legend = ax.legend(fontsize=7, loc="lower right")
        self._ax = ax
        self._profile: EnergyProfile | None = None
        self.update(profile, rank)

    def update(self, profile: EnergyProfile, rank: int) -> None:
        """Show another profile or rank (the figure is redrawn when it is next rendered)."""
        if profile is not self._profile:
            full = profile.full_rank
            self._curve.set_data(range(1, full + 1), [100 * e for e in profile.energy])
            self._paper.set_xdata([profile.paper_rank, profile.paper_rank])
            self._legend.get_texts()[0].set_text(f"paper's M = {profile.paper_rank}")
            # The margins matplotlib's autoscaling would give the curve (5 % each side).
            pad = 0.05 * max(full - 1, 1)
            self._ax.set_xlim(1 - pad, full + pad)
            self._ax.set_xlabel(f"rank M (full rank {full})")
            self._profile = profile
        self._mark.set_data([rank], [100 * profile.energy_at(rank)])
        self._legend.get_texts()[1].set_text(f"rank {rank}")
