"""Timing a layer on CPU or CUDA, done right, and comparing layers side by side.

Wall-clock numbers are easy to get wrong. This harness does what a careful
person does by hand, so that a tutorial's numbers can be trusted:

- **warm-up** first: the first calls pay for memory allocation, oneDNN kernel
  selection on CPU and cuDNN autotuning on CUDA (``torch.backends.cudnn.benchmark``
  tries several algorithms per new shape), so they are run and thrown away;
- **synchronise**: CUDA kernels run asynchronously, so a clock read right after
  a call measures only the launch; we call ``torch.cuda.synchronize`` before
  reading the clock;
- **all CPU threads**: ``torch.utils.benchmark.Timer`` defaults to one thread,
  which makes a 2-core CPU look twice as slow as it is in real use; we time in
  the process's own thread setting (``torch.get_num_threads()``) unless told;
- **repeat** and report the median and the interquartile range (IQR), which a
  noisy neighbour process moves less than the mean; variants compared side by
  side take their samples **in turns**, so a slow stretch of the machine hits
  all of them alike instead of whichever ran at that moment;
- **count** the work with `FlopCounterMode` (FLOPs = 2 x MACs of the convs)
  and the memory traffic op by op, on the ``meta`` device (shapes only, no
  arithmetic), to put the time next to the device's roofline
  ``max(FLOPs / peak FLOP/s, bytes / bandwidth)``.

The harness never leaves the process changed: thread count, cuDNN flags, grad
mode, the module's train/eval mode, its BatchNorm statistics and its ``.grad``
fields are restored, also when a run fails (e.g. out of memory).

Main entry points: `time_module` (one module, one mode), `time_side_by_side`
(several `Variant`s, one mode, samples in turns) and `compare` (several
variants and modes, with a table and a figure).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import html
import math
import os
import platform
import statistics
import time
import traceback
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from ._checks import check_int
from ._tables import html_table
from .counting import count_macs
from .layers import method_of
from .methods import METHOD_LABELS, METHODS, check_method

if TYPE_CHECKING:  # figures are drawn by r21d_edu.viz, imported only when one is asked for
    from matplotlib.figure import Figure

__all__ = [
    "KNOWN_DEVICES",
    "METHODS",
    "Comparison",
    "DeviceSpec",
    "Environment",
    "TimingSettings",
    "TimingResult",
    "Variant",
    "WorkCount",
    "check_device",
    "compare",
    "count_work",
    "environment",
    "infer_method",
    "lookup_device",
    "time_module",
    "time_side_by_side",
]

Mode = Literal["inference", "training"]
_MODES = ("inference", "training")


# --------------------------------------------------------------------------
# Devices: what the hardware could do at best
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceSpec:
    """Peak arithmetic and memory bandwidth of one device, from its data sheet.

    Args:
        name: a readable name, e.g. ``"NVIDIA H100 SXM"``.
        peak_tflops: dense peak in TFLOP/s per arithmetic kind: ``"bfloat16"``,
            ``"float16"``, ``"tf32"`` (float32 tensors on tensor cores) and
            ``"float32"`` (plain FP32 units).
        bandwidth_tbs: main-memory bandwidth in TB/s (10^12 bytes per second).
    """

    name: str
    peak_tflops: dict[str, float]
    bandwidth_tbs: float

    def peak_for(self, dtype: torch.dtype, tf32: bool) -> float | None:
        """Peak TFLOP/s for convs in `dtype` (float32 counts as TF32 when `tf32`)."""
        key = {torch.bfloat16: "bfloat16", torch.float16: "float16"}.get(dtype)
        if dtype == torch.float32:
            key = "tf32" if tf32 else "float32"
        return self.peak_tflops.get(key) if key else None


# Dense (no 2:4 sparsity) peaks from NVIDIA's data sheets, SXM form factor.
# The H200 has the H100's compute with faster, larger HBM3e memory.
_HOPPER_COMPUTE = {"bfloat16": 989.0, "float16": 989.0, "tf32": 495.0, "float32": 67.0}
KNOWN_DEVICES: dict[str, DeviceSpec] = {
    "H100 SXM": DeviceSpec("NVIDIA H100 SXM", _HOPPER_COMPUTE, 3.35),
    "H200": DeviceSpec("NVIDIA H200", _HOPPER_COMPUTE, 4.8),
}


def lookup_device(device_name: str) -> DeviceSpec | None:
    """The `DeviceSpec` for a CUDA device name, or None when we do not know it.

    ``torch.cuda.get_device_name()`` reports an H100 SXM as
    ``"NVIDIA H100 80GB HBM3"``; the PCIe and NVL cards (H100 and H200) have
    other peaks and are deliberately not matched (pass ``peak_tflops`` /
    ``bandwidth_tbs``).
    """
    name = device_name.upper()
    if "NVL" in name or "PCIE" in name:
        return None  # lower-power cards with other peaks
    if "H200" in name:
        return KNOWN_DEVICES["H200"]
    if "H100" in name and ("HBM3" in name or "SXM" in name):
        return KNOWN_DEVICES["H100 SXM"]
    return None


# --------------------------------------------------------------------------
# The environment: what a reader needs to compare our numbers with theirs
# --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@dataclass
class Environment:
    """Versions, device and thread settings a timing was taken under.

    ``load_average`` (1, 5 and 15 minutes, from ``os.getloadavg``) tells
    whether other processes competed for the CPU while we measured.
    """

    torch: str
    cuda: str | None
    cudnn: int | None
    device: str
    device_name: str
    cpu_model: str
    threads: int
    cpu_capability: str
    python: str
    platform: str
    cudnn_benchmark: bool
    tf32: bool
    load_average: tuple[float, float, float] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _rows(self) -> list[tuple[str, object]]:
        return [(name, value) for name, value in self.as_dict().items()]

    def _repr_html_(self) -> str:
        return "<b>Environment</b>" + html_table(self._rows())

    def __str__(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self._rows())


def check_device(device: str | torch.device) -> torch.device:
    """The `torch.device` to time on, or a clear error (no GPU, a device that does not exist).

    Shape:
        Not a tensor function.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}") from error
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"the timing harness supports 'cpu' and 'cuda' devices, got {device!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = ("a CPU-only build" if torch.version.cuda is None
                     else f"CUDA {torch.version.cuda}")
            raise RuntimeError(
                f"device {str(device)!r} was asked for, but torch.cuda.is_available() is False "
                f"(PyTorch {torch.__version__}, {build}); time on device='cpu', or run on a "
                "machine with an NVIDIA GPU and a CUDA build of PyTorch"
            )
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device {str(device)!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s), cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1}"
            )
        dev = torch.device("cuda", index)
    return dev


