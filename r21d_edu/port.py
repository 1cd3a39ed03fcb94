"""The popular PyTorch port of R(2+1)D, side by side with this package, and a converter.

Many tutorials copy the port irhum/R2Plus1D-PyTorch (``module.py``, ``network.py``).
Its networks differ from the paper's and torchvision's in four places (tutorial 04):
its stem ends without BatchNorm + ReLU, its projection shortcut is a factorized
1x1x1 "(2+1)D" conv with a ReLU inside, every conv has a bias before a BatchNorm,
and its modules have other names. This module holds

1. a re-creation of the port's modules, written for this package with the port's
   module names, so that its ``state_dict`` keys and shapes are the port's
   (`PortSpatioTemporalConv`, `PortResBlock`, `PortResLayer`, `PortR2Plus1DNet`,
   `PortClassifier`) — used to show the port next to torchvision's layout and to
   test the converter on state_dicts the port's code would write;
2. `convert_port_state_dict`, which maps a port checkpoint onto this package's
   (and torchvision's) names where a mapping exists, and reports, with the
   reason, every weight that cannot map.

Name mapping (port -> this package = torchvision)::

    res2plus1d.conv1                  -> stem          (spatial_conv -> .0, bn -> .1, temporal_conv -> .3)
    res2plus1d.conv2 ... conv5        -> layer1 ... layer4
    .block1 / .blocks.k               -> .0 / .(k+1)
    .conv1 (SpatioTemporalConv)       -> .conv1.0     (spatial_conv -> .0, bn -> .1, temporal_conv -> .3)
    .bn1 / .conv2 / .bn2              -> .conv1.1 / .conv2.0 / .conv2.1
    .downsampleconv, .downsamplebn    -> no counterpart (see below); .downsample.0/.1 keep their init
    linear                            -> fc

The port computes M per conv with the paper's formula (its stem gets 83), so the
target is ``r2plus1d_18(convention="paper")`` (or the 34-layer one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._checks import rng_kept
from .models import DEPTHS, VideoResNet, video_resnet
from .weights import load_checked

__all__ = [
    "PortClassifier",
    "PortConversion",
    "PortR2Plus1DNet",
    "PortResBlock",
    "PortResLayer",
    "PortSpatioTemporalConv",
    "convert_port_state_dict",
]


# --------------------------------------------------------------------------
# 1. The port's modules, re-created (module names and shapes as in the port)
# --------------------------------------------------------------------------


def _triple(value: int | Sequence[int]) -> tuple[int, int, int]:
    return (value,) * 3 if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


class PortSpatioTemporalConv(nn.Module):
    r"""The port's (2+1)D conv: ``spatial_conv`` -> ``bn`` -> ``relu`` -> ``temporal_conv``.

    Like this package's `SpatioTemporalConv` with the paper's M, but with a bias on
    both convs by default (``bias=True``) and its modules named, not numbered.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W'), as `nn.Conv3d` with the same arguments.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 bias: bool = True) -> None:
        super().__init__()
        (t, h, w), (st, sh, sw), (pt, ph, pw) = map(_triple, (kernel_size, stride, padding))
        m = math.floor(t * h * w * in_channels * out_channels
                       / (h * w * in_channels + t * out_channels))
        self.spatial_conv = nn.Conv3d(in_channels, m, (1, h, w), (1, sh, sw), (0, ph, pw),
                                      bias=bias)
        self.bn = nn.BatchNorm3d(m)
        self.relu = nn.ReLU()
        self.temporal_conv = nn.Conv3d(m, out_channels, (t, 1, 1), (st, 1, 1), (pt, 0, 0),
                                       bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal_conv(self.relu(self.bn(self.spatial_conv(x))))


class PortResBlock(nn.Module):
    r"""The port's residual block: ``relu(bn2(conv2(relu1(bn1(conv1(x))))) + shortcut(x))``.

    With ``downsample=True`` the first conv has stride 2 and the shortcut is
    ``downsamplebn(downsampleconv(x))``, where ``downsampleconv`` is a 1x1x1
    `PortSpatioTemporalConv` (M = floor(C_in·C_out / (C_in + C_out)), BN and ReLU
    inside) — not the single 1x1x1 conv + BN of torchvision.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, ceil(T/s), ceil(H/s), ceil(W/s)), s = 2 with downsample.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 downsample: bool = False) -> None:
        super().__init__()
        self.downsample = downsample
        padding = kernel_size // 2
        stride = 2 if downsample else 1
        if downsample:
            self.downsampleconv = PortSpatioTemporalConv(in_channels, out_channels, 1, stride=2)
            self.downsamplebn = nn.BatchNorm3d(out_channels)
        self.conv1 = PortSpatioTemporalConv(in_channels, out_channels, kernel_size,
                                            padding=padding, stride=stride)
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = PortSpatioTemporalConv(out_channels, out_channels, kernel_size,
                                            padding=padding)
        self.bn2 = nn.BatchNorm3d(out_channels)
        self.outrelu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        if self.downsample:
            x = self.downsamplebn(self.downsampleconv(x))
        return self.outrelu(x + residual)


class PortResLayer(nn.Module):
    """The port's stage: ``block1`` (which may downsample), then ``blocks`` (a ModuleList)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, layer_size: int,
                 downsample: bool = False) -> None:
        super().__init__()
        self.block1 = PortResBlock(in_channels, out_channels, kernel_size, downsample)
        self.blocks = nn.ModuleList(PortResBlock(out_channels, out_channels, kernel_size)
                                    for _ in range(layer_size - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block1(x)
        for block in self.blocks:
            x = block(x)
        return x


class PortR2Plus1DNet(nn.Module):
    """The port's feature extractor: (2+1)D stem ``conv1`` (no BN/ReLU after it),
    stages ``conv2``-``conv5``, global average ``pool``; returns (N, 512)."""

    def __init__(self, layer_sizes: Sequence[int]) -> None:
        super().__init__()
        self.conv1 = PortSpatioTemporalConv(3, 64, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3))
        self.conv2 = PortResLayer(64, 64, 3, layer_sizes[0])
        self.conv3 = PortResLayer(64, 128, 3, layer_sizes[1], downsample=True)
        self.conv4 = PortResLayer(128, 256, 3, layer_sizes[2], downsample=True)
        self.conv5 = PortResLayer(256, 512, 3, layer_sizes[3], downsample=True)
        self.pool = nn.AdaptiveAvgPool3d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            x = stage(x)
        return self.pool(x).view(-1, 512)


class PortClassifier(nn.Module):
    """The port's classifier: ``res2plus1d`` (`PortR2Plus1DNet`) then ``linear``.

    Shape:
        - Input: (N, 3, T, H, W)
        - Output: (N, num_classes)
    """

    def __init__(self, num_classes: int, layer_sizes: Sequence[int] = (2, 2, 2, 2)) -> None:
        super().__init__()
        self.res2plus1d = PortR2Plus1DNet(layer_sizes)
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.res2plus1d(x))


