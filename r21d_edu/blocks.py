"""The parts of a video ResNet: one convolution of any kind, the residual block, a stage, stems.

Read it top to bottom next to Sec. 3 and Table 1 of Tran et al. 2018; `r21d_edu.models`
assembles these parts into whole networks:

1. `ConvBuilder` — one convolution of a video block, of the kind asked for: ``"3d"``
   (3x3x3), ``"2plus1d"`` (1x3x3 into M channels, BN, ReLU, 3x1x1) or ``"2d"`` (1x3x3,
   "2D in time").
2. `SpatioTemporalResBlock` — ResNet's basic block for clips, with that builder.
3. `SpatioTemporalResLayer` — a stage of blocks (ResNet's layer1-4, the paper's
   conv2_x-conv5_x).
4. `BasicStem` and `R2Plus1dStem` — the first convolution of the network.

Where torchvision and the paper differ, torchvision is the default and the paper is
one argument away (``convention="paper"``):

- torchvision computes the intermediate channels M of a (2+1)D conv once per block,
  from the block's input and output channels, and uses it for both convs; the paper
  computes it per conv. They differ on the second conv of every block that widens
  (layer2.0, layer3.0, layer4.0).
- torchvision's (2+1)D stem hard-codes M = 45 (the Caffe2 model's number); the
  paper's formula gives 83 for a 3x7x7 kernel from 3 to 64 channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ._checks import (
    Triple,
    as_triple,
    check_bool,
    check_int,
    check_optional_bool,
    is_int,
)
from ._sequential import SliceableSequential
from .layers import Convention, SpatioTemporalConv, block_intermediate_channels

Size3 = int | Sequence[int]
ConvType = Literal["3d", "2plus1d", "2d"]

__all__ = [
    "CONV_TYPES",
    "BasicStem",
    "ConvBuilder",
    "R2Plus1dStem",
    "SpatioTemporalResBlock",
    "SpatioTemporalResLayer",
    "as_conv_builder",
]

#: The three kinds of convolution a video residual block can use.
CONV_TYPES: tuple[str, ...] = ("3d", "2plus1d", "2d")


def _check_convention(convention: object) -> Convention:
    if convention not in ("torchvision", "paper"):
        raise ValueError(
            f"convention must be 'torchvision' (M once per block, stem M = 45) or 'paper' "
            f"(M per conv, stem M from the formula), got {convention!r}"
        )
    return convention  # type: ignore[return-value]


def _check_conv_type(conv_type: object) -> ConvType:
    if conv_type not in CONV_TYPES:
        raise ValueError(
            f"conv_type must be one of {CONV_TYPES} ('3d': t x d x d, '2plus1d': "
            f"1 x d x d then t x 1 x 1, '2d': 1 x d x d only), got {conv_type!r}"
        )
    return conv_type  # type: ignore[return-value]


# --------------------------------------------------------------------------
# 1. One convolution of a video block, of any of the three kinds
# --------------------------------------------------------------------------


def _block_kernel(kernel_size: Size3, conv_type: ConvType) -> Triple:
    """The (t, d_h, d_w) kernel a block's convs use; "2d" blocks have t = 1."""
    if conv_type == "2d" and is_int(kernel_size):
        kernel_size = (1, kernel_size, kernel_size)
    kernel = as_triple(kernel_size, "kernel_size", minimum=1)
    if conv_type == "2d" and kernel[0] != 1:
        raise ValueError(
            f"a '2d' (2D-in-time) block convolves each frame on its own, so its kernel has "
            f"t = 1; got kernel_size {kernel}. Pass kernel_size={kernel[1]} or "
            f"(1, {kernel[1]}, {kernel[2]})"
        )
    if any(k % 2 == 0 for k in kernel):
        raise ValueError(
            f"a residual block needs odd kernel sizes so that padding k // 2 keeps T, H, W "
            f"and the shortcut can be added; got kernel_size {kernel}"
        )
    return kernel


