"""Motion-tuning figures: response against speed, and against direction (polar).

Both draw a `r21d_edu.motion.MotionTuning`. Layers are coloured by method
(`METHOD_COLORS`); hand-made taps get neutral colours, and their analytic
response (`r21d_edu.motion.temporal_response`) is drawn dashed beside the
measured one, so the plot shows theory and measurement agreeing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._checks import check_bool, check_number
from ..motion import MotionTuning, temporal_response
from ._common import new_figure
from .style import METHOD_COLORS

__all__ = ["tuning_curves", "tuning_polar"]

# Not the method colours (orange, sky blue, green, pink), so a taps line never looks like a layer.
_NEUTRAL = ["#333333", "#0072B2", "#999999", "#882255", "#44AA99", "#DDCC77"]
_DASHES = ["-", "--", "-.", ":"]


def _check_result(result: Any) -> MotionTuning:
    if not isinstance(result, MotionTuning):
        raise TypeError(
            f"expected a MotionTuning (from r21d_edu.motion.motion_tuning), got "
            f"{type(result).__name__}"
        )
    return result


def _colours(result: MotionTuning) -> list[str]:
    # Several layers of one method in one plot must still be told apart: the first
    # gets the method's colour, later ones fall back to the neutral cycle.
    used: set[str] = set()
    colours = []
    for number, kind in enumerate(result.kinds):
        colour = METHOD_COLORS.get(kind)
        if colour is None or colour in used:
            colour = _NEUTRAL[number % len(_NEUTRAL)]
        used.add(colour)
        colours.append(colour)
    return colours


def tuning_curves(
    result: MotionTuning,
    direction: float | None = None,
    *,
    show_law: bool = True,
    title: str | None = None,
) -> Figure:
    """RMS response against grating speed, one line per filter, at one direction.

    Args:
        result: a `MotionTuning`.
        direction: a swept direction in degrees; default the first.
        show_law: draw the analytic response of hand-made taps, dashed.
        title: the figure title.

    Returns:
        A `Figure` with one axes: one solid line (S points) per filter, plus
        one dashed line per taps filter when ``show_law``; dotted verticals at
        whole periods per frame, where the grating looks static.

    Shape:
        Not a tensor function.
    """
    result = _check_result(result)
    show_law = check_bool(show_law, "show_law")
    chosen = (float(result.directions[0]) if direction is None
              else check_number(direction, "direction (degrees)"))
    fig = new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    fine = np.linspace(result.speeds.min(), result.speeds.max(), 200)
    for name, kind, colour in zip(result.names, result.kinds, _colours(result)):
        ax.plot(result.speeds, result.curve(name, chosen), marker="o", markersize=3,
                color=colour, label=name)
        if show_law and kind == "taps":
            law = temporal_response(result.taps[name], fine, result.period, result.contrast)
            ax.plot(fine, law, linestyle="--", color=colour, alpha=0.6, linewidth=1,
                    label=f"{name}: formula")
    for whole in np.arange(result.period, result.speeds.max() + 1e-9, result.period):
        ax.axvline(whole, color="#999999", linestyle=":", linewidth=1)
    ax.set_xlabel(f"grating speed (px/frame; period {result.period:g} px)")
    ax.set_ylabel("RMS response")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(title or f"Speed tuning to gratings drifting at {chosen:g}°", fontsize=10)
    return fig


def tuning_polar(
    result: MotionTuning,
    speed: float | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Response against direction of motion on a polar plot, one closed curve per filter.

    A filter that only looks along time draws a circle (it cannot tell
    directions apart); a kernel tilted in space-time draws a lobe towards the
    direction it prefers.

    Args:
        result: a `MotionTuning` swept over several directions.
        speed: a swept speed in px/frame; default the speed of the largest
            response of the first filter.
        title: the figure title.

    Returns:
        A `Figure` with one polar axes and one closed line (D + 1 points) per
        filter. Angles follow the screen: 0° right, 90° down (clockwise).

    Shape:
        Not a tensor function.
    """
    result = _check_result(result)
    if len(result.directions) < 3:
        raise ValueError(
            f"a polar plot needs at least 3 directions in the sweep, got "
            f"{len(result.directions)}; sweep e.g. directions=range(0, 360, 30)"
        )
    if speed is None:
        speed = result.preferred(result.names[0])[1]
    speed = check_number(speed, "speed (px/frame)")
    gaps = np.abs(result.speeds - speed)
    if gaps.min() > 1e-9:
        raise ValueError(f"speed {speed:g} is not in the sweep {result.speeds.tolist()}")
    s = int(gaps.argmin())
    order = np.argsort(result.directions)
    angles = np.radians(result.directions[order])
    fig = new_figure(4.6, 4.2)
    ax = fig.add_subplot(projection="polar")
    # Image coordinates: y grows downwards, so 90° (down) is drawn clockwise from 0°.
    ax.set_theta_direction(-1)
    for number, (name, colour) in enumerate(zip(result.names, _colours(result))):
        values = result.responses[number, order, s]
        # Varying dashes keep curves that coincide (a kernel and its exact fit) both visible.
        ax.plot(np.append(angles, angles[0]), np.append(values, values[0]), marker="o",
                markersize=3, color=colour, label=name, linestyle=_DASHES[number % 4])
    ax.set_ylim(bottom=0)
    ax.set_rlabel_position(112.5)  # radial labels between the lobes, not on the 0° axis
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("direction of motion (degrees; 0° right, 90° down)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.set_title(title or f"Direction tuning at {result.speeds[s]:g} px/frame "
                 f"(period {result.period:g} px): RMS response", fontsize=10, pad=16)
    return fig
