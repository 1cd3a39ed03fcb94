"""Pseudo-3D (P3D) convolutions: the spatial and the temporal conv in series, in
parallel, or both (Qiu, Yao and Mei 2017, "Learning Spatio-Temporal Representation with
Pseudo-3D Residual Networks", arXiv 1711.10305, Fig. 2).

With S the (1, d, d) spatial conv and T the (t, 1, 1) temporal conv, both C -> C_out
(P3D does not match the 3D layer's parameters: M = C_out):

- P3D-A (serial):   y = T(S(x))
- P3D-B (parallel): y = S(x) + T(x)
- P3D-C (both):     y = S(x) + T(S(x))

The paper writes them inside a residual unit as (I + T·S)x, (I + S + T)x and
(I + S + T·S)x; the identity I belongs to the block, not to these layers.

Structure followed: gluon-cv ``model_zoo/action_recognition/p3d.py`` (``P3DA``, ``P3DB``,
``P3DC`` methods), where every conv is followed by BatchNorm + ReLU, so that B and C add
*normalized and rectified* branches. With ``middle_bn_relu=True`` (the default) these
layers do the same, except for the last conv of P3D-A, whose BatchNorm + ReLU belong to
the block (as for `SpatioTemporalConv`). With ``middle_bn_relu=False`` all three are
linear and each equals one 3D conv (see `r21d_edu.factorized` and the tests).

Beyond the paper (which uses 1x3x3 / 3x1x1 kernels with "same" padding and stride 1 in
time): for other kernels, strides and paddings the two paths of B and C are lined up
on the window centres (`CentreTaps`), so every layer gives `nn.Conv3d`'s output shape
and, when linear, equals a 3D conv whose kernel has S on the centre frame and T on the
centre pixel (the "centre cross").
"""

from __future__ import annotations

import torch

from .base import CentreTaps, FactorizedConv, Size3, Sum

__all__ = ["P3DA", "P3DB", "P3DC"]


class P3DA(FactorizedConv):
    r"""P3D-A: the spatial conv, then the temporal conv on its output, ``y = T(S(x))``.

    1. spatial: (1, d_h, d_w), stride (1, s_h, s_w), padding (0, p_h, p_w), C_in -> C_out;
    2. BatchNorm3d + ReLU (``middle_bn_relu``; gluon-cv ``P3DA``);
    3. temporal: (t, 1, 1), stride (s_t, 1, 1), padding (p_t, 0, 0), C_out -> C_out.

    The same structure as `SpatioTemporalConv` with M = C_out instead of the formula's
    M: ``d_h·d_w·C_in·C_out + t·C_out²`` weights (64 -> 64, 3x3x3: 36,864 + 12,288 =
    49,152, against 110,592 for the 3D conv). Without the middle it is the 3D conv
    whose kernel is the composition ``K[o, i, τ, u, v] = Σ_m T[o, m, τ] · S[m, i, u, v]``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`.
        bias: a bias per output channel, on the temporal conv. Default: True.
        middle_bn_relu: BatchNorm + ReLU between the convs. Default: True.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, C_out, T, H', W')
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.

    Example::

        >>> P3DA(64, 64, 3, padding=1)(torch.randn(1, 64, 4, 8, 8)).shape
        torch.Size([1, 64, 4, 8, 8])
    """

    method = "p3d_a"
    label = "P3D-A"
    formula = "y = T(S(x))"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True,
                 middle_bn_relu: bool = True) -> None:
        super().__init__()
        bias = self._store(in_channels, out_channels, kernel_size, stride, padding, bias,
                           middle_bn_relu)
        c_out = self.out_channels
        self.spatial = self._spatial_conv(self.in_channels, c_out)
        self.bn, self.relu = self._norm(c_out)
        self.temporal = self._temporal_conv(c_out, c_out, bias=bias)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.relu(self.bn(self.spatial(x))))


