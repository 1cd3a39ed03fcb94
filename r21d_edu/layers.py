"""Three ways to convolve a video clip, side by side.

Read this file next to Sec. 3.5 of Tran et al. 2018, "A Closer Look at
Spatiotemporal Convolutions for Action Recognition" (arXiv 1711.11248).

1. `FullConv3d` — a t x d x d kernel that looks at space and time at once.
2. `NaiveConv2Plus1d` — the first thing people try: a real `nn.Conv2d` over each
   frame, then a real `nn.Conv1d` over time at each pixel. `nn.Conv2d` and
   `nn.Conv1d` cannot take 3-tuple kernels; what makes it work are the reshapes
   between them (frames -> batch, pixels -> batch).
3. `SpatioTemporalConv` — the factorized (2+1)D convolution: a 1 x d x d
   `nn.Conv3d` into M intermediate channels, BatchNorm + ReLU, then a t x 1 x 1
   `nn.Conv3d`. It computes exactly what the naive layer computes, without the
   reshapes.

All three share one constructor shape,
``(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)``
with ints or (t, h, w) triples, all take (N, C, T, H, W) clips, and all give the
output shape `nn.Conv3d` gives for the same arguments. A keyword-only ``groups``
(default 1) makes each of them ``groups`` independent convs side by side, as
``nn.Conv3d(groups=...)`` does (`r21d_edu.lowrank.factorize` of a grouped or depthwise
conv returns such a (2+1)D layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from ._checks import (
    Triple,
    as_triple,
    check_bool,
    check_clip,
    check_formula_m,
    check_int,
    rng_kept,
)
from ._sequential import SliceableSequential

Size3 = int | Sequence[int]
Convention = Literal["paper", "torchvision"]

__all__ = [
    "FullConv3d",
    "NaiveConv2Plus1d",
    "SpatioTemporalConv",
    "block_intermediate_channels",
    "copy_weights",
    "intermediate_channels",
    "method_of",
]


# --------------------------------------------------------------------------
# How many intermediate channels?
# --------------------------------------------------------------------------


def intermediate_channels(
    in_channels: int,
    out_channels: int,
    kernel_size: Size3 = 3,
    convention: Convention = "paper",
) -> int:
    """Number of intermediate channels M that keeps the 3D layer's parameter budget.

    A full t x d_h x d_w convolution from N_in to N_out channels has
    ``t * d_h * d_w * N_in * N_out`` weights. The (2+1)D layer spends
    ``d_h * d_w * N_in * M`` on its spatial conv and ``t * M * N_out`` on its
    temporal conv. Setting the two budgets equal and solving for M gives the
    paper's formula (Sec. 3.5), rounded down so the (2+1)D layer never has more
    weights than the 3D one::

        M = floor(t * d_h * d_w * N_in * N_out / (d_h * d_w * N_in + t * N_out))

    For 64 -> 64 channels and t = d = 3: M = floor(27 * 4096 / 768) = 144, and
    both layers have exactly 110,592 weights.

    Args:
        in_channels: N_in, the channels entering the conv (``"paper"``) or the
            block (``"torchvision"``).
        out_channels: N_out, the channels leaving the conv or the block.
        kernel_size: t, or (t, d_h, d_w), of the 3D kernel being factorized.
        convention: ``"paper"`` computes M for one conv from its own channels.
            ``"torchvision"`` computes it once per residual block from the
            block's input and output channels and uses that M for both convs
            of the block (``torchvision.models.video.resnet.BasicBlock``). The
            arithmetic is the same; what differs is which channels go in, so
            the two disagree on a block's second conv whenever the block
            changes width (see `block_intermediate_channels`).

    Returns:
        M, which can be 0 for tiny layers (e.g. 1 -> 1 channels with a 1x1x1
        kernel); the layers refuse M < 1.

    Example::

        >>> intermediate_channels(64, 64, 3)
        144
        >>> intermediate_channels(3, 64, (3, 7, 7))
        83
    """
    n_in = check_int(in_channels, "in_channels", minimum=1)
    n_out = check_int(out_channels, "out_channels", minimum=1)
    t, d_h, d_w = as_triple(kernel_size, "kernel_size", minimum=1)
    if convention not in ("paper", "torchvision"):
        raise ValueError(
            f"convention must be 'paper' (M per conv) or 'torchvision' (M per block), "
            f"got {convention!r}"
        )
    spatial_area = d_h * d_w
    return (t * spatial_area * n_in * n_out) // (spatial_area * n_in + t * n_out)


def block_intermediate_channels(
    in_channels: int,
    out_channels: int,
    kernel_size: Size3 = 3,
    convention: Convention = "paper",
) -> tuple[int, int]:
    """M of the two (2+1)D convs of a residual block (in -> out, then out -> out).

    The paper computes M per conv; torchvision computes it once from the
    block's channels and reuses it, so they differ on the second conv when
    ``in_channels != out_channels``:

        >>> block_intermediate_channels(64, 128, 3, "paper")
        (230, 288)
        >>> block_intermediate_channels(64, 128, 3, "torchvision")
        (230, 230)
    """
    first = intermediate_channels(in_channels, out_channels, kernel_size, convention)
    if convention == "torchvision":
        return first, first
    return first, intermediate_channels(out_channels, out_channels, kernel_size, "paper")


def _resolve_intermediate(
    in_channels: int, out_channels: int, kernel: Triple, given: int | None, layer_name: str
) -> int:
    if given is not None:
        return check_int(given, "intermediate_channels (M)", minimum=1)
    m = intermediate_channels(in_channels, out_channels, kernel)
    return check_formula_m(m, in_channels, out_channels, kernel, who=layer_name,
                           fix="pass intermediate_channels=1 or more")


def check_groups(groups: object, layer_name: str, **channels: int) -> int:
    """``groups`` as an int that divides every channel count given, or a clear error.

    A grouped conv splits its input and output channels into ``groups`` equal blocks
    and convolves block k of the input into block k of the output only, so every
    channel count it splits must be a multiple of ``groups``.
    """
    groups = check_int(groups, "groups", minimum=1)
    for what, count in channels.items():
        if count % groups:
            raise ValueError(
                f"{layer_name}: {what} = {count} is not a multiple of groups = {groups}; a "
                f"grouped conv splits its channels into {groups} equal blocks. Make {what} "
                f"a multiple of {groups}, or use groups=1"
            )
    return groups


def _check_batch_statistics(layer: nn.Module, middle: torch.Tensor) -> None:
    """Refuse a training-mode batch whose middle BatchNorm would see one value per channel."""
    values_per_channel = middle.numel() // max(middle.shape[1], 1)
    if layer.training and layer.middle_bn and values_per_channel == 1:
        raise ValueError(
            f"{type(layer).__name__}: in training mode the middle BatchNorm needs more than one "
            f"value per channel to estimate a variance, but this clip gives N*T*H'*W' = 1 "
            f"(middle tensor {tuple(middle.shape)}); use a larger batch or clip, or call .eval()"
        )


# --------------------------------------------------------------------------
# 1. The full 3D convolution
# --------------------------------------------------------------------------


class FullConv3d(nn.Conv3d):
    r"""A full t x d_h x d_w 3D convolution: `nn.Conv3d` with input checks.

    Every output value mixes a t x d_h x d_w block of every input channel, so
    space and time are learned jointly; it has ``t*d_h*d_w*C_in*C_out`` weights.

    Args:
        in_channels: C_in, channels of the input clip.
        out_channels: C_out, channels produced.
        kernel_size: t, or (t, d_h, d_w).
        stride: int or (s_t, s_h, s_w). Default: 1.
        padding: zero padding, int or (p_t, p_h, p_w). Default: 0.
        bias: add a learnable bias per output channel. Default: True.
        groups: keyword-only; split the channels into this many independent
            convs, C_in/groups -> C_out/groups each, as `nn.Conv3d` does
            (groups = C_in: depthwise). Default: 1.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Kernel: (C_out, C_in/groups, t, d_h, d_w)
        - Output: (N, C_out, T', H', W') with, per axis,
          ``T' = floor((T + 2*p_t - t) / s_t) + 1`` (likewise H', W').

    Example::

        >>> layer = FullConv3d(3, 8, kernel_size=(3, 5, 5), padding=(1, 2, 2))
        >>> layer(torch.randn(2, 3, 8, 32, 32)).shape
        torch.Size([2, 8, 8, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        stride: Size3 = 1,
        padding: Size3 = 0,
        bias: bool = True,
        *,
        groups: int = 1,
    ) -> None:
        c_in = check_int(in_channels, "in_channels", minimum=1)
        c_out = check_int(out_channels, "out_channels", minimum=1)
        super().__init__(
            c_in, c_out,
            as_triple(kernel_size, "kernel_size", minimum=1),
            as_triple(stride, "stride", minimum=1),
            as_triple(padding, "padding", minimum=0),
            bias=check_bool(bias, "bias"),
            groups=check_groups(groups, type(self).__name__, in_channels=c_in,
                                out_channels=c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.in_channels, self.kernel_size, self.padding, type(self).__name__,
                   dtype=self.weight.dtype)
        return super().forward(x)


# --------------------------------------------------------------------------
# Shared configuration of the two (2+1)D layers
# --------------------------------------------------------------------------


class _TwoPlusOneConfig:
    """Checks and stores the constructor arguments both (2+1)D layers share."""

    in_channels: int
    out_channels: int
    kernel_size: Triple
    stride: Triple
    padding: Triple
    intermediate_channels: int
    middle_bn: bool
    middle_relu: bool
    groups: int

    def _store_config(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        stride: Size3,
        padding: Size3,
        intermediate_channels: int | None,
        middle_bn_relu: bool,
        middle_bn: bool | None = None,
        middle_relu: bool | None = None,
        groups: int = 1,
    ) -> None:
        name = type(self).__name__
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.kernel_size = as_triple(kernel_size, "kernel_size", minimum=1)
        self.stride = as_triple(stride, "stride", minimum=1)
        self.padding = as_triple(padding, "padding", minimum=0)
        self.groups = check_groups(groups, name, in_channels=self.in_channels,
                                   out_channels=self.out_channels)
        g = self.groups
        if intermediate_channels is None:
            # Each of the g groups is a C_in/g -> C_out/g conv: the paper's M per group
            # keeps that group's weights, so g times it keeps the grouped 3D conv's.
            per_group = _resolve_intermediate(self.in_channels // g, self.out_channels // g,
                                              self.kernel_size, None, name)
            self.intermediate_channels = g * per_group
        else:
            self.intermediate_channels = _resolve_intermediate(
                self.in_channels, self.out_channels, self.kernel_size, intermediate_channels,
                name)
        check_groups(g, name, intermediate_channels=self.intermediate_channels)
        both = check_bool(middle_bn_relu, "middle_bn_relu")
        # The two halves of the middle can be switched one at a time (the ablations that
        # ask whether the normalization or the non-linearity matters); by default they
        # follow middle_bn_relu.
        self.middle_bn = both if middle_bn is None else check_bool(middle_bn, "middle_bn")
        self.middle_relu = both if middle_relu is None else check_bool(middle_relu, "middle_relu")

    @property
    def middle_bn_relu(self) -> bool:
        """True when both BatchNorm and ReLU sit between the convs (the paper's layer)."""
        return self.middle_bn and self.middle_relu

    @property
    def is_linear(self) -> bool:
        """True when nothing sits between the convs: then the layer is one 3D convolution
        whose unfolded kernel has rank <= M (`r21d_edu.lowrank.compose`)."""
        return not (self.middle_bn or self.middle_relu)

    def _middle_text(self) -> str:
        if self.middle_bn == self.middle_relu:
            return f"middle_bn_relu={self.middle_bn}"
        return f"middle_bn={self.middle_bn}, middle_relu={self.middle_relu}"

    @property
    def config(self) -> dict:
        """The constructor arguments that rebuild this layer's shape (not its weights).

        ``"groups"`` is there only when it is not 1, so an ungrouped layer's config is
        what it was before groups existed (code that reads it, e.g. the counting
        module's `ConvSpec`, takes no groups).
        """
        grouped = {"groups": self.groups} if self.groups != 1 else {}
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "bias": self.temporal.bias is not None,
            "intermediate_channels": self.intermediate_channels,
            "middle_bn_relu": self.middle_bn_relu,
            "middle_bn": self.middle_bn,
            "middle_relu": self.middle_relu,
            **grouped,
        }

    def extra_repr(self) -> str:
        groups = f", groups={self.groups}" if self.groups != 1 else ""
        return (
            f"{self.in_channels} -> M={self.intermediate_channels} -> {self.out_channels}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"{self._middle_text()}{groups}"
        )


# --------------------------------------------------------------------------
# 2. The naive attempt, made to work: Conv2d per frame, Conv1d per pixel
# --------------------------------------------------------------------------


class NaiveConv2Plus1d(_TwoPlusOneConfig, nn.Module):
    r"""(2+1)D convolution from a real `nn.Conv2d` and a real `nn.Conv1d`.

    ``nn.Conv2d(3, 20, kernel_size=(1, d, d))`` fails: a 2D conv takes 2D
    kernels. The fix is not a different kernel tuple but a different view of
    the clip:

    1. frames become a batch: (N, C, T, H, W) -> (N*T, C, H, W), and a
       d_h x d_w `nn.Conv2d` maps every frame to M channels;
    2. (optional) BatchNorm + ReLU on those M channels;
    3. pixels become a batch: (N*T, M, H', W') -> (N*H'*W', M, T), and a
       length-t `nn.Conv1d` maps every pixel's time series to C_out channels;
    4. back to (N, C_out, T', H', W').

    Spatial stride and padding belong to the Conv2d, temporal ones to the
    Conv1d. With the same weights it equals `SpatioTemporalConv` exactly
    (`copy_weights` moves them across).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `FullConv3d`.
        bias: add a learnable bias per output channel (on the Conv1d). The
            Conv2d has none: the middle BatchNorm would absorb it, and without
            BatchNorm the zero padding of the Conv1d would let it leak into the
            first and last frames unevenly — no longer a 3D convolution.
        intermediate_channels: M; None computes it with `intermediate_channels`.
        middle_bn_relu: put BatchNorm + ReLU between the two convs (the paper
            does; it doubles the non-linearities). Default: True.
        middle_bn, middle_relu: keyword-only; switch the BatchNorm or the ReLU
            of the middle on its own (None follows ``middle_bn_relu``).
        groups: keyword-only; both convs grouped (C_in, M and C_out multiples of
            it), as in `SpatioTemporalConv`. Default: 1.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle (per frame): (N*T, M, H', W')
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        stride: Size3 = 1,
        padding: Size3 = 0,
        bias: bool = True,
        intermediate_channels: int | None = None,
        middle_bn_relu: bool = True,
        *,
        middle_bn: bool | None = None,
        middle_relu: bool | None = None,
        groups: int = 1,
    ) -> None:
        nn.Module.__init__(self)
        bias = check_bool(bias, "bias")  # before any conv draws its initial weights
        self._store_config(
            in_channels, out_channels, kernel_size, stride, padding,
            intermediate_channels, middle_bn_relu, middle_bn, middle_relu, groups,
        )
        t, d_h, d_w = self.kernel_size
        m = self.intermediate_channels
        self.spatial = nn.Conv2d(
            self.in_channels, m, (d_h, d_w), stride=self.stride[1:], padding=self.padding[1:],
            bias=False, groups=self.groups,
        )
        self.bn = nn.BatchNorm2d(m) if self.middle_bn else nn.Identity()
        self.relu = nn.ReLU(inplace=True) if self.middle_relu else nn.Identity()
        self.temporal = nn.Conv1d(
            m, self.out_channels, t, stride=self.stride[0], padding=self.padding[0], bias=bias,
            groups=self.groups,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.in_channels, self.kernel_size, self.padding, type(self).__name__,
                   dtype=self.spatial.weight.dtype)
        n, c, t, h, w = x.shape
        # Frames as a batch: every frame goes through the same 2D conv.
        frames = x.transpose(1, 2).reshape(n * t, c, h, w)
        middle = self.spatial(frames)  # (N*T, M, H', W')
        _check_batch_statistics(self, middle)
        middle = self.relu(self.bn(middle))
        m, h_out, w_out = middle.shape[1:]
        # Pixels as a batch: every pixel's M-channel time series goes through the same 1D conv.
        series = middle.reshape(n, t, m, h_out, w_out).permute(0, 3, 4, 2, 1)
        out = self.temporal(series.reshape(n * h_out * w_out, m, t))  # (N*H'*W', C_out, T')
        c_out, t_out = out.shape[1:]
        return out.reshape(n, h_out, w_out, c_out, t_out).permute(0, 3, 4, 1, 2).contiguous()

    @classmethod
    def from_factorized(cls, layer: SpatioTemporalConv) -> NaiveConv2Plus1d:
        """A naive layer with the same shape, weights and train/eval mode as a
        `SpatioTemporalConv`."""
        weight = layer.spatial.weight
        with rng_kept():  # every weight is copied over: leave the RNG alone
            naive = cls(**layer.config).to(device=weight.device, dtype=weight.dtype)
        return copy_weights(layer, naive).train(layer.training)


# --------------------------------------------------------------------------
# 3. The factorized (2+1)D convolution
# --------------------------------------------------------------------------


class SpatioTemporalConv(_TwoPlusOneConfig, SliceableSequential):
    r"""The (2+1)D convolution of R(2+1)D: 1 x d x d conv, BN, ReLU, t x 1 x 1 conv.

    A t x d_h x d_w 3D convolution split in two `nn.Conv3d` whose kernels are
    flat in one direction, so no reshapes are needed:

    1. spatial: kernel (1, d_h, d_w), stride (1, s_h, s_w), padding (0, p_h, p_w),
       C_in -> M channels;
    2. BatchNorm3d(M) + ReLU (switchable with ``middle_bn_relu``, or one at a time);
    3. temporal: kernel (t, 1, 1), stride (s_t, 1, 1), padding (p_t, 0, 0),
       M -> C_out channels.

    With M from `intermediate_channels` it has (at most) the 3D layer's number
    of weights but twice the non-linearities. Without the middle BN/ReLU it is a
    3D convolution whose kernel has rank <= M (see the low-rank tutorial).

    The modules sit at positions 0 (spatial), 1 (BN), 2 (ReLU) and 3
    (temporal), like torchvision's ``Conv2Plus1D``, so state_dict keys match
    torchvision's; ``.spatial``, ``.bn``, ``.relu`` and ``.temporal`` name them.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `FullConv3d`.
        bias: add a learnable bias per output channel (on the temporal conv;
            see `NaiveConv2Plus1d` for why the spatial conv has none).
        intermediate_channels: M; None computes it with `intermediate_channels`.
        middle_bn_relu: BatchNorm + ReLU between the convs. Default: True.
        middle_bn, middle_relu: keyword-only; switch the BatchNorm or the ReLU
            on its own (None follows ``middle_bn_relu``), e.g. ``middle_relu=False``
            keeps the normalization but makes the layer linear at eval time.
        groups: keyword-only; both convs grouped, so the layer is ``groups``
            independent (2+1)D layers C_in/g -> M/g -> C_out/g side by side (C_in,
            M and C_out must be multiples of g). It is what `lowrank.factorize`
            makes of a grouped or depthwise `nn.Conv3d`; None for M then gives g
            times the paper's M of one group. Default: 1.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, M, T, H', W') — M/C_in times the input's channels
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d` with
          ``T' = floor((T + 2*p_t - t) / s_t) + 1`` (likewise H', W').

    Example::

        >>> layer = SpatioTemporalConv(64, 64, kernel_size=3, padding=1)
        >>> layer.intermediate_channels
        144
        >>> layer(torch.randn(1, 64, 4, 8, 8)).shape
        torch.Size([1, 64, 4, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        stride: Size3 = 1,
        padding: Size3 = 0,
        bias: bool = True,
        intermediate_channels: int | None = None,
        middle_bn_relu: bool = True,
        *,
        middle_bn: bool | None = None,
        middle_relu: bool | None = None,
        groups: int = 1,
    ) -> None:
        nn.Sequential.__init__(self)
        bias = check_bool(bias, "bias")  # before any conv draws its initial weights
        self._store_config(
            in_channels, out_channels, kernel_size, stride, padding,
            intermediate_channels, middle_bn_relu, middle_bn, middle_relu, groups,
        )
        t, d_h, d_w = self.kernel_size
        s_t, s_h, s_w = self.stride
        p_t, p_h, p_w = self.padding
        m = self.intermediate_channels
        self.append(nn.Conv3d(self.in_channels, m, (1, d_h, d_w), (1, s_h, s_w), (0, p_h, p_w),
                              bias=False, groups=self.groups))
        self.append(nn.BatchNorm3d(m) if self.middle_bn else nn.Identity())
        self.append(nn.ReLU(inplace=True) if self.middle_relu else nn.Identity())
        self.append(nn.Conv3d(m, self.out_channels, (t, 1, 1), (s_t, 1, 1), (p_t, 0, 0),
                              bias=bias, groups=self.groups))

    @property
    def spatial(self) -> nn.Conv3d:
        """The (1, d_h, d_w) conv into M channels."""
        return self[0]

    @property
    def bn(self) -> nn.Module:
        """BatchNorm3d(M), or Identity when ``middle_bn_relu`` is off."""
        return self[1]

    @property
    def relu(self) -> nn.Module:
        """ReLU, or Identity when ``middle_bn_relu`` is off."""
        return self[2]

    @property
    def temporal(self) -> nn.Conv3d:
        """The (t, 1, 1) conv from M channels to C_out."""
        return self[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.in_channels, self.kernel_size, self.padding, type(self).__name__,
                   dtype=self.spatial.weight.dtype)
        middle = self.spatial(x)
        _check_batch_statistics(self, middle)
        return self.temporal(self.relu(self.bn(middle)))

    @classmethod
    def from_naive(cls, naive: NaiveConv2Plus1d) -> SpatioTemporalConv:
        """A factorized layer with the same shape, weights and train/eval mode as a
        `NaiveConv2Plus1d`."""
        weight = naive.spatial.weight
        with rng_kept():  # every weight is copied over: leave the RNG alone
            layer = cls(**naive.config).to(device=weight.device, dtype=weight.dtype)
        return copy_weights(naive, layer).train(naive.training)


# --------------------------------------------------------------------------
# Moving weights between the naive and the factorized layer
# --------------------------------------------------------------------------

_TwoPlusOne = NaiveConv2Plus1d | SpatioTemporalConv


def copy_weights(source: _TwoPlusOne, target: _TwoPlusOne) -> _TwoPlusOne:
    """Copy weights, bias and BatchNorm state from one (2+1)D layer into another.

    Works in both directions between `NaiveConv2Plus1d` and
    `SpatioTemporalConv` (and between two of the same kind). Only the kernel
    layout differs: a Conv2d weight (M, C_in, d_h, d_w) is the Conv3d weight
    (M, C_in, 1, d_h, d_w) without its time axis, and a Conv1d weight
    (C_out, M, t) is the Conv3d weight (C_out, M, t, 1, 1) without its space axes.

    Returns:
        ``target``, now computing the same function as ``source``.
    """
    for role, layer in (("source", source), ("target", target)):
        if not isinstance(layer, (NaiveConv2Plus1d, SpatioTemporalConv)):
            raise TypeError(
                f"copy_weights expects NaiveConv2Plus1d or SpatioTemporalConv layers, got "
                f"{type(layer).__name__} as {role}"
            )
    # An ungrouped layer's config has no "groups" key (see `config`): compare with it put in.
    ours, theirs = ({"groups": 1, **layer.config} for layer in (source, target))
    if ours != theirs:
        differences = ", ".join(
            f"{key}: {ours[key]!r} vs {theirs[key]!r}" for key in ours if ours[key] != theirs[key]
        )
        raise ValueError(
            f"copy_weights needs layers of the same shape; they differ in {differences}"
        )
    with torch.no_grad():
        target.spatial.weight.copy_(source.spatial.weight.reshape(target.spatial.weight.shape))
        target.temporal.weight.copy_(source.temporal.weight.reshape(target.temporal.weight.shape))
        if target.temporal.bias is not None:
            target.temporal.bias.copy_(source.temporal.bias)
    if source.middle_bn:
        target.bn.load_state_dict(source.bn.state_dict())
    return target


# --------------------------------------------------------------------------
# Which method a layer is
# --------------------------------------------------------------------------

KNOWN_LAYERS = "FullConv3d / nn.Conv3d, NaiveConv2Plus1d or SpatioTemporalConv"


def method_of(layer: object) -> str:
    """The method key (`r21d_edu.methods`) of a layer: "3d", "naive" or "2plus1d".

    Shape:
        Not a tensor function.
    """
    if isinstance(layer, SpatioTemporalConv):
        return "2plus1d"
    if isinstance(layer, NaiveConv2Plus1d):
        return "naive"
    if isinstance(layer, (FullConv3d, nn.Conv3d)):
        return "3d"
    raise TypeError(
        f"expected a spatio-temporal conv layer ({KNOWN_LAYERS}), got "
        f"{type(layer).__name__}; build one with r21d_edu.FullConv3d(...) or "
        "r21d_edu.SpatioTemporalConv(...)"
    )
