"""The temporal shift of TSM, before a 2D conv (Lin, Gan and Han 2019, "TSM: Temporal
Shift Module for Efficient Video Understanding", arXiv 1811.08383, Sec. 3).

TSM moves a fraction of the channels one frame back in time and the same fraction one
frame forward, filling the gaps with zeros, and then runs an ordinary 2D conv on every
frame: temporal mixing for 0 weights and 0 multiply-accumulates. Structure followed:
the official ``ops/temporal_shift.py`` (``TemporalShift.shift``: ``fold = C // fold_div``
with ``fold_div = 8``; channels ``[0, fold)`` take the *next* frame, ``[fold, 2·fold)``
the *previous* one, the rest stay; zero padding at the clip's ends). Here
``shift_fraction`` is ``1 / fold_div`` (per direction), ``fold = floor(C·f)``. The paper's
residual shift puts the shift inside the residual branch, before the block's first conv;
as a layer, the shift is simply followed by the 2D conv.

Beyond the paper: for the shared constructor, the shift reads the frames of a
t-window with stride s_t and padding p_t: output frame τ reads input frame
``τ·s_t - p_t + c_t + δ`` (``c_t = (t - 1) // 2``, δ = +1, -1 or 0 per channel group;
zero outside the clip), which is TSM exactly for t = 3, p_t = 1, s_t = 1 and gives
`nn.Conv3d`'s output shape for any t >= 3.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_number
from .base import FactorizedConv, Size3, centre

__all__ = ["TemporalShift", "TemporalShiftConv"]


class TemporalShift(nn.Module):
    r"""The zero-padded temporal shift of TSM, as a module (no parameters, no MACs).

    ``out[:, c, τ] = x[:, c, τ·s + c_t - p + δ(c)]`` with δ = +1 for ``c < fold``,
    -1 for ``fold <= c < 2·fold``, 0 otherwise, and 0 where the frame index falls
    outside the clip. Equivalently a depthwise (t, 1, 1) conv, stride s, padding p,
    whose kernel for channel c is 1 at tap ``c_t + δ(c)`` and 0 elsewhere.

    Shape:
        - Input: (N, C, T, H, W)
        - Output: (N, C, T', H, W), ``T' = floor((T + 2p - t) / s) + 1``
    """

    def __init__(self, channels: int, kernel: int, stride: int, padding: int,
                 shift_fraction: float) -> None:
        super().__init__()
        self.channels, self.kernel, self.stride, self.padding = channels, kernel, stride, padding
        self.shift_fraction = shift_fraction
        # floor(C·f) without float noise at exact fractions such as 1/8 of 64
        self.fold = math.floor(round(channels * shift_fraction, 9))

    def offsets(self) -> list[tuple[int, int, int]]:
        """(first channel, end channel, frame offset δ) of the three channel groups."""
        f = self.fold
        return [(0, f, 1), (f, 2 * f, -1), (2 * f, self.channels, 0)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t_in, h, w = x.shape
        s = self.stride
        t_out = (t_in + 2 * self.padding - self.kernel) // s + 1
        out = x.new_zeros((n, c, t_out, h, w))
        for first, end, delta in self.offsets():
            if first == end:
                continue
            base = centre(self.kernel) - self.padding + delta  # input frame of τ = 0
            # valid τ: 0 <= τ·s + base < T
            lo = max(0, -(base // s))  # ceil(-base / s)
            hi = min(t_out, (t_in - 1 - base) // s + 1)
            if hi > lo:
                src = slice(lo * s + base, (hi - 1) * s + base + 1, s)
                out[:, first:end, lo:hi].copy_(x[:, first:end, src])
        return out

    def kernel_weight(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The fixed 0/1 kernel (C, 1, t, 1, 1) of the equivalent depthwise Conv3d."""
        weight = torch.zeros(self.channels, 1, self.kernel, 1, 1, dtype=dtype)
        for first, end, delta in self.offsets():
            weight[first:end, 0, centre(self.kernel) + delta] = 1
        return weight

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, fold={self.fold} each way, kernel={self.kernel}, "
                f"stride={self.stride}, padding={self.padding}")


class TemporalShiftConv(FactorizedConv):
    r"""TSM: shift part of the channels by ±1 frame, then a 2D conv per frame,
    ``y = S(shift(x))``.

    1. shift (`TemporalShift`): channels ``[0, fold)`` read the next frame,
       ``[fold, 2·fold)`` the previous one, ``fold = floor(C_in · shift_fraction)``;
       temporal stride and padding act here;
    2. spatial: (1, d_h, d_w), stride (1, s_h, s_w), padding (0, p_h, p_w), C_in -> C_out.

    Weights and MACs are the 2D conv's alone (64 -> 64, 3x3x3: 9·64·64 = 36,864
    weights): the shift adds 0 weights and 0 MACs, but writes one shifted copy of the
    input (what is counted as its bytes). The identity: the layer equals a depthwise
    Conv3d (t, 1, 1) with the fixed 0/1 kernel `TemporalShift.kernel_weight`, stride
    (s_t, 1, 1), padding (p_t, 0, 0), followed by the 2D conv.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`;
            the temporal kernel t must be at least 3 (a shift by one frame each way).
        bias: a bias per output channel, on the 2D conv. Default: True.
        shift_fraction: keyword-only; the fraction of channels shifted in *each*
            direction, in [0, 1/2]. Default: 1/8 (TSM's ``fold_div = 8``).

    Shape:
        - Input: (N, C_in, T, H, W)
        - Shifted: (N, C_in, T', H, W)
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "tsm"
    label = "TSM (shift + 2D)"
    formula = "y = S(shift(x))"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True, *,
                 shift_fraction: float = 1 / 8) -> None:
        super().__init__()
        bias = self._store(in_channels, out_channels, kernel_size, stride, padding, bias)
        fraction = check_number(shift_fraction, "shift_fraction")
        if not 0 <= fraction <= 0.5:
            raise ValueError(
                f"shift_fraction is the share of channels shifted in each direction, so it "
                f"must lie in [0, 0.5] (two shares of at most half the channels); got "
                f"{fraction:g}. TSM uses 1/8 (fold_div = 8)")
        t = self.kernel_size[0]
        if t < 3:
            raise ValueError(
                f"TemporalShiftConv shifts by one frame each way, so its temporal kernel must "
                f"be at least 3; got kernel_size={self.kernel_size}. Use t = 3 with "
                "padding 1 for TSM itself")
        self.shift_fraction = fraction
        self.shift = TemporalShift(self.in_channels, t, self.stride[0], self.padding[0],
                                   fraction)
        self.spatial = self._spatial_conv(self.in_channels, self.out_channels, bias=bias)

    @property
    def is_linear(self) -> bool:
        return True

    @property
    def config(self) -> dict:
        config = super().config
        del config["middle_bn_relu"]
        return {**config, "shift_fraction": self.shift_fraction}

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.shift(x))