# --------------------------------------------------------------------------
# 2. The converter
# --------------------------------------------------------------------------

# Inside a (2+1)D conv: the port's names -> torchvision's positions.
_CONV_PARTS = {"spatial_conv": "0", "bn": "1", "temporal_conv": "3"}


@dataclass(frozen=True)
class PortConversion:
    """A port checkpoint in this package's names, and what could not be carried over.

    Attributes:
        state_dict: a complete state_dict for `model` (entries with no source keep
            the target's initialization), loadable with ``strict=True``.
        model: the target network, ``r2plus1d_18(convention="paper")`` (or 34
            layers), with `state_dict` loaded.
        mapped: (port key, this package's key, how) for every weight carried over.
        unmapped: (port key, reason) for every port weight that cannot map.
        unfilled: (this package's key, reason) for every entry with no source.
    """

    state_dict: dict[str, torch.Tensor] = field(repr=False)
    model: VideoResNet = field(repr=False)
    mapped: tuple[tuple[str, str, str], ...]
    unmapped: tuple[tuple[str, str], ...]
    unfilled: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        lines = [f"{len(self.mapped)} port entries mapped, {len(self.unmapped)} cannot map; "
                 f"{len(self.unfilled)} entries of the target keep their initialization"]
        folded = [m for m in self.mapped if m[2] != "copied"]
        if folded:
            lines.append(f"folded ({len(folded)}): a conv bias before BatchNorm moves into "
                         "that BatchNorm's running_mean, e.g.")
            lines += [f"  {port} -> {ours}: {how}" for port, ours, how in folded[:2]]
        for title, rows in (("cannot map", self.unmapped), ("no source", self.unfilled)):
            reasons: dict[str, list[str]] = {}
            for key, reason in rows:
                reasons.setdefault(reason, []).append(key)
            if rows:
                lines.append(f"{title} ({len(rows)}):")
            for reason, keys in reasons.items():
                shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
                lines.append(f"  {shown}: {reason}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"PortConversion(mapped={len(self.mapped)}, unmapped={len(self.unmapped)}, "
                f"unfilled={len(self.unfilled)})")


_STEM_BN_REASON = ("the port's stem ends with its temporal conv — no BatchNorm + ReLU — so "
                   "these have no counterpart; the converted network differs from the port here")
_STEM_BIAS_REASON = ("the port's stem feeds its temporal conv's output, bias included, straight "
                     "into layer1; here stem.4 (BatchNorm) and stem.5 (ReLU) come first, so no "
                     "entry can hold this bias")
_SHORTCUT_REASON = ("the port's shortcut is a factorized 1x1x1 conv with BatchNorm + ReLU inside "
                    "(rank <= M < C_in, not linear); torchvision's is one 1x1x1 conv + BatchNorm, "
                    "and no weights of one compute the other")
_SHORTCUT_BN_REASON = ("normalises the output of the port's (2+1)D shortcut, which has no "
                       "counterpart: a BatchNorm's statistics belong to its input")
_OURS_SHORTCUT_REASON = ("torchvision's 1x1x1 conv + BatchNorm shortcut; the port's shortcut "
                         "cannot be converted into it, so it keeps its initialization")


def _read(source: Any) -> dict[str, torch.Tensor]:
    if isinstance(source, (str, Path)):
        # Format, CRCs and safe unpickling checked, as for torchvision's weights.
        source = load_checked(source)
    if isinstance(source, nn.Module):
        source = source.state_dict()
    if not isinstance(source, Mapping):
        raise TypeError(f"expected a port state_dict, a checkpoint dict or a path, got "
                        f"{type(source).__name__}")
    if "state_dict" in source and isinstance(source["state_dict"], Mapping):
        source = source["state_dict"]  # the port's trainer saves {'epoch', 'state_dict', ...}
    state = {}
    for key, value in source.items():
        # nn.DataParallel prefixes every key with "module."
        state[key[len("module."):] if key.startswith("module.") else key] = value
    if not any(k.startswith("res2plus1d.") for k in state):
        sample = ", ".join(list(state)[:3])
        raise ValueError("this does not look like a port checkpoint: expected keys such as "
                         f"'res2plus1d.conv1.spatial_conv.weight', got {sample or 'no keys'}; "
                         "for torchvision-format weights use r21d_edu.load_weights")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"the port checkpoint's entry {key!r} is a {type(value).__name__}, "
                            "not a tensor; pass the state_dict itself (or the trainer's "
                            "checkpoint, whose 'state_dict' entry is used)")
        try:
            _target_key(key)
        except (KeyError, IndexError, ValueError, AssertionError):
            raise ValueError(
                f"the port checkpoint has an entry {key!r} that the port's modules do not "
                "have (expected names such as 'res2plus1d.conv2.block1.conv1.spatial_conv."
                "weight' or 'linear.weight'); it was saved from other code, or edited"
            ) from None
    return state


