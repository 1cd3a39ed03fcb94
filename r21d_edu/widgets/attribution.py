"""Explorer for tutorial 11: scrub through a clip's frames and see where a network looked.

Attributions are computed once, when the scrubber is built — for every model and
method asked for — and kept; a step of the frame slider (or of its play button)
only puts the kept numbers on screen. The figure is drawn once and its images are
updated in place (``set_data``), so a step costs one render of a small figure.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import ipywidgets as w
import numpy as np
import torch
from torch import nn

from ..attribution import METHOD_NAMES, METHODS, Attribution, attribute
from ..viz._common import hide_ticks, new_figure, render_png
from ..viz.attribution import MASK_COLOR
from ._base import Explorer

__all__ = ["AttributionScrubber", "attribution_scrubber", "mask_outline"]

#: Integrated gradients' and occlusion's settings in the scrubber: the study's.
SETTINGS = {"integrated_gradients": {"steps": 16},
            "occlusion": {"window": (2, 8, 8), "stride": (2, 4, 4)}}


def mask_outline(mask: torch.Tensor) -> torch.Tensor:
    """The pixels of a mask that touch a pixel outside it (4-neighbours): its outline.

    Shape:
        - mask: (..., H, W) bool -> the same shape, bool
    """
    padded = torch.nn.functional.pad(mask.float(), (1, 1, 1, 1)).bool()
    inner = (padded[..., :-2, 1:-1] & padded[..., 2:, 1:-1]
             & padded[..., 1:-1, :-2] & padded[..., 1:-1, 2:])
    return mask & ~inner


class AttributionScrubber(Explorer):
    """Step through a clip's frames with each model's and method's attribution over them.

    Attributes:
        controls: ``frame`` (slider), ``model`` and ``method`` (dropdowns).
        play: an ``ipywidgets.Play`` linked in the browser to the frame slider.
        image: the current frame, drawn (PNG): the frame in grey with |map| over it
            and the object's outline, beside each frame's share of the importance.
        readout: HTML: what the current frame holds.
        attributions: the kept `Attribution` of every (model, method).
        message: empty, or why the current setting cannot work.
        stale: True while the view shows an earlier setting (see `Explorer`).
    """

    def __init__(self, models: Mapping[str, nn.Module], clip: torch.Tensor,
                 masks: torch.Tensor | None, methods: Sequence[str],
                 target: int | torch.Tensor | None,
                 class_names: Sequence[str] | None = None) -> None:
        self._class_names = class_names
        self.attributions = {(name, method): attribute(model, clip, method, target=target,
                                                       **SETTINGS.get(method, {}))
                             for name, model in models.items() for method in methods}
        self._grey = clip[0].float().mean(dim=0).cpu().numpy()
        self._masks = None if masks is None else masks[0].cpu()
        frames = self._grey.shape[0]
        style = {"description_width": "60px"}
        controls = {
            "frame": w.IntSlider(0, min=0, max=frames - 1, description="frame", style=style),
            "model": w.Dropdown(options=list(models), description="model", style=style),
            "method": w.Dropdown(options=[(METHOD_NAMES[m], m) for m in methods],
                                 description="method", style=style),
        }
        self.play = w.Play(value=0, min=0, max=frames - 1, interval=500, description="play")
        self._link = w.jslink((self.play, "value"), (controls["frame"], "value"))
        self.image = w.Image(format="png")
        self.readout = w.HTML()
        self._build_figure()
        view = w.VBox([self.image, self.readout])
        bar = w.HBox([self.play, controls["frame"], controls["model"], controls["method"]])
        self._start(controls, view, [bar, view])

    def _build_figure(self) -> None:
        low, high = float(self._grey.min()), float(self._grey.max())
        self._figure = new_figure(6.4, 3.0)
        frame_axes, profile_axes = self._figure.subplots(1, 2, width_ratios=[1, 1.3])
        first = self._grey[0]
        frame_axes.imshow(first, cmap="gray", vmin=low, vmax=high if high > low else low + 1)
        self._heat = frame_axes.imshow(np.zeros_like(first), cmap="magma", vmin=0, vmax=1,
                                       alpha=0.6)
        self._outline = frame_axes.imshow(np.zeros((*first.shape, 4)))
        self._frame_image = frame_axes.images[0]
        hide_ticks(frame_axes)
        self._frame_axes = frame_axes
        steps = np.arange(len(self._grey))
        self._bars = profile_axes.bar(steps, np.zeros(len(steps)), color="0.7")
        profile_axes.axhline(1 / len(steps), color="0.5", linestyle="--", linewidth=1)
        profile_axes.set_xticks(steps)
        profile_axes.set_xlabel("frame")
        profile_axes.set_ylabel("share of the importance")
        self._profile_axes = profile_axes
        self._shown: tuple[str, str] | None = None
        outline = np.zeros((*self._grey.shape, 4))
        if self._masks is not None:
            colour = [int(MASK_COLOR[i:i + 2], 16) / 255 for i in (1, 3, 5)]
            outline[mask_outline(self._masks).numpy()] = (*colour, 1.0)
        self._outline_rgba = outline

    def _update(self) -> None:
        value = {name: control.value for name, control in self.controls.items()}
        result: Attribution = self.attributions[value["model"], value["method"]]
        importance = result.importance()[0]
        top = float(importance.max()) or 1.0
        profile = result.temporal_profile()[0]
        if self._shown != (value["model"], value["method"]):  # new bars only for a new map
            for bar, share in zip(self._bars, profile.tolist()):
                bar.set_height(share)
            self._profile_axes.set_ylim(0, max(0.3, 1.1 * float(profile.max())))
            self._profile_axes.set_title(f"{value['model']}, {result.name}", fontsize=9)
            self._shown = (value["model"], value["method"])
        frame = value["frame"]
        for index, bar in enumerate(self._bars):
            bar.set_color("#D55E00" if index == frame else "0.7")
        self._frame_image.set_data(self._grey[frame])
        self._heat.set_data((importance[frame] / top).numpy())
        self._outline.set_data(self._outline_rgba[frame])
        self._frame_axes.set_title(f"frame {frame}", fontsize=9)
        self.image.value = render_png(self._figure, dpi=72)
        inside = ""
        if self._masks is not None:
            total = float(importance[frame].sum())
            share = float((importance[frame] * self._masks[frame]).sum()) / total if total else 0
            inside = (f"; {share:.0%} of it inside the object (which covers "
                      f"{float(self._masks[frame].float().mean()):.1%} of the frame)")
        explained, predicted = (self._name(result.target[0]), self._name(result.predicted[0]))
        self.readout.value = html.escape(
            f"frame {frame} holds {float(profile[frame]):.0%} of the clip's importance"
            f"{inside}. The class explained: {explained}; {value['model']} predicts "
            f"{predicted}.")

    def _name(self, index: torch.Tensor) -> str:
        index = int(index)
        if self._class_names is not None and 0 <= index < len(self._class_names):
            return repr(self._class_names[index])
        return f"class {index}"


def attribution_scrubber(models: nn.Module | Mapping[str, nn.Module], clip: torch.Tensor,
                         masks: torch.Tensor | None = None,
                         methods: Sequence[str] = METHODS,
                         target: int | torch.Tensor | None = None,
                         class_names: Sequence[str] | None = None) -> AttributionScrubber:
    """A frame scrubber over one clip's attributions, for one or several models.

    Every (model, method) is attributed once, here (integrated gradients with 16
    steps, occlusion with 2 × 8 × 8 windows: a few seconds on a CPU for a small
    network); moving the slider only redraws.

    Args:
        models: a model, or a mapping of names to models taking (N, C, T, H, W) clips.
        clip: one clip (1, C, T, H, W) (of a batch, only the first is shown).
        masks: optional (1, T, H, W) bool: the object's pixels, outlined in green.
        methods: which of `r21d_edu.attribution.METHODS`. Default: all four.
        target: the class to explain (see `r21d_edu.attribution.attribute`).
            Default: the class each model predicts.
        class_names: names of the classes, for the readout (e.g.
            `r21d_edu.tasks.DIRECTION_NAMES`). Default: their indices.

    Shape:
        - clip: (1, C, T, H, W); masks: (1, T, H, W)
    """
    if isinstance(models, nn.Module):
        models = {type(models).__name__: models}
    if not isinstance(models, Mapping) or not models:
        raise TypeError(f"models must be a model or a non-empty mapping of names to models, got "
                        f"{type(models).__name__}")
    if not isinstance(clip, torch.Tensor) or clip.dim() != 5:
        shape = tuple(clip.shape) if isinstance(clip, torch.Tensor) else type(clip).__name__
        raise ValueError(f"clip must be one clip (1, C, T, H, W), got {shape}")
    clip = clip[:1]
    if masks is not None:
        expected = (1, *clip.shape[2:])
        if (not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool
                or tuple(masks[:1].shape) != expected):
            got = tuple(masks.shape) if isinstance(masks, torch.Tensor) else type(masks).__name__
            raise ValueError(f"masks must be bool of shape {expected} (r21d_edu.tasks."
                             f"object_masks), got {got}")
        masks = masks[:1]
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be some of {', '.join(METHODS)}, got {methods}")
    if isinstance(target, torch.Tensor):
        target = target[:1]
    return AttributionScrubber(models, clip, masks, methods, target, class_names)
