"""What every factorized layer shares: the constructor, its checks, and the small
leaf modules the layers are built from (so that counting, which walks leaf modules,
sees every tensor a layer writes).

Part of `r21d_edu.factorized`; import the public names from there.

Conventions, the same as `r21d_edu.layers`:

- constructor ``(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)``,
  ints or (t, h, w) triples;
- input (N, C_in, T, H, W), output (N, C_out, T', H', W') with
  ``T' = floor((T + 2*p_t - t) / s_t) + 1`` (likewise H', W'): `nn.Conv3d`'s shape;
- the spatial part gets the spatial stride and padding, the temporal part the temporal
  ones; the bias (``bias=True``) sits on the last conv before the output;
- the layer ends with a conv (or a sum): the BatchNorm + ReLU that follow a conv in a
  residual block belong to the block, as for `SpatioTemporalConv`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import Triple, as_triple, check_bool, check_clip, check_int

Size3 = int | Sequence[int]

__all__ = ["CentreTaps", "FactorizedConv", "FeatureGate", "Sum", "centre", "check_multiple"]


def centre(kernel: int) -> int:
    """Index of a kernel's centre tap, ``(k - 1) // 2`` (the left one of two for even k)."""
    return (kernel - 1) // 2


def check_multiple(in_channels: int, out_channels: int, who: str, what: str) -> None:
    """Refuse a depthwise conv (groups = C_in) whose C_out is not a multiple of C_in."""
    if out_channels % in_channels:
        raise ValueError(
            f"{who} convolves each channel on its own ({what}: groups = in_channels = "
            f"{in_channels}), so out_channels must be a multiple of in_channels; got "
            f"{in_channels} -> {out_channels}. Use out_channels = k * {in_channels}, or "
            "a layer that mixes channels first (ip-CSN's 1x1x1 conv, or depthwise_spatial=False)"
        )


class CentreTaps(nn.Module):
    r"""Take, from the zero-padded input, the value under a kernel's centre tap.

    For a window of ``kernel`` with ``stride`` and ``padding`` (per axis), output index
    i reads padded index ``i*s + (k - 1)//2``: what a conv of that shape whose kernel
    is 1 at the centre and 0 elsewhere computes (a 1x1x1 "identity" on the window
    centres). It lines up a branch that has no extent along an axis with one that has,
    so the two can be summed (P3D-B, P3D-C). When ``padding = (k - 1)/2`` and
    ``stride = 1`` (the usual "same" setting) it is the identity and writes nothing.

    Shape:
        - Input: (N, C, T, H, W)
        - Output: (N, C, T', H', W'), `nn.Conv3d`'s shape for ``kernel``, ``stride``,
          ``padding``.
    """

    def __init__(self, kernel: Triple, stride: Triple, padding: Triple) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = tuple(kernel), tuple(stride), tuple(padding)

    @property
    def is_identity(self) -> bool:
        return all(s == 1 and p == centre(k) and k % 2 == 1
                   for k, s, p in zip(self.kernel, self.stride, self.padding, strict=True))

    def copies(self) -> bool:
        """Whether the forward pass writes a new tensor (it pads), or is a view."""
        return not self.is_identity and any(self.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_identity:
            return x
        p_t, p_h, p_w = self.padding
        if any(self.padding):
            x = F.pad(x, (p_w, p_w, p_h, p_h, p_t, p_t))
        index = [slice(None), slice(None)]
        for axis, (k, s) in enumerate(zip(self.kernel, self.stride, strict=True)):
            n_out = (x.shape[2 + axis] - k) // s + 1
            start = centre(k)
            index.append(slice(start, start + (n_out - 1) * s + 1, s))
        return x[tuple(index)]

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}"


