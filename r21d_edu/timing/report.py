"""Several variants side by side: `compare` and its `Comparison` (table, figure, speed-ups).

Part of `r21d_edu.timing`; import the public names from there.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .._tables import html_table
from .device import Environment, Mode, environment
from .harness import TimingSettings, Variant, time_side_by_side
from .result import RESULT_HEADER, TimingResult
from .work import check_mode

if TYPE_CHECKING:  # figures are drawn by r21d_edu.viz, imported only when one is asked for
    from matplotlib.figure import Figure


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
        from ..viz.timing import plot_timings

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
        return (html_table(rows, [*RESULT_HEADER, "speed vs (2+1)D"])
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
    if isinstance(variants, (str, bytes)) or not variants:
        raise ValueError("compare needs at least one Variant(label, module), in a list")
    if isinstance(modes, str) or not modes:
        raise ValueError(f"modes must be a list of modes such as ('inference', 'training'), "
                         f"got {modes!r}" + (f"; write modes=({modes!r},)"
                                             if isinstance(modes, str) else ""))
    for mode in modes:
        check_mode(mode)
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
