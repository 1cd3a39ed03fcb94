"""A clip as pictures: a strip of frames, and an animation that plays in a notebook.

A clip is an (N, C, T, H, W) tensor; a 3D conv sees it as a volume, but a
reader understands motion best by looking at frames side by side or played in
order. Both functions accept a tensor or any object with a ``.clip`` tensor
(the package's synthetic clips), show one sample of the batch, and draw
3-channel clips in colour and every other clip (or one chosen channel) in grey.

The animation needs no server and no widget: its HTML holds the frames as small
PNG images and a few lines of JavaScript step through them, so it plays in
JupyterLab, in classic Jupyter and in an exported HTML page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from PIL import Image

from .._checks import check_int, is_number
from ..video import VideoClip
from ._common import as_clip, check_index, hide_ticks, new_figure

__all__ = ["ClipAnimation", "clip_animation", "clip_strip"]


def _frames_of(
    clip: Any, sample: int, channel: int | None, what: str
) -> tuple[torch.Tensor, str]:
    """The frames to draw, (T, H, W, 3) for colour or (T, H, W) for grey, and a caption."""
    if isinstance(clip, VideoClip):
        # Decoded frames, uint8 (T, H, W, 3): one RGB clip in [0, 1].
        clip = clip.frames.permute(3, 0, 1, 2).unsqueeze(0).float() / 255
    elif isinstance(clip, np.ndarray):
        # Before as_clip: an ndarray's .clip is a method, not a clip to unwrap.
        clip = torch.from_numpy(np.array(clip))
    x = as_clip(clip, what)
    n, c = x.shape[:2]
    sample = check_index(sample, n, "sample", f"dim 0 (N) of the clip of shape {tuple(x.shape)}")
    one = x[sample].float()
    if channel is None:
        if c == 3:
            return one.permute(1, 2, 3, 0), "RGB"
        # Grey for one channel; for feature-like clips with many channels the first one,
        # said in the caption so nobody mistakes it for the whole clip.
        return one[0], "grey" if c == 1 else f"channel 0 of {c}"
    channel = check_index(channel, c, "channel", f"dim 1 (C) of the clip of shape {tuple(x.shape)}")
    return one[channel], f"channel {channel} of {c}"


def _to_unit(frames: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] for display, with one scale for every frame of the clip.

    A clip already in [0, 1] is shown as it is; any other range is stretched
    from its minimum to its maximum over the whole clip (not frame by frame, so
    a flash still looks brighter than the frames around it).
    """
    low, high = float(frames.min()), float(frames.max())
    if low >= 0.0 and high <= 1.0:
        return frames
    if high == low:
        return torch.zeros_like(frames)
    return (frames - low) / (high - low)


def _pick(length: int, most: int) -> list[int]:
    """At most `most` frame indices spread evenly over `length`, first and last included."""
    if length <= most:
        return list(range(length))
    return sorted({round(i * (length - 1) / (most - 1)) for i in range(most)})


def clip_strip(
    clip: Any, sample: int = 0, channel: int | None = None, max_frames: int = 8
) -> Figure:
    """One sample of a clip as a row of frames, left to right in time.

    Args:
        clip: an (N, C, T, H, W) float tensor or NumPy array, an object with
            such a tensor in ``.clip`` (e.g. a synthetic clip of
            `r21d_edu.data`), or a `VideoClip` from `r21d_edu.read_video`.
        sample: which clip of the batch to show. Default: 0.
        channel: None shows 3-channel clips in colour and others in grey (the
            first channel when there are several); an index shows that channel
            in grey.
        max_frames: the most frames drawn; a longer clip is shown at evenly
            spaced frames, first and last included. Default: 8.

    Returns:
        A matplotlib `Figure` with one axes per frame shown, each titled with
        its frame index ("t = 3"). Values in [0, 1] are drawn as they are,
        other ranges stretched over the whole clip.

    Shape:
        - Input: (N, C, T, H, W)
        - Drawn: min(T, max_frames) frames of H × W pixels

    Example::

        >>> fig = clip_strip(torch.rand(1, 3, 16, 32, 32), max_frames=4)
        >>> len(fig.axes)
        4
    """
    max_frames = check_int(max_frames, "max_frames", minimum=1)
    frames, mode = _frames_of(clip, sample, channel, "clip_strip")
    frames = _to_unit(frames)
    length, height, width = frames.shape[:3]
    chosen = _pick(length, max_frames) if max_frames > 1 else [0]
    panel = 1.6
    fig = new_figure(panel * len(chosen) * max(width / height, 0.5) + 0.3, panel + 0.6)
    axes = fig.subplots(1, len(chosen), squeeze=False)[0]
    for ax, t in zip(axes, chosen):
        image = frames[t].numpy()
        if mode == "RGB":
            ax.imshow(image, interpolation="nearest")
        else:
            ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"t = {t}", fontsize=9)
        hide_ticks(ax)
    shown = "all frames" if len(chosen) == length else f"{len(chosen)} of {length} frames"
    fig.suptitle(f"Clip sample {sample}, {mode}: {shown} of {height}×{width} pixels "
                 "(time runs left to right)", fontsize=10)
    return fig