@dataclass(frozen=True)
class ConvBuilder:
    """How a residual block makes its convolutions: one kind of video conv.

    A block asks its builder for the kernel, the stride and each conv, so one
    block class serves every kind (torchvision passes a ``conv_builder`` class
    for the same reason). The string ``conv_type`` of `SpatioTemporalResBlock`
    is shorthand for ``ConvBuilder(conv_type, convention)``; the other fields
    make the variants a training experiment compares. `video_resnet` makes the
    builders once (checking the convention there) and hands only builders down:
    `VideoResNet` -> `SpatioTemporalResLayer` -> `SpatioTemporalResBlock`.

    ``conv_type`` is not the method vocabulary of `r21d_edu.methods` (``"3d"``,
    ``"naive"``, ``"2plus1d"``, ``"fast"``), though two keys look alike: a method is
    a way to compute one spatio-temporal layer, a conv_type is the architecture of
    a block — ``"2d"`` (1 x d x d, no temporal kernel, MC3's upper stages) is not a
    method at all, and "naive" and "fast" are not architectures.

    Fields:
        conv_type: ``"3d"``, ``"2plus1d"`` or ``"2d"`` (see `SpatioTemporalResBlock`).
        convention: how ``"2plus1d"`` convs choose M: ``"torchvision"`` once per
            block, ``"paper"`` per conv (`intermediate_channels`).
        middle_bn_relu: keep the BN + ReLU between a (2+1)D conv's halves.
            False gives a *linear* factorization: the same weights, one
            non-linearity per conv instead of two.
        middle_bn, middle_relu: keep only the BatchNorm or only the ReLU of
            the middle (None follows ``middle_bn_relu``): the ablations that
            tell normalization from non-linearity.
        rank_divisor: divide the formula's M by this (at least 1 channel is
            kept), giving a rank-limited (2+1)D conv with fewer parameters.

    Example::

        >>> ConvBuilder("2plus1d", "paper", rank_divisor=4).intermediate(16, 16, (3, 3, 3))
        (9, 9)
    """

    conv_type: ConvType = "2plus1d"
    convention: Convention = "torchvision"
    middle_bn_relu: bool = True
    rank_divisor: int = 1
    middle_bn: bool | None = None
    middle_relu: bool | None = None

    def __post_init__(self) -> None:
        _check_conv_type(self.conv_type)
        _check_convention(self.convention)
        object.__setattr__(self, "middle_bn_relu", check_bool(self.middle_bn_relu,
                                                              "middle_bn_relu"))
        for half in ("middle_bn", "middle_relu"):
            value = check_optional_bool(getattr(self, half), half)
            # Frozen dataclass: resolve the default once, here.
            object.__setattr__(self, half, self.middle_bn_relu if value is None else value)
        check_int(self.rank_divisor, "rank_divisor", minimum=1)
        plain_middle = self.middle_bn and self.middle_relu
        if self.conv_type != "2plus1d" and (not plain_middle or self.rank_divisor != 1):
            raise ValueError(
                f"middle_bn_relu and rank_divisor shape (2+1)D convs only; a {self.conv_type!r} "
                "conv has no intermediate channels. Use conv_type='2plus1d'"
            )

    def kernel(self, kernel_size: Size3) -> Triple:
        """The (t, d_h, d_w) kernel of the block's convs; ``"2d"`` blocks have t = 1."""
        return _block_kernel(kernel_size, self.conv_type)

    def stride(self, downsample: bool) -> Triple:
        """(s_t, s_h, s_w) of a block's first conv: 2 when downsampling, never over
        time for ``"2d"``, whose convs never look across frames."""
        s = 2 if downsample else 1
        return (1, s, s) if self.conv_type == "2d" else (s, s, s)

    def intermediate(self, in_channels: int, out_channels: int,
                     kernel: Triple) -> tuple[int | None, int | None]:
        """M of the block's two convs, or (None, None) for kinds without one."""
        if self.conv_type != "2plus1d":
            return None, None
        m1, m2 = block_intermediate_channels(in_channels, out_channels, kernel, self.convention)
        return max(m1 // self.rank_divisor, 1), max(m2 // self.rank_divisor, 1)

    def __call__(self, in_channels: int, out_channels: int, kernel: Triple, stride: Triple,
                 intermediate_channels: int | None) -> nn.Module:
        """One conv of a block, bias-free because BatchNorm follows it.

        Padding is k // 2 along every axis, so with stride 1 the conv keeps
        (T, H, W) and with stride 2 it gives ceil(size / 2).
        """
        padding = tuple(k // 2 for k in kernel)
        if self.conv_type == "2plus1d":
            return SpatioTemporalConv(in_channels, out_channels, kernel, stride, padding,
                                      bias=False, intermediate_channels=intermediate_channels,
                                      middle_bn=self.middle_bn, middle_relu=self.middle_relu)
        return nn.Conv3d(in_channels, out_channels, kernel, stride, padding, bias=False)


def as_conv_builder(conv_type: ConvType | ConvBuilder, convention: Convention) -> ConvBuilder:
    """The builder a block uses: `conv_type` if it is one, else a new `ConvBuilder`."""
    # The string keyword forms (conv_type="3d", convention="paper") are shorthand for a
    # builder; ConvBuilder checks both strings, so they are checked in one place.
    if isinstance(conv_type, ConvBuilder):
        return conv_type
    return ConvBuilder(conv_type, convention)


# --------------------------------------------------------------------------
# 2. The video residual block
# --------------------------------------------------------------------------


class SpatioTemporalResBlock(nn.Module):
    r"""A ResNet basic block for clips; the kind of convolution is a parameter.

    ``out = relu(conv2(conv1(x)) + shortcut(x))`` where
    ``conv1 = [conv, BN, ReLU]`` and ``conv2 = [conv, BN]``. Swap ``nn.Conv2d``
    for one of three video convs and `BasicBlock2d` becomes:

    - ``"3d"``: a t x d x d `nn.Conv3d` (R3D);
    - ``"2plus1d"``: a `SpatioTemporalConv` — 1 x d x d conv into M channels,
      BN, ReLU, t x 1 x 1 conv (R(2+1)D); each conv of the block gains a
      non-linearity, so the block has four ReLUs instead of two;
    - ``"2d"``: a 1 x d x d `nn.Conv3d`, each frame on its own (MC's 2D stages).

    With ``downsample=True`` the first conv has stride 2 along T, H and W
    (H and W only for ``"2d"``, which never mixes frames). Whenever the block
    changes stride or width, the shortcut is a single 1x1x1 `nn.Conv3d` with
    the same stride plus BN, stored as ``downsample`` (torchvision's name).
    It is linear on purpose: the identity path of a ResNet carries the signal
    unchanged, and a projection should change only its shape.

    Args:
        in_channels: channels of the input clip.
        out_channels: channels of both convs and of the output.
        kernel_size: d, or (t, d_h, d_w), odd sizes; for ``"2d"`` an int d
            means (1, d, d). torchvision uses 3.
        downsample: halve the clip with stride 2 in the first conv.
            Default: False.
        conv_type: ``"2plus1d"`` (default), ``"3d"`` or ``"2d"``, or a
            `ConvBuilder` (which then also says the convention).
        convention: how ``"2plus1d"`` convs choose M (`intermediate_channels`):
            ``"torchvision"`` (default) once per block from (in_channels,
            out_channels), ``"paper"`` per conv. Ignored by the other kinds.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W') with ``T' = ceil(T / s_t)`` and
          ``H' = ceil(H / s)``, ``W' = ceil(W / s)``, where s = 2 with
          ``downsample`` (s_t = 1 for ``"2d"``) and 1 otherwise.

    Example::

        >>> block = SpatioTemporalResBlock(64, 128, 3, downsample=True)
        >>> block(torch.randn(1, 64, 8, 28, 28)).shape
        torch.Size([1, 128, 4, 14, 14])
        >>> [block.conv1[0].intermediate_channels, block.conv2[0].intermediate_channels]
        [230, 230]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3 = 3,
        downsample: bool = False,
        *,
        conv_type: ConvType | ConvBuilder = "2plus1d",
        convention: Convention = "torchvision",
    ) -> None:
        super().__init__()
        self.conv_builder = as_conv_builder(conv_type, convention)
        self.conv_type = self.conv_builder.conv_type
        self.convention = self.conv_builder.convention
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.kernel_size = self.conv_builder.kernel(kernel_size)
        downsample = check_bool(downsample, "downsample")
        self.stride: Triple = self.conv_builder.stride(downsample)

        m1, m2 = self.conv_builder.intermediate(self.in_channels, self.out_channels,
                                                self.kernel_size)
        self.conv1 = nn.Sequential(
            self.conv_builder(self.in_channels, self.out_channels, self.kernel_size,
                              self.stride, m1),
            nn.BatchNorm3d(self.out_channels),
            nn.ReLU(inplace=True),
        )
        self.conv2 = nn.Sequential(
            self.conv_builder(self.out_channels, self.out_channels, self.kernel_size,
                              (1, 1, 1), m2),
            nn.BatchNorm3d(self.out_channels),
        )
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Sequential | None = None
        if self.stride != (1, 1, 1) or self.in_channels != self.out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(self.in_channels, self.out_channels, 1, self.stride, bias=False),
                nn.BatchNorm3d(self.out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, conv_type={self.conv_type!r}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}")


# --------------------------------------------------------------------------
# 3. A stage: blocks of the same width
# --------------------------------------------------------------------------


class SpatioTemporalResLayer(SliceableSequential):
    r"""``layer_size`` residual blocks in a row: one stage of the network.

    The first block goes from ``in_channels`` to ``out_channels`` (and
    downsamples if asked); the others keep ``out_channels``. It is a
    `nn.Sequential`, so the blocks are ``0``, ``1``, … as in torchvision
    (``layer2.0.downsample.0.weight``).

    Args:
        in_channels: channels entering the stage.
        out_channels: channels of every block of the stage.
        kernel_size: passed to every block.
        layer_size: number of blocks (>= 1).
        block_type: the block class, called as ``block_type(in, out,
            kernel_size, downsample=..., conv_type=builder)`` with one
            `ConvBuilder` shared by every block.
            Default: `SpatioTemporalResBlock`.
        downsample: stride 2 in the first block. Default: False.
        conv_type, convention: a `ConvBuilder`, or the strings it is made of
            (``conv_type="3d"``, ``convention="paper"``, kept for compatibility);
            the builder is made once and passed to every block.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W'), the first block's output shape.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        layer_size: int,
        block_type: type[nn.Module] = SpatioTemporalResBlock,
        downsample: bool = False,
        *,
        conv_type: ConvType | ConvBuilder = "2plus1d",
        convention: Convention = "torchvision",
    ) -> None:
        layer_size = check_int(layer_size, "layer_size", minimum=1)
        options = {"conv_type": as_conv_builder(conv_type, convention)}  # made once, shared
        blocks = [block_type(in_channels, out_channels, kernel_size, downsample=downsample,
                             **options)]
        blocks += [block_type(out_channels, out_channels, kernel_size, downsample=False,
                              **options) for _ in range(layer_size - 1)]
        super().__init__(*blocks)


# --------------------------------------------------------------------------
# 4. Stems
# --------------------------------------------------------------------------


class BasicStem(SliceableSequential):
    r"""R3D's and MC3's stem: a 3x7x7 conv, stride (1, 2, 2), 3 -> 64 channels, BN, ReLU.

    Unlike ResNet's image stem there is no max-pool: the clip is 112x112,
    half of ImageNet's 224, so one stride-2 conv already gives 56x56.

    The defaults are torchvision's. The arguments build the stems of the
    paper's other networks at any size: ``temporal_kernel=1`` is a 2D stem
    (f-R2D, rMCx), and ``temporal_kernel=T, temporal_padding=0`` folds all T
    frames into the channels at once, collapsing time (R2D).

    Args:
        in_channels: channels of the clip. Default: 3 (RGB).
        out_channels: channels of the output. Default: 64.
        temporal_kernel: t of the t x 7 x 7 kernel. Default: 3.
        temporal_padding: frames of zero padding on each side of T; None
            (default) keeps T with ``temporal_kernel // 2``.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', ceil(H / 2), ceil(W / 2)) with
          ``T' = T + 2 * temporal_padding - temporal_kernel + 1``.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 64, temporal_kernel: int = 3,
                 temporal_padding: int | None = None) -> None:
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        out_channels = check_int(out_channels, "out_channels", minimum=1)
        t = check_int(temporal_kernel, "temporal_kernel", minimum=1)
        p = t // 2 if temporal_padding is None else check_int(temporal_padding,
                                                                "temporal_padding", minimum=0)
        super().__init__(
            nn.Conv3d(in_channels, out_channels, (t, 7, 7), (1, 2, 2), (p, 3, 3), bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


class R2Plus1dStem(SliceableSequential):
    r"""R(2+1)D's stem: a factorized 3x7x7 conv, with BN and ReLU after both halves.

    1x7x7 conv (stride (1, 2, 2)) into M channels, BN, ReLU, 3x1x1 conv into 64
    channels, BN, ReLU — six modules in one flat `nn.Sequential` (keys
    ``stem.0``, ``stem.1``, ``stem.3``, ``stem.4``) as in torchvision.

    Args:
        intermediate_channels: M. Default: 45, hard-coded by torchvision after
            the Caffe2 model. The paper's formula for a 3x7x7 kernel from 3 to
            64 channels gives 83 (``intermediate_channels(3, 64, (3, 7, 7))``),
            which is what ``r2plus1d_18(convention="paper")`` uses.
        in_channels: channels of the clip. Default: 3 (RGB).
        out_channels: channels of the output. Default: 64.
        middle_bn_relu: keep the BN + ReLU between the halves (False: a linear
            factorization, Identity at positions 1 and 2). Default: True.
        middle_bn, middle_relu: keyword-only; keep only one of the two (None
            follows ``middle_bn_relu``).

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, M, T, ceil(H / 2), ceil(W / 2))
        - Output: (N, C_out, T, ceil(H / 2), ceil(W / 2))
    """

    def __init__(self, intermediate_channels: int = 45, in_channels: int = 3,
                 out_channels: int = 64, middle_bn_relu: bool = True, *,
                 middle_bn: bool | None = None, middle_relu: bool | None = None) -> None:
        m = check_int(intermediate_channels, "intermediate_channels (M)", minimum=1)
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        out_channels = check_int(out_channels, "out_channels", minimum=1)
        middle_bn_relu = check_bool(middle_bn_relu, "middle_bn_relu")
        middle_bn = middle_bn_relu if middle_bn is None else check_bool(middle_bn, "middle_bn")
        middle_relu = (middle_bn_relu if middle_relu is None
                       else check_bool(middle_relu, "middle_relu"))
        super().__init__(
            nn.Conv3d(in_channels, m, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
            nn.BatchNorm3d(m) if middle_bn else nn.Identity(),
            nn.ReLU(inplace=True) if middle_relu else nn.Identity(),
            nn.Conv3d(m, out_channels, (3, 1, 1), (1, 1, 1), (1, 0, 0), bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.intermediate_channels = m
