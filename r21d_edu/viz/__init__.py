"""Figures for the tutorials: functions that return matplotlib or plotly figures.

Functions return figures and never only show them, so they can be tested, saved
and embedded in widgets. The same method has the same colour everywhere
(`METHOD_COLORS`).

Importing this package registers a PNG display formatter for matplotlib figures
in a running IPython kernel (every figure function, and every ``.figure()`` of a
result object, imports it first; ``import r21d_edu`` alone loads no matplotlib), so a
returned figure shows as a picture in a fresh notebook with no ``%matplotlib inline`` first. The
figures are made without pyplot (no global state), and IPython only learns to draw
such a figure when the inline backend is activated; a formatter already registered
(``%matplotlib inline``, ``%config InlineBackend.figure_formats = ["retina"]``) is
left as it is.
"""

import sys


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

# Figure modules import the core modules they draw (counting, lowrank, ...); the core
# never imports viz, so everything can be imported here without a cycle.
from .attribution import attribution_volume, spacetime_overlay, temporal_profile_figure  # noqa: E402
from .clips import ClipAnimation, clip_animation, clip_strip  # noqa: E402
from .costs import (  # noqa: E402
    cost_sweep_figure,
    cost_vs_kernel_size,
    cost_vs_m,
    cost_vs_width,
    intermediate_channels_figure,
)
from .energy import energy_figure  # noqa: E402
from .factorizations import (  # noqa: E402
    FamilyPlane,
    block_diagram,
    family_legend,
    family_plane_figure,
    layer_structure,
)
from .features import feature_maps, layer_output, middle_feature_maps, middle_output  # noqa: E402
from .interactive import (  # noqa: E402
    cost_surface,
    feature_maps_over_time,
    kernel_3d_figure,
    receptive_field_figure,
)
from .kernels import (  # noqa: E402
    effective_kernel,
    effective_kernel_figure,
    kernel_grid,
    spatial_filters,
    temporal_profiles,
)
from .motion import tuning_curves, tuning_polar  # noqa: E402
from .style import METHOD_COLORS, METHOD_LABELS  # noqa: E402
from .timing import plot_timings  # noqa: E402
from .tradeoff import pareto_figure  # noqa: E402
from .training import training_curves  # noqa: E402

__all__ = [
    "METHOD_COLORS",
    "METHOD_LABELS",
    "ClipAnimation",
    "FamilyPlane",
    "attribution_volume",
    "block_diagram",
    "clip_animation",
    "clip_strip",
    "cost_surface",
    "cost_sweep_figure",
    "cost_vs_kernel_size",
    "cost_vs_m",
    "cost_vs_width",
    "effective_kernel",
    "effective_kernel_figure",
    "energy_figure",
    "family_legend",
    "family_plane_figure",
    "feature_maps",
    "feature_maps_over_time",
    "intermediate_channels_figure",
    "kernel_3d_figure",
    "kernel_grid",
    "layer_output",
    "layer_structure",
    "middle_feature_maps",
    "middle_output",
    "pareto_figure",
    "plot_timings",
    "receptive_field_figure",
    "spacetime_overlay",
    "spatial_filters",
    "temporal_profile_figure",
    "temporal_profiles",
    "training_curves",
    "tuning_curves",
    "tuning_polar",
]