@dataclass(frozen=True)
class ClipAnimation:
    """Frames of a clip as PNG images with a small player, for Jupyter's HTML display.

    Fields: ``frames`` (PNG bytes, one per frame shown), ``frame_indices``
    (which frames of the clip they are), ``fps``, ``height`` and ``width`` (of
    the stored images, in pixels), ``scale`` (how many screen pixels per image
    pixel), ``caption``. ``html`` is what the notebook shows.
    """

    frames: tuple[bytes, ...]
    frame_indices: tuple[int, ...]
    fps: float
    height: int
    width: int
    scale: int
    caption: str

    @property
    def html(self) -> str:
        sources = [
            "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            for png in self.frames
        ]
        # An id derived from the content, not a random one: the same clip gives the same
        # HTML on every run, so notebooks that show it stay reproducible under nbval.
        digest = hashlib.sha1(b"".join(self.frames)).hexdigest()[:10]
        uid = f"r21d-anim-{digest}"
        delay = max(int(round(1000 / self.fps)), 1)
        images = "".join(
            f'<img src="{src}" data-t="{t}" style="display:{"block" if i == 0 else "none"};'
            f'width:{self.width * self.scale}px;height:{self.height * self.scale}px;'
            'image-rendering:pixelated">'
            for i, (src, t) in enumerate(zip(sources, self.frame_indices))
        )
        last = len(self.frames) - 1
        script = (
            "(function(){"
            f"var root=document.getElementById('{uid}');if(!root)return;"
            "var imgs=root.querySelectorAll('img'),slider=root.querySelector('input'),"
            "label=root.querySelector('.lbl'),button=root.querySelector('button'),"
            "i=0,timer=null;"
            "function show(k){imgs[i].style.display='none';i=k;imgs[i].style.display='block';"
            "slider.value=k;label.textContent='t = '+imgs[k].dataset.t;}"
            "function stop(){clearInterval(timer);timer=null;button.textContent='play';}"
            "button.onclick=function(){if(timer){stop();return;}button.textContent='pause';"
            f"timer=setInterval(function(){{show((i+1)%imgs.length);}},{delay});}};"
            "slider.oninput=function(){stop();show(parseInt(slider.value));};"
            "})();"
        )
        return (
            f'<div id="{uid}" style="display:inline-block;font:12px sans-serif">'
            f"<div>{images}</div>"
            f'<div><button type="button">play</button> '
            f'<input type="range" min="0" max="{last}" value="0" step="1"> '
            f'<span class="lbl">t = {self.frame_indices[0]}</span></div>'
            f"<div>{html.escape(self.caption)}</div>"
            f"<script>{script}</script></div>"
        )

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return (f"ClipAnimation({len(self.frames)} frames of {self.height}×{self.width} "
                f"pixels at {self.fps:g} fps)")


def _png(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Pillow writes no timestamp, so the bytes (and the notebook output) are reproducible.
    Image.fromarray(frame).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def clip_animation(
    clip: Any,
    sample: int = 0,
    channel: int | None = None,
    *,
    max_frames: int = 32,
    max_size: int = 64,
    fps: float = 8.0,
    scale: int | None = None,
) -> ClipAnimation:
    """One sample of a clip as an animation that plays inside a notebook.

    The frames are shrunk (by area averaging) to at most ``max_size`` pixels
    on their long side and stored as PNGs in the HTML, drawn ``scale`` times
    larger with sharp pixels; a play button and a slider step through them.
    No server, widget or pyplot is involved, and a 32-frame 64×64 clip takes
    a few tens of kilobytes.

    Args:
        clip: an (N, C, T, H, W) float tensor, or an object with such a tensor
            in ``.clip``.
        sample: which clip of the batch. Default: 0.
        channel: None for colour (3 channels) or grey (otherwise, first
            channel); an index for that channel in grey.
        max_frames: the most frames kept, evenly spaced, 1 to 32. Default: 32.
        max_size: the longest image side kept, in pixels. Default: 64.
        fps: frames per second when playing. Default: 8.
        scale: screen pixels per stored pixel; None (default) draws the long
            side at about 192 screen pixels.

    Returns:
        A `ClipAnimation`; Jupyter displays it through ``_repr_html_``.

    Shape:
        - Input: (N, C, T, H, W)
        - Stored: min(T, max_frames) frames of at most max_size pixels a side
    """
    max_frames = check_int(max_frames, "max_frames", minimum=1)
    if max_frames > 32:
        raise ValueError(
            f"max_frames must be at most 32 to keep notebooks small, got {max_frames}; "
            "show a longer clip at fewer, evenly spaced frames"
        )
    max_size = check_int(max_size, "max_size", minimum=4)
    if scale is not None:
        scale = check_int(scale, "scale", minimum=1)
    if not is_number(fps) or not 0 < float(fps) <= 60:  # NaN fails 0 < fps too
        raise ValueError(f"fps must be a number in (0, 60], got {fps!r}")
    fps = float(fps)
    frames, mode = _frames_of(clip, sample, channel, "clip_animation")
    frames = _to_unit(frames)
    chosen = _pick(frames.shape[0], max_frames) if max_frames > 1 else [0]
    frames = frames[chosen]
    colour = mode == "RGB"
    # (T, C, H, W) for interpolate, which shrinks H and W.
    stack = frames.permute(0, 3, 1, 2) if colour else frames[:, None]
    height, width = stack.shape[-2:]
    factor = max(height, width) / max_size
    if factor > 1:
        size = (max(1, round(height / factor)), max(1, round(width / factor)))
        stack = F.interpolate(stack, size=size, mode="area")
    pixels = (stack.clamp(0, 1) * 255).round().to(torch.uint8)
    pixels = pixels.permute(0, 2, 3, 1).numpy() if colour else pixels[:, 0].numpy()
    pngs = tuple(_png(np.ascontiguousarray(p)) for p in pixels)
    h, w = pixels.shape[1:3]
    if scale is None:
        scale = max(1, 192 // max(h, w))
    caption = (f"clip sample {sample}, {mode}: frames {chosen[0]}–{chosen[-1]} "
               f"({len(chosen)} shown), {h}×{w} pixels")
    return ClipAnimation(pngs, tuple(chosen), float(fps), h, w, scale, caption)
