"""The harness: settings, variants, warm-up, and samples taken in turns.

Part of `r21d_edu.timing`; import the public names from there.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import math
import statistics
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._checks import (
    check_bool,
    check_int,
    check_number,
    check_optional_bool,
    check_optional_number,
    check_seed,
    rng_kept,
)
from ..counting import count_macs
from .device import Mode, check_device, lookup_device
from .result import TimingResult
from .state import available_bytes, gib, global_state_kept, is_out_of_memory, module_state_kept
from .work import (
    TIMED_LABELS,
    TIMED_METHODS,
    WorkCount,
    check_dtype,
    check_input_shape,
    check_mode,
    check_timed_method,
    count_work,
    infer_method,
)


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
        method: ``"3d"``, ``"naive"``, ``"2plus1d"``, ``"fast"`` or a factorized
            layer's key (``"p3d_a"``, ..., ``"tsm"``: `TIMED_METHODS`); None infers it.
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

    def checked(self) -> TimingSettings:
        """These settings with every field checked (and NumPy numbers made plain), or raise.

        NaN and inf are refused where they would pass a ``< 0`` test: ``warmup_s=inf``
        warms up forever, ``min_sample_s=inf`` overflows, and a NaN peak makes every
        fraction of peak NaN.
        """
        check_mode(self.mode)
        return self.replace(
            repeats=check_int(self.repeats, "repeats", minimum=1),
            warmup=check_int(self.warmup, "warmup", minimum=1),
            warmup_s=check_number(self.warmup_s, "warmup_s (seconds)", minimum=0.0),
            min_sample_s=check_number(self.min_sample_s, "min_sample_s (seconds)", minimum=0.0),
            threads=None if self.threads is None else check_int(self.threads, "threads",
                                                                minimum=1),
            cudnn_benchmark=check_bool(self.cudnn_benchmark, "cudnn_benchmark"),
            tf32=check_optional_bool(self.tf32, "tf32"),
            peak_tflops=check_optional_number(self.peak_tflops, "peak_tflops", above=0.0),
            bandwidth_tbs=check_optional_number(self.bandwidth_tbs, "bandwidth_tbs", above=0.0),
            seed=check_seed(self.seed),
        )

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
    if not isinstance(module, nn.Module):
        raise TypeError(f"time_module expects an nn.Module to time, got {type(module).__name__}")
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
    s = TimingSettings.of(settings, overrides, "time_side_by_side").checked()
    dev = check_device(s.device)
    shape = check_input_shape(input_shape)
    common_notes = check_dtype(s.dtype, dev)
    if isinstance(variants, (str, bytes, nn.Module)) or not variants:
        raise ValueError("time_side_by_side needs at least one Variant(label, module), "
                         "in a list")
    for i, variant in enumerate(variants):
        _check_variant(variant, i)

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


def _check_variant(variant: object, index: int) -> None:
    if not isinstance(variant, Variant):
        raise TypeError(f"variants[{index}] must be a Variant(label, module), got "
                        f"{type(variant).__name__}; wrap a module as Variant('', module)")
    if not isinstance(variant.label, str):
        raise TypeError(f"a Variant's label must be a str (its name in tables), got "
                        f"{variant.label!r} ({type(variant.label).__name__})")
    if not isinstance(variant.module, nn.Module):
        raise TypeError(f"a Variant's module must be an nn.Module, got "
                        f"{type(variant.module).__name__}")
    if not isinstance(variant.memory_format, torch.memory_format):
        raise TypeError(f"memory_format must be a torch.memory_format such as "
                        f"torch.channels_last_3d, got {variant.memory_format!r}")


def _check_memory(contestants: list[_Contestant], mode: Mode, dev: torch.device,
                  what: str) -> int:
    """Refuse a run that would not fit; return the bytes it is estimated to need."""
    # Every variant's weights and input stay resident; activations come one call at a time.
    needed = (sum(c.resident_bytes for c in contestants)
              * (2 if mode == "training" else 1)  # their gradients
              + max(c.work.peak_activation_bytes for c in contestants))
    available = available_bytes(dev)
    if available is not None and needed > 0.9 * available:
        raise MemoryError(
            f"timing {what} needs about {gib(needed)} on {dev}, but only {gib(available)} "
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
            # A training step in a module with dropout (or any random op) draws from the
            # global RNG; a timing must not move a notebook's random stream.
            stack.enter_context(rng_kept())
            stack.enter_context(global_state_kept(dev, s.threads, s.cudnn_benchmark, s.tf32))
            for c in contestants:
                c.target = _prepared(c.variant.module, dev, s.dtype)
                stack.enter_context(module_state_kept(c.target, s.mode))
                x = clip.to(device=dev, dtype=s.dtype).contiguous(
                    memory_format=c.variant.memory_format)
                c.step = _make_step(c.target, x, s.mode, s.seed)
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
        if not is_out_of_memory(error):
            raise
        for c in contestants:
            c.target = c.step = None
        # The traceback's frames still hold the activations; let them go before freeing.
        traceback.clear_frames(error.__traceback__)
        gc.collect()
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        raise MemoryError(
            f"ran out of memory timing {what} on {dev} (estimated need {gib(needed)}); "
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
        if mode == "inference" and c.method in TIMED_METHODS and c.method != "fast":
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
    check_timed_method(method)
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
    return TIMED_LABELS[method]


def _make_step(module: nn.Module, x: torch.Tensor, mode: Mode,
               seed: int = 0) -> Callable[[], None]:
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
            # From a generator of our own, so the global random stream is not touched.
            noise = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 1))
            grad_out.append(noise.to(device=out.device, dtype=out.dtype))
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