def environment(device: str | torch.device = "cpu") -> Environment:
    """Record torch, CUDA, cuDNN, device, threads and CPU load for a timing report.

    Args:
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:N"``).

    Shape:
        Not a tensor function.
    """
    dev = check_device(device)
    cuda_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    try:
        load = tuple(round(v, 2) for v in os.getloadavg())
    except (AttributeError, OSError):  # not available on Windows
        load = None
    return Environment(
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        device=str(dev),
        device_name=cuda_name or _cpu_model(),
        cpu_model=_cpu_model(),
        threads=torch.get_num_threads(),
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        python=platform.python_version(),
        platform=platform.platform(),
        cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
        tf32=bool(torch.backends.cudnn.allow_tf32),
        load_average=load,  # type: ignore[arg-type]
    )


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
    _check_mode(mode)
    shape = _check_input_shape(input_shape)
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
    with _module_state_kept(module, mode), flops, counter:
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


def _check_mode(mode: object) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'inference' or 'training', got {mode!r}")


def _check_input_shape(input_shape: object) -> tuple[int, int, int, int, int]:
    if isinstance(input_shape, torch.Tensor):
        raise TypeError("pass the input's shape, e.g. x.shape, not the tensor itself")
    shape = tuple(input_shape)  # type: ignore[arg-type]
    if len(shape) != 5:
        raise ValueError(
            f"input_shape must be a clip shape (N, C, T, H, W) with 5 entries, got {shape}"
        )
    names = ("N", "C", "T", "H", "W")
    checked = (check_int(s, f"input_shape {n}", minimum=1)
               for n, s in zip(names, shape, strict=True))
    return tuple(checked)  # type: ignore[return-value]


_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_dtype_probe_cache: dict[tuple[str, torch.dtype], str | None] = {}


def _check_dtype(dtype: object, dev: torch.device) -> list[str]:
    """Raise if `dev` cannot convolve in `dtype`; return notes about slow dtypes."""
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"dtype must be one of torch.float32, torch.bfloat16, torch.float16, torch.float64, "
            f"got {dtype!r}"
        )
    key = (str(dev), dtype)
    if key not in _dtype_probe_cache:
        # Try the smallest 3D conv there is: kernels missing for a dtype raise here,
        # with a message we can rephrase, instead of deep inside a warm-up call.
        try:
            with torch.inference_mode():
                probe = torch.ones(1, 1, 1, 3, 3, device=dev, dtype=dtype)
                F.conv3d(probe, torch.ones(1, 1, 1, 3, 3, device=dev, dtype=dtype))
            _dtype_probe_cache[key] = None
        except (RuntimeError, NotImplementedError) as error:
            _dtype_probe_cache[key] = str(error).splitlines()[0]
    problem = _dtype_probe_cache[key]
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
    """Which of the package's methods a module is: "3d", "naive", "2plus1d" or "fast".

    Shape:
        Not a tensor function.
    """
    from .fast import FastSpatioTemporalConv  # fast builds on this module's neighbours

    if isinstance(module, FastSpatioTemporalConv):
        return "fast"
    try:
        return method_of(module)
    except TypeError:
        raise ValueError(
            f"cannot tell which method a {type(module).__name__} is; pass method= one of "
            f"{', '.join(METHODS)} (it picks the colour in figures)"
        ) from None


