"""An inference-ready (2+1)D layer: same outputs, less memory traffic.

`SpatioTemporalConv` in eval mode runs four kernels — spatial conv, BatchNorm,
ReLU, temporal conv — and the M-channel middle tensor (2.25x the input at
64 -> 144 -> 64) travels through memory between each pair. On a GPU that
traffic, not the arithmetic, often sets the time. `FastSpatioTemporalConv`
computes the same function with less of it:

1. **BatchNorm folded into the spatial conv.** In eval mode BN is a fixed
   per-channel affine map ``y = s * x + b`` with ``s = gamma / sqrt(var + eps)``
   and ``b = beta - s * mean``; scaling the conv's filters by ``s`` and giving it
   bias ``b`` gives the same output in one kernel. (Done in float64, then
   rounded once to the layer's dtype.)
2. **ReLU fused** into the conv where the backend offers it (cuDNN's
   conv + bias + ReLU on CUDA); elsewhere it runs in place, without allocating
   a second middle tensor.
3. **channels_last_3d** (N, T, H, W, C in memory) on CUDA, the layout cuDNN's
   tensor-core kernels use natively; with the default layout they add
   transposes. (On CPU oneDNN is not reliably faster with it, so it is off.)
4. **M padded to a multiple of 8** with all-zero filters: tensor cores work on
   channel blocks of 8, so M = 83 (the seed's stem) would leave blocks part-
   empty or fall back to slower kernels. A zero filter gives a zero channel,
   ReLU keeps it zero, and the temporal conv's zero weights for it add exactly
   nothing: the outputs are unchanged.
5. optionally **torch.compile**, which fuses what is left (bias, ReLU, layout
   changes); off by default because compiling takes seconds to minutes.

It is for inference only: folded BN cannot use batch statistics, so training
goes through the plain layer.

The factorized family (`r21d_edu.factorized`): the fast path applies, exactly, where a
member *is* the (2+1)D layer — P3D-A and S3D are a (1, d, d) conv, BatchNorm + ReLU
(or nothing), a (t, 1, 1) conv with M = C_out, so `make_fast` turns them into a
`FastSpatioTemporalConv`; S3D-G is S3D followed by its gate, so it becomes that fast
layer followed by a copy of the gate. It does not apply to the others (`make_fast`
says why): P3D-B and P3D-C sum two paths, so they are no conv-then-conv chain; ip-CSN,
ir-CSN and depthwise (2+1)D are grouped (depthwise) convs, which this layer is not
(and M padding would break their groups); TSM is a shift and one 2D conv, with no
BatchNorm to fold.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    Triple,
    as_triple,
    check_bool,
    check_clip,
    check_int,
    check_optional_bool,
    rng_kept,
)
from .factorized import P3DA, FactorizedConv, S3DConv, S3DGConv
from .layers import NaiveConv2Plus1d, SpatioTemporalConv

__all__ = ["FastSpatioTemporalConv", "make_fast"]

# The layers the fast path computes exactly: the (2+1)D layer, its naive twin, and the
# members of the family that are the (2+1)D layer with M = C_out (S3D-G, an S3DConv,
# is among them: its separable conv is made fast and its gate kept).
_FAST_SOURCES = (SpatioTemporalConv, NaiveConv2Plus1d, P3DA, S3DConv)

# Why the other members of the family have no fast path, in make_fast's refusal.
_NOT_FAST = {
    "p3d_b": "it sums a spatial and a temporal path instead of running one conv after the "
             "other, so it is no (2+1)D layer",
    "p3d_c": "it adds the spatial conv's output to the temporal conv's, so it is no "
             "(2+1)D layer (its serial part alone is P3D-A)",
    "ip_csn": "its second conv is depthwise (groups = C), which the fast layer is not, and "
              "by default nothing sits between its convs to fold",
    "ir_csn": "it is one depthwise Conv3d: already a single kernel",
    "dw_2plus1d": "its convs are grouped (depthwise), which the fast layer is not (padding M "
                  "with zero filters would break the groups), and by default nothing sits "
                  "between them to fold",
    "tsm": "it is a shift (a copy) and one 2D conv: no BatchNorm to fold, one conv already",
}


def _as_2plus1d(layer: P3DA | S3DConv) -> SpatioTemporalConv:
    """P3D-A or S3D's separable conv as the `SpatioTemporalConv` it is (M = C_out),
    with the same weights, BatchNorm, device, dtype and mode."""
    config = layer.config
    with rng_kept():  # every weight is copied below: leave the RNG alone
        plain = SpatioTemporalConv(
            config["in_channels"], config["out_channels"], config["kernel_size"],
            config["stride"], config["padding"], config["bias"],
            intermediate_channels=config["out_channels"],
            middle_bn_relu=config["middle_bn_relu"])
    # Positions 0 (spatial), 1 (BN), 3 (temporal): the (2+1)D layer's state-dict keys.
    position = {"spatial": "0", "bn": "1", "temporal": "3"}
    state = {}
    for key, value in layer.state_dict().items():
        module, _, rest = key.partition(".")
        if module in position:
            state[f"{position[module]}.{rest}"] = value
    weight = layer.spatial.weight
    plain = plain.to(device=weight.device, dtype=weight.dtype)
    plain.load_state_dict(state)
    if layer.middle_bn_relu:
        plain.bn.eps = layer.bn.eps
    return plain.train(layer.training)


def _fold_batchnorm(
    weight: torch.Tensor, bn: nn.BatchNorm3d
) -> tuple[torch.Tensor, torch.Tensor]:
    """Filters and bias of a bias-free conv followed by an eval-mode BN, as one conv."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(
            "cannot fold a BatchNorm without running statistics (track_running_stats=False): "
            "in eval mode it still normalises with batch statistics, which no fixed conv can do"
        )
    scale = bn.running_var.double().add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    folded = weight.double() * scale.reshape(-1, 1, 1, 1, 1)
    return folded.to(weight.dtype), shift.to(weight.dtype)


