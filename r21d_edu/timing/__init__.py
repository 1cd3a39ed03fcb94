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
variants and modes, with a table and a figure). Any module can be timed; the
method a `Variant` names (`TIMED_METHODS`) is one of the package's four or the key
of a factorized layer (P3D, S3D(-G), CSN, depthwise (2+1)D, TSM), inferred from
the module when not given, so the whole family runs side by side with the 3D
and (2+1)D convs.

The package's parts, one concept each: `device` (peaks and the environment), `state`
(leaving the process as found), `work` (FLOPs and bytes, input checks), `result`
(`TimingResult`), `harness` (`TimingSettings`, `Variant`, `time_module`,
`time_side_by_side`) and `report` (`compare`, `Comparison`).
"""

from __future__ import annotations

from ..methods import METHODS
from .device import (
    KNOWN_DEVICES,
    DeviceSpec,
    Environment,
    check_device,
    environment,
    lookup_device,
)
from .harness import TimingSettings, Variant, time_module, time_side_by_side
from .report import Comparison, compare
from .result import TimingResult
from .work import (
    TIMED_METHODS,
    WorkCount,
    count_work,
    dtype_probe_cache,  # noqa: F401  (not public: tests stand in for a device's dtype probe)
    infer_method,
)

__all__ = [
    "KNOWN_DEVICES",
    "METHODS",
    "TIMED_METHODS",
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
