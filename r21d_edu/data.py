"""Synthetic video clips whose motion is known: no downloads, seeded, laptop-sized.

A real video's motion is unknown; these clips are made so that it is exact,
which is what lets a tutorial say "this filter responds to speed 2 px/frame"
and a test check it. Every function returns a `SyntheticClip`: the
(1, C, T, H, W) float tensor in ``.clip`` plus its ground truth.

- `moving_shape` — a square or disc moving at a constant velocity;
- `drifting_grating` — a sinusoidal grating drifting in a direction at a speed;
- `bouncing_ball` — a disc reflecting off the frame's walls;
- `flash` — a pattern switching on and off in place: temporal change, no motion;
- `static_scene` — a still textured image: no temporal change at all;
- `make_clip(kind, ...)` — any of the above by name (what the widgets call).

Coordinates are image coordinates: x grows to the right (columns, W), y grows
downwards (rows, H). A velocity is ``(dy, dx)`` in pixels per frame, in the
order of the tensor's (H, W) axes; a direction is an angle in degrees with
0° = moving right and 90° = moving down. Values lie in [0, 1] before noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._checks import check_int, check_number, check_seed

__all__ = [
    "CLIP_KINDS",
    "SyntheticClip",
    "bouncing_ball",
    "drifting_grating",
    "flash",
    "make_clip",
    "moving_shape",
    "static_scene",
]

CLIP_KINDS = ("moving_shape", "grating", "bouncing_ball", "flash", "static")


@dataclass(frozen=True, repr=False)
class SyntheticClip:
    """A synthetic clip and what is true about it.

    Fields:
        clip: the (1, C, T, H, W) float32 tensor.
        kind: one of `CLIP_KINDS`.
        direction: direction of motion in degrees (0° right, 90° down), or None
            when nothing moves (flash, static) or the direction changes (ball).
        speed: pixels per frame (0.0 when nothing moves; the initial speed of
            the ball, which keeps it).
        velocity: ``(dy, dx)`` in pixels per frame, or None (grating: a
            grating only moves along its normal, see ``direction``).
        period: spatial period of a grating in pixels, else None.
        positions: the shape's centre ``(y, x)`` at every frame (moving shape,
            ball), else an empty tuple.
        onset, duration: first frame and number of frames a flash is on.
        seed: the seed that made the clip.

    Shape:
        - clip: (1, C, T, H, W) with C = 1 (grey) or 3 (RGB).
    """

    clip: torch.Tensor
    kind: str
    direction: float | None = None
    speed: float = 0.0
    velocity: tuple[float, float] | None = None
    period: float | None = None
    positions: tuple[tuple[float, float], ...] = ()
    onset: int | None = None
    duration: int | None = None
    seed: int = 0

    @property
    def frames(self) -> int:
        """T, the number of frames."""
        return self.clip.shape[2]

    @property
    def channels(self) -> int:
        """C: 1 for grey, 3 for RGB."""
        return self.clip.shape[1]

    def describe(self) -> str:
        """One line of ground truth, e.g. for a figure title."""
        parts = [self.kind.replace("_", " ")]
        if self.direction is not None:
            parts.append(f"direction {self.direction:.4g}°")
        if self.velocity is not None:
            dy, dx = self.velocity
            parts.append(f"velocity (dy, dx) = ({dy:g}, {dx:g}) px/frame")
        elif self.speed or self.kind == "grating":
            parts.append(f"speed {self.speed:g} px/frame")
        if self.period is not None:
            parts.append(f"period {self.period:g} px")
        if self.onset is not None:
            parts.append(f"on at frames {self.onset}–{self.onset + self.duration - 1}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"SyntheticClip({self.describe()}, shape={tuple(self.clip.shape)}, seed={self.seed})"


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def _check_sizes(frames: int, size: int, channels: int) -> tuple[int, int, int]:
    frames = check_int(frames, "frames", minimum=1)
    size = check_int(size, "size", minimum=4)
    if size > 256:
        raise ValueError(
            f"size must be at most 256 pixels for a clip made on the fly, got {size}; "
            "these clips are for small, fast experiments (32 or 64 is typical)"
        )
    if frames > 256:
        raise ValueError(f"frames must be at most 256, got {frames}; 8 to 32 is typical")
    channels = check_int(channels, "channels", minimum=1)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    return frames, size, channels


def _check_velocity(velocity: object) -> tuple[float, float]:
    if not isinstance(velocity, Sequence) or isinstance(velocity, str) or len(velocity) != 2:
        raise ValueError(
            f"velocity must be a pair (dy, dx) in pixels per frame (rows down, columns right), "
            f"got {velocity!r}"
        )
    return (check_number(velocity[0], "velocity dy"), check_number(velocity[1], "velocity dx"))


def _finish(gray: torch.Tensor, channels: int, color: torch.Tensor, noise: float,
            generator: torch.Generator) -> torch.Tensor:
    """(T, H, W) intensities -> (1, C, T, H, W), tinted per channel, with optional noise."""
    clip = gray[None] * color[:, None, None, None] if channels == 3 else gray[None]
    if noise:
        clip = clip + noise * torch.randn(clip.shape, generator=generator)
    return clip.unsqueeze(0).float().contiguous()


def _color(channels: int, generator: torch.Generator) -> torch.Tensor:
    # A saturated, seeded colour for RGB clips; grey clips ignore it.
    if channels == 1:
        return torch.ones(1)
    hue = float(torch.rand(1, generator=generator))
    rgb = torch.tensor([hue, hue + 1 / 3, hue + 2 / 3]) * 2 * math.pi
    return 0.6 + 0.4 * torch.cos(rgb)


def _box_coverage(low: float, high: float, n: int) -> torch.Tensor:
    """Share of each of n unit pixels [j, j+1) that the interval [low, high] covers.

    Exact area coverage (rather than a hard 0/1 test on the pixel centre) keeps
    sub-pixel motion visible: a square moving 0.5 px/frame changes every frame.
    """
    edges = torch.arange(n, dtype=torch.float64)
    return (torch.clamp(torch.minimum(edges + 1, torch.tensor(high))
                        - torch.maximum(edges, torch.tensor(low)), min=0.0))


def _disc(centre_y: float, centre_x: float, radius: float, size: int) -> torch.Tensor:
    # A one-pixel linear ramp at the rim: a cheap anti-aliasing that keeps the
    # disc's centroid at its centre for sub-pixel positions.
    pos = torch.arange(size, dtype=torch.float64) + 0.5
    dist = torch.sqrt((pos[:, None] - centre_y) ** 2 + (pos[None, :] - centre_x) ** 2)
    return torch.clamp(radius + 0.5 - dist, 0.0, 1.0)


def _square(centre_y: float, centre_x: float, side: float, size: int) -> torch.Tensor:
    half = side / 2
    rows = _box_coverage(centre_y - half, centre_y + half, size)
    cols = _box_coverage(centre_x - half, centre_x + half, size)
    return rows[:, None] * cols[None, :]


# --------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------


def moving_shape(
    frames: int = 16,
    size: int = 32,
    velocity: Sequence[float] = (0.0, 1.0),
    *,
    shape: str = "square",
    extent: float | None = None,
    channels: int = 1,
    noise: float = 0.0,
    seed: int = 0,
) -> SyntheticClip:
    """A bright square or disc on a dark background, moving at a constant velocity.

    The shape's path is placed so it stays inside the frame for all frames (the
    seed picks where along the free room it starts); a velocity too large for
    the frame is refused rather than wrapped, since wrapping would break the
    constant-velocity ground truth.

    Args:
        frames: T.
        size: H = W in pixels (4 to 256).
        velocity: ``(dy, dx)`` in pixels per frame; fractions are fine
            (edges are anti-aliased).
        shape: ``"square"`` or ``"disc"``.
        extent: side of the square or diameter of the disc in pixels; default
            ``size // 4`` (at least 2).
        channels: 1 (grey) or 3 (RGB, a seeded colour).
        noise: standard deviation of added Gaussian noise. Default: 0.
        seed: seeds the start position, colour and noise.

    Returns:
        `SyntheticClip` with ``velocity``, ``speed``, ``direction`` and the
        centre of the shape at every frame in ``positions``.

    Shape:
        - clip: (1, C, T, H, W) with T = frames, H = W = size.

    Example::

        >>> moving_shape(frames=16, size=32, velocity=(1, 2), seed=0).clip.shape
        torch.Size([1, 1, 16, 32, 32])
    """
    frames, size, channels = _check_sizes(frames, size, channels)
    dy, dx = _check_velocity(velocity)
    if shape not in ("square", "disc"):
        raise ValueError(f"shape must be 'square' or 'disc', got {shape!r}")
    extent = float(max(size // 4, 2)) if extent is None else check_number(extent, "extent",
                                                                            minimum=1.0)
    noise = check_number(noise, "noise", minimum=0.0)
    seed = check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    starts = []
    for axis, step in (("dy (rows)", dy), ("dx (columns)", dx)):
        travel = abs(step) * (frames - 1)
        room = size - extent - travel
        if room < 0:
            raise ValueError(
                f"a {extent:g}-pixel {shape} moving {step:g} px/frame along {axis} travels "
                f"{travel:g} px in {frames} frames, more than the {size - extent:g} px a "
                f"{size}-pixel frame leaves; use fewer frames, a larger size or a slower velocity"
            )
        offset = float(torch.rand(1, generator=generator)) * room
        # Start on the side the shape moves away from, so the whole path fits.
        low = extent / 2 + offset
        starts.append(low if step >= 0 else low + travel)
    draw = _square if shape == "square" else _disc
    size_arg = extent if shape == "square" else extent / 2
    positions = tuple((starts[0] + dy * f, starts[1] + dx * f) for f in range(frames))
    gray = torch.stack([draw(y, x, size_arg, size) for y, x in positions])
    color = _color(channels, generator)
    speed = math.hypot(dy, dx)
    direction = math.degrees(math.atan2(dy, dx)) % 360 if speed else None
    return SyntheticClip(
        _finish(gray, channels, color, noise, generator), "moving_shape", direction=direction,
        speed=speed, velocity=(dy, dx), positions=positions, seed=seed,
    )


def drifting_grating(
    frames: int = 16,
    size: int = 32,
    direction: float = 0.0,
    speed: float = 1.0,
    period: float = 8.0,
    *,
    contrast: float = 1.0,
    channels: int = 1,
    noise: float = 0.0,
    seed: int = 0,
) -> SyntheticClip:
    """A sinusoidal grating drifting along its normal.

    ``I(y, x, t) = 0.5 + 0.5·contrast·cos(2π/period · (x·cos θ + y·sin θ − speed·t) + φ)``
    with θ = direction and a seeded phase φ. The stripes are perpendicular to
    the direction of motion; each frame the pattern moves ``speed`` pixels
    along θ, so its phase advances by 2π·speed/period. A speed of a whole
    period per frame (or any multiple) looks static frame by frame — temporal
    aliasing, the wagon-wheel effect.

    Args:
        frames: T.
        size: H = W in pixels (4 to 256).
        direction: degrees, 0° = stripes move right, 90° = down.
        speed: pixels per frame (>= 0; 0 gives a static grating).
        period: spatial period (wavelength) in pixels, >= 2 (below 2 the
            pixel grid cannot represent the grating: spatial aliasing).
        contrast: amplitude in [0, 1]. Default: 1.
        channels: 1 (grey) or 3 (RGB, a seeded colour).
        noise: standard deviation of added Gaussian noise. Default: 0.
        seed: seeds the phase, colour and noise.

    Returns:
        `SyntheticClip` with ``direction``, ``speed`` and ``period``.

    Shape:
        - clip: (1, C, T, H, W) with T = frames, H = W = size.
    """
    frames, size, channels = _check_sizes(frames, size, channels)
    direction = check_number(direction, "direction")
    speed = check_number(speed, "speed", minimum=0.0)
    period = check_number(period, "period")
    if period < 2:
        raise ValueError(
            f"period must be at least 2 pixels, got {period:g}: a finer grating cannot be "
            "drawn on the pixel grid (it aliases into a coarser one)"
        )
    contrast = check_number(contrast, "contrast", minimum=0.0)
    if contrast > 1:
        raise ValueError(f"contrast must be in [0, 1], got {contrast:g}")
    noise = check_number(noise, "noise", minimum=0.0)
    seed = check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    phase = float(torch.rand(1, generator=generator)) * 2 * math.pi
    theta = math.radians(direction)
    pos = torch.arange(size, dtype=torch.float64)
    along = pos[None, :] * math.cos(theta) + pos[:, None] * math.sin(theta)  # (H, W)
    time = torch.arange(frames, dtype=torch.float64)[:, None, None]
    gray = 0.5 + 0.5 * contrast * torch.cos(2 * math.pi / period * (along - speed * time) + phase)
    color = _color(channels, generator)
    return SyntheticClip(
        _finish(gray, channels, color, noise, generator), "grating",
        direction=direction % 360, speed=speed, period=period, seed=seed,
    )


def bouncing_ball(
    frames: int = 16,
    size: int = 32,
    velocity: Sequence[float] = (1.5, 2.0),
    *,
    radius: float | None = None,
    channels: int = 1,
    noise: float = 0.0,
    seed: int = 0,
) -> SyntheticClip:
    """A disc that moves at constant speed and reflects off the frame's walls.

    Unlike `moving_shape` its direction changes at every bounce, so a filter
    tuned to one direction sees it only part of the time.

    Args:
        frames: T.
        size: H = W in pixels (4 to 256).
        velocity: initial ``(dy, dx)`` in pixels per frame; each component
            flips sign when the ball hits a wall.
        radius: pixels; default ``size // 8`` (at least 1). The ball must fit:
            ``2·radius < size``.
        channels: 1 (grey) or 3 (RGB, a seeded colour).
        noise: standard deviation of added Gaussian noise. Default: 0.
        seed: seeds the start position, colour and noise.

    Returns:
        `SyntheticClip` with ``speed`` (constant) and the centre at every frame
        in ``positions``; ``direction`` is None because it changes.

    Shape:
        - clip: (1, C, T, H, W) with T = frames, H = W = size.
    """
    frames, size, channels = _check_sizes(frames, size, channels)
    dy, dx = _check_velocity(velocity)
    radius = float(max(size // 8, 1)) if radius is None else check_number(radius, "radius",
                                                                            minimum=0.5)
    if 2 * radius >= size:
        raise ValueError(
            f"a ball of radius {radius:g} does not fit in a {size}-pixel frame "
            f"(2·radius must be < size); use a smaller radius or a larger size"
        )
    noise = check_number(noise, "noise", minimum=0.0)
    seed = check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    low, high = radius, size - radius  # the centre's free range along each axis
    start = [low + float(torch.rand(1, generator=generator)) * (high - low) for _ in range(2)]

    def reflect(p: float) -> float:
        # Unfold the walls: motion in a box is motion on a line folded at its ends.
        span = high - low
        q = (p - low) % (2 * span)
        return low + (q if q <= span else 2 * span - q)

    positions = tuple((reflect(start[0] + dy * f), reflect(start[1] + dx * f))
                      for f in range(frames))
    gray = torch.stack([_disc(y, x, radius, size) for y, x in positions])
    color = _color(channels, generator)
    return SyntheticClip(
        _finish(gray, channels, color, noise, generator), "bouncing_ball",
        speed=math.hypot(dy, dx), velocity=None, positions=positions, seed=seed,
    )


def _texture(size: int, generator: torch.Generator) -> torch.Tensor:
    """A seeded, smooth random image in [0, 1]: blurred noise, so filters see edges."""
    noise = torch.rand(1, 1, size, size, generator=generator, dtype=torch.float64)
    blur = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16
    kernel = (blur[:, None] * blur[None, :])[None, None]
    smooth = torch.nn.functional.conv2d(
        torch.nn.functional.pad(noise, (2, 2, 2, 2), mode="circular"), kernel)[0, 0]
    smooth = smooth - smooth.min()
    return smooth / smooth.max().clamp_min(1e-12)


def flash(
    frames: int = 16,
    size: int = 32,
    *,
    onset: int | None = None,
    duration: int | None = None,
    channels: int = 1,
    noise: float = 0.0,
    seed: int = 0,
) -> SyntheticClip:
    """A textured image that switches on for a few frames and off again, in place.

    Brightness changes over time but nothing moves: a pure temporal change. A
    frame-difference filter fires at the two switching moments; a motion
    detector that needs displacement should not.

    Args:
        frames: T (at least 3, so there is an off-on-off sequence).
        size: H = W in pixels (4 to 256).
        onset: first frame that is on; default ``frames // 3``.
        duration: frames it stays on; default ``max(frames // 3, 1)``. The
            flash must switch off before the clip ends.
        channels: 1 (grey) or 3 (RGB, a seeded colour).
        noise: standard deviation of added Gaussian noise. Default: 0.
        seed: seeds the texture, colour and noise.

    Returns:
        `SyntheticClip` with ``onset`` and ``duration``; ``speed`` 0.

    Shape:
        - clip: (1, C, T, H, W) with T = frames, H = W = size.
    """
    frames, size, channels = _check_sizes(frames, size, channels)
    if frames < 3:
        raise ValueError(f"a flash needs at least 3 frames (off, on, off), got frames={frames}")
    onset = frames // 3 if onset is None else check_int(onset, "onset", minimum=1)
    duration = max(frames // 3, 1) if duration is None else check_int(duration, "duration",
                                                                      minimum=1)
    if onset + duration >= frames:
        raise ValueError(
            f"the flash is on for frames {onset} to {onset + duration - 1} but the clip has "
            f"only frames 0 to {frames - 1}; it must switch off before the end (onset + "
            f"duration < frames)"
        )
    noise = check_number(noise, "noise", minimum=0.0)
    seed = check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    image = _texture(size, generator)
    envelope = torch.zeros(frames, dtype=torch.float64)
    envelope[onset:onset + duration] = 1.0
    gray = envelope[:, None, None] * image
    color = _color(channels, generator)
    return SyntheticClip(
        _finish(gray, channels, color, noise, generator), "flash",
        onset=onset, duration=duration, seed=seed,
    )


def static_scene(
    frames: int = 16,
    size: int = 32,
    *,
    channels: int = 1,
    noise: float = 0.0,
    seed: int = 0,
) -> SyntheticClip:
    """A still, seeded texture repeated in every frame.

    Without noise every frame is identical, so every temporal filter whose
    taps sum to zero (a frame difference) gives exactly zero.

    Args:
        frames: T.
        size: H = W in pixels (4 to 256).
        channels: 1 (grey) or 3 (RGB: an independent texture per channel).
        noise: standard deviation of Gaussian noise, drawn anew per frame
            (sensor noise — the only temporal change then). Default: 0.
        seed: seeds the texture and noise.

    Returns:
        `SyntheticClip` with ``speed`` 0.

    Shape:
        - clip: (1, C, T, H, W) with T = frames, H = W = size.
    """
    frames, size, channels = _check_sizes(frames, size, channels)
    noise = check_number(noise, "noise", minimum=0.0)
    seed = check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images = torch.stack([_texture(size, generator) for _ in range(channels)])  # (C, H, W)
    clip = images[:, None].expand(channels, frames, size, size)
    if noise:
        clip = clip + noise * torch.randn(clip.shape, generator=generator, dtype=torch.float64)
    return SyntheticClip(clip.unsqueeze(0).float().contiguous(), "static", seed=seed)


def make_clip(kind: str, frames: int = 16, size: int = 32, *, direction: float = 0.0,
              speed: float = 1.0, channels: int = 1, seed: int = 0, **options) -> SyntheticClip:
    """Any clip kind by name, with motion given as a direction and a speed.

    A uniform front door for widgets and loops: ``direction`` (degrees) and
    ``speed`` (px/frame) become a velocity for shapes and the ball; the flash
    and the static scene ignore them (they do not move).

    Args:
        kind: one of `CLIP_KINDS`: ``"moving_shape"``, ``"grating"``,
            ``"bouncing_ball"``, ``"flash"``, ``"static"``.
        frames, size, channels, seed: as in the individual functions.
        direction: degrees, 0° right, 90° down.
        speed: pixels per frame.
        **options: passed on (e.g. ``period=`` for a grating, ``shape=`` for a
            moving shape, ``noise=``).

    Returns:
        `SyntheticClip`.

    Shape:
        - clip: (1, C, T, H, W) with T = frames, H = W = size.
    """
    theta = math.radians(check_number(direction, "direction"))
    speed = check_number(speed, "speed", minimum=0.0)
    # Rounded so that 90° gives dx = 0, not 6e-17 (which would print as noise).
    velocity = (round(speed * math.sin(theta), 12) + 0.0, round(speed * math.cos(theta), 12) + 0.0)
    common = {"frames": frames, "size": size, "channels": channels, "seed": seed, **options}
    if kind == "moving_shape":
        return moving_shape(velocity=velocity, **common)
    if kind == "grating":
        return drifting_grating(direction=direction, speed=speed, **common)
    if kind == "bouncing_ball":
        return bouncing_ball(velocity=velocity, **common)
    if kind == "flash":
        return flash(**common)
    if kind == "static":
        return static_scene(**common)
    raise ValueError(f"kind must be one of {', '.join(CLIP_KINDS)}, got {kind!r}")
