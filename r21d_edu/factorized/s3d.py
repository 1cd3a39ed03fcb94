"""S3D's temporally separable convolution and S3D-G's feature gating (Xie, Sun, Huang,
Tu and Murphy 2018, "Rethinking Spatiotemporal Feature Learning: Speed-Accuracy
Trade-offs in Video Classification", arXiv 1712.04851, Sec. 4-5).

S3D replaces each k x k x k conv of I3D's Inception blocks by a (1, k, k) spatial conv
and a (k, 1, 1) temporal conv, both into C_out channels (no parameter matching, like
P3D-A). Structure followed: torchvision ``models/video/s3d.py``
(``TemporalSeparableConv``: Conv3d (1,k,k) -> BatchNorm3d -> ReLU -> Conv3d (k,1,1) ->
BatchNorm3d -> ReLU, no biases); as for every layer here, the BatchNorm + ReLU after the
last conv belong to the block.

S3D-G multiplies the result by a learned per-channel gate,
``y = sigmoid(W · pool(z) + b) ⊙ z`` (`FeatureGate`). Where the gate sits is a choice:
the paper applies gating to the output of the separable convs inside the network; TF-Slim's
``s3dg.py`` calls ``self_gating`` on the output of each temporal (k, 1, 1) conv
(after its BatchNorm + ReLU). Here it gates the temporal conv's output z, before the
block's BatchNorm + ReLU, so the layer still ends where the other layers end.
"""

from __future__ import annotations

import torch

from .base import FactorizedConv, FeatureGate, Size3

__all__ = ["S3DConv", "S3DGConv"]


class S3DConv(FactorizedConv):
    r"""S3D's temporally separable conv: ``y = T(ReLU(BN(S(x))))``, M = C_out.

    1. spatial: (1, d_h, d_w), stride (1, s_h, s_w), padding (0, p_h, p_w), C_in -> C_out;
    2. BatchNorm3d + ReLU (``middle_bn_relu``, torchvision ``TemporalSeparableConv``);
    3. temporal: (t, 1, 1), stride (s_t, 1, 1), padding (p_t, 0, 0), C_out -> C_out.

    Inside one layer this is P3D-A's structure (`P3DA`); the two differ in the
    networks around them (Inception blocks for S3D, bottleneck residual units that
    cycle A, B, C for P3D). ``d_h·d_w·C_in·C_out + t·C_out²`` weights (64 -> 64,
    3x3x3: 49,152).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`.
        bias: a bias per output channel, on the temporal conv. Default: True.
        middle_bn_relu: BatchNorm + ReLU between the convs. Default: True.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, C_out, T, H', W')
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "s3d"
    label = "S3D"
    formula = "y = T(ReLU(BN(S(x))))"

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


class S3DGConv(S3DConv):
    r"""S3D-G: S3D's separable conv followed by feature gating,
    ``y = σ(W·pool(z) + b) ⊙ z`` with ``z = T(ReLU(BN(S(x))))`` and ``pool`` the mean
    over T, H and W.

    The gate (`FeatureGate`) adds ``C_out² + C_out`` parameters (64 -> 64, 3x3x3:
    49,152 + 4,096 + 64 = 53,312) and ``N·C_out²`` MACs. It is never linear: the gate
    depends on the input (``is_linear`` is False).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as `nn.Conv3d`.
        bias: a bias per output channel, on the temporal conv. Default: True.
        middle_bn_relu: BatchNorm + ReLU between the convs. Default: True.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Gate: (N, C_out), one value per clip and channel
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method = "s3d_g"
    label = "S3D-G"
    formula = "y = σ(W·pool(z) + b) ⊙ z,  z = T(ReLU(BN(S(x))))"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size3,
                 stride: Size3 = 1, padding: Size3 = 0, bias: bool = True,
                 middle_bn_relu: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias,
                         middle_bn_relu)
        self.gate = FeatureGate(self.out_channels)

    @property
    def is_linear(self) -> bool:
        return False

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(super()._forward(x))
