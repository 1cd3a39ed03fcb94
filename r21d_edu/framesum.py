"""A 3D convolution is a sum of 2D convolutions over shifted frames — exactly, at any rank.

The low-rank view (`r21d_edu.lowrank`) says when a 3D conv *equals* a (2+1)D layer:
when its unfolded kernel has rank ≤ M. This module states the identity that holds
for *every* 3D conv, with no rank condition, and is the reason a 3D conv costs t times
a 2D conv: split the kernel along time into its t slices W[:, :, k] (each a 2D kernel,
C_out × C_in × d_h × d_w). Output frame τ of the 3D conv reads input frames
τ·s_t − p_t + k·δ_t for k = 0 … t−1, so

    conv3d(x, W)[:, :, τ] = Σ_k conv2d(x_padded[:, :, τ·s_t + k·δ_t], W[:, :, k]) (+ bias once)

where x_padded is x with p_t zero frames on each side of time, s_t the temporal stride
and δ_t the temporal dilation; the 2D convs keep the spatial stride, padding, dilation
and groups. Nothing is approximated: the two sides are the same sums in another order
(float64 equal to rounding, `tests/test_framesum.py`).

Where the family of factorizations sits relative to this: the naive Conv2d + Conv1d and
the (2+1)D layer replace the t slices by *one* shared 2D conv followed by a temporal mix
(rank ≤ M, `r21d_edu.lowrank`); the temporal shift (TSM, `r21d_edu.factorized`) keeps one
2D conv and moves channels between frames instead. The frame sum keeps all t slices.

- `conv3d_by_frames(x, weight, bias, stride, padding, dilation, groups)` — the
  functional form, the same arguments as `torch.nn.functional.conv3d`;
- `FrameSumConv3d.from_conv3d(conv)` — an `nn.Module` holding the t 2D kernels of a
  given `nn.Conv3d` as `nn.Conv2d`s, computing the same output.

Tensors are (N, C, T, H, W) clips; kernels are (C_out, C_in / groups, t, d_h, d_w)
like `nn.Conv3d.weight`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import Triple, as_triple, check_clip, check_int

__all__ = ["FrameSumConv3d", "conv3d_by_frames"]


def _check_kernel(weight: object) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor) or weight.dim() != 5:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError("weight must be a 3D conv kernel (C_out, C_in / groups, t, d_h, d_w), "
                         f"got {shape}")
    return weight


def conv3d_by_frames(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, int, int] = 0,
    dilation: int | tuple[int, int, int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """``F.conv3d(x, weight, bias, stride, padding, dilation, groups)``, computed as a sum
    of ``t`` 2D convolutions over shifted frames.

    Each output frame τ is the sum over the kernel's time slices k of one 2D conv of
    input frame τ·s_t + k·δ_t (of the time-padded clip) with the 2D kernel
    ``weight[:, :, k]``. The frames of all output times go through each 2D conv at
    once, folded into the batch, so there are t calls to ``F.conv2d``, one per slice.

    Shape:
        x: (N, C_in, T, H, W).
        weight: (C_out, C_in / groups, t, d_h, d_w).
        bias: (C_out,) or None.
        output: (N, C_out, T_out, H_out, W_out), the shape ``F.conv3d`` gives.
    """
    weight = _check_kernel(weight)
    groups = check_int(groups, "groups", minimum=1)
    s_t, s_h, s_w = as_triple(stride, "stride", minimum=1)
    p_t, p_h, p_w = as_triple(padding, "padding", minimum=0)
    d_t, d_h, d_w = as_triple(dilation, "dilation", minimum=1)
    spans = tuple(d * (k - 1) + 1 for d, k in zip((d_t, d_h, d_w), weight.shape[2:]))
    check_clip(x, weight.shape[1] * groups, spans, (p_t, p_h, p_w), "conv3d_by_frames",
               dtype=weight.dtype)
    t = weight.shape[2]
    n, c, frames = x.shape[:3]
    padded = F.pad(x, (0, 0, 0, 0, p_t, p_t))     # zero frames before and after, as conv3d
    out_frames = (frames + 2 * p_t - spans[0]) // s_t + 1   # check_clip made it >= 1
    total = None
    for k in range(t):
        # The input frames that slice k reads for output frames 0 … out_frames-1.
        first = k * d_t
        frames_k = padded[:, :, first: first + s_t * (out_frames - 1) + 1: s_t]
        batch = frames_k.transpose(1, 2).reshape(n * out_frames, c, *x.shape[3:])
        term = F.conv2d(batch, weight[:, :, k], None, (s_h, s_w), (p_h, p_w), (d_h, d_w),
                        groups)
        total = term if total is None else total + term
    out = total.reshape(n, out_frames, *total.shape[1:]).transpose(1, 2)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)  # once, not once per slice
    return out.contiguous()


class FrameSumConv3d(nn.Module):
    """A 3D convolution written as the sum of its ``t`` time slices, each an `nn.Conv2d`.

    ``frames[k]`` is the 2D conv with kernel ``W[:, :, k]``; the forward is
    ``conv3d_by_frames`` on those kernels. Same constructor as `nn.Conv3d`; build one
    from an existing conv with `from_conv3d` to see that it computes the same thing.
    It has exactly the 3D conv's weights (t · C_out · C_in/groups · d_h · d_w, plus the
    bias once) and its MACs: the identity rearranges the sum, it saves nothing — what
    saves is replacing the t slices by fewer, shared ones (`r21d_edu.lowrank`).

    Shape:
        input: (N, C_in, T, H, W).
        output: (N, C_out, T_out, H_out, W_out), as `nn.Conv3d` with the same arguments.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int | tuple[int, int, int], stride: int | Triple = 1,
                 padding: int | Triple = 0, dilation: int | Triple = 1, groups: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        reference = nn.Conv3d(in_channels, out_channels, kernel_size, stride, padding,
                              dilation, groups, bias)
        self._copy(reference)

    def _copy(self, conv: nn.Conv3d) -> None:
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("FrameSumConv3d reproduces zero padding given as numbers; got "
                             f"padding={conv.padding!r}, padding_mode={conv.padding_mode!r}")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size: Triple = tuple(conv.kernel_size)  # type: ignore[assignment]
        self.stride: Triple = tuple(conv.stride)  # type: ignore[assignment]
        self.padding: Triple = tuple(conv.padding)  # type: ignore[assignment]
        self.dilation: Triple = tuple(conv.dilation)  # type: ignore[assignment]
        self.groups = conv.groups
        t = self.kernel_size[0]
        self.frames = nn.ModuleList()
        for k in range(t):
            slice_conv = nn.Conv2d(conv.in_channels, conv.out_channels, self.kernel_size[1:],
                                   self.stride[1:], self.padding[1:], self.dilation[1:],
                                   conv.groups, bias=False, device=conv.weight.device,
                                   dtype=conv.weight.dtype)
            with torch.no_grad():
                slice_conv.weight.copy_(conv.weight[:, :, k])
            self.frames.append(slice_conv)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    @classmethod
    def from_conv3d(cls, conv: nn.Conv3d) -> FrameSumConv3d:
        """The frame sum of `conv`: its t kernel slices copied into `nn.Conv2d`s, its bias
        kept once. The result computes ``conv(x)`` (to rounding) on every clip."""
        if not isinstance(conv, nn.Conv3d):
            raise TypeError(f"from_conv3d expects an nn.Conv3d, got {type(conv).__name__}")
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer._copy(conv)
        return layer

    def kernel(self) -> torch.Tensor:
        """The 3D kernel (C_out, C_in / groups, t, d_h, d_w) the slices stack into."""
        return torch.stack([conv.weight for conv in self.frames], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv3d_by_frames(x, self.kernel(), self.bias, self.stride, self.padding,
                                self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, groups={self.groups}, "
                f"{len(self.frames)} Conv2d slices summed over shifted frames")
