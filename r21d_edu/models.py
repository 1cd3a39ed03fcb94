"""From ResNet-18 to R(2+1)D-18: residual blocks, stems and whole networks.

Read this file top to bottom next to Sec. 3 and Table 1 of Tran et al. 2018:

1. `BasicBlock2d` and `resnet18` — the 2D image ResNet everything starts from.
2. `SpatioTemporalResBlock` — the same block for clips, with the kind of
   convolution as a parameter: ``"3d"`` (3x3x3), ``"2plus1d"`` (1x3x3 into M
   channels, BN, ReLU, 3x1x1) or ``"2d"`` (1x3x3, "2D in time").
3. `SpatioTemporalResLayer` — a stage of blocks (ResNet's layer1-4, the
   paper's conv2_x-conv5_x).
4. `BasicStem` and `R2Plus1dStem` — the first convolution of the network.
5. `VideoResNet` and the builders `r3d_18`, `mc3_18`, `r2plus1d_18`,
   `r3d_34`, `r2plus1d_34` (and `video_resnet` for any of them by name).

Module names follow torchvision's ``torchvision.models.video.resnet`` and
``torchvision.models.resnet`` position by position, so their state_dicts load
here unchanged (`r21d_edu.weights`) and parameter counts match exactly:
r3d_18 33,371,472; mc3_18 11,695,440; r2plus1d_18 31,505,325; resnet18
11,689,512.

Where torchvision and the paper differ, torchvision is the default and the
paper is one argument away (``convention="paper"``):

- torchvision computes the intermediate channels M of a (2+1)D conv once per
  block, from the block's input and output channels, and uses it for both
  convs; the paper computes it per conv. They differ on the second conv of
  every block that widens (layer2.0, layer3.0, layer4.0).
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
    check_clip,
    check_int,
    check_optional_bool,
    is_int,
)
from .layers import Convention, SpatioTemporalConv, block_intermediate_channels
from .layers import intermediate_channels as formula_intermediate_channels

Size3 = int | Sequence[int]
ConvType = Literal["3d", "2plus1d", "2d"]

__all__ = [
    "CONV_TYPES",
    "DEPTHS",
    "BasicBlock2d",
    "BasicStem",
    "ConvBuilder",
    "R2Plus1dStem",
    "ResNet2d",
    "SpatioTemporalResBlock",
    "SpatioTemporalResLayer",
    "VideoResNet",
    "mc3_18",
    "r2plus1d_18",
    "r2plus1d_34",
    "r3d_18",
    "r3d_34",
    "resnet18",
    "resnet34",
    "video_resnet",
]

#: The three kinds of convolution a video residual block can use.
CONV_TYPES: tuple[str, ...] = ("3d", "2plus1d", "2d")

#: Blocks per stage for the depths built from basic (two-conv) blocks, as in
#: Table 1 of the paper and in ResNet: depth = 2 + 2 * sum(blocks).
DEPTHS: dict[int, tuple[int, int, int, int]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

#: Channels of the four stages; every network here uses ResNet's widths.
STAGE_CHANNELS: tuple[int, int, int, int] = (64, 128, 256, 512)


def _check_depth(depth: object) -> tuple[int, int, int, int]:
    # 18.0 == 18 would find the key: a depth is a count of layers, an integer.
    depth = check_int(depth, "depth", minimum=1)
    if depth not in DEPTHS:
        known = ", ".join(f"{d} -> blocks {blocks}" for d, blocks in DEPTHS.items())
        raise ValueError(
            f"unknown depth {depth!r}; the networks here are built from basic two-conv "
            f"blocks, which come in depths {known}. Deeper ResNets (50, 101, 152) use "
            "bottleneck blocks, which this package does not build"
        )
    return DEPTHS[depth]


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
# 1. The 2D ResNet that R(2+1)D grows out of
# --------------------------------------------------------------------------


class BasicBlock2d(nn.Module):
    r"""ResNet's basic block for images: two 3x3 convs and a shortcut.

    ``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``. The
    shortcut is the identity, or — when the block changes width or strides —
    a 1x1 conv + BN (``downsample``) so the two branches can be added.

    Args:
        in_channels: channels of the input image.
        out_channels: channels of both convs and of the output.
        stride: stride of the first conv (2 halves H and W). Default: 1.

    Shape:
        - Input: (N, C_in, H, W)
        - Output: (N, C_out, H', W') with ``H' = floor((H - 1) / stride) + 1``
          (likewise W').

    Example::

        >>> block = BasicBlock2d(64, 128, stride=2)
        >>> block(torch.randn(1, 64, 56, 56)).shape
        torch.Size([1, 128, 28, 28])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.stride = check_int(stride, "stride", minimum=1)
        # bias=False: each conv is followed by BatchNorm, whose shift replaces a bias.
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, self.stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Sequential | None = None
        if self.stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, self.stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _check_images(x: object, in_channels: int, name: str) -> None:
    """Check a batch of images (N, C, H, W) for a 2D network, with a hint for clips."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor of images (N, C, H, W), "
                        f"got {type(x).__name__}")
    shape = tuple(x.shape)
    if x.dim() == 5:
        raise ValueError(
            f"{name} is a 2D network: it expects images (N, C, H, W), got the 5D clip shape "
            f"{shape}. To run it frame by frame, fold time into the batch: "
            "x.transpose(1, 2).flatten(0, 1) gives (N*T, C, H, W)"
        )
    if x.dim() != 4:
        raise ValueError(f"{name} expects images (N, C, H, W), got {x.dim()}D shape {shape}")
    if not x.is_floating_point():
        raise TypeError(f"{name} expects floating-point images, got dtype {x.dtype}; "
                        "convert with x.float() / 255")
    if shape[1] != in_channels:
        raise ValueError(f"{name} expects {in_channels} channels in dim 1 of (N, C, H, W), "
                         f"got shape {shape}")


class ResNet2d(nn.Module):
    r"""The image ResNet of He et al. 2016 with basic blocks (ResNet-18/34).

    Stem: 7x7 conv with stride 2, BN, ReLU, 3x3 max-pool with stride 2; then
    four stages of `BasicBlock2d` (64, 128, 256, 512 channels, stages 2-4
    halve H and W); then global average pooling and a linear classifier.
    Module names equal ``torchvision.models.resnet``'s.

    Args:
        blocks: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        num_classes: outputs of the classifier. Default: 1000 (ImageNet).

    Shape:
        - Input: (N, 3, H, W), e.g. (N, 3, 224, 224)
        - Output: (N, num_classes)
    """

    #: The image size torchvision's ImageNet models are measured at.
    default_input_shape: tuple[int, ...] = (1, 3, 224, 224)

    def __init__(self, blocks: Sequence[int], num_classes: int = 1000) -> None:
        super().__init__()
        blocks = _check_blocks(blocks)
        self.num_classes = check_int(num_classes, "num_classes", minimum=1)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_channels = 64
        stages = zip(STAGE_CHANNELS, blocks, strict=True)
        for index, (channels, count) in enumerate(stages, start=1):
            stride = 1 if index == 1 else 2
            stage = [BasicBlock2d(in_channels, channels, stride)]
            stage += [BasicBlock2d(channels, channels) for _ in range(count - 1)]
            self.add_module(f"layer{index}", nn.Sequential(*stage))
            in_channels = channels
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, self.num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, 3, type(self).__name__)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _check_blocks(blocks: object) -> tuple[int, int, int, int]:
    if not isinstance(blocks, Sequence) or len(blocks) != 4:
        raise ValueError(f"blocks must list the number of blocks of the 4 stages, e.g. "
                         f"(2, 2, 2, 2), got {blocks!r}")
    return tuple(check_int(b, "blocks per stage", minimum=1) for b in blocks)  # type: ignore


def resnet18(num_classes: int = 1000) -> ResNet2d:
    """ResNet-18 for images: 11,689,512 parameters and 1.814 GMACs at 224x224 (torchvision's).

    Args:
        num_classes: outputs of the classifier. Default: 1000 (ImageNet).

    Shape:
        - Input: (N, 3, H, W), e.g. (N, 3, 224, 224)
        - Output: (N, num_classes)
    """
    return ResNet2d(DEPTHS[18], num_classes)


def resnet34(num_classes: int = 1000) -> ResNet2d:
    """ResNet-34 for images: 21,797,672 parameters with 1000 classes (torchvision's).

    Args:
        num_classes: outputs of the classifier. Default: 1000 (ImageNet).

    Shape:
        - Input: (N, 3, H, W), e.g. (N, 3, 224, 224)
        - Output: (N, num_classes)
    """
    return ResNet2d(DEPTHS[34], num_classes)


# --------------------------------------------------------------------------
# 2. One convolution of a video block, of any of the three kinds
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


def _builder(conv_type: ConvType | ConvBuilder, convention: Convention) -> ConvBuilder:
    # The string keyword forms (conv_type="3d", convention="paper") are shorthand for a
    # builder; ConvBuilder checks both strings, so they are checked in one place.
    if isinstance(conv_type, ConvBuilder):
        return conv_type
    return ConvBuilder(conv_type, convention)


# --------------------------------------------------------------------------
# 3. The video residual block
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
        self.conv_builder = _builder(conv_type, convention)
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
# 4. A stage: blocks of the same width
# --------------------------------------------------------------------------


class SpatioTemporalResLayer(nn.Sequential):
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
        options = {"conv_type": _builder(conv_type, convention)}  # made once, shared
        blocks = [block_type(in_channels, out_channels, kernel_size, downsample=downsample,
                             **options)]
        blocks += [block_type(out_channels, out_channels, kernel_size, downsample=False,
                              **options) for _ in range(layer_size - 1)]
        super().__init__(*blocks)


# --------------------------------------------------------------------------
# 5. Stems
# --------------------------------------------------------------------------


class BasicStem(nn.Sequential):
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


class R2Plus1dStem(nn.Sequential):
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


# --------------------------------------------------------------------------
# 6. The network
# --------------------------------------------------------------------------


class VideoResNet(nn.Module):
    r"""A video ResNet: stem, four stages of residual blocks, pooling, classifier.

    Like torchvision's ``VideoResNet``: stage ``i`` has ``blocks[i]`` blocks
    of ``conv_types[i]`` with ``widths[i]`` channels (64, 128, 256, 512);
    stages 2-4 halve the clip (T too, unless the stage is ``"2d"``). Then
    ``AdaptiveAvgPool3d(1)`` averages over T, H, W and ``fc`` classifies.

    Args:
        conv_types: the conv kind of each of the 4 stages, e.g.
            ``("3d", "2d", "2d", "2d")`` for MC3, or a `ConvBuilder` per stage.
        blocks: blocks per stage, e.g. (2, 2, 2, 2) for depth 18.
        stem: the first module, mapping (N, C, T, H, W) to ``widths[0]``
            channels (`BasicStem` or `R2Plus1dStem`).
        num_classes: outputs of ``fc``. Default: 400 (Kinetics-400).
        convention: how (2+1)D convs choose M; see `SpatioTemporalResBlock`.
        widths: channels of the four stages. Default: ResNet's (64, 128, 256,
            512); `r21d_edu.family` trains narrower networks on a laptop.

    Attributes:
        clip_stride: (s_t, s_h, s_w), how much the network shrinks each axis
            before pooling. It is not a minimum: a padded stride-2 conv maps
            1 frame to 1 frame, so R(2+1)D-18 runs a 4-frame clip
            (T: 4 -> 4 -> 2 -> 1 -> 1 over the stem and stages 1-4).

    Shape:
        - Input: (N, C, T, H, W), C the stem's input channels (3 for RGB), any
          sizes that no conv shrinks to zero (for the built-in networks every
          T, H, W >= 1); torchvision's Kinetics weights were trained at
          (N, 3, 16, 112, 112).
        - Before pooling: (N, widths[3], ceil(T / s_t), ceil(H / s_h), ceil(W / s_w))
        - Output: (N, num_classes)
    """

    #: The clip size torchvision's video models are measured at.
    default_input_shape: tuple[int, ...] = (1, 3, 16, 112, 112)

    def __init__(
        self,
        conv_types: Sequence[ConvType | ConvBuilder],
        blocks: Sequence[int],
        stem: nn.Module,
        num_classes: int = 400,
        convention: Convention = "torchvision",
        widths: Sequence[int] = STAGE_CHANNELS,
    ) -> None:
        super().__init__()
        if isinstance(conv_types, str) or len(conv_types) != 4:
            raise ValueError(f"conv_types must name the conv kind of each of the 4 stages, "
                             f"e.g. ('3d', '2d', '2d', '2d'), got {conv_types!r}")
        builders = tuple(_builder(c, convention) for c in conv_types)
        self.conv_types = tuple(b.conv_type for b in builders)
        blocks = _check_blocks(blocks)
        if isinstance(widths, str) or len(widths) != 4:
            raise ValueError(f"widths must give the channels of each of the 4 stages, "
                             f"e.g. (64, 128, 256, 512), got {widths!r}")
        self.widths = tuple(check_int(w, "width", minimum=1) for w in widths)
        self.num_classes = check_int(num_classes, "num_classes", minimum=1)
        self.stem = stem
        self.in_channels = next(m for m in stem.modules() if isinstance(m, nn.Conv3d)).in_channels
        in_channels = self.widths[0]
        for index, (channels, count, builder) in enumerate(
            zip(self.widths, blocks, builders, strict=True), start=1
        ):
            layer = SpatioTemporalResLayer(in_channels, channels, 3, count,
                                           downsample=index > 1, conv_type=builder)
            self.add_module(f"layer{index}", layer)
            in_channels = channels
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(self.widths[-1], self.num_classes)
        self.clip_stride = self._clip_stride()
        self._initialize_weights()

    def _clip_stride(self) -> Triple:
        stride = [1, 1, 1]
        stem_convs = [m for m in self.stem.modules() if isinstance(m, nn.Conv3d)]
        strides = [conv.stride for conv in stem_convs]
        strides += [self.get_submodule(f"layer{i}")[0].stride for i in range(1, 5)]
        for s in strides:
            stride = [a * b for a, b in zip(stride, s, strict=True)]
        return tuple(stride)  # type: ignore[return-value]

    def _initialize_weights(self) -> None:
        # torchvision's scheme, so that a model trained from scratch here starts
        # where one trained with torchvision would.
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def check_input(self, x: object) -> None:
        """Raise a clear error if `x` is not a clip this network can classify.

        Checks: a float 5D (N, 3, T, H, W) tensor; that no conv on the main
        path shrinks T, H or W to zero (sizes are traced conv by conv with
        ``out = floor((in + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``,
        so every clip the layers can process is accepted: R(2+1)D-18 takes a
        4-frame clip, T 4 -> 4 -> 2 -> 1 -> 1); and, in training mode, more
        than one value per channel for BatchNorm at the last stage.
        """
        name = type(self).__name__
        first_conv = next(m for m in self.stem.modules() if isinstance(m, nn.Conv3d))
        check_clip(x, self.in_channels, first_conv.kernel_size, first_conv.padding, name)
        n, _, *sizes = x.shape
        last = self.trace_sizes(sizes, name=name, clip_shape=tuple(x.shape))
        if self.training and n * last[0] * last[1] * last[2] == 1:
            raise ValueError(
                f"{name} in training mode: the last stage would output (N, {self.widths[-1]}, "
                f"{last[0]}, {last[1]}, {last[2]}) with N = {n}, a single value per channel, "
                "and BatchNorm cannot estimate a variance from one value. Use a batch of "
                "2 or more clips, a larger clip, or model.eval()"
            )

    def trace_sizes(self, sizes: Sequence[int], *, name: str | None = None,
                    clip_shape: tuple[int, ...] | None = None) -> Triple:
        """(T, H, W) after the last stage for a clip of `sizes` (T, H, W).

        Follows every `nn.Conv3d` of the stem and the stages' main path (the
        shortcuts give the same sizes) and raises a `ValueError` naming the
        conv, the axis and the arithmetic if one would shrink an axis to zero.
        """
        name = name or type(self).__name__
        current = [int(s) for s in sizes]
        for module_name, conv in self.named_modules():
            if not isinstance(conv, nn.Conv3d) or ".downsample." in module_name:
                continue
            for axis in range(3):
                k, s, p, d = (conv.kernel_size[axis], conv.stride[axis], conv.padding[axis],
                              conv.dilation[axis])
                size = current[axis]
                out = (size + 2 * p - d * (k - 1) - 1) // s + 1
                if out < 1:
                    label = ("T (frames)", "H", "W")[axis]
                    raise ValueError(
                        f"{name}: {module_name} would shrink {label} to zero: "
                        f"{size} + 2*{p} padding = {size + 2 * p} < kernel {d * (k - 1) + 1}"
                        + (f" (clip shape {clip_shape})" if clip_shape else "")
                        + f". Use a clip with more {'frames' if axis == 0 else 'pixels'}"
                    )
                current[axis] = out
        return tuple(current)  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


# --------------------------------------------------------------------------
# 7. Builders
# --------------------------------------------------------------------------

_ARCHITECTURES: dict[str, tuple[ConvType, ConvType, ConvType, ConvType]] = {
    "r3d": ("3d", "3d", "3d", "3d"),
    # MC3: 3D convs in the stem and the first stage, 2D convs above (paper Sec. 3.2).
    "mc3": ("3d", "2d", "2d", "2d"),
    "r2plus1d": ("2plus1d", "2plus1d", "2plus1d", "2plus1d"),
}


def video_resnet(
    arch: str,
    depth: int = 18,
    num_classes: int = 400,
    convention: Convention = "torchvision",
) -> VideoResNet:
    """Build any of the video ResNets by name and depth.

    Args:
        arch: ``"r3d"`` (3D convs everywhere), ``"mc3"`` (3D in the stem and
            stage 1, 2D-in-time above) or ``"r2plus1d"`` ((2+1)D everywhere).
        depth: 18 or 34 (blocks per stage `DEPTHS`). Default: 18.
        num_classes: outputs of the classifier. Default: 400 (Kinetics-400).
        convention: ``"torchvision"`` (default) or ``"paper"``; only (2+1)D
            networks have intermediate channels to choose: with ``"paper"``
            every (2+1)D conv gets M from its own channels and the stem gets
            M = 83 from the formula instead of 45.

    Shape:
        - Input: (N, 3, T, H, W), e.g. (N, 3, 16, 112, 112)
        - Output: (N, num_classes)
    """
    if arch not in _ARCHITECTURES:
        raise ValueError(f"arch must be one of {tuple(_ARCHITECTURES)}, got {arch!r}")
    blocks = _check_depth(depth)
    # One builder per kind of conv, made (and its convention checked) once, here; the
    # network, its stages and blocks receive only builders.
    conv_types = _ARCHITECTURES[arch]
    made = {c: ConvBuilder(c, convention) for c in dict.fromkeys(conv_types)}
    builders = tuple(made[c] for c in conv_types)
    if arch == "r2plus1d":
        stem_m = 45 if convention == "torchvision" else formula_intermediate_channels(
            3, 64, (3, 7, 7))
        stem: nn.Module = R2Plus1dStem(stem_m)
    else:
        if convention != "torchvision":
            raise ValueError(f"convention={convention!r} only changes (2+1)D convs; "
                             f"{arch!r} has none. Use arch='r2plus1d'")
        stem = BasicStem()
    return VideoResNet(builders, blocks, stem, num_classes)


def r3d_18(num_classes: int = 400) -> VideoResNet:
    """R3D-18: 3x3x3 convs everywhere; 33,371,472 parameters, 40.697 GMACs at 16x112x112.

    Args:
        num_classes: outputs of the classifier. Default: 400 (Kinetics-400).

    Shape:
        - Input: (N, 3, T, H, W), any T, H, W >= 1; e.g. (N, 3, 16, 112, 112)
        - Output: (N, num_classes)
    """
    return video_resnet("r3d", 18, num_classes)


def mc3_18(num_classes: int = 400) -> VideoResNet:
    """MC3-18: 3D stem and stage 1, 1x3x3 convs above; 11,695,440 parameters, 43.343 GMACs.

    Fewer parameters than R3D-18 but more MACs: its 2D stages never halve T.

    Args:
        num_classes: outputs of the classifier. Default: 400 (Kinetics-400).

    Shape:
        - Input: (N, 3, T, H, W), any T, H, W >= 1; e.g. (N, 3, 16, 112, 112)
        - Output: (N, num_classes)
    """
    return video_resnet("mc3", 18, num_classes)


def r2plus1d_18(num_classes: int = 400, convention: Convention = "torchvision") -> VideoResNet:
    """R(2+1)D-18: (2+1)D convs everywhere; 31,505,325 parameters, 40.519 GMACs (torchvision).

    Args:
        num_classes: outputs of the classifier. Default: 400 (Kinetics-400).
        convention: ``"torchvision"`` (default; loads torchvision's weights) or
            ``"paper"`` for the paper-faithful variant — M per conv and stem
            M = 83: 33,383,797 parameters, 42.143 GMACs at 16x112x112.

    Shape:
        - Input: (N, 3, T, H, W), any T, H, W >= 1; e.g. (N, 3, 16, 112, 112)
        - Output: (N, num_classes)
    """
    return video_resnet("r2plus1d", 18, num_classes, convention)


def r3d_34(num_classes: int = 400) -> VideoResNet:
    """R3D-34: blocks (3, 4, 6, 3) of 3x3x3 convs.

    Args:
        num_classes: outputs of the classifier. Default: 400 (Kinetics-400).

    Shape:
        - Input: (N, 3, T, H, W), any T, H, W >= 1
        - Output: (N, num_classes)
    """
    return video_resnet("r3d", 34, num_classes)


def r2plus1d_34(num_classes: int = 400, convention: Convention = "torchvision") -> VideoResNet:
    """R(2+1)D-34: blocks (3, 4, 6, 3) of (2+1)D convs.

    Args:
        num_classes: outputs of the classifier. Default: 400 (Kinetics-400).
        convention: ``"torchvision"`` (default) or ``"paper"``, as for `r2plus1d_18`.

    Shape:
        - Input: (N, 3, T, H, W), any T, H, W >= 1
        - Output: (N, num_classes)
    """
    return video_resnet("r2plus1d", 34, num_classes, convention)
