"""Figures of attribution maps: where in space and when in time a network looked.

- `spacetime_overlay` — frames × methods (or models): each frame in grey with the
  importance |map| over it and the object's mask outlined;
- `temporal_profile_figure` — each frame's share of the importance, one line per
  map, with the flat 1/T line an even spread gives;
- `attribution_volume` — the importance of one clip as a plotly volume over
  (T, H, W), to turn with the mouse.

Each takes an `r21d_edu.attribution.Attribution`, a mapping of names to them, or
the maps themselves as a tensor, and returns a figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ._common import as_clip, check_index, hide_ticks, new_figure

__all__ = ["attribution_volume", "spacetime_overlay", "temporal_profile_figure"]

#: The colour of the object's outline: green, which the heat map (magma) never uses.
MASK_COLOR = "#00D084"


def _maps_of(value: Any, name: str) -> torch.Tensor:
    """The (N, T, H, W) maps of an Attribution or a tensor (a single (T, H, W) map is one clip)."""
    maps = getattr(value, "maps", value)
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"{name} must be an Attribution (r21d_edu.attribution.attribute) or a "
                        f"tensor of maps (N, T, H, W), got {type(value).__name__}")
    if maps.dim() == 3:
        maps = maps[None]
    if maps.dim() != 4:
        raise ValueError(f"{name} must hold maps of shape (N, T, H, W) or one map (T, H, W), got "
                         f"shape {tuple(maps.shape)}")
    if not maps.is_floating_point() or not bool(torch.isfinite(maps).all()):
        raise ValueError(f"{name} must be finite floating-point maps")
    return maps.detach().float().cpu()


def _named(attributions: Any) -> dict[str, torch.Tensor]:
    """A mapping name -> (N, T, H, W) maps, from one attribution or a mapping of them."""
    if isinstance(attributions, Mapping):
        if not attributions:
            raise ValueError("give at least one attribution (the mapping is empty)")
        named = {str(key): _maps_of(value, f"attributions[{key!r}]")
                 for key, value in attributions.items()}
    else:
        label = getattr(attributions, "name", "maps")
        named = {label: _maps_of(attributions, "attributions")}
    shapes = {tuple(m.shape) for m in named.values()}
    if len(shapes) > 1:
        raise ValueError(f"the attributions must have one shape, got {sorted(shapes)}")
    return named


def _masks_of(masks: Any, shape: tuple[int, ...]) -> torch.Tensor | None:
    if masks is None:
        return None
    if not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool:
        kind = f"{masks.dtype} tensor" if isinstance(masks, torch.Tensor) else type(masks).__name__
        raise TypeError(f"masks must be a bool tensor (N, T, H, W) as r21d_edu.tasks.object_masks "
                        f"gives, got a {kind}")
    if tuple(masks.shape) != shape:
        raise ValueError(f"masks must have the maps' shape {shape}, got {tuple(masks.shape)}")
    return masks.cpu()


def _frames(frames: Sequence[int] | None, count: int) -> list[int]:
    if frames is None:
        return list(range(count))
    if isinstance(frames, (str, bytes)) or not isinstance(frames, Sequence | range) or not frames:
        raise ValueError(f"frames must be a non-empty list of frame indices, got {frames!r}")
    return [check_index(f, count, "frame", "the clip's frames") for f in frames]


def spacetime_overlay(clip: Any, attributions: Any, masks: torch.Tensor | None = None,
                      sample: int = 0, frames: Sequence[int] | None = None,
                      title: str | None = None, alpha: float = 0.6) -> Figure:
    """Frames of a clip with each map's importance over them: a row per map, a column per frame.

    Each panel shows the frame in grey (the mean over the clip's channels), the
    importance |map| over it in magma, and, if given, the outline of the object's
    mask in green. Each row is divided by its largest importance on the clip
    (full colour), so rows compare *where* and *when*, not how much.

    Args:
        clip: the attributed clips (N, C, T, H, W) (a tensor or a `SyntheticClip`).
        attributions: an `Attribution`, a mapping of row names to them (e.g.
            ``{"Grad-CAM": ..., "occlusion": ...}``), or maps (N, T, H, W).
        masks: optional (N, T, H, W) bool: the pixels that carry the class.
        sample: which clip of the batch. Default: 0.
        frames: which frames to show. Default: all.
        title: the figure's title.
        alpha: the heat map's opacity over the frame, in [0, 1]. Default: 0.6.

    Shape:
        - clip: (N, C, T, H, W); maps and masks: (N, T, H, W)

    Example::

        >>> result = attribute(model, clips, "integrated_gradients")      # doctest: +SKIP
        >>> spacetime_overlay(clips, result, masks=masks).savefig("overlay.png")  # doctest: +SKIP
    """
    x = as_clip(clip, "clip")
    named = _named(attributions)
    shape = next(iter(named.values())).shape
    if (x.shape[0], *x.shape[2:]) != tuple(shape):
        raise ValueError(f"the maps {tuple(shape)} do not belong to a clip of shape "
                         f"{tuple(x.shape)}: expected maps (N, T, H, W) = "
                         f"{(x.shape[0], *x.shape[2:])}")
    mask = _masks_of(masks, tuple(shape))
    sample = check_index(sample, shape[0], "sample", "the batch of clips")
    shown = _frames(frames, shape[1])
    if not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    grey = x[sample].float().mean(dim=0).cpu().numpy()
    low, high = float(grey.min()), float(grey.max())
    rows, cols = len(named), len(shown)
    fig = new_figure(1.35 * cols + 1.6, 1.4 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, (label, maps) in enumerate(named.items()):
        importance = maps[sample].abs().numpy()
        importance = importance / (float(importance.max()) or 1.0)  # each row on its own scale
        for c, frame in enumerate(shown):
            ax = axes[r, c]
            ax.imshow(grey[frame], cmap="gray", vmin=low, vmax=high if high > low else low + 1)
            image = ax.imshow(importance[frame], cmap="magma", vmin=0, vmax=1, alpha=alpha)
            if mask is not None and bool(mask[sample, frame].any()):
                ax.contour(mask[sample, frame].numpy().astype(float), levels=[0.5],
                           colors=MASK_COLOR, linewidths=1.0)
            hide_ticks(ax)
            if r == 0:
                ax.set_title(f"frame {frame}", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="|map| / the row's largest")
    if title:
        fig.suptitle(title)
    return fig


def temporal_profile_figure(attributions: Any, title: str | None = None) -> Figure:
    """Each frame's share of the importance, averaged over the clips: one line per map.

    An even spread over T frames is the flat line at 1/T; the legend gives each
    line's effective frames (exp of the profile's entropy, averaged over clips:
    1 when one frame holds everything, T when all hold the same).

    Args:
        attributions: an `Attribution`, a mapping of names to them, or maps (N, T, H, W).
        title: the axes' title.

    Shape:
        - maps: (N, T, H, W) -> one line of T points per map

    Example::

        >>> temporal_profile_figure({"r3d": ig_r3d, "r2plus1d": ig_r21d})   # doctest: +SKIP
    """
    from ..pointing import effective_frames, temporal_profile

    named = _named(attributions)
    frames = next(iter(named.values())).shape[1]
    fig = new_figure(6.0, 3.4)
    ax = fig.subplots()
    steps = np.arange(frames)
    for label, maps in named.items():
        profile = temporal_profile(maps)
        spread = float(effective_frames(profile).mean())
        ax.plot(steps, profile.mean(dim=0).numpy(), marker="o",
                label=f"{label} ({spread:.1f} effective frames)")
    ax.axhline(1 / frames, color="0.5", linestyle="--", linewidth=1,
               label=f"even spread (1/{frames})")
    ax.set_xticks(steps)
    ax.set_xlabel("frame")
    ax.set_ylabel("share of the importance")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title(title or "when the network looks: importance per frame (mean over clips)")
    return fig


def attribution_volume(attributions: Any, sample: int = 0, keep: float = 0.9,
                       title: str | None = None):
    """One clip's importance as a plotly volume over (frame, row, column), to turn with the mouse.

    Values are normalised to the clip's largest importance; surfaces are drawn
    from the `keep` quantile up, so the most important tenth (by default)
    stands out and the rest is transparent. The moving object traces a tube.

    Args:
        attributions: an `Attribution` or maps (N, T, H, W) (a mapping: its first entry).
        sample: which clip. Default: 0.
        keep: the quantile of importance from which surfaces are drawn, in [0, 1).
        title: the figure's title.

    Returns:
        A ``plotly.graph_objects.Figure`` with one ``Volume`` trace of T·H·W points.

    Shape:
        - maps: (N, T, H, W) -> a volume of T × H × W points
    """
    import plotly.graph_objects as go  # plotly only when a volume is asked for

    named = _named(attributions)
    label, maps = next(iter(named.items()))
    sample = check_index(sample, maps.shape[0], "sample", "the batch of maps")
    if not isinstance(keep, int | float) or not 0 <= keep < 1:
        raise ValueError(f"keep must be a quantile in [0, 1), got {keep!r}")
    importance = maps[sample].abs()
    importance = importance / (float(importance.max()) or 1.0)
    t, h, w = importance.shape
    frame, row, col = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    floor = float(torch.quantile(importance.flatten(), keep))
    volume = go.Volume(x=col.ravel(), y=row.ravel(), z=frame.ravel(),
                       value=importance.numpy().ravel(), isomin=floor, isomax=1.0,
                       opacity=0.15, surface_count=8, colorscale="Magma",
                       colorbar={"title": "|map|"})
    fig = go.Figure(volume)
    fig.update_layout(title=title or f"{label}: importance over frames and pixels",
                      scene={"xaxis_title": "column", "yaxis_title": "row",
                             "zaxis_title": "frame", "yaxis": {"autorange": "reversed"}},
                      margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=480)
    return fig