def _layer_sizes(state: Mapping[str, torch.Tensor]) -> tuple[int, int, int, int]:
    sizes = []
    for stage in range(2, 6):
        prefix = f"res2plus1d.conv{stage}.blocks."
        extra = {int(k[len(prefix):].split(".")[0]) for k in state if k.startswith(prefix)}
        sizes.append(1 + (max(extra) + 1 if extra else 0))
    return tuple(sizes)  # type: ignore[return-value]


def _target_key(port_key: str) -> tuple[str | None, str]:
    """This package's key for a port key, or (None, reason)."""
    parts = port_key.split(".")
    if parts[0] == "linear":
        return "fc." + parts[1], ""
    if parts[0] != "res2plus1d":
        raise KeyError(port_key)
    stage, rest = parts[1], parts[2:]
    if stage == "conv1":  # the stem
        part, entry = rest
        return f"stem.{_CONV_PARTS[part]}.{entry}", ""
    layer = f"layer{int(stage[4:]) - 1}"
    if rest[0] == "block1":
        block, rest = "0", rest[1:]
    else:  # blocks.k
        block, rest = str(int(rest[1]) + 1), rest[2:]
    prefix = f"{layer}.{block}"
    if rest[0] == "downsampleconv":
        return None, _SHORTCUT_REASON
    if rest[0] == "downsamplebn":
        return None, _SHORTCUT_BN_REASON
    if rest[0] in ("conv1", "conv2"):
        part, entry = rest[1], rest[2]
        return f"{prefix}.{rest[0]}.0.{_CONV_PARTS[part]}.{entry}", ""
    if rest[0] in ("bn1", "bn2"):
        return f"{prefix}.conv{rest[0][2]}.1.{rest[1]}", ""
    raise KeyError(port_key)