class P3DB(FactorizedConv):
    r"""P3D-B: the spatial and the temporal conv side by side, summed, ``y = S(x) + T(x)``.

    Both convs read the input: S (1, d_h, d_w) C_in -> C_out and T (t, 1, 1)
    C_in -> C_out. With ``middle_bn_relu`` each path gets its own BatchNorm + ReLU
    before the sum (gluon-cv ``P3DB``). S is evaluated on the frames under the centre of
    the t-window and T on the pixels under the centre of the d_h x d_w window
    (`CentreTaps`), so the two line up for any stride and padding.

    ``d_h·d_w·C_in·C_out + t·C_in·C_out`` weights (64 -> 64, 3x3x3: 49,152). Without
    the BatchNorm + ReLU it is one 3D conv whose t x d_h x d_w kernel is zero except on
    the centre cross: ``K[:, :, c_t, :, :] = S`` on the centre frame, plus
    ``K[:, :, :, c_h, c_w] = T`` along the centre pixel (the two overlap at the very
    centre, where K = S + T), with ``c = (k - 1) // 2``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`.
        bias: a bias per output channel, on the temporal conv. Default: True.
        middle_bn_relu: BatchNorm + ReLU on each path before the sum. Default: True.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Paths: (N, C_out, T', H', W') each
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "p3d_b"
    label = "P3D-B"
    formula = "y = S(x) + T(x)"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True,
                 middle_bn_relu: bool = True) -> None:
        super().__init__()
        bias = self._store(in_channels, out_channels, kernel_size, stride, padding, bias,
                           middle_bn_relu)
        t, d_h, d_w = self.kernel_size
        s_t, s_h, s_w = self.stride
        p_t, p_h, p_w = self.padding
        c_in, c_out = self.in_channels, self.out_channels
        self.frames = CentreTaps((t, 1, 1), (s_t, 1, 1), (p_t, 0, 0))
        self.spatial = self._spatial_conv(c_in, c_out)
        self.bn_spatial, self.relu_spatial = self._norm(c_out)
        self.pixels = CentreTaps((1, d_h, d_w), (1, s_h, s_w), (0, p_h, p_w))
        self.temporal = self._temporal_conv(c_in, c_out, bias=bias)
        self.bn_temporal, self.relu_temporal = self._norm(c_out)
        self.sum = Sum()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.relu_spatial(self.bn_spatial(self.spatial(self.frames(x))))
        t = self.relu_temporal(self.bn_temporal(self.temporal(self.pixels(x))))
        return self.sum(s, t)


class P3DC(FactorizedConv):
    r"""P3D-C: the spatial conv, then the temporal conv on it, both summed,
    ``y = S(x) + T(S(x))``.

    S (1, d_h, d_w) C_in -> C_out; T (t, 1, 1) C_out -> C_out on S's output; the
    skip path takes S's output on the frames under the centre of the t-window
    (`CentreTaps`). With ``middle_bn_relu``, ``s = ReLU(BN(S(x)))`` and
    ``y = s + ReLU(BN(T(s)))`` (gluon-cv ``P3DC``).

    ``d_h·d_w·C_in·C_out + t·C_out²`` weights (64 -> 64, 3x3x3: 49,152). Without the
    BatchNorm + ReLU it is one 3D conv with kernel
    ``K = S placed on the centre frame + Σ_m T[:, m, τ] S[m, :, u, v]``
    (P3D-B's spatial arm plus P3D-A's composition).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`.
        bias: a bias per output channel, on the temporal conv. Default: True.
        middle_bn_relu: BatchNorm + ReLU after each conv. Default: True.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, C_out, T, H', W')
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "p3d_c"
    label = "P3D-C"
    formula = "y = S(x) + T(S(x))"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True,
                 middle_bn_relu: bool = True) -> None:
        super().__init__()
        bias = self._store(in_channels, out_channels, kernel_size, stride, padding, bias,
                           middle_bn_relu)
        t = self.kernel_size[0]
        c_out = self.out_channels
        self.spatial = self._spatial_conv(self.in_channels, c_out)
        self.bn_spatial, self.relu_spatial = self._norm(c_out)
        self.temporal = self._temporal_conv(c_out, c_out, bias=bias)
        self.bn_temporal, self.relu_temporal = self._norm(c_out)
        self.frames = CentreTaps((t, 1, 1), (self.stride[0], 1, 1), (self.padding[0], 0, 0))
        self.sum = Sum()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.relu_spatial(self.bn_spatial(self.spatial(x)))
        t = self.relu_temporal(self.bn_temporal(self.temporal(s)))
        return self.sum(self.frames(s), t)
