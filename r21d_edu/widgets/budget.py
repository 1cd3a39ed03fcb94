"""Explorers for tutorials 02 and 06: the parameter budget, and energy against rank.

`budget` and `rank_energy` are the pure functions behind the sliders (tested
without a browser); `BudgetExplorer` and `RankExplorer` only wire sliders to
them and draw the result as text and a small PNG.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import ipywidgets as w
import torch
from matplotlib.figure import Figure
from torch import nn

from .._checks import check_fits_in_memory, check_int
from .._tables import html_table
from ..counting import LayerCost, compare_costs
from ..layers import block_intermediate_channels
from ..lowrank import EnergyProfile, energy_profile, smooth_kernel
from ..viz._common import render_png
from ..viz.costs import BudgetBars
from ..viz.energy import EnergyCurve
from ._base import Explorer

__all__ = [
    "Budget",
    "BudgetExplorer",
    "RankExplorer",
    "budget",
    "budget_figure",
    "rank_energy",
    "rank_figure",
]

Convention = Literal["paper", "torchvision"]
Position = Literal["conv1", "conv2"]


# --------------------------------------------------------------------------
# Tutorial 02: the parameter budget of one conv of a residual block
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """What a 3D conv and its (2+1)D replacement cost, and where M came from.

    Fields: ``m`` (the M used), ``m_formula`` (its arithmetic with numbers),
    ``costs`` (``{"3d": LayerCost, "2plus1d": LayerCost}``) and ``ratios``
    ((2+1)D / 3D for ``"params"``, ``"flops"`` and ``"memory"``, the bytes of
    activations written).
    """

    m: int
    m_formula: str
    costs: dict[str, LayerCost]
    ratios: dict[str, float]


def budget(
    in_channels: int,
    out_channels: int,
    t: int,
    d: int,
    *,
    convention: Convention = "paper",
    position: Position = "conv1",
    frames: int = 16,
    size: int = 56,
) -> Budget:
    """3D against (2+1)D for one conv of a residual block ``in -> out``.

    A block has conv1 (``in -> out``) and conv2 (``out -> out``). The paper
    computes M for each conv from that conv's channels; torchvision computes
    it once from the block's ``(in, out)`` and uses it for both, so conv2 of a
    widening block gets a smaller M than its own formula would give.

    Args:
        in_channels: channels entering the block.
        out_channels: channels of the block's convs.
        t: temporal kernel size.
        d: spatial kernel size (d × d).
        convention: ``"paper"`` (M per conv) or ``"torchvision"`` (per block).
        position: ``"conv1"`` or ``"conv2"`` of the block.
        frames: T of the (1, C, T, size, size) input clip.
        size: H = W of the input clip.

    Returns:
        `Budget`. Stride 1, padding kernel // 2, no bias, middle BN + ReLU on.

    Shape:
        - Input: (1, C, frames, size, size) with C = in_channels for conv1,
          out_channels for conv2; the output has the same T, H, W.
    """
    if position not in ("conv1", "conv2"):
        raise ValueError(f"position must be 'conv1' or 'conv2' of a block, got {position!r}")
    kernel = (check_int(t, "t", minimum=1), check_int(d, "d", minimum=1), d)
    m1, m2 = block_intermediate_channels(in_channels, out_channels, kernel, convention)
    c_in = in_channels if position == "conv1" else out_channels
    m = m1 if position == "conv1" else m2
    # Which channels enter the formula is exactly where the conventions differ.
    n_in = out_channels if (position == "conv2" and convention == "paper") else in_channels
    n_out = out_channels
    numerator = t * d * d * n_in * n_out
    denominator = d * d * n_in + t * n_out
    formula = (f"M = ⌊t·d²·N_in·N_out / (d²·N_in + t·N_out)⌋ with N_in = {n_in}, "
               f"N_out = {n_out} ({convention}, {position}) = ⌊{t}·{d * d}·{n_in}·{n_out} / "
               f"({d * d}·{n_in} + {t}·{n_out})⌋ = ⌊{numerator:,} / {denominator:,}⌋ = {m}")
    if m < 1:
        raise ValueError(
            f"the formula gives M = {m} for these sizes ({formula}); a (2+1)D layer needs "
            "M >= 1: use more channels or a larger kernel"
        )
    costs = compare_costs(c_in, out_channels, kernel, (1, c_in, frames, size, size),
                          intermediate_channels=m)
    three, two = costs["3d"], costs["2plus1d"]
    ratios = {
        "params": two.weights / three.weights,
        "flops": two.flops / three.flops,
        "memory": two.total_bytes / three.total_bytes,
    }
    return Budget(m, formula, costs, ratios)


def budget_figure(result: Budget) -> Figure:
    """Bars of params, FLOPs and activation memory, (2+1)D relative to 3D (= 100 %).

    Args:
        result: a `Budget`.

    Returns:
        A small matplotlib `Figure` (drawn by `r21d_edu.viz.costs.BudgetBars`).

    Shape:
        Not applicable.
    """
    return BudgetBars(result.ratios, result.m).figure


def _budget_html(result: Budget) -> str:
    three, two = result.costs["3d"], result.costs["2plus1d"]
    rows = [
        ("conv weights", three.weights, two.weights, result.ratios["params"]),
        ("FLOPs (2·MACs)", three.flops, two.flops, result.ratios["flops"]),
        ("activations written (bytes, float32)", three.total_bytes, two.total_bytes,
         result.ratios["memory"]),
        ("middle M-channel tensor (bytes)", 0, two.middle_bytes, None),
    ]
    cells = [(name, f"{a:,}", f"{b:,}", "" if r is None else f"{r:.2f}×")
             for name, a, b, r in rows]
    return (f"<p><code>{html.escape(result.m_formula)}</code></p>"
            + html_table(cells, ("", "3D", "(2+1)D", "(2+1)D / 3D"), sections=True))


class BudgetExplorer(Explorer):
    """Sliders for a block's channels and kernel; M, its arithmetic, and the costs.

    Attributes:
        controls: the controls by name (``in_channels``, ``out_channels``,
            ``t``, ``d``, ``convention``, ``position``, ``frames``, ``size``).
        summary: HTML with M's arithmetic and the cost table.
        plot: `ipywidgets.Image` with the relative-cost bars.
        message: empty, or why the current setting cannot work.
        stale: True while the view shows an earlier setting (see `Explorer`).
        result: the `Budget` on screen (the last valid one).
    """

    def __init__(self) -> None:
        slider = {"continuous_update": False, "style": {"description_width": "90px"}}
        controls = {
            "in_channels": w.IntSlider(64, min=1, max=512, description="C_in (block)", **slider),
            "out_channels": w.IntSlider(128, min=1, max=512, description="C_out", **slider),
            "t": w.IntSlider(3, min=1, max=7, description="t (time)", **slider),
            "d": w.IntSlider(3, min=1, max=7, description="d (space)", **slider),
            "frames": w.IntSlider(16, min=1, max=32, description="T (frames)", **slider),
            "size": w.IntSlider(56, min=1, max=112, description="H = W", **slider),
            "convention": w.ToggleButtons(options=["paper", "torchvision"], value="paper",
                                          description="M per"),
            "position": w.ToggleButtons(options=["conv1", "conv2"], value="conv2",
                                        description="conv"),
        }
        self.summary = w.HTML()
        self.plot = w.Image(format="png")
        self.result: Budget | None = None
        self._bars: BudgetBars | None = None
        view = w.VBox([self.summary, self.plot])
        self._start(controls, view, [w.HBox([w.VBox(list(controls.values())), view])])

    def _ignored(self) -> dict[str, str]:
        c = self.controls
        if c["convention"].value == "paper" and c["position"].value == "conv2":
            return {"in_channels": "C_in (block) is not used here: conv2 maps C_out -> C_out, "
                                   "and the paper computes its M from conv2's own channels."}
        return {}

    def _update(self) -> None:
        value = {name: control.value for name, control in self.controls.items()}
        result = budget(
            value["in_channels"], value["out_channels"], value["t"], value["d"],
            convention=value["convention"], position=value["position"],
            frames=value["frames"], size=value["size"],
        )
        if self._bars is None:
            self._bars = BudgetBars(result.ratios, result.m)
        else:
            self._bars.update(result.ratios, result.m)
        self.summary.value = _budget_html(result)
        self.plot.value = render_png(self._bars.figure, dpi=72)
        self.result = result


# --------------------------------------------------------------------------
# Tutorial 06: energy kept against rank
# --------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _profile(kernel: str, channels: int, t: int, d: int) -> EnergyProfile:
    # The SVD is the slow part; a slider that only moves the rank reuses it.
    if kernel == "smooth":
        weight = smooth_kernel(channels, channels, (t, d, d), seed=0)
    else:
        # nn.Conv3d's default init drawn from a generator of our own: the same numbers as
        # after torch.manual_seed(0), without resetting the notebook's random stream.
        weight = torch.empty(channels, channels, t, d, d)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5),
                                 generator=torch.Generator().manual_seed(0))
    return energy_profile(weight)


def rank_energy(
    kernel: Literal["random", "smooth"], channels: int, t: int, d: int, rank: int
) -> tuple[EnergyProfile, str]:
    """The energy profile of a seeded C -> C kernel and a sentence on ``rank``.

    Args:
        kernel: ``"random"`` (``nn.Conv3d``'s default init, the numbers it draws
            after ``torch.manual_seed(0)``, from a local generator: the global
            random stream is left alone) or ``"smooth"`` (`smooth_kernel`, seed 0).
        channels: C of the C -> C conv.
        t: temporal kernel size.
        d: spatial kernel size.
        rank: the rank M to report on.

    Returns:
        (`EnergyProfile`, text with the energy and error at ``rank`` and the
        paper's M).

    Shape:
        - Kernel: (C, C, t, d, d), unfolded to (C·t) × (C·d·d).
    """
    if kernel not in ("random", "smooth"):
        raise ValueError(f"kernel must be 'random' or 'smooth', got {kernel!r}")
    channels = check_int(channels, "channels", minimum=1)
    t, d = check_int(t, "t", minimum=1), check_int(d, "d", minimum=1)
    # The kernel, and its SVD in float64: refused up front if they cannot fit.
    check_fits_in_memory(4 * 8 * channels * channels * t * d * d,
                         f"a {channels} -> {channels} kernel of {t}×{d}×{d} and its SVD",
                         "use fewer channels")
    profile = _profile(kernel, channels, t, d)
    kept = profile.energy_at(rank)
    text = (f"rank {rank} of {profile.full_rank} ({rank / profile.full_rank:.0%}) keeps "
            f"{kept:.2%} of the energy; relative error ‖W − W_M‖ / ‖W‖ = "
            f"{(1 - kept) ** 0.5:.3f}. The paper's M = {profile.paper_rank} keeps "
            f"{profile.paper_energy:.2%}.")
    return profile, text


def rank_figure(profile: EnergyProfile, rank: int) -> Figure:
    """Energy against rank with the chosen rank and the paper's M marked.

    Args:
        profile: an `EnergyProfile`.
        rank: the rank to mark.

    Returns:
        A small matplotlib `Figure` (drawn by `r21d_edu.viz.energy.EnergyCurve`).

    Shape:
        Not applicable.
    """
    return EnergyCurve(profile, rank).figure


class RankExplorer(Explorer):
    """Pick a kernel and a rank; see the energy the best rank-M (2+1)D layer keeps.

    Attributes:
        controls: ``kernel``, ``channels``, ``t``, ``d``, ``rank``.
        summary: HTML with the energy at the rank and the paper's M.
        plot: `ipywidgets.Image` with the energy curve.
        message: empty, or why the current setting cannot work.
        stale: True while the view shows an earlier setting (see `Explorer`).
        profile: the `EnergyProfile` on screen.
    """

    def __init__(self) -> None:
        slider = {"continuous_update": False, "style": {"description_width": "90px"}}
        controls = {
            "kernel": w.ToggleButtons(options=["random", "smooth"], value="random",
                                      description="kernel"),
            # Sizes kept small: a new kernel costs one SVD, which must stay well
            # under the 0.25 s a change may take; moving the rank reuses it.
            "channels": w.Dropdown(options=[8, 16, 32, 64], value=64, description="C (C -> C)"),
            "t": w.IntSlider(3, min=1, max=3, description="t (time)", **slider),
            "d": w.IntSlider(3, min=1, max=3, description="d (space)", **slider),
            "rank": w.IntSlider(72, min=1, max=192, description="rank M", **slider),
        }
        self.summary = w.HTML()
        self.plot = w.Image(format="png")
        self.profile: EnergyProfile | None = None
        self._curve: EnergyCurve | None = None
        view = w.VBox([self.summary, self.plot])
        self._start(controls, view, [w.HBox([w.VBox(list(controls.values())), view])])

    def _update(self) -> None:
        c = self.controls
        full = min(c["channels"].value * c["t"].value, c["channels"].value * c["d"].value ** 2)
        # Keep the rank slider inside 1..full rank so an impossible rank is out of reach;
        # lowering max may clamp the value, whose change must not update a second time.
        if c["rank"].max != full:
            with self._hold():
                c["rank"].max = full
        profile, text = rank_energy(c["kernel"].value, c["channels"].value, c["t"].value,
                                    c["d"].value, c["rank"].value)
        if self._curve is None:
            self._curve = EnergyCurve(profile, c["rank"].value)
        else:
            self._curve.update(profile, c["rank"].value)
        self.summary.value = f"<p>{html.escape(text)}</p>"
        self.plot.value = render_png(self._curve.figure, dpi=72)
        self.profile = profile
