"""Figures for the tutorials: functions that return matplotlib or plotly figures.

Functions return figures and never only show them, so they can be tested, saved
and embedded in widgets. The same method has the same colour everywhere
(`METHOD_COLORS`).

Importing this package (which ``import r21d_edu`` does) registers a PNG display
formatter for matplotlib figures in a running IPython kernel, so a returned figure
shows as a picture in a fresh notebook with no ``%matplotlib inline`` first. The
figures are made without pyplot (no global state), and IPython only learns to draw
such a figure when the inline backend is activated; a formatter already registered
(``%matplotlib inline``, ``%config InlineBackend.figure_formats = ["retina"]``) is
left as it is.
"""

import sys
from importlib import import_module
from typing import Any


def _register_png_formatter() -> bool:
    """Let IPython draw matplotlib figures as PNG; True if this call registered it."""
    # A kernel has imported IPython long before this; plain Python has no shell to
    # register with, and importing IPython only to find that out would be slow.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
        return False  # the inline backend (or the user) already chose a format
    except KeyError:
        pass
    from IPython.core.pylabtools import print_figure

    # The inline backend's own choice: a PNG cropped to the drawn area.
    png.for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))
    return True


_register_png_formatter()

from .clips import ClipAnimation, clip_animation, clip_strip
from .style import METHOD_COLORS, METHOD_LABELS
from .timing import plot_timings

# Modules that use r21d_edu.counting or r21d_edu.lowrank load on first use: those
# modules import viz.style, so importing them here would be circular.
_LAZY = {
    "cost_vs_kernel_size": "costs",
    "cost_vs_m": "costs",
    "cost_vs_width": "costs",
    "intermediate_channels_figure": "costs",
    "cost_surface": "interactive",
    "feature_maps_over_time": "interactive",
    "kernel_3d_figure": "interactive",
    "receptive_field_figure": "interactive",
    "effective_kernel": "kernels",
    "effective_kernel_figure": "kernels",
    "kernel_grid": "kernels",
    "spatial_filters": "kernels",
    "temporal_profiles": "kernels",
    "feature_maps": "features",
    "layer_output": "features",
    "middle_feature_maps": "features",
    "middle_output": "features",
    "tuning_curves": "motion",
    "tuning_polar": "motion",
    "training_curves": "training",
    "pareto_figure": "tradeoff",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METHOD_COLORS",
    "METHOD_LABELS",
    "ClipAnimation",
    "clip_animation",
    "clip_strip",
    "plot_timings",
    *_LAZY,
]