def _bn_after(our_conv_key: str) -> str | None:
    """The BatchNorm that follows a conv here (its running_mean can absorb a conv bias)."""
    base = our_conv_key.rsplit(".", 1)[0]  # drop "bias"
    if base.endswith(".0.0") or base == "stem.0":  # spatial conv -> the middle BN
        return base[:-1] + "1"
    if base.endswith(".0.3"):  # temporal conv of a block conv -> the outer BN
        return base[:-4] + ".1"
    return None  # the stem's temporal conv: no BatchNorm after it in the port


def convert_port_state_dict(source: Any) -> PortConversion:
    """Map a port checkpoint onto ``r2plus1d_18(convention="paper")``'s names.

    Carries over every weight that has a counterpart (renamed; shapes equal,
    because both compute M per conv with the paper's formula), folds each conv
    bias that sits before a BatchNorm into that BatchNorm's running_mean (exact in
    evaluation mode: ``BN(y + b)`` with mean μ equals ``BN(y)`` with mean μ − b),
    and reports with a reason every weight that cannot map: the shortcut's
    (2+1)D conv and BatchNorm, and the stem's last bias, whose BatchNorm + ReLU
    the port lacks.

    Args:
        source: the port's state_dict, its trainer's checkpoint
            (``{"state_dict": ..., "epoch": ...}``), a path to either (read with
            ``weights_only=True``), or a port module. ``module.`` prefixes
            (``nn.DataParallel``) are removed.

    Returns:
        `PortConversion`: the converted state_dict, the loaded target model and
        the report (``print`` it).

    Raises:
        ValueError: if the keys are not the port's, or an entry's shape does
            not fit the target (a port built with other widths).
    """
    state = _read(source)
    sizes = _layer_sizes(state)
    num_classes = state["linear.weight"].shape[0] if "linear.weight" in state else 400
    depth = next((d for d, blocks in DEPTHS.items() if blocks == sizes), None)
    if depth is None:
        known = ", ".join(f"{d}: {b}" for d, b in DEPTHS.items())
        raise ValueError(f"the port was built with layer_sizes {sizes}; this package builds "
                         f"R(2+1)D with {known}")
    with rng_kept():  # entries without a source keep an initialization; the RNG is left alone
        model = video_resnet("r2plus1d", depth, num_classes=num_classes, convention="paper")
    target = {k: v.clone() for k, v in model.state_dict().items()}

    mapped, unmapped, filled = [], [], set()
    biases = []
    for port_key, value in state.items():
        ours, reason = _target_key(port_key)
        if ours is None:
            unmapped.append((port_key, reason))
            continue
        if ours not in target:  # a conv bias: this package has none before BatchNorm
            biases.append((port_key, ours, value))
            continue
        if tuple(target[ours].shape) != tuple(value.shape):
            raise ValueError(f"{port_key} has shape {tuple(value.shape)}, but {ours} in "
                             f"r2plus1d_{depth}(convention='paper') has "
                             f"{tuple(target[ours].shape)}")
        target[ours] = value.detach().clone().to(target[ours].dtype)
        filled.add(ours)
        mapped.append((port_key, ours, "copied"))
    # Fold biases after the BatchNorm statistics they adjust have been copied.
    for port_key, ours, value in biases:
        bn = _bn_after(ours)
        if bn is None:
            unmapped.append((port_key, _STEM_BIAS_REASON))
            continue
        target[f"{bn}.running_mean"] = target[f"{bn}.running_mean"] - value.detach()
        mapped.append((port_key, f"{bn}.running_mean", "folded: running_mean -= bias"))
    unfilled = []
    for key in target:
        if key in filled or key.endswith("running_mean") and key.replace(
                "running_mean", "running_var") in filled:
            continue
        reason = (_STEM_BN_REASON if key.startswith(("stem.4.",)) else
                  _OURS_SHORTCUT_REASON if ".downsample." in key else
                  "no entry in the port's state_dict")
        unfilled.append((key, reason))
    model.load_state_dict(target)
    return PortConversion(target, model, tuple(mapped), tuple(unmapped), tuple(unfilled))