# --------------------------------------------------------------------------
# Leaving the process as we found it
# --------------------------------------------------------------------------


@contextmanager
def _module_state_kept(module: nn.Module, mode: Mode) -> Iterator[None]:
    """Put the module in eval/train mode and restore modes, BN stats and grads after."""
    modes = [(m, m.training) for m in module.modules()]
    buffers = [(b, b.detach().clone()) for b in module.buffers()]
    grads = [(p, p.grad) for p in module.parameters()]
    module.train(mode == "training")
    try:
        yield
    finally:
        for m, was_training in modes:
            m.training = was_training
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for p, g in grads:
            p.grad = g


@contextmanager
def _global_state_kept(
    dev: torch.device, threads: int | None, cudnn_benchmark: bool, tf32: bool | None
) -> Iterator[None]:
    """Set threads and cuDNN flags for a run; restore them whatever happens."""
    saved = (torch.get_num_threads(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        if dev.type == "cuda":
            # Autotuning picks the fastest cuDNN algorithm per shape; the warm-up pays for it.
            torch.backends.cudnn.benchmark = cudnn_benchmark
            if tf32 is not None:
                torch.backends.cudnn.allow_tf32 = tf32
                torch.backends.cuda.matmul.allow_tf32 = tf32
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.backends.cudnn.benchmark = saved[1]
        torch.backends.cudnn.allow_tf32 = saved[2]
        torch.backends.cuda.matmul.allow_tf32 = saved[3]


def _available_bytes(dev: torch.device) -> int | None:
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        # Blocks PyTorch has cached but not handed out are free for us too.
        return free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


# --------------------------------------------------------------------------
# One module, one mode
# --------------------------------------------------------------------------


@dataclass
class TimingResult:
    """The timing of one module in one mode, with the work it did.

    Times are per call (one forward, or one forward + backward), in ms.

    Attributes (beyond the obvious):
        median_ms, q25_ms, q75_ms: median and quartiles of ``samples_ms``.
        calls_per_sample: back-to-back calls averaged in one sample.
        flops: conv FLOPs of one call (2 x MACs); ``flops_source`` says
            whether `r21d_edu.counting` or `FlopCounterMode` counted them.
        bytes_moved: memory traffic of one call (see `count_work`).
        achieved_tflops: ``flops`` / median time.
        fraction_of_peak: achieved / the device's peak for this dtype.
        roofline_ms: ``max(flops / peak, bytes_moved / bandwidth)``, the least
            time the device could take; ``bound`` says which term sets it.
        fraction_of_roofline: roofline_ms / median_ms (1.0 = at the bound).
        peak_memory_bytes: CUDA memory one call needs (weights, input and
            what the call allocates); None on CPU.
        estimated_memory_bytes: the up-front estimate the run was checked with.
        notes: TF32, fused ReLU, emulated dtypes, unknown peaks.

    The fractions are None where the device's peak is unknown (CPUs, unlisted
    GPUs) unless ``peak_tflops`` / ``bandwidth_tbs`` were passed in.
    """

    label: str
    method: str
    mode: str
    device: str
    dtype: str
    input_shape: tuple[int, ...]
    threads: int
    repeats: int
    calls_per_sample: int
    median_ms: float
    q25_ms: float
    q75_ms: float
    samples_ms: list[float] = field(repr=False)
    clips_per_s: float
    flops: int
    flops_source: str
    bytes_moved: int
    achieved_tflops: float
    peak_tflops: float | None
    bandwidth_tbs: float | None
    fraction_of_peak: float | None
    roofline_ms: float | None
    fraction_of_roofline: float | None
    bound: str
    peak_memory_bytes: int | None
    estimated_memory_bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def iqr_ms(self) -> float:
        """Interquartile range: the spread of the middle half of the samples."""
        return self.q75_ms - self.q25_ms

    def as_row(self) -> dict[str, Any]:
        """A flat dict (no sample list) for a table, CSV or JSON."""
        row = asdict(self)
        row.pop("samples_ms")
        row["input_shape"] = "x".join(str(s) for s in self.input_shape)
        row["notes"] = "; ".join(self.notes)
        return row

    def _cells(self) -> list[str]:
        return [
            self.label, self.mode, f"{self.median_ms:.3g}",
            f"{self.q25_ms:.3g}–{self.q75_ms:.3g}", f"{self.clips_per_s:.3g}",
            f"{self.flops / 1e9:.3g}", f"{self.bytes_moved / 2**20:.4g}",
            f"{self.achieved_tflops:.3g}", _percent(self.fraction_of_peak),
            _percent(self.fraction_of_roofline), self.bound,
            _gib(self.peak_memory_bytes) if self.peak_memory_bytes is not None else "n/a (CPU)",
        ]

    def _repr_html_(self) -> str:
        notes = "".join(f"<br><i>{html.escape(n)}</i>" for n in self.notes)
        return html_table([self._cells()], _RESULT_HEADER) + notes

    def __str__(self) -> str:
        return (f"{self.label} ({self.mode}, {self.dtype}, {self.device}): median "
                f"{self.median_ms:.3g} ms, IQR {self.q25_ms:.3g}–{self.q75_ms:.3g} ms, "
                f"{self.achieved_tflops:.3g} TFLOP/s")


_RESULT_HEADER = ["variant", "mode", "median ms", "IQR ms", "clips/s", "GFLOP", "MiB moved",
                  "TFLOP/s", "of peak", "of roofline", "bound", "peak memory"]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _prepared(module: nn.Module, dev: torch.device, dtype: torch.dtype) -> nn.Module:
    """The module itself when it already lives on `dev` in `dtype`, else a moved copy."""
    floats = [t for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()]
    if all(t.device == dev and t.dtype == dtype for t in floats):
        return module
    return copy.deepcopy(module).to(device=dev, dtype=dtype)


@dataclass
class Variant:
    """One contestant of a comparison: a module, what it is, how it is fed.

    Args:
        label: its name in tables and figures ("" for the method's label).
        module: the layer or network.
        method: ``"3d"``, ``"naive"``, ``"2plus1d"`` or ``"fast"``; None infers it.
        memory_format: the input layout it gets (channels-last for the fast path,
            as it would receive from a channels-last network).
    """

    label: str
    module: nn.Module
    method: str | None = None
    memory_format: torch.memory_format = torch.contiguous_format


@dataclass(frozen=True)
class TimingSettings:
    """How to time: the settings `time_module`, `time_side_by_side` and `compare` share.

    Fields (see `time_module` for each): ``mode``, ``device``, ``dtype``,
    ``repeats``, ``warmup``, ``warmup_s``, ``min_sample_s``, ``threads``,
    ``cudnn_benchmark``, ``tf32``, ``peak_tflops``, ``bandwidth_tbs``, ``seed``.

    >>> quick = TimingSettings(repeats=5, warmup=1, warmup_s=0.0)
    >>> quick.replace(mode="training").mode
    'training'
    """

    mode: Mode = "inference"
    device: str | torch.device = "cpu"
    dtype: torch.dtype = torch.float32
    repeats: int = 20
    warmup: int = 3
    warmup_s: float = 0.1
    min_sample_s: float = 0.002
    threads: int | None = None
    cudnn_benchmark: bool = True
    tf32: bool | None = None
    peak_tflops: float | None = None
    bandwidth_tbs: float | None = None
    seed: int = 0

    def replace(self, **changes: Any) -> TimingSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, settings: TimingSettings | None, overrides: dict[str, Any],
           caller: str) -> TimingSettings:
        """``settings`` (or the defaults) with keyword ``overrides`` applied, checked by name."""
        if settings is not None and not isinstance(settings, TimingSettings):
            raise TypeError(f"{caller}: settings must be a TimingSettings, got "
                            f"{type(settings).__name__}; pass other options by keyword")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"{caller} got unexpected keyword argument(s) {', '.join(unknown)}; "
                            f"timing settings are {', '.join(sorted(names))}")
        return (settings or cls()).replace(**overrides)


