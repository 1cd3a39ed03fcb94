"""Counting the work a module does: FLOPs and bytes moved, traced on the meta device,
and the checks of a timing's input, mode and dtype that teach.

Part of `r21d_edu.timing`; import the public names from there.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from .._checks import check_int
from ..factorized import FACTORIZED_LAYERS, FactorizedConv
from ..layers import method_of
from ..methods import METHOD_LABELS, METHODS
from .device import MODES, Mode
from .state import module_state_kept

# The methods a timing can name: the package's four, then every factorized layer's key
# (`r21d_edu.factorized.FACTORIZED_LAYERS`: "p3d_a", ..., "tsm"), so that the whole
# family is timed side by side with the 3D and (2+1)D convs.
TIMED_METHODS: tuple[str, ...] = (*METHODS, *FACTORIZED_LAYERS)
TIMED_LABELS: dict[str, str] = {**METHOD_LABELS,
                                **{key: cls.label for key, cls in FACTORIZED_LAYERS.items()}}


def check_timed_method(value: object) -> str:
    """Return `value` if a timing may name it (`TIMED_METHODS`), else raise a clear error."""
    if value not in TIMED_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(map(repr, METHODS))} or a factorized layer's key "
            f"({', '.join(map(repr, FACTORIZED_LAYERS))}); got {value!r}")
    return str(value)


# --------------------------------------------------------------------------
# Counting the work: FLOPs and bytes moved, on the meta device
# --------------------------------------------------------------------------

# Ops that create a tensor from a shape only: they write, but read nothing.
_FACTORIES = {"empty", "empty_like", "zeros", "zeros_like", "ones", "ones_like", "full",
              "full_like", "new_empty", "new_zeros", "new_ones", "new_full", "empty_strided",
              "scalar_tensor"}


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class _TrafficCounter(TorchDispatchMode):
    """Sums the bytes every ATen op reads and writes, and tracks live memory.

    A lower bound per op (each tensor read once and written once) that assumes
    no reuse between ops through caches: the traffic of an unfused sequence of
    kernels, which is what eager PyTorch runs. Views (reshape, permute, ...)
    move nothing; the copies they later force (``.contiguous()``) are counted.
    With ``fused_conv_relu`` an in-place ReLU applied to a convolution's fresh
    output costs nothing, as when cuDNN applies it before writing the result.
    """

    def __init__(self, fused_conv_relu: bool = False) -> None:
        super().__init__()
        self.fused_conv_relu = fused_conv_relu
        self._last_conv_output: torch.Tensor | None = None
        self.bytes_moved = 0
        self.kernels = 0
        self.live = 0
        self.peak = 0

    def _freed(self, n: int) -> None:
        self.live -= n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        returns = func._schema.returns
        outputs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if returns and all(r.alias_info is not None and not r.alias_info.is_write
                           for r in returns):
            return out  # a view: no data moves
        name = func._schema.name.split("::")[-1]
        if self.fused_conv_relu and name == "relu_" and args[0] is self._last_conv_output:
            return out  # done inside the convolution kernel
        self._last_conv_output = out if name == "convolution" else None
        self.kernels += 1
        if name not in _FACTORIES:
            self.bytes_moved += sum(_nbytes(t) for t in tree_flatten((args, kwargs))[0]
                                    if isinstance(t, torch.Tensor))
        if not name.startswith("empty"):
            self.bytes_moved += sum(_nbytes(t) for t in outputs)
        if len(returns) == 1:  # one Tensor, or one Tensor[] holding several outputs
            fresh = outputs if returns[0].alias_info is None else []
        else:
            fresh = [t for r, t in zip(returns, outputs, strict=False) if r.alias_info is None]
        for tensor in fresh:  # new memory, freed when the tensor dies
            n = _nbytes(tensor)
            self.live += n
            self.peak = max(self.peak, self.live)
            weakref.finalize(tensor, self._freed, n)
        return out


@dataclass(frozen=True)
class WorkCount:
    """The work of one call: FLOPs, bytes moved and the peak of live memory.

    Attributes:
        flops: floating-point operations of the convs and matmuls (2 x MACs,
            as `FlopCounterMode` counts them; BN, ReLU and copies count 0).
        bytes_moved: bytes read plus written, summed over every ATen op.
        peak_activation_bytes: most bytes held at once by tensors the call
            created (for training this includes what autograd saves).
        weight_bytes: bytes of the module's parameters and buffers.
        kernels: ATen ops that move data (views excluded): roughly the kernel
            launches, each with a fixed cost that small inputs cannot hide.
    """

    flops: int
    bytes_moved: int
    peak_activation_bytes: int
    weight_bytes: int
    kernels: int

    @property
    def arithmetic_intensity(self) -> float:
        """FLOPs per byte moved: high means compute-bound, low memory-bound."""
        return self.flops / self.bytes_moved if self.bytes_moved else math.inf


def count_work(
    module: nn.Module,
    input_shape: Sequence[int],
    dtype: torch.dtype = torch.float32,
    mode: Mode = "inference",
    memory_format: torch.memory_format = torch.contiguous_format,
    fused_conv_relu: bool = False,
) -> WorkCount:
    """FLOPs and memory traffic of one call, traced on the ``meta`` device.

    Nothing is computed and no real memory is used, so this is cheap even for
    sizes that would not fit; it is how the harness refuses sizes that exceed
    memory before trying them. The module itself is not changed.

    Args:
        module: any module taking one (N, C, T, H, W) clip.
        input_shape: (N, C, T, H, W).
        dtype: the dtype to count bytes in.
        mode: ``"inference"`` (forward) or ``"training"`` (forward + backward,
            including the gradient of the input, as for a layer inside a net).
        memory_format: the input clip's memory format.
        fused_conv_relu: count a ReLU applied in place to a conv's output as
            free, as for the fast path on CUDA, where cuDNN fuses it.

    Shape:
        - Input: (N, C, T, H, W)
    """
    check_mode(mode)
    shape = check_input_shape(input_shape)
    dtype = check_float_dtype(dtype)
    if not isinstance(memory_format, torch.memory_format):
        raise TypeError(f"memory_format must be a torch.memory_format such as "
                        f"torch.channels_last_3d, got {memory_format!r}")
    grad = mode == "training"
    tensors = {
        name: torch.empty_like(t, device="meta",
                               dtype=dtype if t.is_floating_point() else t.dtype)
        .requires_grad_(grad and isinstance(t, nn.Parameter) and t.requires_grad)
        for name, t in [*module.named_parameters(), *module.named_buffers()]
    }
    weight_bytes = sum(_nbytes(t) for t in tensors.values())
    x = torch.empty(shape, device="meta", dtype=dtype).contiguous(memory_format=memory_format)
    x.requires_grad_(grad)
    counter, flops = _TrafficCounter(fused_conv_relu), FlopCounterMode(display=False)
    with module_state_kept(module, mode), flops, counter:
        # no_grad, not inference_mode: under inference_mode composite ops such as
        # reshape reach us undecomposed, hiding whether they copied or only viewed.
        context = torch.enable_grad() if grad else torch.no_grad()
        with context:
            out = torch.func.functional_call(module, tensors, (x,))
            if grad:
                out.backward(torch.empty_like(out))
    return WorkCount(flops.get_total_flops(), counter.bytes_moved, counter.peak, weight_bytes,
                     counter.kernels)


# --------------------------------------------------------------------------
# Checks with messages that teach
# --------------------------------------------------------------------------


def check_mode(mode: object) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be 'inference' or 'training', got {mode!r}")


def check_input_shape(input_shape: object) -> tuple[int, int, int, int, int]:
    if isinstance(input_shape, torch.Tensor) and not isinstance(input_shape, torch.Size):
        raise TypeError("pass the input's shape, e.g. x.shape, not the tensor itself")
    if isinstance(input_shape, np.ndarray):
        input_shape = input_shape.tolist()
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be a clip shape (N, C, T, H, W), got "
                        f"{input_shape!r} ({type(input_shape).__name__})")
    shape = tuple(input_shape)
    if len(shape) != 5:
        raise ValueError(
            f"input_shape must be a clip shape (N, C, T, H, W) with 5 entries, got {shape}"
        )
    names = ("N", "C", "T", "H", "W")
    checked = (check_int(s, f"input_shape {n}", minimum=1)
               for n, s in zip(names, shape, strict=True))
    return tuple(checked)  # type: ignore[return-value]


_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
dtype_probe_cache: dict[tuple[str, torch.dtype], str | None] = {}


def check_float_dtype(dtype: object) -> torch.dtype:
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"dtype must be one of torch.float32, torch.bfloat16, torch.float16, torch.float64, "
            f"got {dtype!r}"
        )
    return dtype  # type: ignore[return-value]


def check_dtype(dtype: object, dev: torch.device) -> list[str]:
    """Raise if `dev` cannot convolve in `dtype`; return notes about slow dtypes."""
    check_float_dtype(dtype)
    key = (str(dev), dtype)
    if key not in dtype_probe_cache:
        # Try the smallest 3D conv there is: kernels missing for a dtype raise here,
        # with a message we can rephrase, instead of deep inside a warm-up call.
        try:
            with torch.inference_mode():
                probe = torch.ones(1, 1, 1, 3, 3, device=dev, dtype=dtype)
                F.conv3d(probe, torch.ones(1, 1, 1, 3, 3, device=dev, dtype=dtype))
            dtype_probe_cache[key] = None
        except (RuntimeError, NotImplementedError) as error:
            dtype_probe_cache[key] = str(error).splitlines()[0]
    problem = dtype_probe_cache[key]
    if problem is not None:
        raise TypeError(
            f"{dtype} convolutions cannot run on {dev} with this PyTorch ({torch.__version__}): "
            f"{problem}; use torch.float32 there"
        )
    notes = []
    if dev.type == "cpu" and dtype in (torch.bfloat16, torch.float16):
        capability = torch.backends.cpu.get_cpu_capability()
        if "AMX" not in capability and "BF16" not in capability:
            notes.append(
                f"{dtype} on a CPU without native support (capability {capability}) runs "
                "emulated kernels, often 10-100x slower than float32"
            )
    return notes


def infer_method(module: nn.Module) -> str:
    """Which method a module is: "3d", "naive", "2plus1d", "fast", or the key of a
    factorized layer (``P3DA(...)`` gives "p3d_a", `FACTORIZED_LAYERS`).

    Shape:
        Not a tensor function.
    """
    from ..fast import FastSpatioTemporalConv  # fast builds on this module's neighbours

    if isinstance(module, FastSpatioTemporalConv):
        return "fast"
    if (isinstance(module, nn.Sequential) and getattr(module, "inference_only", False)
            and isinstance(getattr(module, "conv", None), FastSpatioTemporalConv)):
        return "fast"  # make_fast(S3DGConv): the fast separable conv, then the gate
    if isinstance(module, FactorizedConv):
        return module.method
    try:
        return method_of(module)
    except TypeError:
        raise ValueError(
            f"cannot tell which method a {type(module).__name__} is; pass method= one of "
            f"{', '.join(TIMED_METHODS)} (it picks the label, and the colour in figures)"
        ) from None


