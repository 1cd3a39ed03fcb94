"""From ResNet-18 to R(2+1)D-18: whole networks, built from the parts beside this file.

Read the three files top to bottom next to Sec. 3 and Table 1 of Tran et al. 2018:

1. `r21d_edu.resnet2d`: `BasicBlock2d` and `resnet18` — the 2D image ResNet
   everything starts from.
2. `r21d_edu.blocks`: `SpatioTemporalResBlock` — the same block for clips, with the
   kind of convolution as a parameter: ``"3d"`` (3x3x3), ``"2plus1d"`` (1x3x3 into M
   channels, BN, ReLU, 3x1x1) or ``"2d"`` (1x3x3, "2D in time"); `SpatioTemporalResLayer`
   — a stage of blocks (ResNet's layer1-4, the paper's conv2_x-conv5_x); `BasicStem`
   and `R2Plus1dStem` — the first convolution of the network.
3. This file: `VideoResNet` and the builders `r3d_18`, `mc3_18`, `r2plus1d_18`,
   `r3d_34`, `r2plus1d_34` (and `video_resnet` for any of them by name). The parts
   are re-exported here, so ``from r21d_edu.models import SpatioTemporalResBlock``
   works as before the split.

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

import torch
from torch import nn

from ._checks import (
    Triple,
    check_clip,
    check_int,
    check_stage_blocks,
)

# The parts, defined in their own modules and re-exported here: a network is read
# from this file, its blocks from blocks.py, the 2D ResNet it grows from from resnet2d.py.
from .blocks import (
    CONV_TYPES,
    BasicStem,
    ConvBuilder,
    ConvType,
    R2Plus1dStem,
    SpatioTemporalResBlock,
    SpatioTemporalResLayer,
    as_conv_builder,
)
from .layers import Convention
from .layers import intermediate_channels as formula_intermediate_channels
from .resnet2d import (
    DEPTHS,
    STAGE_CHANNELS,
    BasicBlock2d,
    ResNet2d,
    resnet18,
    resnet34,
)

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


# --------------------------------------------------------------------------
# 1. The network
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
        builders = tuple(as_conv_builder(c, convention) for c in conv_types)
        self.conv_types = tuple(b.conv_type for b in builders)
        blocks = check_stage_blocks(blocks)
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
# 2. Builders
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
