"""Depthwise (2+1)D: a (2+1)D conv whose temporal half (and, by default, spatial half)
is depthwise.

Two published uses:

- X3D's stem (Feichtenhofer 2020, "X3D: Expanding Architectures for Efficient Video
  Recognition", arXiv 2004.04730, Table 1: "conv_1, 1x3², 3x1, 24"): a (1, 3, 3) conv
  3 -> 24 that mixes channels, then a *depthwise* (5, 1, 1) temporal conv, then
  BatchNorm + ReLU, nothing between the two convs. Structure followed: PyTorchVideo
  ``create_x3d_stem`` / SlowFast's ``X3DStem`` (spatial conv, depthwise temporal conv
  with groups = C_out, both bias-free, then BN and ReLU). Here: ``depthwise_spatial=False``.
- MoViNet's "2plus1d" conv type (Kondratyuk et al. 2021, arXiv 2103.11511) factorizes
  the depthwise k x k x k conv of its blocks into a depthwise (1, k, k) and a depthwise
  (k, 1, 1) conv (``depthwise_spatial=True``, the default: 64 -> 64, 3x3x3 has 576 + 192
  = 768 weights). Whether a normalization sits between the two in MoViNet's code was
  not checked line by line here; the default (none, linear) follows X3D's stem, and
  ``middle_bn_relu=True`` puts BatchNorm + ReLU between.
"""

from __future__ import annotations

import torch

from .base import FactorizedConv, Size3, check_multiple

__all__ = ["DepthwiseConv2Plus1d"]


class DepthwiseConv2Plus1d(FactorizedConv):
    r"""Depthwise (2+1)D conv: ``y = DW_T(S(x))``, S depthwise or not.

    1. spatial: (1, d_h, d_w), stride (1, s_h, s_w), padding (0, p_h, p_w), C_in -> C_out,
       groups = C_in (``depthwise_spatial=True``, MoViNet) or 1 (X3D's stem);
    2. (optional) BatchNorm3d + ReLU, off by default (X3D's stem);
    3. temporal: (t, 1, 1), stride (s_t, 1, 1), padding (p_t, 0, 0), depthwise
       (groups = C_out).

    Weights: ``d_h·d_w·C_out + t·C_out`` depthwise (64 -> 64, 3x3x3: 768), or
    ``d_h·d_w·C_in·C_out + t·C_out`` (X3D's stem 3 -> 24, (5, 3, 3): 648 + 120 = 768).
    Linear by default; then it is one 3D conv with groups = C_in (depthwise) or 1, whose
    kernel per output channel o is the outer product ``T[o, τ] · S[o, :, u, v]``: rank 1
    when unfolded as t x (C_in/groups·d_h·d_w).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`;
            with ``depthwise_spatial``, out_channels must be a multiple of in_channels.
        bias: a bias per output channel, on the temporal conv. Default: True.
        middle_bn_relu: BatchNorm + ReLU between the convs. Default: False.
        depthwise_spatial: keyword-only; the spatial conv depthwise (groups = C_in).
            Default: True.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, C_out, T, H', W')
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "dw_2plus1d"
    label = "depthwise (2+1)D"
    formula = "y = DW_T(S(x))"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True,
                 middle_bn_relu: bool = False, *, depthwise_spatial: bool = True) -> None:
        super().__init__()
        bias = self._store(in_channels, out_channels, kernel_size, stride, padding, bias,
                           middle_bn_relu)
        if not isinstance(depthwise_spatial, bool):
            raise TypeError(f"depthwise_spatial must be True or False, got "
                            f"{depthwise_spatial!r} ({type(depthwise_spatial).__name__})")
        self.depthwise_spatial = depthwise_spatial
        c_in, c_out = self.in_channels, self.out_channels
        if depthwise_spatial:
            check_multiple(c_in, c_out, "DepthwiseConv2Plus1d", "a depthwise spatial conv; "
                           "pass depthwise_spatial=False for X3D's stem")
        self.spatial = self._spatial_conv(c_in, c_out, groups=c_in if depthwise_spatial else 1)
        self.bn, self.relu = self._norm(c_out)
        self.temporal = self._temporal_conv(c_out, c_out, groups=c_out, bias=bias)

    @property
    def config(self) -> dict:
        return {**super().config, "depthwise_spatial": self.depthwise_spatial}

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.relu(self.bn(self.spatial(x))))
