"""One colour and one label per method, used by every figure of the package."""

from ..methods import METHOD_LABELS

__all__ = ["METHOD_COLORS", "METHOD_LABELS"]

# Colour-blind-safe (Okabe–Ito) colours, fixed per method so that a reader who has
# learned "orange is the 3D conv" in one plot can trust it in every other plot.
METHOD_COLORS = {
    "3d": "#E69F00",
    "naive": "#56B4E9",
    "2plus1d": "#009E73",
    "fast": "#CC79A7",
}
