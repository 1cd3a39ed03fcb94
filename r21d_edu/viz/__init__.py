"""Figures for the tutorials: functions that return matplotlib or plotly figures.

Functions return figures and never only show them, so they can be tested, saved
and embedded in widgets. The same method has the same colour everywhere
(`METHOD_COLORS`).
"""

from importlib import import_module
from typing import Any

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