def time_module(
    module: nn.Module,
    input_shape: Sequence[int],
    settings: TimingSettings | None = None,
    *,
    label: str | None = None,
    method: str | None = None,
    memory_format: torch.memory_format = torch.contiguous_format,
    **overrides: Any,
) -> TimingResult:
    """Time one module on one input shape, for inference or training.

    Inference is a forward pass under ``torch.inference_mode`` with the module
    in eval mode. Training is forward + backward in train mode (BatchNorm uses
    batch statistics), with the input requiring a gradient as for a layer
    inside a network; the module's BN statistics and ``.grad`` are restored
    afterwards. A module on another device or dtype is timed as a moved copy.

    Args:
        module: the layer or network, taking one (N, C, T, H, W) clip.
        input_shape: (N, C, T, H, W) of the random input.
        settings: how to time (`TimingSettings`: mode, device, dtype, repeats,
            warm-up, threads, ...). Default: ``TimingSettings()``.
        label: name in tables and figures. Default: the method's label.
        method: ``"3d"``, ``"naive"``, ``"2plus1d"`` or ``"fast"`` (the colour
            in figures). Default: inferred from the module's class.
        memory_format: the input's layout, e.g. ``torch.channels_last_3d``
            for a layer that would receive channels-last activations in a net.
        **overrides: any field of `TimingSettings` by name, as before there was
            a settings object (``time_module(layer, shape, repeats=5)``); they
            replace the fields of ``settings``.

    `TimingSettings` fields:
        mode: ``"inference"`` or ``"training"``.
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:N"``).
        dtype: floating dtype of weights and input.
        repeats: number of timed samples (the median and IQR are over these).
        warmup: calls thrown away first (at least this many, and at least
            ``warmup_s`` seconds of them) — past cuDNN autotuning.
        min_sample_s: a sample repeats the call until it lasts this long, so
            that microsecond GPU kernels are not lost in clock resolution.
        threads: CPU threads during the run (restored after). Default: the
            current ``torch.get_num_threads()`` — all cores, unlike
            ``torch.utils.benchmark.Timer``'s default of one.
        cudnn_benchmark: let cuDNN autotune (CUDA only; restored after).
        tf32: allow TF32 for float32 convs on CUDA (None: leave as set).
        peak_tflops, bandwidth_tbs: the device's peak and bandwidth, for
            devices not in `KNOWN_DEVICES` (e.g. your CPU).
        seed: seeds the random input.

    Returns:
        `TimingResult` with median/IQR in ms, clips/s, FLOPs, bytes, achieved
        TFLOP/s, fractions of peak and roofline, and peak memory (CUDA).

    Raises:
        RuntimeError: ``device="cuda"`` without a usable GPU.
        TypeError: a dtype the device cannot convolve in.
        MemoryError: the run would not fit in (or ran out of) memory; the
            process is left as it was.

    Shape:
        - Input: (N, C, T, H, W) = ``input_shape``
    """
    variant = Variant(label or "", module, method, memory_format)
    return time_side_by_side([variant], input_shape,
                             TimingSettings.of(settings, overrides, "time_module"))[0]


