"""The 2D image ResNet that R(2+1)D grows out of: `BasicBlock2d`, `ResNet2d`, `resnet18`.

Read this first, beside He et al. 2016 and Sec. 3 of Tran et al. 2018: every video
network of `r21d_edu.models` is this network with its 3x3 convs replaced by a
spatio-temporal kind (`r21d_edu.blocks`). Module names follow torchvision's
``torchvision.models.resnet`` position by position, so its state_dict loads here
unchanged and the parameter count matches exactly: resnet18 11,689,512.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._checks import (
    check_int,
    check_stage_blocks,
)

__all__ = ["DEPTHS", "BasicBlock2d", "ResNet2d", "resnet18", "resnet34"]

#: Blocks per stage for the depths built from basic (two-conv) blocks, as in
#: Table 1 of the paper and in ResNet: depth = 2 + 2 * sum(blocks).
DEPTHS: dict[int, tuple[int, int, int, int]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

#: Channels of the four stages; every network here uses ResNet's widths.
STAGE_CHANNELS: tuple[int, int, int, int] = (64, 128, 256, 512)



# --------------------------------------------------------------------------
# The 2D ResNet that R(2+1)D grows out of
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
        blocks = check_stage_blocks(blocks)
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
