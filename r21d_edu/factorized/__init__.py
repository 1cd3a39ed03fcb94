"""The factorized convolutions beyond (2+1)D, side by side under one convention.

Each layer takes ``(in_channels, out_channels, kernel_size, stride=1, padding=0,
bias=True)`` like the layers of `r21d_edu.layers`, takes (N, C, T, H, W) clips and gives
`nn.Conv3d`'s output shape. With S a (1, d, d) spatial conv, T a (t, 1, 1) temporal
conv, DW a depthwise conv and P a 1x1x1 conv:

=====================  ==========================  =================================
layer                  formula                     weights, 64 -> 64, 3x3x3, no bias
=====================  ==========================  =================================
`FullConv3d`           y = K * x                   110,592
`SpatioTemporalConv`   y = T(ReLU(BN(S(x)))), M=144 110,592
`P3DA`                 y = T(S(x))                 49,152
`P3DB`                 y = S(x) + T(x)             49,152
`P3DC`                 y = S(x) + T(S(x))          49,152
`S3DConv`              y = T(ReLU(BN(S(x))))       49,152
`S3DGConv`             y = σ(W·pool(z) + b) ⊙ z    53,312 (gate: C² + C)
`IpCSNConv`            y = DW(P(x))                5,824
`IrCSNConv`            y = DW(x)                   1,728
`DepthwiseConv2Plus1d` y = DW_T(DW_S(x))           768
`TemporalShiftConv`    y = S(shift(x))             36,864: the 2D conv; 0 for the shift
=====================  ==========================  =================================

Which are one 3D conv (exact, proved in float64 by ``tests/test_factorized_layers.py``),
when their middle BatchNorm + ReLU is off (``middle_bn_relu=False``, ``is_linear``):

- P3D-A and S3D: kernel ``K[o, i, τ, u, v] = Σ_m T[o, m, τ] S[m, i, u, v]`` — unfolded as
  (C_out·t) x (C_in·d_h·d_w) it has rank <= C_out (the low-rank view of (2+1)D, M = C_out);
- P3D-B: K zero except the centre cross, ``K[:, :, c_t] += S``, ``K[..., c_h, c_w] += T``;
- P3D-C: P3D-B's spatial arm plus P3D-A's composition;
- ip-CSN: ``K[o, i] = DW[o] · P[o, i]``; ir-CSN: a Conv3d with groups = C_in;
- depthwise (2+1)D: a Conv3d with groups = C_in (or 1), ``K[o, j] = T[o] ⊗ S[o, j]``;
- TSM: a depthwise (t, 1, 1) Conv3d with a fixed 0/1 kernel, then the 2D conv.

S3D-G is never linear (its gate depends on the input).

This package sits at the level of `r21d_edu.layers` (it imports only the checks below
it); `r21d_edu.counting` counts its layers' parameters, MACs and bytes.
"""

from __future__ import annotations

from .base import CentreTaps, FactorizedConv, FeatureGate, Sum
from .csn import IpCSNConv, IrCSNConv
from .depthwise import DepthwiseConv2Plus1d
from .p3d import P3DA, P3DB, P3DC
from .s3d import S3DConv, S3DGConv
from .shift import TemporalShift, TemporalShiftConv

__all__ = [
    "FACTORIZED_LAYERS",
    "P3DA",
    "P3DB",
    "P3DC",
    "CentreTaps",
    "DepthwiseConv2Plus1d",
    "FactorizedConv",
    "FeatureGate",
    "IpCSNConv",
    "IrCSNConv",
    "S3DConv",
    "S3DGConv",
    "Sum",
    "TemporalShift",
    "TemporalShiftConv",
]

# Every factorized layer by its method key, in the order tables list them.
FACTORIZED_LAYERS: dict[str, type[FactorizedConv]] = {
    cls.method: cls for cls in (P3DA, P3DB, P3DC, S3DConv, S3DGConv, IpCSNConv, IrCSNConv,
                                DepthwiseConv2Plus1d, TemporalShiftConv)
}