@dataclass
class _Contestant:
    """One variant while it is being timed."""

    variant: Variant
    label: str
    method: str
    work: WorkCount
    resident_bytes: int  # its weights and its input
    target: nn.Module | None = None
    step: Callable[[], None] | None = None
    inner: int = 1
    samples: list[float] = field(default_factory=list)
    peak_memory: int | None = None
    notes: list[str] = field(default_factory=list)


def time_side_by_side(
    variants: Sequence[Variant],
    input_shape: Sequence[int],
    settings: TimingSettings | None = None,
    **overrides: Any,
) -> list[TimingResult]:
    """Time several variants on the same input, taking their samples in turns.

    All variants are warmed up first; then each round takes one sample of
    every variant, starting one variant later each round. A neighbour process
    that slows the machine for a few seconds slows every variant alike, so the
    ratios between them stay trustworthy on a shared machine — timing one
    variant after the other would charge the slowdown to whichever ran then.

    Args:
        variants: the `Variant`s; all get the same input values.
        input_shape: (N, C, T, H, W) of the random input.
        settings: `TimingSettings` (default: its defaults).
        **overrides: fields of `TimingSettings` by name, as in `time_module`.

    Returns:
        One `TimingResult` per variant, in the order given.

    Shape:
        - Input: (N, C, T, H, W) = ``input_shape``
    """
    s = TimingSettings.of(settings, overrides, "time_side_by_side")
    dev = check_device(s.device)
    _check_mode(s.mode)
    shape = _check_input_shape(input_shape)
    common_notes = _check_dtype(s.dtype, dev)
    s = s.replace(repeats=check_int(s.repeats, "repeats", minimum=1),
                  warmup=check_int(s.warmup, "warmup", minimum=1))
    if s.threads is not None:
        check_int(s.threads, "threads", minimum=1)
    if not variants:
        raise ValueError("time_side_by_side needs at least one Variant")

    input_bytes = math.prod(shape) * torch.empty((), dtype=s.dtype).element_size()
    contestants = [_contestant(v, shape, s.dtype, s.mode, input_bytes) for v in variants]
    what = f"{', '.join(c.label for c in contestants)} ({s.mode}) on input {shape} in {s.dtype}"
    needed = _check_memory(contestants, s.mode, dev, what)
    if dev.type == "cuda" and s.dtype == torch.float32:
        uses_tf32 = s.tf32 if s.tf32 is not None else bool(torch.backends.cudnn.allow_tf32)
        common_notes.append("float32 convs ran as TF32 on tensor cores" if uses_tf32
                            else "float32 convs ran in full FP32 (TF32 off)")
    else:
        uses_tf32 = False
    _take_samples(contestants, shape, dev, s, what, needed)
    return _results(contestants, shape, dev, s, uses_tf32, needed, common_notes)


