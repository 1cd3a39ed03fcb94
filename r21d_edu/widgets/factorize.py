"""Explorer for tutorial 08: choose how much energy every layer keeps; see the table and the cost.

`explore_plan` is the pure function behind the slider (tested without a
browser): it plans the factorization from a stored `NetworkProfile` — no
weights, no SVD, a few milliseconds — and finds the studied point nearest to
it. `FactorizationExplorer` only wires a slider to it and draws the
per-layer table and the study's Pareto figure with the point ringed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from ..netfactor import FactorizationReport, NetworkProfile
from ._base import Explorer

__all__ = ["FactorizationExplorer", "Plan", "explore_plan"]


@dataclass(frozen=True)
class Plan:
    """What the explorer shows for one energy.

    Fields: ``report`` (the `FactorizationReport`), ``nearest`` (the studied
    energy closest to it, or None without points) and ``text`` (one line on
    what the nearest studied factorization scored).
    """

    report: FactorizationReport
    nearest: float | None
    text: str


def explore_plan(profile: NetworkProfile, energy: float,
                 points: Sequence[Mapping[str, Any]] = ()) -> Plan:
    """Plan ``energy`` on `profile` and say what the study measured nearest to it.

    Args:
        profile: the network's `NetworkProfile` (e.g. from the study's results).
        energy: the share of each layer's squared singular values to keep.
        points: the study's points (``results.json["points"]``), or none.

    Returns:
        `Plan`.

    Shape:
        Not a tensor function.
    """
    report = profile.plan(energy=energy)
    points = _checked_points(points)
    studied = sorted({p["energy"] for p in points if p["variant"] == "linear"})
    if not studied:
        return Plan(report, None, report.summary())
    nearest = min(studied, key=lambda e: abs(e - energy))
    point = next(p for p in points if p["variant"] == "linear" and p["energy"] == nearest)
    after = point.get("accuracy_after_mean")
    scored = (f"test accuracy {point['accuracy_before']:.1%} as factorized"
              + ("" if after is None else
                 f", {after:.1%} ± {point['accuracy_after_std']:.1%} after the fine-tune"))
    text = (f"{report.summary()}. Nearest studied energy {nearest:g}: {scored}"
            + (f"; single-clip CPU latency {point['latency_ms']:.1f} ms"
               if point.get("latency_ms") else "") + ".")
    return Plan(report, nearest, text)


def _checked_points(points: object) -> list[Mapping[str, Any]]:
    """The study's points, each with the fields the explorer reads, or a clear refusal."""
    if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Sequence):
        raise TypeError(f"points must be the study's list of points (results.json's "
                        f"'points'), got {type(points).__name__}")
    for i, point in enumerate(points):
        if not isinstance(point, Mapping):
            raise TypeError(f"points[{i}] must be a dict, got {type(point).__name__}")
        missing = [k for k in ("variant", "energy") if k not in point]
        if point.get("variant") == "linear":
            missing += [k for k in ("accuracy_before",) if k not in point]
        if missing:
            raise ValueError(f"points[{i}] lacks {', '.join(missing)}: the explorer reads "
                             "variant, energy and accuracy_before of each point "
                             "(results.json's 'points' have them)")
    return list(points)


class FactorizationExplorer(Explorer):
    """An energy slider over a network's profile: per-layer table and the Pareto figure.

    Args:
        profile: the network's `NetworkProfile`.
        points: the study's points; without them only the table is shown.
        energy: where the slider starts. Default: 0.9.

    Attributes:
        slider: the energy slider (0.3–1.0); also ``controls["energy"]``.
        summary: HTML, one line on the plan and the nearest studied point.
        table: HTML, the per-layer `FactorizationReport`.
        plot: `ipywidgets.Image`, the Pareto figure with the nearest studied
            energy's points ringed.
        message: empty, or why the setting cannot work.
        stale: True while the view shows an earlier setting (see `Explorer`).
        plan: the `Plan` on screen (the last valid one).
    """

    def __init__(self, profile: NetworkProfile, points: Sequence[Mapping[str, Any]] = (),
                 energy: float = 0.9) -> None:
        if not isinstance(profile, NetworkProfile):
            raise TypeError(f"FactorizationExplorer needs a NetworkProfile, got "
                            f"{type(profile).__name__}; make one with network_profile(model)")
        self.profile, self.points = profile, _checked_points(points)
        # Energies below 0.3 leave the direction task's network at chance; the range
        # keeps the slider where the table has something to say.
        self.slider = w.FloatSlider(value=energy, min=0.3, max=1.0, step=0.01,
                                    description="energy kept", continuous_update=False,
                                    readout_format=".2f", style={"description_width": "90px"})
        self.summary, self.table = w.HTML(), w.HTML()
        self.plot = w.Image(format="png")
        self.plan: Plan | None = None
        self._figure = None
        self._rings: list = []
        shown = [self.summary, self.table, *([self.plot] if self.points else [])]
        view = w.VBox(shown)
        self._start({"energy": self.slider}, view, [self.slider, view])

    def _update(self) -> None:
        self.plan = explore_plan(self.profile, self.slider.value, self.points)
        self.summary.value = f"<p>{html.escape(self.plan.text)}</p>"
        self.table.value = self.plan.report._repr_html_()
        if self.points:
            self.plot.value = self._render(self.plan.nearest)

    def _render(self, nearest: float | None) -> bytes:
        # One live figure: only the rings move, and render_png draws it once with its
        # first layout kept — a fifth of the time of drawing a new figure each move.
        from ..viz._common import render_png
        from ..viz.tradeoff import PANELS, RING, pareto_figure, ring_positions

        if self._figure is None:
            self._figure = pareto_figure(self.points)
            self._rings = [ax.plot([], [], **RING)[0] for ax in self._figure.axes]
        for ring, (cost, scale, _) in zip(self._rings, PANELS, strict=True):
            ring.set_data(*(ring_positions(self.points, nearest, cost, scale)
                            if nearest is not None else ([], [])))
        return render_png(self._figure, dpi=60)