class Sum(nn.Module):
    """``a + b``: the join of two paths (P3D-B, P3D-C), a module so counting sees it.

    Shape:
        - Input: two tensors of one shape (N, C, T, H, W)
        - Output: their shape.
    """

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class FeatureGate(nn.Module):
    r"""S3D-G's feature gating: ``y = sigmoid(W · pool(x) + b) ⊙ x``.

    ``pool`` averages each channel over T, H and W, ``W`` is C x C and ``b`` has C
    entries (C² + C parameters); each channel of x is scaled by its gate in (0, 1).
    Xie et al. 2018 (arXiv 1712.04851), Sec. 5, eq. for feature gating; the same
    as TF-Slim's ``s3dg.self_gating`` (mean over T, H, W, a fully connected layer,
    sigmoid, product).

    Shape:
        - Input: (N, C, T, H, W)
        - Output: (N, C, T, H, W)
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        fc = nn.Linear(channels, channels)  # nn.Linear's initialisation
        self.weight = nn.Parameter(fc.weight.detach().clone())
        self.bias = nn.Parameter(fc.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3, 4))  # (N, C)
        gate = torch.sigmoid(F.linear(pooled, self.weight, self.bias))
        return x * gate[:, :, None, None, None]

    def macs(self, input_shape: Sequence[int]) -> int:
        """Multiply-accumulates of the C x C linear map (pooling and product not counted)."""
        return input_shape[0] * self.channels * self.channels

    def bytes_written(self, input_shape: Sequence[int], itemsize: int) -> int:
        """The pooled means, the linear map, the sigmoid (N x C each) and the gated output."""
        return (3 * input_shape[0] * self.channels + math.prod(input_shape)) * itemsize

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class FactorizedConv(nn.Module):
    """Base of the factorized layers: stores and checks the shared constructor arguments.

    Subclasses set ``method`` (a short key), ``label``, ``formula`` (the block's formula
    in one line) and build their modules in ``__init__``; ``forward`` checks the clip
    and calls ``_forward``.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, C_out, T', H', W'), the same as `nn.Conv3d`.
    """

    method: ClassVar[str] = ""
    label: ClassVar[str] = ""
    formula: ClassVar[str] = ""

    in_channels: int
    out_channels: int
    kernel_size: Triple
    stride: Triple
    padding: Triple
    middle_bn_relu: bool

    def _store(self, in_channels: int, out_channels: int, kernel_size: Size3, stride: Size3,
               padding: Size3, bias: bool, middle_bn_relu: bool = False) -> bool:
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.kernel_size = as_triple(kernel_size, "kernel_size", minimum=1)
        self.stride = as_triple(stride, "stride", minimum=1)
        self.padding = as_triple(padding, "padding", minimum=0)
        self.middle_bn_relu = check_bool(middle_bn_relu, "middle_bn_relu")
        return check_bool(bias, "bias")

    # Building blocks -------------------------------------------------------

    def _spatial_conv(self, c_in: int, c_out: int, *, groups: int = 1, bias: bool = False,
                      temporal_stride: bool = False) -> nn.Conv3d:
        """The (1, d_h, d_w) conv with the spatial stride and padding."""
        _, d_h, d_w = self.kernel_size
        s_t, s_h, s_w = self.stride
        _, p_h, p_w = self.padding
        return nn.Conv3d(c_in, c_out, (1, d_h, d_w), (s_t if temporal_stride else 1, s_h, s_w),
                         (0, p_h, p_w), groups=groups, bias=bias)

    def _temporal_conv(self, c_in: int, c_out: int, *, groups: int = 1, bias: bool = False,
                       spatial_stride: bool = False) -> nn.Conv3d:
        """The (t, 1, 1) conv with the temporal stride and padding."""
        t = self.kernel_size[0]
        s_t, s_h, s_w = self.stride
        p_t = self.padding[0]
        stride = (s_t, s_h, s_w) if spatial_stride else (s_t, 1, 1)
        return nn.Conv3d(c_in, c_out, (t, 1, 1), stride, (p_t, 0, 0), groups=groups, bias=bias)

    def _norm(self, channels: int, on: bool | None = None) -> tuple[nn.Module, nn.Module]:
        """BatchNorm3d + in-place ReLU when the middle is on, two Identities otherwise."""
        if self.middle_bn_relu if on is None else on:
            return nn.BatchNorm3d(channels), nn.ReLU(inplace=True)
        return nn.Identity(), nn.Identity()

    # The contract ------------------------------------------------------------

    @property
    def is_linear(self) -> bool:
        """True when the layer is one linear map (no BatchNorm, ReLU or gate inside):
        then it equals one (possibly grouped) 3D convolution."""
        return not self.middle_bn_relu

    @property
    def config(self) -> dict:
        """The constructor arguments that rebuild this layer's shape (not its weights)."""
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "bias": self._bias_param() is not None,
                "middle_bn_relu": self.middle_bn_relu}

    def _bias_param(self) -> torch.Tensor | None:
        last = [m for m in self.modules() if isinstance(m, nn.Conv3d)][-1]
        return last.bias

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.in_channels, self.kernel_size, self.padding, type(self).__name__,
                   dtype=self._dtype())
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"middle_bn_relu={self.middle_bn_relu}")