def _check_memory(contestants: list[_Contestant], mode: Mode, dev: torch.device,
                  what: str) -> int:
    """Refuse a run that would not fit; return the bytes it is estimated to need."""
    # Every variant's weights and input stay resident; activations come one call at a time.
    needed = (sum(c.resident_bytes for c in contestants)
              * (2 if mode == "training" else 1)  # their gradients
              + max(c.work.peak_activation_bytes for c in contestants))
    available = _available_bytes(dev)
    if available is not None and needed > 0.9 * available:
        raise MemoryError(
            f"timing {what} needs about {_gib(needed)} on {dev}, but only {_gib(available)} "
            "is free; use a smaller batch size or clip, fewer variants at once, or "
            "mode='inference' (training keeps every activation for the backward pass)"
        )
    return needed


def _take_samples(contestants: list[_Contestant], shape: tuple[int, ...], dev: torch.device,
                  s: TimingSettings, what: str, needed: int) -> None:
    """Warm every variant up, then take one sample of each per round, in turns."""
    clip = torch.randn(shape, generator=torch.Generator().manual_seed(s.seed))
    try:
        with ExitStack() as stack:
            stack.enter_context(_global_state_kept(dev, s.threads, s.cudnn_benchmark, s.tf32))
            for c in contestants:
                c.target = _prepared(c.variant.module, dev, s.dtype)
                stack.enter_context(_module_state_kept(c.target, s.mode))
                x = clip.to(device=dev, dtype=s.dtype).contiguous(
                    memory_format=c.variant.memory_format)
                c.step = _make_step(c.target, x, s.mode)
            stack.enter_context(
                torch.inference_mode() if s.mode == "inference" else torch.enable_grad())
            for c in contestants:
                c.inner = _warm_up(c.step, dev, s.warmup, s.warmup_s, s.min_sample_s)
                if dev.type == "cuda":
                    c.peak_memory = _peak_memory(c, dev)
            for round_ in range(s.repeats):
                for i in range(len(contestants)):
                    c = contestants[(round_ + i) % len(contestants)]
                    c.samples.append(_sample(c.step, dev, c.inner))
    except Exception as error:
        if not _is_out_of_memory(error):
            raise
        for c in contestants:
            c.target = c.step = None
        # The traceback's frames still hold the activations; let them go before freeing.
        traceback.clear_frames(error.__traceback__)
        gc.collect()
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        raise MemoryError(
            f"ran out of memory timing {what} on {dev} (estimated need {_gib(needed)}); "
            "the process state was restored — use a smaller batch size or clip"
        ) from error


