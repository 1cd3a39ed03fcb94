"""Explorer for tutorial 01: move the sizes, watch M, the weights and the shapes.

Every number comes from `r21d_edu.compare.compare_layers`, which builds the
three real layers on the meta device; this module only wires sliders to it.
"""

from __future__ import annotations

import ipywidgets as w

from ..compare import compare_layers
from ._base import Explorer


class LayerExplorer(Explorer):
    """Sliders for a conv configuration and the side-by-side of the three layers.

    Attributes:
        controls: the sliders by argument name (``in_channels``, ``out_channels``,
            ``t``, ``d``, ``stride``, ``padding``, ``frames``, ``size``).
        summary: HTML with the formula, the parameter table and the shapes.
        message: empty, or why the current setting cannot work.
        stale: True while the view shows an earlier setting (see `Explorer`).
        comparison: the `LayerComparison` on screen (the last valid one).
    """

    def __init__(self) -> None:
        slider = {"continuous_update": False, "style": {"description_width": "110px"}}
        controls = {
            "in_channels": w.IntSlider(64, min=1, max=512, description="C_in", **slider),
            "out_channels": w.IntSlider(64, min=1, max=512, description="C_out", **slider),
            "t": w.IntSlider(3, min=1, max=7, description="t (time)", **slider),
            "d": w.IntSlider(3, min=1, max=7, description="d (space)", **slider),
            "stride": w.IntSlider(1, min=1, max=3, description="stride", **slider),
            "padding": w.IntSlider(1, min=0, max=3, description="padding", **slider),
            "frames": w.IntSlider(16, min=1, max=32, description="T (frames)", **slider),
            "size": w.IntSlider(56, min=1, max=112, description="H = W", **slider),
        }
        self.summary = w.HTML()
        self.comparison = None
        view = w.VBox([self.summary])
        self._start(controls, view, [w.HBox([w.VBox(list(controls.values())), view])])

    def _update(self) -> None:
        value = {name: control.value for name, control in self.controls.items()}
        self.comparison = compare_layers(
            value["in_channels"],
            value["out_channels"],
            kernel_size=(value["t"], value["d"], value["d"]),
            stride=value["stride"],
            padding=value["padding"],
            input_size=(value["frames"], value["size"], value["size"]),
        )
        self.summary.value = self.comparison._repr_html_()


def layer_explorer() -> LayerExplorer:
    """An explorer of M, weight counts and shapes of the three layers."""
    return LayerExplorer()
