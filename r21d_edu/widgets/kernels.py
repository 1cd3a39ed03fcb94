"""Explorer for tutorial 05: pick a clip and a layer, watch the feature maps.

The layer is the hand-made motion bank of `r21d_edu.motion.motion_kernels`
(a static edge, a flicker detector, edges moving right and left) as a full 3D
conv, or its best rank-M (2+1)D approximation (`lowrank.factorize`), as the
factorized or the naive layer. Moving the rank slider shows the direction
selectivity appear at rank 2 and the flicker channel stay silent on a static
scene at every rank.

`feature_view` is the pure function behind the sliders (tested without a
browser); `FeatureExplorer` only wires controls to it and shows its figure as
a PNG.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import ipywidgets as w
import torch
from matplotlib.figure import Figure
from torch import nn

from .._checks import check_int
from .._tables import html_table
from ..data import CLIP_KINDS, SyntheticClip, make_clip
from ..layers import NaiveConv2Plus1d, method_of
from ..lowrank import factorize, one_thread
from ..methods import LAYER_METHODS, Method, check_method
from ..motion import MOTION_KERNEL_NAMES, motion_kernels
from ..viz.features import (
    LiveGrid,
    layer_output,
    middle_output,
    middle_title,
    output_feature_maps,
    output_title,
)
from ..viz.style import METHOD_COLORS
from ._base import Explorer

__all__ = ["FeatureExplorer", "FeatureView", "feature_explorer", "feature_view"]

View = Literal["output", "middle"]

# The bank's unfolded kernel is (4 outputs · 3 frames) × (1 input · 5 · 5): full rank 12.
FULL_RANK = 12


@lru_cache(maxsize=64)
def _layer(method: str, rank: int) -> nn.Module:
    # One SVD per (method, rank): a slider that moves only the clip reuses the layer.
    bank = motion_kernels()
    if method == "3d":
        return bank
    if not 1 <= rank <= FULL_RANK:
        raise ValueError(
            f"rank must be between 1 and {FULL_RANK}, the full rank of the motion bank's "
            f"(4·3) × (1·5·5) unfolded kernel, got {rank}"
        )
    layer = factorize(bank, rank)
    return layer if method == "2plus1d" else NaiveConv2Plus1d.from_factorized(layer)


@dataclass(frozen=True)
class FeatureView:
    """What the explorer shows: the clip, the layer, the figure and per-channel RMS.

    Fields: ``clip`` (`SyntheticClip`), ``layer``, ``figure`` (a matplotlib
    `Figure`), ``rms`` (channel name -> RMS response over the output frames
    clear of temporal padding; empty for the middle view).
    """

    clip: SyntheticClip
    layer: nn.Module
    figure: Figure
    rms: dict[str, float]


def feature_view(
    kind: str = "moving_shape",
    direction: float = 0.0,
    speed: float = 1.0,
    method: Method = "3d",
    rank: int = 2,
    view: View = "output",
    *,
    frames: int = 6,
    size: int = 24,
) -> FeatureView:
    """A seeded clip through the motion bank (3D) or its rank-``rank`` (2+1)D fit.

    Args:
        kind: a clip kind of `r21d_edu.data.CLIP_KINDS`.
        direction: degrees (0° right, 90° down).
        speed: pixels per frame.
        method: ``"3d"`` (the bank itself), ``"2plus1d"`` or ``"naive"`` (its
            best rank-``rank`` factorization; both compute the same).
        rank: M of the (2+1)D layer, 1 to 12 (ignored for ``"3d"``).
        view: ``"output"`` (the 4 named channels) or ``"middle"`` (the M
            middle channels; (2+1)D layers only).
        frames: T of the clip.
        size: H = W of the clip.

    Returns:
        `FeatureView`.

    Shape:
        - Clip: (1, 1, frames, size, size); output (1, 4, frames, size, size).
    """
    clip, layer, shown, rms = _feature_tensors(kind, direction, speed, method, rank, view,
                                               frames, size)
    if view == "middle":
        figure = _grid_of(LiveGrid(), layer, shown, clip, view)
    else:
        figure = output_feature_maps(layer, shown, clip, channels=None, frames=None, sample=0,
                                     channel_names=MOTION_KERNEL_NAMES, title=None,
                                     colorbar=False)
    return FeatureView(clip, layer, figure, rms)


def _feature_tensors(
    kind: str, direction: float, speed: float, method: str, rank: int, view: str,
    frames: int, size: int,
) -> tuple[SyntheticClip, nn.Module, torch.Tensor, dict[str, float]]:
    """The clip, the layer, the tensor to show and the RMS per output channel."""
    check_method(method, "method", LAYER_METHODS)
    if view not in ("output", "middle"):
        raise ValueError(f"view must be 'output' or 'middle', got {view!r}")
    layer = _layer(method, check_int(rank, "rank", minimum=1))
    clip = make_clip(kind, frames, size, direction=direction, speed=speed, seed=0)
    # Tiny convs run faster on one thread than spread over busy cores (see lowrank).
    with one_thread():
        if view == "middle":
            return clip, layer, middle_output(layer, clip), {}
        out = layer_output(layer, clip)
    inner = out[:, :, 1:-1]  # frames that saw no temporal zero padding
    rms = {name: float(inner[:, c].pow(2).mean().sqrt()) for c, name in
           enumerate(MOTION_KERNEL_NAMES)}
    return clip, layer, out, rms


def _grid_of(grid: LiveGrid, layer: nn.Module, shown: torch.Tensor, clip: SyntheticClip,
             view: str) -> Figure:
    """Draw the output (4 named channels) or the middle (M channels) into a live grid."""
    colour = METHOD_COLORS[method_of(layer)]
    if view == "middle":
        return grid.draw(shown, title=middle_title(layer, shown), colour=colour,
                         signed=not layer.middle_relu)
    return grid.draw(shown, title=output_title(layer, shown, clip), colour=colour, signed=True,
                     channel_names=MOTION_KERNEL_NAMES, colorbar=False)


def _summary_html(result: FeatureView, method: str, rank: int) -> str:
    if method == "3d":
        layer = "the motion bank (3D conv, kernel 4 × 1 × 3 × 5 × 5)"
    else:
        kind = "naive Conv2d + Conv1d" if method == "naive" else "factorized"
        layer = f"its best rank-{rank} (2+1)D fit ({kind})"
    rows = [(n, f"{v:.3f}") for n, v in result.rms.items()]
    table = html_table(rows, ("channel", "RMS response"), sections=True) if rows else ""
    return (f"<p><b>{html.escape(result.clip.describe())}</b><br>through "
            f"{html.escape(layer)}</p>{table}"
            "<p><small>Maps: white = 0, red > 0, blue < 0.</small></p>")


class FeatureExplorer(Explorer):
    """Choose a clip and a layer; see its feature maps and each channel's RMS response.

    Attributes:
        controls: ``kind``, ``direction``, ``speed``, ``method``, ``rank``, ``view``.
        summary: HTML with the clip's ground truth and the RMS per channel.
        plot: `ipywidgets.Image` with the feature maps (PNG).
        message: empty, or why the current setting cannot work (e.g. the
            middle tensor of a 3D conv).
        stale: True while the view shows an earlier setting (see `Explorer`).
        result: the `FeatureView` on screen (the last valid one).
    """

    def __init__(self) -> None:
        slider = {"continuous_update": False, "style": {"description_width": "80px"}}
        controls = {
            "kind": w.Dropdown(options=list(CLIP_KINDS), value="moving_shape",
                               description="clip"),
            "direction": w.IntSlider(0, min=0, max=345, step=15, description="direction (°)",
                                     **slider),
            "speed": w.FloatSlider(1.0, min=0.0, max=2.0, step=0.25,
                                   description="speed (px/fr)", **slider),
            "method": w.ToggleButtons(options=[("3D", "3d"), ("(2+1)D", "2plus1d"),
                                               ("naive", "naive")], value="3d",
                                      description="layer"),
            "rank": w.IntSlider(2, min=1, max=FULL_RANK, description="rank M", **slider),
            "view": w.ToggleButtons(options=["output", "middle"], value="output",
                                    description="show"),
        }
        self.summary = w.HTML()
        self.plot = w.Image(format="png")
        self.result: FeatureView | None = None
        self._grid = LiveGrid()
        view = w.VBox([self.plot])
        self._start(controls, view, [w.HBox([w.VBox([*controls.values(), self.summary]),
                                             view])])

    def _ignored(self) -> dict[str, str]:
        value = {name: control.value for name, control in self.controls.items()}
        ignored = {}
        if value["kind"] in ("flash", "static"):
            reason = f"Direction and speed do not apply: nothing moves in a {value['kind']} clip."
            ignored.update(direction=reason, speed=reason)
        if value["method"] == "3d":
            ignored["rank"] = "Rank M does not apply to the 3D conv (it is the full kernel)."
        return ignored

    def _update(self) -> None:
        value = {name: control.value for name, control in self.controls.items()}
        if value["view"] == "middle" and value["method"] == "3d":
            raise ValueError("a 3D conv has no middle tensor: only (2+1)D layers go through M "
                             "intermediate channels; pick (2+1)D or naive to see it")
        clip, layer, shown, rms = _feature_tensors(
            value["kind"], value["direction"], value["speed"], value["method"], value["rank"],
            value["view"], 6, 24)
        # One live figure, updated in place while the grid keeps its shape; a small PNG.
        figure = _grid_of(self._grid, layer, shown, clip, value["view"])
        result = FeatureView(clip, layer, figure, rms)
        self.plot.value = self._grid.png(dpi=50)
        self.summary.value = _summary_html(result, value["method"], value["rank"])
        self.result = result


def feature_explorer() -> FeatureExplorer:
    """An explorer of the motion bank's feature maps on synthetic clips."""
    return FeatureExplorer()

