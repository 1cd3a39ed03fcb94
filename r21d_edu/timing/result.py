"""One timing's result: median and IQR, clips/s, TFLOP/s, roofline and memory, with
a table row for reports.

Part of `r21d_edu.timing`; import the public names from there.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

from .._tables import html_table
from .state import gib

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
            gib(self.peak_memory_bytes) if self.peak_memory_bytes is not None else "n/a (CPU)",
        ]

    def _repr_html_(self) -> str:
        notes = "".join(f"<br><i>{html.escape(n)}</i>" for n in self.notes)
        return html_table([self._cells()], RESULT_HEADER) + notes

    def __str__(self) -> str:
        return (f"{self.label} ({self.mode}, {self.dtype}, {self.device}): median "
                f"{self.median_ms:.3g} ms, IQR {self.q25_ms:.3g}–{self.q75_ms:.3g} ms, "
                f"{self.achieved_tflops:.3g} TFLOP/s")


RESULT_HEADER = ["variant", "mode", "median ms", "IQR ms", "clips/s", "GFLOP", "MiB moved",
                  "TFLOP/s", "of peak", "of roofline", "bound", "peak memory"]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