class FastSpatioTemporalConv(nn.Module):
    r"""`SpatioTemporalConv` for inference: BN folded, ReLU fused, channels-last, M padded.

    Build it from a trained layer with `FastSpatioTemporalConv.from_layer` (or
    `make_fast`); its outputs equal the layer's outputs in eval mode (up to
    float rounding of the folded weights). The ``inference_only`` flag tells the
    timing harness not to time it in training.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as
            `SpatioTemporalConv` (ints or (t, h, w) triples already expanded).
        intermediate_channels: M of the original layer.
        bias: whether the temporal conv has a bias.
        relu: whether a ReLU follows the spatial conv (the layer's ``middle_relu``).
        pad_to: round M up to a multiple of this with zero filters (1: no padding).
        channels_last: use ``torch.channels_last_3d``; None: on CUDA inputs only.
        compile: run the forward pass through ``torch.compile`` (compiled on
            the first call, again for each new input shape); True uses the
            default ``"inductor"`` backend, a string names another backend
            (``"eager"`` only traces, which is quick and useful in tests).

    Shape:
        - Input: (N, C_in, T, H, W), any memory format
        - Middle: (N, M_padded, T, H', W')
        - Output: (N, C_out, T', H', W'), as `SpatioTemporalConv`; channels-last
          in memory when ``channels_last`` applies (same values, same shape).

    Example::

        >>> layer = SpatioTemporalConv(64, 64, 3, padding=1).eval()
        >>> fast = FastSpatioTemporalConv.from_layer(layer)
        >>> x = torch.randn(1, 64, 4, 8, 8)
        >>> torch.allclose(fast(x), layer(x), atol=1e-5)
        True
    """

    inference_only = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Triple,
        stride: Triple,
        padding: Triple,
        intermediate_channels: int,
        bias: bool = True,
        relu: bool = True,
        pad_to: int = 8,
        channels_last: bool | None = None,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        kernel_size = as_triple(kernel_size, "kernel_size", minimum=1)
        stride = as_triple(stride, "stride", minimum=1)
        padding = as_triple(padding, "padding", minimum=0)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.intermediate_channels = check_int(
            intermediate_channels, "intermediate_channels (M)", minimum=1)
        self.pad_to = check_int(pad_to, "pad_to", minimum=1)
        self.padded_channels = math.ceil(self.intermediate_channels / self.pad_to) * self.pad_to
        self.relu = check_bool(relu, "relu")
        bias = check_bool(bias, "bias")
        self.channels_last = check_optional_bool(channels_last, "channels_last")
        self.compile = _check_compile(compile)
        t, d_h, d_w = kernel_size
        (s_t, s_h, s_w), (p_t, p_h, p_w) = stride, padding
        m = self.padded_channels
        # The spatial conv carries the folded BN's shift as its bias.
        self.spatial = nn.Conv3d(in_channels, m, (1, d_h, d_w), (1, s_h, s_w), (0, p_h, p_w),
                                 bias=self.relu)
        self.temporal = nn.Conv3d(m, out_channels, (t, 1, 1), (s_t, 1, 1), (p_t, 0, 0),
                                  bias=bias)
        # Set on the first CUDA call: whether cuDNN's fused conv+bias+ReLU works here.
        self._cudnn_relu: bool | None = None
        self._compiled: Any = None

    @classmethod
    def from_layer(
        cls,
        layer: SpatioTemporalConv | NaiveConv2Plus1d,
        *,
        pad_to: int = 8,
        channels_last: bool | None = None,
        compile: bool | str = False,
    ) -> FastSpatioTemporalConv:
        """The fast equivalent of a (2+1)D layer, on its device and in its dtype.

        The layer's BatchNorm running statistics are folded in, so the result
        matches the layer in **eval** mode; the layer itself is not changed.

        Args:
            layer: a `SpatioTemporalConv` (or a `NaiveConv2Plus1d`, converted first),
                or a `P3DA` / `S3DConv`, the (2+1)D layer with M = C_out. For
                `S3DGConv` use `make_fast`, which keeps its gate.
            pad_to, channels_last, compile: as in the class.

        Shape:
            As `SpatioTemporalConv`.
        """
        # The converted copy of a naive layer is built in training mode; the fast layer
        # takes the mode of the layer it was given.
        training = getattr(layer, "training", False)
        if isinstance(layer, S3DGConv):
            raise TypeError(
                "from_layer makes the (2+1)D layer fast, and S3D-G is S3D followed by a "
                "feature gate; use make_fast(layer), which makes its separable conv fast "
                "and keeps the gate")
        if isinstance(layer, (P3DA, S3DConv)):
            layer = _as_2plus1d(layer)
        if isinstance(layer, NaiveConv2Plus1d):
            with rng_kept():
                layer = SpatioTemporalConv.from_naive(layer)
        if not isinstance(layer, SpatioTemporalConv):
            raise TypeError(
                f"from_layer expects a SpatioTemporalConv, NaiveConv2Plus1d, P3DA or "
                f"S3DConv, got {type(layer).__name__}; a plain nn.Conv3d is already a "
                "single kernel" + _why_not(layer)
            )
        if getattr(layer, "groups", 1) != 1:
            # The fast layer's two convs are dense; copying grouped kernels into them would
            # broadcast the weights and compute something else without an error.
            raise ValueError(
                f"from_layer builds ungrouped convs, got a layer with groups={layer.groups}; "
                "compose(layer) gives the equivalent grouped nn.Conv3d, one kernel already")
        config = layer.config
        weight = layer.spatial.weight.detach()
        with rng_kept():  # every weight is set below: leave the RNG alone
            fast = cls(
                config["in_channels"], config["out_channels"], config["kernel_size"],
                config["stride"], config["padding"], config["intermediate_channels"],
                bias=config["bias"], relu=config["middle_relu"], pad_to=pad_to,
                channels_last=channels_last, compile=compile,
            ).to(device=weight.device, dtype=weight.dtype)
        m = layer.intermediate_channels
        with torch.no_grad():
            fast.spatial.weight.zero_()
            fast.temporal.weight.zero_()
            if layer.middle_bn:
                folded, shift = _fold_batchnorm(weight, layer.bn)
                fast.spatial.weight[:m].copy_(folded)
                fast.spatial.bias.zero_()
                fast.spatial.bias[:m].copy_(shift)
            else:
                fast.spatial.weight[:m].copy_(weight)
            fast.temporal.weight[:, :m].copy_(layer.temporal.weight)
            if layer.temporal.bias is not None:
                fast.temporal.bias.copy_(layer.temporal.bias)
        if channels_last or (channels_last is None and weight.is_cuda):
            # cuDNN would otherwise re-lay the filters out on every call.
            fast = fast.to(memory_format=torch.channels_last_3d)
        return fast.train(training)

    def _uses_channels_last(self, x: torch.Tensor) -> bool:
        return x.is_cuda if self.channels_last is None else self.channels_last

    def _spatial_relu(self, x: torch.Tensor, allow_cudnn: bool) -> torch.Tensor:
        conv = self.spatial
        needs_grad = torch.is_grad_enabled() and (
            x.requires_grad or conv.weight.requires_grad)
        cudnn_ok = allow_cudnn and x.is_cuda and self._cudnn_relu is not False
        if cudnn_ok and self.relu and not needs_grad:
            try:
                # One cuDNN call: conv, + bias, ReLU, without writing the pre-ReLU tensor.
                out = torch.cudnn_convolution_relu(
                    x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, 1)
                self._cudnn_relu = True
                return out
            except (RuntimeError, NotImplementedError):
                # Not offered for this dtype/shape/cuDNN: fall back, and do not retry.
                self._cudnn_relu = False
        middle = conv(x)
        return F.relu_(middle) if self.relu else middle

    def _forward(self, x: torch.Tensor, allow_cudnn: bool = True) -> torch.Tensor:
        if self._uses_channels_last(x):
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return self.temporal(self._spatial_relu(x, allow_cudnn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.in_channels, self.kernel_size, self.padding, type(self).__name__,
                   dtype=self.spatial.weight.dtype)
        if self.training and self.relu and not x.is_meta:
            # The folded BN holds running statistics; a training-mode SpatioTemporalConv
            # normalises with the batch's, so the two differ here and nowhere else.
            warnings.warn(
                "FastSpatioTemporalConv is for inference: its BatchNorm is folded with the "
                "running statistics, so in training mode its outputs differ from the "
                "original layer's (which uses batch statistics); call .eval() on it, or "
                "train the original layer and make_fast it afterwards",
                UserWarning, stacklevel=4,  # the caller of module(x), past torch's __call__
            )
        if self.compile and not x.is_meta:  # shape-only traces (count_work) need no compiling
            if self._compiled is None:
                # Inductor fuses bias + ReLU itself; the opaque cuDNN op would stop it.
                self._compiled = torch.compile(
                    lambda clip: self._forward(clip, allow_cudnn=False),
                    backend=self.compile, dynamic=False)
            return self._compiled(x)
        return self._forward(x)

    def __getstate__(self) -> dict[str, Any]:
        # A compiled function is tied to this object; copies compile their own.
        state = self.__dict__.copy()
        state["_compiled"] = None
        return state

    def extra_repr(self) -> str:
        padded = (f" (padded to {self.padded_channels})"
                  if self.padded_channels != self.intermediate_channels else "")
        layout = {None: "on CUDA", True: "always", False: "never"}[self.channels_last]
        return (f"{self.in_channels} -> M={self.intermediate_channels}{padded} -> "
                f"{self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, BN folded, relu={self.relu}, "
                f"channels_last={layout}, compile={self.compile}")


def _check_compile(compile: object) -> bool | str:
    """False, True (the default "inductor" backend) or the name of a torch.compile backend."""
    if isinstance(compile, str):
        from torch._dynamo import list_backends  # only when a backend is named: it is heavy

        known = list_backends(exclude_tags=())
        if compile not in known:
            shown = [b for b in known if "TESTING" not in b and "minifier" not in b]
            raise ValueError(f"compile must be True, False or a torch.compile backend name "
                             f"({', '.join(map(repr, shown))}), got {compile!r}")
        return compile
    if isinstance(compile, (bool, np.bool_)):
        return "inductor" if compile else False
    raise TypeError(f"compile must be True, False or a backend name, got {compile!r} "
                    f"({type(compile).__name__})")


def make_fast(
    module: nn.Module,
    *,
    pad_to: int = 8,
    channels_last: bool | None = None,
    compile: bool | str = False,
) -> nn.Module:
    """A fast, inference-only copy of a (2+1)D layer or of a network containing them.

    A `SpatioTemporalConv` or `NaiveConv2Plus1d` becomes a
    `FastSpatioTemporalConv`, and so do P3D-A (`P3DA`) and S3D (`S3DConv`), which
    are the (2+1)D layer with M = C_out; S3D-G (`S3DGConv`) becomes
    ``nn.Sequential(conv=FastSpatioTemporalConv, gate=<a copy of its gate>)``. Any
    other module is deep-copied with each such layer inside it replaced (e.g.
    every conv of an R(2+1)D-18); other family members stay as they are. The
    original is not changed. Compare outputs in eval mode: the copy uses the
    BatchNorm running statistics.

    Args:
        module: a (2+1)D layer, P3D-A, S3D, S3D-G, or a network.
        pad_to, channels_last, compile: as `FastSpatioTemporalConv`.

    Raises:
        TypeError: another member of the family (P3D-B/C, CSN, depthwise (2+1)D,
            TSM) given alone, with the reason the fast path does not apply.

    Shape:
        As the module's.
    """
    options = {"pad_to": pad_to, "channels_last": channels_last, "compile": compile}
    if isinstance(module, _FAST_SOURCES):
        return _fast(module, options)
    if isinstance(module, FactorizedConv):
        raise TypeError(f"make_fast has no fast path for {module.label}" + _why_not(module)
                        + "; it rewrites the (2+1)D layer, P3D-A, S3D and S3D-G")
    if not isinstance(module, nn.Module):
        raise TypeError(f"make_fast expects a (2+1)D layer or a network holding them, got "
                        f"{type(module).__name__}")
    if not any(isinstance(m, _FAST_SOURCES) for m in module.modules()):
        raise ValueError(
            f"make_fast found no (2+1)D layer (SpatioTemporalConv or NaiveConv2Plus1d) in "
            f"{type(module).__name__}, so there is nothing to make fast: it rewrites (2+1)D "
            "layers only, and the members of the family that are one (P3DA, S3DConv, "
            "S3DGConv); a 3D conv is already a single kernel"
        )
    network = copy.deepcopy(module)
    _replace_in_place(network, options)
    return network


def _why_not(layer: object) -> str:
    """Why the fast path does not apply to a member of the family ('' for others)."""
    reason = _NOT_FAST.get(getattr(layer, "method", ""))
    return f": {reason}" if reason else ""


def _fast(layer: nn.Module, options: dict[str, Any]) -> nn.Module:
    """The fast module of one layer that `_FAST_SOURCES` lists."""
    if isinstance(layer, S3DGConv):
        # The gate reads the separable conv's output z: keep it, make z's conv fast.
        fast = FastSpatioTemporalConv.from_layer(_as_2plus1d(layer), **options)
        gated = nn.Sequential(OrderedDict(conv=fast, gate=copy.deepcopy(layer.gate)))
        gated.inference_only = True  # what the timing harness reads: no training
        return gated.train(layer.training)
    return FastSpatioTemporalConv.from_layer(layer, **options)


def _replace_in_place(module: nn.Module, options: dict[str, Any]) -> None:
    for name, child in module.named_children():
        if isinstance(child, _FAST_SOURCES):
            setattr(module, name, _fast(child, options))
        else:
            _replace_in_place(child, options)
