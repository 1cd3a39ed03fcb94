"""Figures for the tutorials: functions that return matplotlib or plotly figures.

Functions return figures and never only show them, so they can be tested, saved
and embedded in widgets. The same method has the same colour everywhere
(`METHOD_COLORS`).
"""

from .style import METHOD_COLORS, METHOD_LABELS
from .timing import plot_timings

__all__ = ["METHOD_COLORS", "METHOD_LABELS", "plot_timings"]
