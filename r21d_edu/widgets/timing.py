"""Explorer for tutorial 03: time the four variants live on this CPU.

Every number comes from `r21d_edu.timing.compare`; this module only wires
sliders to it. Sizes are capped so that one redraw (warm-up plus a few samples
of four layers) stays under about a second on a small CPU.
"""

from __future__ import annotations

import ipywidgets as w
import torch

from ..fast import make_fast
from ..layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv
from ..timing import Comparison, Variant, compare
from ..viz.style import METHOD_LABELS
from ._base import figure_to_png, safely


def _variants(channels: int, seed: int) -> list[Variant]:
    torch.manual_seed(seed)
    plain = SpatioTemporalConv(channels, channels, 3, padding=1, bias=False).eval()
    return [
        Variant(METHOD_LABELS["3d"], FullConv3d(channels, channels, 3, padding=1, bias=False)),
        Variant(METHOD_LABELS["naive"], NaiveConv2Plus1d.from_factorized(plain)),
        Variant(METHOD_LABELS["2plus1d"], plain),
        Variant(METHOD_LABELS["fast"], make_fast(plain)),
    ]


class TimingExplorer(w.VBox):
    """Sliders for a small layer and live CPU timings of the 3D, naive, (2+1)D and fast layers.

    The timings are real and change from run to run (and with whatever else
    the machine is doing); the median and IQR of a few samples are shown.

    Attributes:
        controls: ``channels``, ``frames``, ``size``, ``batch`` sliders and the ``mode`` toggle.
        image: the bar chart (PNG) of the last timing.
        table: HTML table of the last timing.
        message: empty, or why the current setting cannot be timed.
        comparison: the last `Comparison`.
    """

    def __init__(self, repeats: int = 3, seed: int = 0) -> None:
        slider = {"continuous_update": False, "style": {"description_width": "90px"}}
        self.controls = {
            "channels": w.IntSlider(16, min=8, max=32, step=8, description="C_in = C_out",
                                    **slider),
            "frames": w.IntSlider(4, min=2, max=8, description="T (frames)", **slider),
            "size": w.IntSlider(16, min=8, max=28, step=4, description="H = W", **slider),
            "batch": w.IntSlider(1, min=1, max=2, description="batch N", **slider),
            "mode": w.ToggleButtons(options=["inference", "training"], value="inference",
                                    description="mode"),
        }
        self.repeats, self.seed = repeats, seed
        self.image = w.Image(format="png", width=560)
        self.table = w.HTML()
        self.message = w.HTML()
        self.comparison: Comparison | None = None
        redraw = safely(self._redraw, self.message)
        for control in self.controls.values():
            control.observe(redraw, names="value")
        redraw()
        super().__init__([w.HBox([w.VBox(list(self.controls.values())), self.image]),
                          self.table, self.message])

    def _redraw(self) -> None:
        value = {name: control.value for name, control in self.controls.items()}
        shape = (value["batch"], value["channels"], value["frames"], value["size"],
                 value["size"])
        self.comparison = compare(
            _variants(value["channels"], self.seed), shape, modes=(value["mode"],),
            repeats=self.repeats, warmup=1, warmup_s=0.0, seed=self.seed)
        self.image.value = figure_to_png(self.comparison.figure())
        self.table.value = self.comparison._repr_html_()


def timing_explorer(repeats: int = 3) -> TimingExplorer:
    """A live CPU timing explorer of the four variants on small sizes."""
    return TimingExplorer(repeats=repeats)
