"""Explorer for tutorial 03: predict which variant is fastest, then time the four live.

Every number comes from `r21d_edu.timing.compare`; this module only wires
sliders to it. The sliders start small, so that a redraw (warm-up plus a few
samples of four layers) takes about a second; at those sizes fixed per-call
costs weigh as much as the arithmetic. They reach layer1 of R(2+1)D-18 on an
8-frame clip (64 channels, 8 x 56 x 56), where the convs' work dominates — and
a redraw takes several seconds on a small CPU.
"""

from __future__ import annotations

import math

import ipywidgets as w
import torch
from torch import nn

from .._checks import check_int, check_seed
from ..fast import make_fast
from ..layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv
from ..timing import Comparison, Variant, compare
from ..viz.style import METHOD_LABELS
from ._base import Explorer, figure_to_png


def _variants(channels: int, seed: int) -> list[Variant]:
    # Weights from a generator of our own: moving a slider must not reset (or advance)
    # the notebook's global random stream, which building a layer draws from — so the
    # layers are built inside fork_rng, and their weights drawn from `generator`.
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        three = FullConv3d(channels, channels, 3, padding=1, bias=False)
        plain = SpatioTemporalConv(channels, channels, 3, padding=1, bias=False).eval()
        with torch.no_grad():
            for conv in (three, plain.spatial, plain.temporal):
                nn.init.kaiming_uniform_(conv.weight, a=math.sqrt(5), generator=generator)
        return [
            Variant(METHOD_LABELS["3d"], three),
            Variant(METHOD_LABELS["naive"], NaiveConv2Plus1d.from_factorized(plain)),
            Variant(METHOD_LABELS["2plus1d"], plain),
            Variant(METHOD_LABELS["fast"], make_fast(plain)),
        ]


class TimingExplorer(Explorer):
    """Sliders for a layer, a prediction, and live CPU timings of the four variants.

    The timings are real and change from run to run (and with whatever else
    the machine is doing); the median and IQR of a few samples are shown. Pick
    the variant you expect to be fastest first: ``verdict`` then compares the
    prediction with the measurement (changing the prediction re-times nothing).

    Attributes:
        controls: ``channels``, ``frames``, ``size``, ``batch`` sliders and the ``mode`` toggle.
        guess: the predicted fastest method (``"3d"``, ``"naive"``, ``"2plus1d"``, ``"fast"``).
        verdict: HTML comparing the prediction with the measured fastest.
        image: the bar chart (PNG) of the last timing.
        table: HTML table of the last timing.
        message: empty, or why the current setting cannot be timed.
        stale: True while the view shows an earlier setting (see `Explorer`).
        comparison: the last `Comparison`.
    """

    def __init__(self, repeats: int = 3, seed: int = 0) -> None:
        slider = {"continuous_update": False, "style": {"description_width": "90px"}}
        controls = {
            "channels": w.IntSlider(16, min=8, max=64, step=8, description="C_in = C_out",
                                    **slider),
            "frames": w.IntSlider(4, min=2, max=8, description="T (frames)", **slider),
            "size": w.IntSlider(16, min=8, max=56, step=4, description="H = W", **slider),
            "batch": w.IntSlider(1, min=1, max=2, description="batch N", **slider),
            "mode": w.ToggleButtons(options=["inference", "training"], value="inference",
                                    description="mode"),
        }
        self.repeats = check_int(repeats, "repeats", minimum=1)
        self.seed = check_seed(seed)
        self.guess = w.ToggleButtons(
            options=[(METHOD_LABELS[m], m) for m in ("3d", "naive", "2plus1d", "fast")],
            value="3d", description="fastest?", style={"button_width": "150px"})
        self.verdict = w.HTML()
        self.image = w.Image(format="png", width=560)
        self.table = w.HTML()
        self.comparison: Comparison | None = None
        self.guess.observe(lambda _change: self._judge(), names="value")
        view = w.VBox([self.image, self.table])
        self._start(controls, view, [self.guess, w.HBox([w.VBox(list(controls.values())), view]),
                                     self.verdict])

    def _update(self) -> None:
        value = {name: control.value for name, control in self.controls.items()}
        shape = (value["batch"], value["channels"], value["frames"], value["size"],
                 value["size"])
        variants = _variants(value["channels"], self.seed)
        with torch.random.fork_rng(devices=[]):  # training mode draws output gradients
            self.comparison = compare(variants, shape, modes=(value["mode"],),
                                      repeats=self.repeats, warmup=1, warmup_s=0.0,
                                      seed=self.seed)
        self.image.value = figure_to_png(self.comparison.figure())
        self.table.value = self.comparison._repr_html_()
        self._judge()

    def _judge(self) -> None:
        if self.comparison is None:
            return
        fastest = min(self.comparison.results, key=lambda r: r.median_ms)
        guessed = METHOD_LABELS[self.guess.value]
        timed = {r.method for r in self.comparison.results}
        if self.guess.value not in timed:
            # Training: the fast path's BatchNorm is folded, so it is never timed there.
            self.verdict.value = (
                f"You predicted <b>{guessed}</b>, but it was not timed in "
                f"{self.comparison.results[0].mode}: the fast path is inference-only (its "
                "BatchNorm is folded into fixed weights, which training cannot update). Pick "
                f"one of the three timed variants; the fastest this time was "
                f"<b>{METHOD_LABELS[fastest.method]}</b>.")
            return
        if fastest.method == self.guess.value:
            outcome = f"You predicted <b>{guessed}</b>, and it was the fastest this time."
        else:
            outcome = (f"You predicted <b>{guessed}</b>; the fastest this time was "
                       f"<b>{METHOD_LABELS[fastest.method]}</b>.")
        self.verdict.value = (outcome + " Close medians can swap on the next run; small layers "
                              "mostly time per-call costs, large ones the convs' work.")


def timing_explorer(repeats: int = 3) -> TimingExplorer:
    """A predict-then-measure CPU timing explorer of the four variants."""
    return TimingExplorer(repeats=repeats)
