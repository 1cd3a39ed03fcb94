"""What the (2+1)D layer costs next to the 3D conv, and where the paper's M comes from.

Every number here comes from `r21d_edu.counting` (parameters, FLOPs, bytes
written) and `r21d_edu.layers.intermediate_channels` (the formula for M); these
functions only choose the sweep and draw it.

- `cost_vs_width` and `cost_vs_kernel_size` — parameters, FLOPs and activation
  memory of the two layers as one size grows. Both wrap
  `cost_sweep_figure` (the three-panel sweep, for any sweep of
  `compare_costs` results) around
  `r21d_edu.counting.compare_costs`, so the panels look the same as in the
  rest of the package;
- `cost_vs_m` — the same three costs against M, with the 3D conv as a flat
  line: the (2+1)D weight budget grows linearly with M and crosses the 3D
  budget at M* = t·d²·N_in·N_out / (d²·N_in + t·N_out); the paper's M is M*
  rounded down;
- `intermediate_channels_figure` — the formula M(N_in, N_out, t, d) as curves
  over the channel widths for several kernels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from .._checks import as_triple, check_bool, check_int
from ..counting import ConvSpec, LayerCost, compare_costs, layer_cost
from ..layers import intermediate_channels
from ._common import new_figure
from .style import METHOD_COLORS, METHOD_LABELS

__all__ = ["BudgetBars", "cost_sweep_figure", "cost_vs_kernel_size", "cost_vs_m", "cost_vs_width",
           "intermediate_channels_figure"]

# Kernels are not methods: their curves get neutral colours, never the method colours.
_PALETTE = ("#333333", "#0072B2", "#D55E00", "#999999", "#CC79A7", "#56B4E9")


def _sizes(values: Sequence[int], name: str, minimum: int) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of integers, got {values!r}")
    checked = [check_int(v, f"{name} entries", minimum=minimum) for v in values]
    if len(checked) < 2:
        raise ValueError(f"{name} needs at least 2 values to draw a curve, got {list(values)}")
    return sorted(set(checked))


def _clip_size(input_size: Sequence[int]) -> tuple[int, int, int]:
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) \
            or len(input_size) != 3:
        raise ValueError(
            f"input_size must be (T, H, W) of one input clip, got {input_size!r}; the "
            "channels come from the layer and the batch is 1"
        )
    return tuple(check_int(s, "input_size entries", minimum=1) for s in input_size)



def cost_sweep_figure(
    x_values: Sequence[float],
    costs: Sequence[Mapping[str, LayerCost]],
    *,
    x_label: str,
    title: str = "",
    log: bool = False,
) -> Figure:
    """Parameters, GFLOPs and activation memory against one varied size.

    Args:
        x_values: the varied size (e.g. channel widths), one per entry of ``costs``.
        costs: for each x, ``{"3d": LayerCost, "2plus1d": LayerCost}`` as
            `compare_costs` returns (any subset of ``"3d"``, ``"naive"``,
            ``"2plus1d"``).
        x_label: axis label for x, with its unit.
        title: figure title.
        log: log-scaled axes (base 2 for x), for sizes that double; a constant
            ratio between the methods then shows as a constant gap.

    Returns:
        A matplotlib `Figure` with three panels (not shown).

    Shape:
        Not applicable.
    """
    log = check_bool(log, "log")
    if len(x_values) != len(costs) or not costs:
        raise ValueError(
            f"x_values and costs must be equally long and not empty, got {len(x_values)} "
            f"and {len(costs)}"
        )
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    panels = (
        ("parameters (millions)", lambda c: c.params / 1e6),
        ("FLOPs (G) = 2·MACs", lambda c: c.flops / 1e9),
        ("activations written (MiB)", lambda c: c.total_bytes / 2**20),
    )
    for index, (label, value) in enumerate(panels):
        ax = fig.add_subplot(1, 3, index + 1)
        for kind in costs[0]:
            ax.plot(x_values, [value(c[kind]) for c in costs], marker="o",
                    color=METHOD_COLORS[kind], label=METHOD_LABELS[kind],
                    linestyle="--" if kind == "2plus1d" else "-")
        if log:
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
        ax.set_xlabel(x_label)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if index == 0:
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig

def cost_vs_width(
    widths: Sequence[int] = (16, 32, 64, 128, 256, 512),
    kernel_size: int | Sequence[int] = 3,
    input_size: Sequence[int] = (8, 56, 56),
) -> Figure:
    """Parameters, FLOPs and activation memory of 3D vs (2+1)D as the layer widens.

    Each point is a layer with N_in = N_out = width, "same" padding, stride 1,
    no bias and the paper's M, on one clip of ``input_size``. Axes are
    logarithmic: parameters and FLOPs grow with width² and stay equal for the
    two layers (that is the point of the paper's M), while the (2+1)D layer
    writes more memory (its middle tensor) at every width.

    Wraps `cost_sweep_figure` over
    `r21d_edu.counting.compare_costs`.

    Args:
        widths: channel widths N (at least 2).
        kernel_size: t, or (t, d_h, d_w). Default: 3.
        input_size: (T, H, W) of the input clip. Default: (8, 56, 56).

    Returns:
        A matplotlib `Figure` with 3 axes (parameters, FLOPs, memory), one
        line per layer kind, one point per width.

    Shape:
        - Input: (1, N, T, H, W) for each width N
    """
    widths = _sizes(widths, "widths", 1)
    t_len, height, width = _clip_size(input_size)
    kernel = as_triple(kernel_size, "kernel_size", minimum=1)
    costs = [compare_costs(n, n, kernel, (1, n, t_len, height, width)) for n in widths]
    return cost_sweep_figure(
        widths, costs, x_label="channels N_in = N_out", log=True,
        title=(f"Cost against width: kernel {'×'.join(map(str, kernel))}, input "
               f"{t_len}×{height}×{width} (T × H × W), paper's M"),
    )


def cost_vs_kernel_size(
    sizes: Sequence[int] = (1, 3, 5, 7),
    vary: str = "spatial",
    channels: int = 64,
    fixed: int = 3,
    input_size: Sequence[int] = (8, 56, 56),
) -> Figure:
    """Parameters, FLOPs and activation memory of 3D vs (2+1)D as the kernel grows.

    ``vary="spatial"`` grows d (kernel t × d × d with t = ``fixed``),
    ``"temporal"`` grows t (kernel t × d × d with d = ``fixed``), ``"both"``
    grows a cubic k × k × k kernel. The paper's M follows the kernel, so the
    parameters stay matched while the memory gap changes with M.

    Wraps `cost_sweep_figure` over
    `r21d_edu.counting.compare_costs`.

    Args:
        sizes: kernel sizes to try (at least 2), each ≤ the clip along its axis.
        vary: ``"spatial"``, ``"temporal"`` or ``"both"``. Default: "spatial".
        channels: N_in = N_out. Default: 64.
        fixed: the size of the axis that does not vary. Default: 3.
        input_size: (T, H, W) of the input clip. Default: (8, 56, 56).

    Returns:
        A matplotlib `Figure` with 3 axes, one point per size.

    Shape:
        - Input: (1, channels, T, H, W)
    """
    sizes = _sizes(sizes, "sizes", 1)
    if vary not in ("spatial", "temporal", "both"):
        raise ValueError(f"vary must be 'spatial', 'temporal' or 'both', got {vary!r}")
    channels = check_int(channels, "channels", minimum=1)
    fixed = check_int(fixed, "fixed", minimum=1)
    t_len, height, width = _clip_size(input_size)
    kernels = {
        "spatial": lambda k: (fixed, k, k),
        "temporal": lambda k: (k, fixed, fixed),
        "both": lambda k: (k, k, k),
    }[vary]
    costs = [compare_costs(channels, channels, kernels(k), (1, channels, t_len, height, width))
             for k in sizes]
    label = {"spatial": f"spatial size d (kernel {fixed} × d × d)",
             "temporal": f"temporal size t (kernel t × {fixed} × {fixed})",
             "both": "kernel size k (kernel k × k × k)"}[vary]
    return cost_sweep_figure(
        sizes, costs, x_label=label,
        title=(f"Cost against kernel size: {channels} -> {channels} channels, input "
               f"{t_len}×{height}×{width} (T × H × W), paper's M"),
    )


def cost_vs_m(
    in_channels: int = 64,
    out_channels: int = 64,
    kernel_size: int | Sequence[int] = 3,
    input_size: Sequence[int] = (8, 56, 56),
    m_values: Sequence[int] | None = None,
) -> Figure:
    """Conv weights, FLOPs and activation memory of the (2+1)D layer against M.

    The 3D conv does not have an M: it is the flat orange line. The (2+1)D
    layer's weights grow by d²·N_in + t·N_out per middle channel, so its line
    crosses the 3D budget at M* = (3D weights) / (weights per middle channel);
    the paper's M is M* rounded down, the largest M that stays within budget.
    The FLOPs panel crosses at the same M (at stride 1, every weight is used
    once per output position); the memory panel never does, because the
    middle tensor is written whatever M is.

    Args:
        in_channels: N_in. Default: 64.
        out_channels: N_out. Default: 64.
        kernel_size: t, or (t, d_h, d_w). Default: 3.
        input_size: (T, H, W) of the input clip. Default: (8, 56, 56).
        m_values: the M to draw; None takes about 40 values from 1 to twice the
            paper's M.

    Returns:
        A matplotlib `Figure` with 3 axes; each has the (2+1)D curve (one
        point per M), the 3D line and the paper's M; the weights panel also
        marks M* where the budgets cross.

    Shape:
        - Input: (1, N_in, T, H, W)
    """
    n_in = check_int(in_channels, "in_channels", minimum=1)
    n_out = check_int(out_channels, "out_channels", minimum=1)
    kernel = as_triple(kernel_size, "kernel_size", minimum=1)
    t_len, height, width = _clip_size(input_size)
    shape = (1, n_in, t_len, height, width)
    paper = intermediate_channels(n_in, n_out, kernel)
    if m_values is None:
        top = max(2 * paper, 2)
        step = max(1, top // 40)
        ms = sorted(set(range(1, top + 1, step)) | ({paper} if paper >= 1 else set()))
    else:
        ms = _sizes(m_values, "m_values", 1)
    padding = tuple(k // 2 for k in kernel)
    common = {"kernel_size": kernel, "padding": padding, "bias": False}
    full = layer_cost(ConvSpec("3d", n_in, n_out, **common), shape)
    factored = [layer_cost(ConvSpec("2plus1d", n_in, n_out, **common, intermediate_channels=m),
                           shape) for m in ms]
    # The budget line is exactly linear in M; its slope is the weights of one middle channel.
    per_channel = layer_cost(ConvSpec("2plus1d", n_in, n_out, **common,
                                      intermediate_channels=1), shape).weights
    crossing = full.weights / per_channel

    fig = new_figure(11.0, 3.6)
    axes = fig.subplots(1, 3)
    panels = (
        ("conv weights (thousands)", lambda c: c.weights / 1e3),
        ("FLOPs (G) = 2·MACs", lambda c: c.flops / 1e9),
        ("activations written (MiB)", lambda c: c.total_bytes / 2**20),
    )
    for index, (ax, (label, value)) in enumerate(zip(axes, panels)):
        ax.plot(ms, [value(c) for c in factored], color=METHOD_COLORS["2plus1d"],
                linestyle="--", marker=".", label=METHOD_LABELS["2plus1d"])
        ax.axhline(value(full), color=METHOD_COLORS["3d"], label=METHOD_LABELS["3d"])
        if paper >= 1:
            ax.axvline(paper, color="#555555", linestyle=":", linewidth=1,
                       label=f"paper's M = {paper}")
        if index == 0:
            ax.plot([crossing], [value(full)], marker="o", markersize=8, linestyle="none",
                    markerfacecolor="white", markeredgecolor="black",
                    label=f"budgets cross at M* = {crossing:.2f}")
            ax.legend(fontsize="small", loc="upper left")
        ax.set_xlabel("intermediate channels M")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"(2+1)D cost against M: {n_in} -> {n_out} channels, kernel "
        f"{'×'.join(map(str, kernel))}, input {t_len}×{height}×{width} (T × H × W)"
    )
    return fig


def intermediate_channels_figure(
    widths: Sequence[int] = (16, 32, 64, 128, 256, 512),
    kernels: Sequence[tuple[int, int]] = ((3, 3), (3, 5), (5, 3), (3, 7)),
    fixed_in: int = 64,
) -> Figure:
    """The formula M(N_in, N_out, t, d) = ⌊t·d²·N_in·N_out / (d²·N_in + t·N_out)⌋ as curves.

    Left: M against the width for N_in = N_out = N — a straight line
    M ≈ N·t·d² / (d² + t) for each kernel (t, d), so M is a fixed multiple of
    the width (2.25× for 3×3×3). Right: M against N_out with N_in fixed; M
    saturates at d²·N_in (dotted). The formula reads
    M = 1 / (1/(t·N_out) + 1/(d²·N_in)), so M always stays below
    min(t·N_out, d²·N_in), the full rank of the unfolded 3D kernel
    (`r21d_edu.lowrank`): within the parameter budget a (2+1)D layer is a
    low-rank approximation, never an exact copy, of a general 3D conv.

    Args:
        widths: channel widths to draw (at least 2).
        kernels: (t, d) pairs, one curve each (a t × d × d kernel).
        fixed_in: N_in of the right panel. Default: 64.

    Returns:
        A matplotlib `Figure` with 2 axes and one curve per kernel in each.

    Shape:
        Not a tensor function.
    """
    widths = _sizes(widths, "widths", 1)
    fixed_in = check_int(fixed_in, "fixed_in", minimum=1)
    pairs = []
    for pair in kernels:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"kernels must hold (t, d) pairs, got {pair!r} in {kernels!r}")
        pairs.append((check_int(pair[0], "t", minimum=1), check_int(pair[1], "d", minimum=1)))
    if not pairs:
        raise ValueError("kernels must hold at least one (t, d) pair, got none")
    fig = new_figure(10.0, 3.8)
    left, right = fig.subplots(1, 2)
    for (t, d), colour in zip(pairs, _PALETTE * len(pairs)):
        label = f"t = {t}, d = {d}"
        left.plot(widths, [intermediate_channels(n, n, (t, d, d)) for n in widths],
                  marker="o", color=colour, label=label)
        right.plot(widths, [intermediate_channels(fixed_in, n, (t, d, d)) for n in widths],
                   marker="o", color=colour, label=label)
        right.axhline(d * d * fixed_in, color=colour, linestyle=":", linewidth=1)
    left.set_xlabel("channels N_in = N_out")
    left.set_title("M grows in proportion to the width")
    right.set_xlabel(f"output channels N_out (N_in = {fixed_in})")
    right.set_title("M saturates at d²·N_in (dotted) as N_out grows")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_ylabel("intermediate channels M")
        ax.grid(alpha=0.3)
    left.legend(fontsize="small", title="kernel t × d × d")
    fig.suptitle("The paper's M = ⌊t·d²·N_in·N_out / (d²·N_in + t·N_out)⌋")
    return fig


class BudgetBars:
    """Bars of a (2+1)D conv's weights, FLOPs and activations relative to the 3D conv's.

    The figure stays alive: `update` moves the bars and their labels instead of
    drawing a new figure, which is what lets the budget explorer answer a slider
    at once.

    Args:
        ratios: (2+1)D / 3D for ``"params"``, ``"flops"`` and ``"memory"``.
        m: the (2+1)D layer's M, for the legend.

    Attributes:
        figure: the matplotlib `Figure` (3D bars at 100 %, (2+1)D bars beside them).
    """

    NAMES = ("conv weights", "FLOPs", "activations")
    KEYS = ("params", "flops", "memory")

    def __init__(self, ratios: Mapping[str, float], m: int) -> None:
        self.figure = Figure(figsize=(4.6, 2.6), layout="constrained")
        ax = self.figure.add_subplot()
        positions = range(len(self.NAMES))
        ax.bar([p - 0.2 for p in positions], [100] * 3, width=0.4, color=METHOD_COLORS["3d"],
               label=METHOD_LABELS["3d"])
        self._bars = ax.bar([p + 0.2 for p in positions], [100] * 3, width=0.4,
                            color=METHOD_COLORS["2plus1d"], label=METHOD_LABELS["2plus1d"])
        self._labels = [ax.text(p + 0.2, 100, "", ha="center", va="bottom", fontsize=8)
                        for p in positions]
        ax.set_xticks(list(positions), self.NAMES)
        ax.set_ylabel("% of the 3D conv")
        ax.set_title("(2+1)D cost relative to the 3D conv", fontsize=9)
        self._legend = ax.legend(fontsize=7, loc="upper left")
        self._ax = ax
        self.update(ratios, m)

    def update(self, ratios: Mapping[str, float], m: int) -> None:
        """Show new ratios and M (the figure is redrawn when it is next rendered)."""
        values = [100 * ratios[k] for k in self.KEYS]
        for bar, label, value in zip(self._bars, self._labels, values, strict=True):
            bar.set_height(value)
            label.set_y(value)
            label.set_text(f"{value:.0f}%")
        self._legend.get_texts()[1].set_text(f"{METHOD_LABELS['2plus1d']}, M = {m}")
        self._ax.set_ylim(0, max(values + [100]) * 1.2)
