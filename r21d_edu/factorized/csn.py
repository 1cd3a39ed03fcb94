"""Channel-separated convolutions: ip-CSN and ir-CSN (Tran, Wang, Torresani and Feiszli
2019, "Video Classification with Channel-Separated Convolutional Networks",
arXiv 1904.02811, Sec. 3.3 and Fig. 2).

A depthwise t x d x d conv (groups = channels) lets each channel interact with no other;
all channel interaction is left to 1x1x1 convs. In a bottleneck block:

- ip-CSN ("interaction-preserved") keeps a 1x1x1 conv in front of the depthwise 3x3x3:
  ``y = DW(P(x))``;
- ir-CSN ("interaction-reduced") drops it: ``y = DW(x)``.

Structure followed: MMAction2 ``backbones/resnet3d_csn.py`` (``CSNBottleneck3d``: for
``'ip'`` a bias-free 1x1x1 Conv3d directly followed by the depthwise conv, no BatchNorm
or ReLU between; the stride sits on the depthwise conv) and PyTorchVideo ``models/csn.py``
(ir only). Both are linear, so each equals one grouped-or-not 3D conv.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import FactorizedConv, Size3, check_multiple

__all__ = ["IpCSNConv", "IrCSNConv"]


class IrCSNConv(FactorizedConv):
    r"""ir-CSN: a depthwise 3D conv alone, ``y = DW(x)``, groups = C_in.

    Each output channel o convolves input channel ``o // (C_out / C_in)`` with its own
    t x d_h x d_w kernel: ``t·d_h·d_w·C_out`` weights (64 -> 64, 3x3x3: 1,728) and
    ``t·d_h·d_w`` MACs per output value. It is exactly
    ``nn.Conv3d(C_in, C_out, kernel_size, stride, padding, groups=C_in)``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`;
            out_channels must be a multiple of in_channels.
        bias: a bias per output channel. Default: True.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "ir_csn"
    label = "ir-CSN"
    formula = "y = DW(x)"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True) -> None:
        super().__init__()
        bias = self._store(in_channels, out_channels, kernel_size, stride, padding, bias)
        check_multiple(self.in_channels, self.out_channels, "ir-CSN", "a depthwise 3D conv")
        self.depthwise = nn.Conv3d(self.in_channels, self.out_channels, self.kernel_size,
                                   self.stride, self.padding, groups=self.in_channels,
                                   bias=bias)

    @property
    def config(self) -> dict:
        config = super().config
        del config["middle_bn_relu"]
        return config

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.depthwise(x)


class IpCSNConv(FactorizedConv):
    r"""ip-CSN: a 1x1x1 conv, then a depthwise 3D conv, ``y = DW(P(x))``.

    1. pointwise: (1, 1, 1), C_in -> C_out, all channels mixed (``C_in·C_out`` weights);
    2. (optional, off by default as in MMAction2) BatchNorm3d + ReLU;
    3. depthwise: (t, d_h, d_w), stride, padding, groups = C_out
       (``t·d_h·d_w·C_out`` weights).

    64 -> 64, 3x3x3: 4,096 + 1,728 = 5,824 weights. Linear by default: one 3D conv
    with kernel ``K[o, i] = DW[o] · P[o, i]`` (rank 1 in channels per output: each
    output channel's kernel is its own spatio-temporal filter times a row of P).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`.
        bias: a bias per output channel, on the depthwise conv. Default: True.
        middle_bn_relu: BatchNorm + ReLU between the convs. Default: False.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, C_out, T, H, W)
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "ip_csn"
    label = "ip-CSN"
    formula = "y = DW(P(x))"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True,
                 middle_bn_relu: bool = False) -> None:
        super().__init__()
        bias = self._store(in_channels, out_channels, kernel_size, stride, padding, bias,
                           middle_bn_relu)
        c_out = self.out_channels
        self.pointwise = nn.Conv3d(self.in_channels, c_out, 1, bias=False)
        self.bn, self.relu = self._norm(c_out)
        self.depthwise = nn.Conv3d(c_out, c_out, self.kernel_size, self.stride, self.padding,
                                   groups=c_out, bias=bias)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.depthwise(self.relu(self.bn(self.pointwise(x))))
