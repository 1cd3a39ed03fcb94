"""Timing bars: the median of repeated runs with its spread (the interquartile range).

A single wall-clock number hides how noisy it is; the bar is the median and the
whisker spans the 25th to the 75th percentile, so two methods whose whiskers
overlap are not clearly different on this machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..factorized import FACTORIZED_LAYERS
from ._common import new_figure
from .factorizations import FAMILY_COLORS
from .style import METHOD_COLORS, METHOD_LABELS

__all__ = ["plot_timings"]

_FIELDS = ("label", "method", "median_ms", "q25_ms", "q75_ms")

#: Every method a bar can have: the three layers and the fast one, then the family
#: (`r21d_edu.factorized`), in the fixed order of the legend, with its colour and label.
_COLORS = {**METHOD_COLORS, **{m: FAMILY_COLORS[m] for m in FACTORIZED_LAYERS}}
_LABELS = {**METHOD_LABELS, **{m: cls.label for m, cls in FACTORIZED_LAYERS.items()}}


def _checked(results: Iterable[Any]) -> list[Any]:
    results = list(results)
    if not results:
        raise ValueError("plot_timings needs at least one timing result, got none")
    for i, result in enumerate(results):
        missing = [name for name in _FIELDS if not hasattr(result, name)]
        if missing:
            raise TypeError(
                f"timing result {i} ({type(result).__name__}) lacks {', '.join(missing)}; "
                f"each result needs the attributes {', '.join(_FIELDS)} "
                "(r21d_edu's timing results have them)"
            )
        if result.method not in _COLORS:
            raise ValueError(
                f"timing result {i} has method {result.method!r}; expected one of "
                f"{list(_COLORS)} (a key of r21d_edu.viz.METHOD_COLORS or of "
                "r21d_edu.factorized.FACTORIZED_LAYERS)"
            )
        if not result.q25_ms <= result.median_ms <= result.q75_ms:
            raise ValueError(
                f"timing result {i} ({result.label!r}) needs q25_ms <= median_ms <= q75_ms, "
                f"got {result.q25_ms}, {result.median_ms}, {result.q75_ms}"
            )
    return results


def plot_timings(results: Iterable[Any], title: str = "Wall-clock time per forward pass") -> Figure:
    """Horizontal bars of median time with interquartile whiskers, coloured by method.

    Args:
        results: objects with attributes ``label`` (str, the bar's name),
            ``method`` (a key of `METHOD_COLORS`: "3d", "naive", "2plus1d" or
            "fast"; or of `r21d_edu.factorized.FACTORIZED_LAYERS`), ``median_ms``,
            ``q25_ms`` and ``q75_ms`` (milliseconds).
            Bars appear top to bottom in the order given.
        title: the figure title.

    Returns:
        A `matplotlib.figure.Figure` with one axes: one bar per result, whiskers
        from q25 to q75, the median written at the end of each bar, and a legend
        of the methods present.

    Shape:
        Not a tensor function: ``len(results)`` bars.
    """
    results = _checked(results)
    fig = new_figure(7.0, 1.2 + 0.45 * len(results))
    ax = fig.add_subplot()
    positions = list(range(len(results)))[::-1]  # first result on top
    medians = [r.median_ms for r in results]
    whiskers = [
        [r.median_ms - r.q25_ms for r in results],
        [r.q75_ms - r.median_ms for r in results],
    ]
    colors = [_COLORS[r.method] for r in results]
    ax.barh(positions, medians, color=colors, height=0.6,
            xerr=whiskers, error_kw={"capsize": 4, "ecolor": "#333333", "lw": 1.2})
    ax.set_yticks(positions, [r.label for r in results])
    widest = max(r.q75_ms for r in results)
    for y, r in zip(positions, results):
        ax.text(r.q75_ms + 0.02 * widest, y, f"{r.median_ms:.3g} ms", va="center", fontsize=8)
    ax.set_xlim(0, widest * 1.25 if widest > 0 else 1.0)
    # The title says what was timed (a forward pass, or forward + backward in training).
    ax.set_xlabel("time per call (ms): median, whiskers = 25th–75th percentile")
    ax.set_title(title)
    # One legend entry per method, in the fixed order of METHOD_COLORS.
    present = [m for m in _COLORS if any(r.method == m for r in results)]
    handles = [Patch(color=_COLORS[m], label=_LABELS[m]) for m in present]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig
