"""Devices and the environment: what the hardware could do at best (peaks from data
sheets), and what a reader needs to compare our numbers with theirs.

Part of `r21d_edu.timing`; import the public names from there.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

from .._tables import html_table

Mode = Literal["inference", "training"]
MODES = ("inference", "training")


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
    if not isinstance(device_name, str):
        raise TypeError(f"device_name must be a CUDA device's name such as "
                        f"'NVIDIA H100 80GB HBM3' (torch.cuda.get_device_name()), got "
                        f"{device_name!r} ({type(device_name).__name__})")
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
        # None is what as_dict keeps for JSON; a reader is told what it means.
        absent = {"cuda": "none (a CPU-only build of PyTorch)" if self.cuda is None else None,
                  "cudnn": "not available" if self.cudnn is None else None,
                  "load_average": "unknown on this system" if self.load_average is None
                  else None}
        return [(name, absent.get(name) or value) for name, value in self.as_dict().items()]

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


