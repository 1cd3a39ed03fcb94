"""The family's small VideoResNet with every spatio-temporal conv one factorized member.

`r21d_edu.family` builds the paper's family (R3D, R(2+1)D, ...) at laptop size.
This module builds the same network — the same stem position, the same 4 stages of
basic blocks, the same shortcuts, pooling and classifier — with every
spatio-temporal convolution (the stem's 3x7x7 and each block's 3x3x3) replaced by
one layer of `r21d_edu.factorized`, through `FactorizedBuilder`, a `ConvBuilder`
with the same interface, so the blocks of `r21d_edu.blocks` build it unchanged:

=============  ==========================  ====================================
member         layer                       what a conv computes
=============  ==========================  ====================================
``p3d-a``      `P3DA`                      T(S(x)), BN + ReLU between
``p3d-b``      `P3DB`                      S(x) + T(x)
``p3d-c``      `P3DC`                      S(x) + T(S(x))
``s3d``        `S3DConv`                   T(ReLU(BN(S(x)))), M = C_out
``s3d-g``      `S3DGConv`                  S3D then feature gating
``ip-csn``     `IpCSNConv`                 DW(P(x)): 1x1x1, then depthwise 3x3x3
``ir-csn``     `IrCSNConv`                 DW(x): depthwise 3x3x3 alone
``dw-2plus1d`` `DepthwiseConv2Plus1d`      DW_T(DW_S(x)) (MoViNet's 2plus1d)
``tsm``        `TemporalShiftConv`         S(shift(x)): 1/8 of channels each way
=============  ==========================  ====================================

Each layer keeps its own defaults (its published structure, see its docstring):
BN + ReLU inside P3D and S3D, none inside CSN and depthwise (2+1)D. Every conv is
bias-free because BatchNorm follows it in the block.

**Channel changes in depthwise members.** A depthwise conv (groups = C_in) needs
C_out a multiple of C_in; the first conv of stages 2-4 and the stem change the
width, and the matched widths below are not multiples of each other. Where ir-CSN
and depthwise (2+1)D change channels, a bias-free 1x1x1 conv C_in -> C_out comes
first (`ChannelProjection`), with nothing between it and the depthwise conv: where
the papers put the channel changes — the 1x1x1 convs of CSN's bottleneck (Tran et al.
2019, arXiv 1904.02811, Fig. 2; MMAction2 ``CSNBottleneck3d``), X3D's and MoViNet's
expand/project 1x1x1 convs around their depthwise conv (Feichtenhofer 2020, arXiv
2004.04730, Table 1). So ir-CSN's channel-changing convs are ip-CSN convs, said here
so it is not read as more. The stem of ``dw-2plus1d`` has X3D's stem structure at the
family's 3x7x7 kernel: a (1, 7, 7) conv that mixes channels, then a depthwise (3, 1, 1)
conv (``depthwise_spatial=False``; X3D's own stem is (1, 3, 3) then (5, 1, 1)).
TSM's stem sees 1 grey channel, of which 1/8 is 0 channels: it is a 2D stem, as in TSM,
whose shift lives in the residual blocks only.

**Matching.** A member at r3d's widths has far fewer weights than r3d (49 % for P3D,
a few % for CSN). `matched_widths` finds the widths ``round(k · (16, 32, 64, 128))``
whose parameters — or, separately, MACs of one (1, 1, 8, 32, 32) clip — are closest
to r3d's, by a deterministic bisection on k; `MATCHED_WIDTHS` holds the result for
each member and matching (``tests/test_factorized_family.py`` re-runs the search and
checks each is within ±3 %). The study's models are named ``member@matching``
(``p3d-a@params``, ``tsm@macs``), beside the family's ``r3d`` and ``r2plus1d``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from ._checks import Triple, check_choice, check_int
from ._sequential import SliceableSequential
from .blocks import ConvBuilder, ConvType
from .counting import summarize_network
from .factorized import (
    P3DA,
    P3DB,
    P3DC,
    DepthwiseConv2Plus1d,
    FactorizedConv,
    IpCSNConv,
    IrCSNConv,
    S3DConv,
    S3DGConv,
    TemporalShiftConv,
)
from .family import FAMILY, family_model
from .models import VideoResNet

__all__ = [
    "MATCHED_WIDTHS",
    "MATCHINGS",
    "MEMBERS",
    "STUDY_MODELS",
    "ChannelProjection",
    "FactorizedBuilder",
    "factorized_model",
    "matched_widths",
    "network_cost",
    "study_model",
]

#: The factorized members, by the name the study uses, in the order tables list them.
MEMBERS: dict[str, type[FactorizedConv]] = {
    "p3d-a": P3DA, "p3d-b": P3DB, "p3d-c": P3DC, "s3d": S3DConv, "s3d-g": S3DGConv,
    "ip-csn": IpCSNConv, "ir-csn": IrCSNConv, "dw-2plus1d": DepthwiseConv2Plus1d,
    "tsm": TemporalShiftConv,
}
#: What the widths are matched on: r3d's parameters, or its MACs at the task's clip.
MATCHINGS: tuple[str, ...] = ("params", "macs")
#: The members that convolve each channel on its own and need a projection to change width.
_DEPTHWISE = ("ir-csn", "dw-2plus1d")

BASE_WIDTHS: tuple[int, ...] = (16, 32, 64, 128)     # the family's (r3d's) widths
CLIP_SHAPE: tuple[int, ...] = (1, 8, 32, 32)         # the direction task's clip (C, T, H, W)
TOLERANCE = 0.03                                     # ±3 % of r3d's count


class ChannelProjection(SliceableSequential):
    r"""A bias-free 1x1x1 conv C_in -> C_out, then a depthwise layer C_out -> C_out.

    How a depthwise member changes channels (see the module's docstring): the 1x1x1
    conv mixes and resizes the channels, the depthwise layer convolves each on its own,
    nothing between them (as MMAction2's ip-CSN). Keys ``0`` (the projection) and ``1``.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, C_out, T, H, W)
        - Output: (N, C_out, T', H', W'), the depthwise layer's.
    """

    def __init__(self, in_channels: int, out_channels: int, layer: nn.Module) -> None:
        super().__init__(nn.Conv3d(in_channels, out_channels, 1, bias=False), layer)
        self.in_channels, self.out_channels = in_channels, out_channels


def _conv(member: str, in_channels: int, out_channels: int, kernel: Triple, stride: Triple,
          padding: Triple, *, stem: bool = False) -> nn.Module:
    """One spatio-temporal conv of `member`, bias-free (a BatchNorm follows it)."""
    layer = MEMBERS[member]
    if member == "dw-2plus1d" and stem:
        # X3D's stem: the spatial conv mixes the clip's channels, the temporal one is depthwise.
        return layer(in_channels, out_channels, kernel, stride, padding, bias=False,
                     depthwise_spatial=False)
    if member in _DEPTHWISE and in_channels != out_channels:
        return ChannelProjection(in_channels, out_channels,
                                 layer(out_channels, out_channels, kernel, stride, padding,
                                       bias=False))
    return layer(in_channels, out_channels, kernel, stride, padding, bias=False)


@dataclass(frozen=True)
class FactorizedBuilder(ConvBuilder):
    """A `ConvBuilder` whose convs are one factorized member (`MEMBERS`).

    Blocks see a ``"3d"`` builder — a 3x3x3 kernel, stride 2 over T, H and W where a
    stage downsamples, no intermediate channels — and each conv it makes is the
    member's layer with padding k // 2 (or, for a depthwise member that changes
    channels, a `ChannelProjection` in front of it).

    Fields:
        member: one of `MEMBERS`.

    Example::

        >>> builder = FactorizedBuilder(member="ir-csn")
        >>> type(builder(16, 16, (3, 3, 3), (1, 1, 1), None)).__name__
        'IrCSNConv'
    """

    conv_type: ConvType = "3d"
    member: str = "p3d-a"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.member, "member", tuple(MEMBERS))
        if self.conv_type != "3d":
            raise ValueError(f"a factorized member replaces a 3x3x3 conv, so conv_type is "
                             f"'3d'; got {self.conv_type!r}")

    def __call__(self, in_channels: int, out_channels: int, kernel: Triple, stride: Triple,
                 intermediate_channels: int | None) -> nn.Module:
        """One conv of a block: the member's layer, ``(N, C_in, T, H, W)`` in,
        `nn.Conv3d`'s shape out (padding k // 2)."""
        padding = tuple(k // 2 for k in kernel)
        return _conv(self.member, in_channels, out_channels, kernel, stride, padding)


def _stem(member: str, in_channels: int, width: int) -> nn.Sequential:
    # r3d's stem (3x7x7, stride (1, 2, 2), BN, ReLU) with the member's layer as its conv.
    return nn.Sequential(
        _conv(member, in_channels, width, (3, 7, 7), (1, 2, 2), (1, 3, 3), stem=True),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    )


def _check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    if isinstance(widths, str) or len(widths) != 4:
        raise ValueError(f"widths must give the channels of the 4 stages, got {widths!r}")
    return tuple(check_int(w, "width", minimum=1) for w in widths)


def factorized_model(
    member: str,
    widths: Sequence[int] = BASE_WIDTHS,
    *,
    num_classes: int = 8,
    in_channels: int = 1,
    blocks: Sequence[int] = (1, 1, 1, 1),
) -> VideoResNet:
    """The family's small network with every spatio-temporal conv a `member` layer.

    Args:
        member: one of `MEMBERS`.
        widths: channels of the 4 stages. Default: r3d's (16, 32, 64, 128); the
            study uses `MATCHED_WIDTHS`.
        num_classes: outputs of the classifier. Default: 8 (`r21d_edu.tasks`).
        in_channels: channels of a clip. Default: 1 (grey).
        blocks: basic blocks per stage. Default: (1, 1, 1, 1).

    Shape:
        - Input: (N, in_channels, T, H, W)
        - Output: (N, num_classes)

    Example::

        >>> model = factorized_model("p3d-b")
        >>> model(torch.rand(2, 1, 8, 32, 32)).shape
        torch.Size([2, 8])
    """
    check_choice(member, "member", tuple(MEMBERS))
    widths = _check_widths(widths)
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    builder = FactorizedBuilder(member=member)
    return VideoResNet((builder,) * 4, blocks, _stem(member, in_channels, widths[0]),
                       num_classes, widths=widths)


def network_cost(model: nn.Module, clip_shape: Sequence[int] = CLIP_SHAPE) -> dict[str, int]:
    """Trainable parameters and MACs of one clip (convs and fc, `summarize_network`).

    Shape:
        - clip_shape: (C, T, H, W) of one clip; counted at (1, C, T, H, W).
    """
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"params": params, "macs": int(summarize_network(model, (1, *clip_shape)).macs)}


def _scaled(k: float) -> tuple[int, ...]:
    return tuple(max(1, round(k * b)) for b in BASE_WIDTHS)


def matched_widths(member: str, matching: str, *, target: int | None = None,
                   clip_shape: Sequence[int] = CLIP_SHAPE) -> tuple[int, ...]:
    """The widths ``round(k · (16, 32, 64, 128))`` whose count is closest to r3d's.

    Deterministic: a bisection on k (in [1/16, 64], 40 halvings of log k) finds the
    smallest k whose count reaches the target; of the widths there and just below,
    the one closer to the target wins (the smaller on a tie). Counts rise with k, so
    the result is the best of the widths this scaling can give.

    Args:
        member: one of `MEMBERS`.
        matching: ``"params"`` (trainable parameters) or ``"macs"`` (of one clip).
        target: the count to match. Default: r3d's at its widths (`family_model`).
        clip_shape: (C, T, H, W) of one clip, for MACs. Default: (1, 8, 32, 32).

    Example::

        >>> matched_widths("tsm", "params")
        (27, 55, 109, 219)
    """
    check_choice(member, "member", tuple(MEMBERS))
    check_choice(matching, "matching", MATCHINGS)
    clip_shape = tuple(clip_shape)

    def count(widths: tuple[int, ...]) -> int:
        model = factorized_model(member, widths, in_channels=clip_shape[0])
        return network_cost(model, clip_shape)[matching]

    if target is None:
        target = network_cost(family_model("r3d", in_channels=clip_shape[0],
                                           frames=clip_shape[1]), clip_shape)[matching]
    low, high = math.log(1 / 16), math.log(64)
    for _ in range(40):
        middle = (low + high) / 2
        if count(_scaled(math.exp(middle))) >= target:
            high = middle
        else:
            low = middle
    candidates = [_scaled(math.exp(low)), _scaled(math.exp(high))]
    return min(candidates, key=lambda w: (abs(count(w) - target), count(w)))


#: The widths of every member at matched parameters and at matched MACs (1x8x32x32 clip):
#: `matched_widths`'s result, fixed here so a study never depends on a search at run time.
MATCHED_WIDTHS: dict[str, dict[str, tuple[int, ...]]] = {
    "params": {
        "p3d-a": (23, 46, 92, 183),
        "p3d-b": (24, 48, 95, 190),
        "p3d-c": (23, 46, 91, 183),
        "s3d": (23, 46, 92, 183),
        "s3d-g": (22, 44, 87, 175),
        "ip-csn": (70, 139, 278, 557),
        "ir-csn": (97, 194, 389, 777),
        "dw-2plus1d": (100, 200, 401, 802),
        "tsm": (27, 55, 109, 219),
    },
    "macs": {
        "p3d-a": (22, 45, 90, 180),
        "p3d-b": (24, 49, 98, 196),
        "p3d-c": (22, 45, 90, 180),
        "s3d": (22, 45, 90, 180),
        "s3d-g": (22, 45, 90, 180),
        "ip-csn": (47, 93, 187, 373),
        "ir-csn": (57, 113, 227, 454),
        "dw-2plus1d": (70, 140, 280, 559),
        "tsm": (28, 57, 113, 227),
    },
}

#: The models of the factorization study: the family's references, then member@matching.
STUDY_MODELS: tuple[str, ...] = (
    "r3d", "r2plus1d",
    *(f"{m}@{matching}" for matching in MATCHINGS for m in MEMBERS),
)


def split_name(name: str) -> tuple[str, str | None]:
    """``"p3d-a@macs"`` -> ``("p3d-a", "macs")``; a family name -> ``(name, None)``."""
    member, _, matching = name.partition("@")
    return member, (matching or None)


def study_model(name: str, *, num_classes: int = 8, in_channels: int = 1,
                frames: int = 8) -> VideoResNet:
    """Any model of the experiments by name: a `FAMILY` member or ``member@matching``.

    Shape:
        - Input: (N, in_channels, T, H, W)
        - Output: (N, num_classes)
    """
    if name in FAMILY:
        return family_model(name, num_classes=num_classes, in_channels=in_channels,
                            frames=frames)
    member, matching = split_name(name)
    if member not in MEMBERS or matching not in MATCHINGS:
        raise ValueError(
            f"unknown model {name!r}; expected a family member ({', '.join(FAMILY)}) or "
            f"member@matching with member one of {', '.join(MEMBERS)} and matching one "
            f"of {', '.join(MATCHINGS)} (e.g. 'p3d-a@params')")
    return factorized_model(member, MATCHED_WIDTHS[matching][member],
                            num_classes=num_classes, in_channels=in_channels)


