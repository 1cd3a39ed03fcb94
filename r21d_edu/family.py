"""The paper's family of video ResNets at laptop size, from the same builder as R3D-18.

Sec. 3 of Tran et al. 2018 compares convolutions by building one residual
network many ways. This module builds the same family with `VideoResNet`,
`BasicStem`, `R2Plus1dStem` and `ConvBuilder` (the code behind `r3d_18` and
`r2plus1d_18`), only narrower and shallower so it trains on 2 CPU cores:

============  ==========================================================  ============
name          what convolves time                                         stem
============  ==========================================================  ============
r2d           only the stem: its T x 7 x 7 kernel folds all frames into   T x 7 x 7,
              channels at once (the paper's R2D); 2D convs above          no T padding
f-r2d         nothing: 2D convs on every frame, averaged over time at     1 x 7 x 7
              the top (the paper's f-R2D)
r3d           3 x 3 x 3 convs everywhere                                  3 x 7 x 7
mc3           3D in the stem and stage 1, 2D above (MC3: motion early)    3 x 7 x 7
rmc3          2D in the stem and stage 1, 3D above (rMC3: motion late)    1 x 7 x 7
r2plus1d      (2+1)D convs everywhere, M by the paper's formula per conv  (2+1)D
              (so the parameter count matches r3d)
r2plus1d-     the same with BN but no ReLU between the halves: linear at  (2+1)D,
no-relu       eval time, normalized while it trains                       BN only
r2plus1d-     the same with ReLU but no BN between the halves: the extra  (2+1)D,
no-bn         non-linearity without the normalization                     ReLU only
r2plus1d-     the same with neither: a linear factorization, a 3D conv    (2+1)D,
linear        of rank <= M (fewer parameters only by the BN's 2·M)        linear
r2plus1d-     the same with M divided by 4: a rank-limited factorization  (2+1)D,
rank4                                                                     M / 4
============  ==========================================================  ============

Every member has 4 stages of ``blocks`` basic blocks with ``widths``
channels; stages 2-4 halve H and W, and T too where the stage convolves
time, as in torchvision. The ablations pull apart the explanations of why
(2+1)D might train better, at the same conv weights: the factorized
parameterization alone (``r2plus1d-linear``, whose every conv is a rank-M 3D
conv, against ``r3d``), the normalization in the middle (``r2plus1d-no-relu``)
and the extra non-linearity (``r2plus1d-no-bn``), each against both
``r2plus1d`` and ``r3d``. ``r2plus1d-rank4`` starves the rank instead, and
with it the capacity (a quarter of the weights), so it answers a different
question.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ._checks import check_int
from .layers import intermediate_channels
from .models import BasicStem, ConvBuilder, R2Plus1dStem, VideoResNet

__all__ = ["FAMILY", "family_model", "family_parameters"]

#: Every member of the family, in the order the experiment reports them.
FAMILY: tuple[str, ...] = (
    "r2d", "f-r2d", "r3d", "mc3", "rmc3", "r2plus1d",
    "r2plus1d-no-relu", "r2plus1d-no-bn", "r2plus1d-linear", "r2plus1d-rank4",
)

#: What sits between the halves of each (2+1)D member's convs: (BatchNorm, ReLU).
_MIDDLE: dict[str, tuple[bool, bool]] = {
    "r2plus1d": (True, True), "r2plus1d-no-relu": (True, False),
    "r2plus1d-no-bn": (False, True), "r2plus1d-linear": (False, False),
    "r2plus1d-rank4": (True, True),
}

_3D, _2D = ConvBuilder("3d"), ConvBuilder("2d")
_STAGES: dict[str, tuple[ConvBuilder, ...]] = {
    "r2d": (_2D,) * 4,
    "f-r2d": (_2D,) * 4,
    "r3d": (_3D,) * 4,
    "mc3": (_3D, _2D, _2D, _2D),
    "rmc3": (_2D, _3D, _3D, _3D),
    "r2plus1d": (ConvBuilder("2plus1d", "paper"),) * 4,
    "r2plus1d-rank4": (ConvBuilder("2plus1d", "paper", rank_divisor=4),) * 4,
    **{name: (ConvBuilder("2plus1d", "paper", middle_bn_relu=bn and relu, middle_bn=bn,
                          middle_relu=relu),) * 4
       for name, (bn, relu) in _MIDDLE.items() if name not in ("r2plus1d", "r2plus1d-rank4")},
}


def _stem(name: str, in_channels: int, width: int, frames: int) -> nn.Module:
    if name == "r2d":
        # One T x 7 x 7 kernel over the unpadded clip: T collapses to 1 at once.
        return BasicStem(in_channels, width, temporal_kernel=frames, temporal_padding=0)
    if name in ("f-r2d", "rmc3"):
        return BasicStem(in_channels, width, temporal_kernel=1)
    if name in ("r3d", "mc3"):
        return BasicStem(in_channels, width, temporal_kernel=3)
    m = intermediate_channels(in_channels, width, (3, 7, 7))
    if name == "r2plus1d-rank4":
        m = max(m // 4, 1)
    bn, relu = _MIDDLE[name]
    return R2Plus1dStem(m, in_channels, width, middle_bn=bn, middle_relu=relu)


def family_model(
    name: str,
    *,
    num_classes: int = 8,
    in_channels: int = 1,
    frames: int = 8,
    widths: Sequence[int] = (16, 32, 64, 128),
    blocks: Sequence[int] = (1, 1, 1, 1),
) -> VideoResNet:
    """Build one member of the family (see the module's table).

    Args:
        name: one of `FAMILY`.
        num_classes: outputs of the classifier. Default: 8 (`r21d_edu.tasks`).
        in_channels: channels of a clip. Default: 1 (grey).
        frames: T of the clips; only ``"r2d"`` depends on it (its stem's
            kernel spans all frames). Default: 8.
        widths: channels of the 4 stages. Default: (16, 32, 64, 128), an
            eighth of ResNet-18's for each conv... a 64th of its weights.
        blocks: basic blocks per stage. Default: (1, 1, 1, 1).

    Shape:
        - Input: (N, in_channels, T, H, W); ``"r2d"`` needs T = frames
        - Output: (N, num_classes)

    Example::

        >>> model = family_model("r2plus1d")
        >>> model(torch.rand(2, 1, 8, 32, 32)).shape
        torch.Size([2, 8])
    """
    if name not in FAMILY:
        raise ValueError(f"unknown model {name!r}; the family is {', '.join(FAMILY)}")
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    frames = check_int(frames, "frames", minimum=1)
    if isinstance(widths, str) or len(widths) != 4:
        raise ValueError(f"widths must give the channels of the 4 stages, got {widths!r}")
    stem = _stem(name, in_channels, check_int(widths[0], "width", minimum=1), frames)
    return VideoResNet(_STAGES[name], blocks, stem, num_classes, widths=widths)


def family_parameters(**options) -> dict[str, int]:
    """Trainable parameters of every member, built with the same options.

    Example::

        >>> counts = family_parameters()
        >>> abs(counts["r2plus1d"] / counts["r3d"] - 1) < 0.01   # matched by M
        True
    """
    counts = {}
    for name in FAMILY:
        model = family_model(name, **options)
        counts[name] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return counts