def _results(contestants: list[_Contestant], shape: tuple[int, ...], dev: torch.device,
             s: TimingSettings, uses_tf32: bool, needed: int,
             common_notes: list[str]) -> list[TimingResult]:
    """One `TimingResult` per variant: quartiles, FLOPs, roofline and notes."""
    threads_used = s.threads if s.threads is not None else torch.get_num_threads()
    mode, dtype = s.mode, s.dtype
    spec = lookup_device(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else None
    peak = s.peak_tflops if s.peak_tflops is not None else (
        spec.peak_for(dtype, uses_tf32) if spec else None)
    bandwidth = s.bandwidth_tbs if s.bandwidth_tbs is not None else (
        spec.bandwidth_tbs if spec else None)
    if peak is None and dev.type == "cpu":
        common_notes.append(
            "CPU peak unknown: pass peak_tflops and bandwidth_tbs for roofline numbers")
    results = []
    for c in contestants:
        if any(getattr(m, "_cudnn_relu", False) for m in c.target.modules()):
            # The warm-up found cuDNN's fused conv + ReLU working: count the traffic it has.
            c.work = count_work(c.variant.module, shape, dtype, mode, c.variant.memory_format,
                                fused_conv_relu=True)
            c.notes.append("ReLU fused into the spatial conv by cuDNN")
        flops, flops_source = c.work.flops, "FlopCounterMode"
        if mode == "inference" and c.method in ("3d", "naive", "2plus1d"):
            # The package's analytic count, with its explanation; it equals the traced one.
            try:
                flops, flops_source = count_macs(c.variant.module, shape).flops, \
                    "r21d_edu.counting"
            except (TypeError, ValueError):
                pass  # e.g. a whole network: the traced count covers any module
        q25, median, q75 = _quartiles(c.samples)
        achieved = flops / (median * 1e-3) / 1e12
        roofline_ms, bound = _roofline(flops, c.work.bytes_moved, peak, bandwidth)
        results.append(TimingResult(
            label=c.label, method=c.method, mode=mode, device=str(dev),
            dtype=str(dtype).removeprefix("torch."), input_shape=shape, threads=threads_used,
            repeats=s.repeats, calls_per_sample=c.inner, median_ms=median, q25_ms=q25,
            q75_ms=q75, samples_ms=c.samples, clips_per_s=shape[0] / (median * 1e-3),
            flops=flops, flops_source=flops_source, bytes_moved=c.work.bytes_moved,
            achieved_tflops=achieved, peak_tflops=peak, bandwidth_tbs=bandwidth,
            fraction_of_peak=achieved / peak if peak else None, roofline_ms=roofline_ms,
            fraction_of_roofline=roofline_ms / median if roofline_ms is not None else None,
            bound=bound, peak_memory_bytes=c.peak_memory, estimated_memory_bytes=needed,
            notes=[*common_notes, *c.notes],
        ))
    return results


def _contestant(
    variant: Variant, shape: tuple[int, ...], dtype: torch.dtype, mode: Mode, input_bytes: int
) -> _Contestant:
    method = variant.method or infer_method(variant.module)
    check_method(method)
    if mode == "training" and getattr(variant.module, "inference_only", False):
        raise ValueError(
            f"{type(variant.module).__name__} is inference-only (its BatchNorm is folded into "
            "fixed weights, which batch statistics cannot update); time it with "
            "mode='inference'"
        )
    work = count_work(variant.module, shape, dtype, mode, variant.memory_format)
    return _Contestant(variant, variant.label or _default_label(method), method, work,
                       work.weight_bytes + input_bytes)


def _default_label(method: str) -> str:
    return METHOD_LABELS[method]


def _make_step(module: nn.Module, x: torch.Tensor, mode: Mode) -> Callable[[], None]:
    if mode == "inference":
        def infer() -> None:
            module(x)
        return infer

    x.requires_grad_(True)
    params = [p for p in module.parameters() if p.requires_grad]
    grad_out: list[torch.Tensor] = []

    def train_step() -> None:
        for p in params:
            p.grad = None  # as optimizer.zero_grad(set_to_none=True) does
        x.grad = None
        out = module(x)
        if not grad_out:
            grad_out.append(torch.randn_like(out))
        out.backward(grad_out[0])
    return train_step


def _warm_up(
    step: Callable[[], None], dev: torch.device, warmup: int, warmup_s: float,
    min_sample_s: float,
) -> int:
    """Run the throw-away calls; return how many calls one sample needs."""
    start = time.perf_counter()
    calls = 0
    while calls < warmup or time.perf_counter() - start < warmup_s:
        step()
        _sync(dev)  # without it the warm-up would only queue kernels
        calls += 1
    _sync(dev)
    t0 = time.perf_counter()
    step()
    _sync(dev)
    one_call = time.perf_counter() - t0
    return max(1, math.ceil(min_sample_s / max(one_call, 1e-9)))


def _sample(step: Callable[[], None], dev: torch.device, inner: int) -> float:
    """Milliseconds per call, averaged over `inner` back-to-back calls."""
    _sync(dev)  # nothing of earlier work left in the queue
    t0 = time.perf_counter()
    for _ in range(inner):
        step()
    _sync(dev)  # the clock stops when the GPU is done, not when Python is
    return (time.perf_counter() - t0) / inner * 1e3


def _peak_memory(contestant: _Contestant, dev: torch.device) -> int:
    """CUDA memory one call needs: its weights and input plus what the call allocates."""
    for p in contestant.target.parameters():
        p.grad = None
    _sync(dev)
    before = torch.cuda.memory_allocated(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    contestant.step()
    _sync(dev)
    return torch.cuda.max_memory_allocated(dev) - before + contestant.resident_bytes


def _quartiles(samples: Sequence[float]) -> tuple[float, float, float]:
    if len(samples) == 1:
        return samples[0], samples[0], samples[0]
    q25, median, q75 = statistics.quantiles(samples, n=4, method="inclusive")
    return q25, median, q75


def _roofline(
    flops: int, bytes_moved: int, peak_tflops: float | None, bandwidth_tbs: float | None
) -> tuple[float | None, str]:
    """The least time the device could take, and which limit sets it."""
    if peak_tflops is None or bandwidth_tbs is None:
        return None, "unknown"
    compute_ms = flops / (peak_tflops * 1e12) * 1e3
    memory_ms = bytes_moved / (bandwidth_tbs * 1e12) * 1e3
    return max(compute_ms, memory_ms), "compute" if compute_ms >= memory_ms else "memory"


# --------------------------------------------------------------------------
# Several variants side by side
# --------------------------------------------------------------------------


@dataclass
class Comparison:
    """Results of several variants timed in one run, with the environment.

    ``skipped`` says which (variant, mode) pairs were not timed and why.
    """

    results: list[TimingResult]
    environment: Environment
    skipped: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        timed = ", ".join(f"{r.label} ({r.mode}) {r.median_ms:.3g} ms" for r in self.results)
        return f"Comparison({timed})"

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per result (see `TimingResult.as_row`)."""
        return [r.as_row() for r in self.results]

    def speedup(self, faster: str, slower: str, mode: Mode = "inference") -> float:
        """How many times less time the method `faster` took than `slower`."""
        by_method = {(r.method, r.mode): r for r in self.results}
        for method in (faster, slower):
            if (method, mode) not in by_method:
                raise KeyError(f"no {mode} result for method {method!r} in this comparison")
        return by_method[(slower, mode)].median_ms / by_method[(faster, mode)].median_ms

    def figure(self, mode: Mode | None = None) -> Figure:
        """Bars of median time with IQR whiskers, one per variant (and mode)."""
        from .viz.timing import plot_timings

        chosen = [r for r in self.results if mode is None or r.mode == mode]
        if not chosen:
            raise ValueError(f"no {mode} results in this comparison")
        mixed_modes = len({r.mode for r in chosen}) > 1
        first = chosen[0]
        shape = "x".join(map(str, first.input_shape))
        what = "call" if mixed_modes else (
            "forward pass" if first.mode == "inference" else "forward + backward pass")
        title = f"Time per {what}: input {shape}, {first.dtype}, {first.device}"
        return plot_timings([_Labelled(r) for r in chosen] if mixed_modes else chosen,
                            title=title)

    def _repr_html_(self) -> str:
        rows = []
        for r in self.results:
            base = next((b for b in self.results if b.mode == r.mode and b.method == "2plus1d"),
                        None)
            ratio = f"{base.median_ms / r.median_ms:.2f}x" if base else "n/a"
            rows.append([*r._cells(), ratio])
        notes = sorted({n for r in self.results for n in r.notes} | set(self.skipped))
        return (html_table(rows, [*_RESULT_HEADER, "speed vs (2+1)D"])
                + "".join(f"<br><i>{html.escape(n)}</i>" for n in notes)
                + "<details><summary>environment</summary>"
                + self.environment._repr_html_() + "</details>")


class _Labelled:
    """A result whose bar label also names its mode (for mixed-mode figures)."""

    def __init__(self, result: TimingResult) -> None:
        self.label = f"{result.label} ({result.mode})"
        self.method = result.method
        self.median_ms, self.q25_ms, self.q75_ms = result.median_ms, result.q25_ms, result.q75_ms


def compare(
    variants: Sequence[Variant],
    input_shape: Sequence[int],
    settings: TimingSettings | None = None,
    *,
    modes: Sequence[Mode] = ("inference",),
    device: str | torch.device | None = None,
    **timing: Any,
) -> Comparison:
    """Time several variants on the same input, side by side, in one run.

    For each mode, the variants are timed together by `time_side_by_side`
    (samples taken in turns, so machine noise hits all alike); an
    inference-only variant (the fast path) is skipped in training with a note.

    Args:
        variants: the `Variant`s to time.
        input_shape: (N, C, T, H, W), the same for all.
        settings: `TimingSettings` (its ``mode`` is replaced by each of ``modes``).
        modes: any of ``"inference"`` and ``"training"``.
        device: ``"cpu"`` or ``"cuda"``. Default: the settings' device (``"cpu"``).
        **timing: fields of `TimingSettings` by name (dtype, repeats, threads, ...).

    Returns:
        `Comparison`: ``results`` (a table in Jupyter), ``figure()``,
        ``speedup(a, b)`` and the ``environment``.

    Shape:
        - Input: (N, C, T, H, W) = ``input_shape``
    """
    if not variants:
        raise ValueError("compare needs at least one Variant")
    for mode in modes:
        _check_mode(mode)
    chosen_settings = TimingSettings.of(settings, timing, "compare")
    if device is not None:
        chosen_settings = chosen_settings.replace(device=device)
    env = environment(chosen_settings.device)
    results, skipped = [], []
    for mode in modes:
        chosen = []
        for variant in variants:
            if mode == "training" and getattr(variant.module, "inference_only", False):
                skipped.append(f"{variant.label} is inference-only: not timed in training")
            else:
                chosen.append(variant)
        if chosen:
            results += time_side_by_side(chosen, input_shape, chosen_settings, mode=mode)
    return Comparison(results, env, skipped)
