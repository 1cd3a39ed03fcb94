"""A temporal convolution seen as a motion detector: tuning to speed and direction.

Show a filter drifting gratings — stripes moving at a sweep of speeds and
directions (`r21d_edu.data.drifting_grating`) — and measure how strongly it
responds. A grating of period P moving at s px/frame changes at every pixel
like ``cos(ω t + …)`` with temporal frequency ω = 2π·s/P (radians per frame),
so a temporal filter with taps w responds with amplitude proportional to
``|H(ω)| = |Σ_τ w_τ e^{-iωτ}|``. For the frame difference ``[-1, 1]``,
``|H| = 2·|sin(π·s/P)|``: zero for a static grating, largest at half a
period per frame, and zero again at a whole period per frame (the stripes
land where the last ones were: temporal aliasing).

A filter that only looks along time cannot tell left from right: the
response depends on speed, not direction. Telling directions apart needs a
kernel *tilted* in space-time — `motion_kernels` builds one — and a tilted
kernel is not separable, so a rank-1 (2+1)D layer cannot hold it.

- `motion_tuning` — responses of taps and layers over speeds × directions;
- `MotionTuning` — the result: an array plus the sweep, with helpers;
- `temporal_response` — the analytic RMS response of taps to a grating;
- `temporal_filters_of` — a (2+1)D layer's own temporal filters as taps;
- `motion_kernels` — a hand-made 3D conv: a static edge, a flicker detector,
  and edges moving right and left.

Figures are in `r21d_edu.viz.motion`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ._checks import (
    check_fits_in_memory,
    check_index,
    check_int,
    check_number,
    check_seed,
    rng_kept,
)
from ._tables import html_table
from .data import drifting_grating
from .layers import FullConv3d, method_of

__all__ = [
    "MOTION_KERNEL_NAMES",
    "MotionTuning",
    "motion_kernels",
    "motion_tuning",
    "temporal_filters_of",
    "temporal_response",
]

MOTION_KERNEL_NAMES = ("static edge", "flicker", "edge moving right", "edge moving left")


# --------------------------------------------------------------------------
# The analytic law
# --------------------------------------------------------------------------


def _taps(values: Any, name: str) -> torch.Tensor:
    try:
        if isinstance(values, (str, bytes)):
            raise TypeError
        taps = torch.as_tensor(values, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"filter {name!r} must be taps (numbers, e.g. [-1, 1]), a layer or "
                        f"(layer, out_channel), got {values!r}") from None
    if taps.numel() == 0:
        raise ValueError(f"filter {name!r} has no taps; give a sequence such as [-1, 1]")
    if not torch.isfinite(taps).all():
        raise ValueError(f"filter {name!r} has non-finite taps: {taps.tolist()}")
    return taps


def temporal_response(
    taps: Sequence[float] | torch.Tensor,
    speed: float | Sequence[float] | np.ndarray,
    period: float,
    contrast: float = 1.0,
) -> np.ndarray:
    """The RMS response of temporal taps to a drifting grating, from the formula.

    A grating ``0.5 + A·cos(k·u − ω t + φ)`` with A = contrast/2 and
    ω = 2π·speed/period gives, at every pixel, a filter output whose mean
    square is ``(0.5·Σw)² + A²·|H(ω)|²/2`` with ``H(ω) = Σ_τ w_τ e^{-iωτ}``.
    For ``[-1, 1]`` that is ``contrast·|sin(π·speed/period)|/√2``.

    Args:
        taps: the temporal filter, e.g. ``[-1, 1]``.
        speed: pixels per frame (a number or an array).
        period: the grating's spatial period in pixels.
        contrast: the grating's contrast (0..1). Default: 1.

    Returns:
        The RMS response, an array shaped like ``speed``.

    Shape:
        Not a tensor function.
    """
    w = _taps(taps, "taps").numpy()
    period = check_number(period, "period (pixels)", above=0.0)
    contrast = check_number(contrast, "contrast", minimum=0.0, maximum=1.0)
    if isinstance(speed, (str, bytes)):
        raise TypeError(f"speed must be a number or an array of numbers (px/frame), got "
                        f"{speed!r}")
    speeds = np.asarray(speed, dtype=np.float64)
    if not np.isfinite(speeds).all():
        raise ValueError(f"speed must be finite numbers of pixels per frame, got {speed!r}")
    omega = 2 * np.pi * speeds / period
    tau = np.arange(len(w))
    h = (w[None, :] * np.exp(-1j * omega.reshape(-1, 1) * tau[None, :])).sum(axis=1)
    amplitude = 0.5 * contrast
    mean_square = (0.5 * w.sum()) ** 2 + amplitude**2 * np.abs(h) ** 2 / 2
    return np.sqrt(mean_square).reshape(omega.shape)


def temporal_filters_of(
    layer: nn.Module, out_channel: int = 0, middle_channels: Sequence[int] | None = None
) -> dict[str, torch.Tensor]:
    """A (2+1)D layer's own temporal filters, ``temporal[o, m, :]``, as named taps.

    Args:
        layer: `SpatioTemporalConv` or `NaiveConv2Plus1d`.
        out_channel: o.
        middle_channels: the m to take; default the first 4.

    Returns:
        ``{"o{o}·m{m}": taps (t,)}`` — ready for `motion_tuning`.

    Shape:
        - Temporal weight: (C_out, M, t, 1, 1) or (C_out, M, t); each taps (t,).
    """
    if method_of(layer) == "3d":
        raise TypeError(
            f"a {type(layer).__name__} has no separate temporal filters: its kernel mixes space "
            "and time; pass the layer itself to motion_tuning to measure its tuning"
        )
    weight = layer.temporal.weight.detach().double()
    weight = weight.reshape(weight.shape[0], weight.shape[1], -1)  # (C_out, M, t)
    c_out, m, _ = weight.shape
    o = check_index(out_channel, c_out, "out_channel", "the layer")
    mids = range(min(m, 4)) if middle_channels is None else [
        check_index(i, m, "middle channel", "the layer") for i in middle_channels
    ]
    return {f"o{o}·m{i}": weight[o, i].clone() for i in mids}


# --------------------------------------------------------------------------
# A hand-made bank of space-time kernels
# --------------------------------------------------------------------------


def motion_kernels(
    t: int = 3,
    d: int = 5,
    speed: float = 1.0,
    *,
    select: Sequence[str] | None = None,
) -> FullConv3d:
    """A 1 -> K 3D conv with hand-made kernels that respond to different changes.

    Channels (`MOTION_KERNEL_NAMES`), each normalised to unit Frobenius norm:

    0. ``"static edge"`` — a vertical edge detector (a derivative of a
       Gaussian along x), the same in every frame: separable, rank 1;
    1. ``"flicker"`` — a Gaussian blob times a temporal difference
       (``[-1, 0, 1]`` for t = 3): separable, rank 1, blind to still images;
    2. ``"edge moving right"`` — the edge detector shifted by ``speed`` px per
       frame to the right from slice to slice: tilted in space-time;
    3. ``"edge moving left"`` — the same tilted the other way.

    A conv correlates (``out[t] = Σ_τ w[τ]·x[t+τ]``), so a kernel whose slice
    at τ is the profile moved by ``speed·τ`` adds up all its slices in phase
    exactly when the input moves at that velocity.

    Args:
        t: temporal size (>= 2).
        d: spatial size d × d (odd, >= 3).
        speed: the preferred speed of the tilted kernels in px/frame.
        select: the names of the channels to keep, in that order; default all.

    Returns:
        A `FullConv3d` (no bias) with padding (t // 2, d // 2, d // 2), so the
        output has the input's size for odd t.

    Shape:
        - Weight: (K, 1, t, d, d)
        - Input: (N, 1, T, H, W); Output: (N, K, T', H, W).
    """
    t = check_int(t, "t", minimum=2)
    d = check_int(d, "d", minimum=3)
    if d % 2 == 0:
        raise ValueError(f"d must be odd so the kernels have a centre pixel, got {d}")
    speed = check_number(speed, "speed (px/frame)")
    names = MOTION_KERNEL_NAMES if select is None else (
        (select,) if isinstance(select, str) else tuple(select))
    unknown = [n for n in names if n not in MOTION_KERNEL_NAMES]
    if unknown or not names:
        raise ValueError(
            f"select must name some of {', '.join(MOTION_KERNEL_NAMES)}, got {list(names)!r}"
        )
    sigma = d / 4
    offsets = torch.arange(d, dtype=torch.float64) - d // 2
    taus = torch.arange(t, dtype=torch.float64) - (t - 1) / 2

    def edge(shift: float) -> torch.Tensor:  # (d, d): derivative of a Gaussian along x
        x = offsets[None, :] - shift
        y = offsets[:, None]
        return -x * torch.exp(-(x**2 + y**2) / (2 * sigma**2))

    blob = torch.exp(-(offsets[None, :] ** 2 + offsets[:, None] ** 2) / (2 * sigma**2))
    kernels = {
        "static edge": torch.stack([edge(0.0) for _ in range(t)]),
        "flicker": taus[:, None, None] * blob,
        "edge moving right": torch.stack([edge(speed * tau) for tau in taus.tolist()]),
        "edge moving left": torch.stack([edge(-speed * tau) for tau in taus.tolist()]),
    }
    weight = torch.stack([kernels[n] / kernels[n].norm() for n in names])[:, None]
    with rng_kept():  # the weights are the hand-made ones: leave the RNG alone
        conv = FullConv3d(1, len(names), (t, d, d), padding=(t // 2, d // 2, d // 2),
                          bias=False)
    with torch.no_grad():
        conv.weight.copy_(weight.float())
    return conv


# --------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class MotionTuning:
    """Responses of filters to drifting gratings over a sweep of directions and speeds.

    Fields:
        names: the filters, in order.
        kinds: per filter, ``"taps"`` or the layer's method (``"3d"``,
            ``"naive"``, ``"2plus1d"``) — the figures colour by it.
        directions: degrees (0° right, 90° down), shape (D,).
        speeds: pixels per frame, shape (S,).
        responses: RMS response, shape (F, D, S) = (filters, directions,
            speeds). Energy is its square.
        period, contrast, frames, size: the gratings'.
        taps: the taps of the ``"taps"`` filters (for the analytic law).

    Methods: `curve`, `preferred`, `direction_selectivity`.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    directions: np.ndarray
    speeds: np.ndarray
    responses: np.ndarray
    period: float
    contrast: float
    frames: int
    size: int
    taps: dict[str, np.ndarray] = field(default_factory=dict)

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise KeyError(f"no filter named {name!r}; the sweep has {', '.join(self.names)}")
        return self.names.index(name)

    def _direction_index(self, direction: float) -> int:
        direction = check_number(direction, "direction (degrees)")
        gap = np.abs((self.directions - direction + 180) % 360 - 180)
        if gap.min() > 1e-6:
            raise ValueError(
                f"direction {direction:g}° is not in the sweep; it has "
                f"{', '.join(f'{d:g}' for d in self.directions)}"
            )
        return int(gap.argmin())

    def curve(self, name: str, direction: float | None = None) -> np.ndarray:
        """Response against speed (shape (S,)) at one swept direction (default: the first)."""
        d = 0 if direction is None else self._direction_index(direction)
        return self.responses[self._index(name), d]

    def preferred(self, name: str) -> tuple[float, float]:
        """(direction in degrees, speed in px/frame) of the strongest response."""
        d, s = np.unravel_index(np.argmax(self.responses[self._index(name)]),
                                self.responses.shape[1:])
        return float(self.directions[d]), float(self.speeds[s])

    def direction_selectivity(self, name: str, speed: float | None = None) -> float:
        """(R_pref − R_opposite) / (R_pref + R_opposite) at a swept speed.

        R_pref is the largest response over directions at that speed (default:
        the preferred speed) and R_opposite the response 180° away: 0 means the
        filter cannot tell a direction from its opposite, 1 that it ignores
        the opposite entirely.
        """
        f = self._index(name)
        if speed is None:
            s = int(np.searchsorted(self.speeds, self.preferred(name)[1]))
        else:
            speed = check_number(speed, "speed (px/frame)")
            gaps = np.abs(self.speeds - speed)
            if gaps.min() > 1e-9:
                raise ValueError(f"speed {speed:g} is not in the sweep {self.speeds.tolist()}")
            s = int(gaps.argmin())
        d = int(np.argmax(self.responses[f, :, s]))
        opposite = self._direction_index(float(self.directions[d]) + 180.0)
        best, other = self.responses[f, d, s], self.responses[f, opposite, s]
        return float((best - other) / (best + other)) if best + other > 0 else 0.0

    def __repr__(self) -> str:
        return (f"MotionTuning({len(self.names)} filters × {len(self.directions)} directions × "
                f"{len(self.speeds)} speeds, period {self.period:g} px)")

    def _repr_html_(self) -> str:
        rows = [(n, f"{d:g}°", f"{s:g}", f"{self.responses[i].max():.4f}")
                for i, n in enumerate(self.names) for d, s in [self.preferred(n)]]
        header = ("filter", "preferred direction", "preferred speed (px/frame)",
                  "peak RMS response")
        return f"<p>{html.escape(repr(self))}</p>" + html_table(rows, header, sections=True)


def _as_array(values: Any, name: str, *, minimum: float | None = None) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        raise ValueError(
            f"{name} must be a non-empty 1D sequence of finite numbers, got {values!r}"
        )
    if minimum is not None and (array < minimum).any():
        raise ValueError(f"{name} must be >= {minimum:g}, got {array.tolist()}")
    return array


def _rms_of_taps(taps: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
    """RMS over time and space of each clip filtered along time (valid, correlation)."""
    t = clips.shape[1]
    if len(taps) > t:
        raise ValueError(
            f"a filter with {len(taps)} taps needs at least {len(taps)} frames, got {t}"
        )
    windows = clips.unfold(1, len(taps), 1)  # (B, T', H, W, taps)
    out = windows @ taps
    return out.pow(2).mean(dim=(1, 2, 3)).sqrt()


def _rms_of_layer(layer: nn.Module, channel: int | None, clips: torch.Tensor) -> torch.Tensor:
    weight = next(layer.parameters())
    in_channels = layer.in_channels
    x = clips[:, None].expand(-1, in_channels, -1, -1, -1).to(weight.dtype)
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            out = layer(x).double()
    finally:
        layer.train(was_training)
    if channel is not None:
        out = out[:, channel:channel + 1]
    # Drop the border that saw zero padding: it responds to the padding, not the grating.
    padding = layer.padding
    if isinstance(padding, str):  # nn.Conv3d(padding="same" / "valid")
        padding = tuple(k // 2 for k in layer.kernel_size) if padding == "same" else (0, 0, 0)
    p_t, p_h, p_w = padding
    t, h, w = out.shape[2:]
    out = out[:, :, p_t:t - p_t or None, p_h:h - p_h or None, p_w:w - p_w or None]
    if out.numel() == 0:
        raise ValueError("the layer's output is empty once the padded border is dropped; "
                         "use more frames or a larger size")
    return out.pow(2).mean(dim=(1, 2, 3, 4)).sqrt()


def motion_tuning(
    filters: Mapping[str, Any],
    *,
    speeds: Sequence[float] | np.ndarray | None = None,
    directions: Sequence[float] | np.ndarray = (0.0,),
    period: float = 8.0,
    contrast: float = 1.0,
    frames: int = 12,
    size: int = 32,
    seed: int = 0,
) -> MotionTuning:
    """Responses of temporal filters and layers to gratings over speeds × directions.

    Each value of ``filters`` is one of:

    - taps (a sequence or 1D tensor, e.g. ``[-1, 1]``): applied along time at
      every pixel of the grey grating (valid correlation, no padding);
    - a layer (`FullConv3d`, `NaiveConv2Plus1d`, `SpatioTemporalConv`): run
      on the grating (copied to its input channels), all output channels;
    - ``(layer, out_channel)``: one output channel of a layer.

    The response is the RMS of the output over frames and pixels (layers: the
    border that saw zero padding is left out).

    Args:
        filters: name -> filter.
        speeds: px/frame, >= 0. Default: 0 to one period in 32 steps.
        directions: degrees (0° right, 90° down). Default: (0,).
        period: spatial period of the gratings in px. Default: 8.
        contrast: 0..1. Default: 1.
        frames: T of each grating. Default: 12.
        size: H = W of each grating. Default: 32 (a whole number of periods
            of 8 px, so horizontal and vertical gratings average exactly).
        seed: the gratings' phase.

    Returns:
        `MotionTuning` with ``responses`` of shape (filters, directions, speeds).

    Shape:
        - Gratings: (D·S, 1, T, H, W); layers see (D·S, C_in, T, H, W).
    """
    if not isinstance(filters, Mapping) or not filters:
        raise ValueError("filters must be a non-empty mapping name -> taps, layer or "
                         "(layer, out_channel)")
    period = check_number(period, "period")
    frames, size = check_int(frames, "frames", minimum=1), check_int(size, "size", minimum=1)
    seed = check_seed(seed)
    if speeds is None:
        speeds = np.linspace(0.0, period, 33)
    speeds_ = _as_array(speeds, "speeds", minimum=0.0)
    directions_ = _as_array(directions, "directions")
    # All gratings are held at once in float64 (and a layer's output beside them).
    count = len(directions_) * len(speeds_)
    check_fits_in_memory(
        2 * 8 * count * frames * size * size,
        f"{len(directions_)} directions × {len(speeds_)} speeds of {frames}×{size}×{size} "
        f"gratings", "sweep fewer speeds or directions, or smaller gratings (frames=, size=)")
    gratings = torch.stack([
        drifting_grating(frames, size, direction=float(d), speed=float(s), period=period,
                         contrast=contrast, seed=seed).clip[0, 0].double()
        for d in directions_ for s in speeds_
    ])  # (D*S, T, H, W)
    names, kinds, rows, taps_of = [], [], [], {}
    for name, spec in filters.items():
        channel = None
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], nn.Module):
            spec, channel = spec
        if isinstance(spec, nn.Module):
            kind = method_of(spec)  # refuses unknown layers with the list of known ones
            if channel is not None:
                channel = check_index(channel, spec.out_channels, "out_channel",
                                      f"the layer of filter {name!r}")
            rms = _rms_of_layer(spec, channel, gratings)
        else:
            taps = _taps(spec, str(name))
            kind = "taps"
            taps_of[str(name)] = taps.numpy()
            rms = _rms_of_taps(taps, gratings)
        names.append(str(name))
        kinds.append(kind)
        rows.append(rms.reshape(len(directions_), len(speeds_)).numpy())
    return MotionTuning(tuple(names), tuple(kinds), directions_ % 360, speeds_, np.stack(rows),
                        float(period), float(contrast), int(frames), int(size), taps_of)

