"""The reshape, drawn: one step of a `ReshapeTrace` as a grid of cells, one per value.

Every cell is one position of the step's tensor, coloured by the frame its value
comes from; the element the learner follows (a frame, a pixel or a channel) is drawn
in full colour, everything else faded. The layout follows the tensor's axes: rows are
the first axis (the batch the convs see), columns the second (the channels), and each
panel holds the remaining axes (H × W, or a strip of T or H·W). After the question's
wrong ``view`` the values whose position is not their own are crossed out.

The numbers come from `r21d_edu.reshape_trace`; this module only draws them.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from ..reshape_trace import ReshapeStep, ReshapeTrace

__all__ = ["reshape_figure"]

# Okabe–Ito colours (colour-blind safe), one per frame, repeated past eight frames.
FRAME_COLORS = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00",
                "#F0E442", "#000000")
FADE = 0.78  # how far a cell that is not followed is blended towards white
GAP = 0.35   # between panels, in cells
MISPLACED = "#c0392b"
CELL = 6     # pixels per cell in the drawn image (the last one white)


def _panels(step: ReshapeStep) -> tuple[int, int, int, int, list[int]]:
    """(panel rows, panel columns, cells down, cells across, column group sizes)."""
    shape = step.shape
    if len(shape) == 5:  # (N, C, T, H, W): a column per (channel, frame)
        return shape[0], shape[1] * shape[2], shape[3], shape[4], [shape[2]] * shape[1]
    if len(shape) == 4:
        return shape[0], shape[1], shape[2], shape[3], [shape[1]]
    return shape[0], shape[1], 1, shape[2], [shape[1]]


def _grid(step: ReshapeStep, values: np.ndarray) -> np.ndarray:
    """``values`` of the step's shape as (panel rows, panel columns, down, across)."""
    rows, cols, down, across, _ = _panels(step)
    return values.reshape(rows, cols, down, across)


def reshape_figure(trace: ReshapeTrace, step: int, follow: str = "frame",
                   index: int | tuple[int, int] = 0) -> Figure:
    """Draw step ``step`` of ``trace``, with the followed element in full colour.

    Args:
        trace: a `ReshapeTrace` from `reshape_trace`.
        step: which step (0 is the input).
        follow: ``"frame"``, ``"pixel"`` or ``"channel"``.
        index: the frame t, the pixel (h, w) or the channel c to follow.

    Returns:
        A matplotlib `Figure`: one cell per value, rows the first axis, columns the
        second, each panel the remaining axes; title with the code and the shape.
    """
    if not isinstance(trace, ReshapeTrace):
        raise TypeError(f"trace must be a ReshapeTrace from reshape_trace(...), got "
                        f"{type(trace).__name__}")
    current = trace[step]
    held = _grid(current, current.holds(follow, index).numpy())
    frames = _grid(current, current.frame.numpy())
    rows, cols, down, across, groups = _panels(current)

    palette = np.array([to_rgb(FRAME_COLORS[i % len(FRAME_COLORS)])
                        for i in range(trace.sizes["T"])])
    colour = palette[frames]  # (rows, cols, down, across, 3)
    colour = np.where(held[..., None], colour, FADE + (1 - FADE) * colour)

    # One RGB image, CELL pixels per cell (a white line between cells), white gaps between
    # panels and wider ones between column groups.
    gap = max(1, round(GAP * max(down, across)))
    col_starts, x = [], 0
    for size in groups:
        for j in range(size):
            col_starts.append(x)
            x += across + (gap if j < size - 1 else 2 * gap)
    width = x - 2 * gap
    row_starts = [i * (down + gap) for i in range(rows)]
    height = row_starts[-1] + down
    image = np.ones((height * CELL, width * CELL, 3))
    block = np.repeat(np.repeat(colour, CELL, axis=2), CELL, axis=3)  # cells as CELL² pixels
    block[:, :, CELL - 1::CELL] = 1.0
    block[:, :, :, CELL - 1::CELL] = 1.0
    for i, y0 in enumerate(row_starts):
        for j, x0 in enumerate(col_starts):
            image[y0 * CELL:(y0 + down) * CELL, x0 * CELL:(x0 + across) * CELL] = block[i, j]

    # Fixed margins in inches instead of a layout engine: a slider waits for no solver.
    scale, left, right, top, bottom = 0.17, 0.75, 0.15, 0.75, 0.55
    plot_w, plot_h = scale * width, scale * height
    fig_w, fig_h = max(left + plot_w + right, 5.2), top + plot_h + bottom
    fig = Figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((left / fig_w, bottom / fig_h, plot_w / fig_w, plot_h / fig_h))
    pixel = 1 / CELL
    ax.imshow(image, interpolation="nearest",
              extent=(-0.5, width - 0.5 - pixel, height - 0.5 - pixel, -0.5))
    ax.set_xlim(-0.5, width - 0.5 - pixel)
    ax.set_ylim(height - 0.5 - pixel, -0.5)
    ax.set_xticks([x0 + (across - 1) / 2 for x0 in col_starts])
    ax.set_xticklabels(_column_labels(current, groups), fontsize=7)
    ax.set_yticks([y0 + (down - 1) / 2 for y0 in row_starts])
    ax.set_yticklabels(_row_labels(current, rows), fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xlabel(_axis_text(current), fontsize=7)
    ax.set_ylabel(current.axes[0], fontsize=8)
    if step == len(trace) - 1 and bool(trace.misplaced.any()):
        wrong = _grid(current, trace.misplaced.numpy())
        ys, xs = [], []
        for i, j, r, c in zip(*np.nonzero(wrong)):
            ys.append(row_starts[i] + r)
            xs.append(col_starts[j] + c)
        ax.scatter(xs, ys, marker="x", s=14, linewidths=0.9, color=MISPLACED)
    shape = ", ".join(f"{name}={size}" for name, size in zip(current.axes, current.shape))
    fig.text(0.02 / fig_w, 1 - 0.06 / fig_h, f"step {step} of {len(trace) - 1}: {current.title}\n"
             f"{current.code}\nshape ({shape})", fontsize=8, va="top", family="monospace")
    return fig


def _row_labels(step: ReshapeStep, rows: int) -> list[str]:
    """Each row of panels named by what its first value is: 'n0 t1', 'h1 w2', ..."""
    first = [np.unravel_index(i * int(np.prod(step.shape[1:])), step.shape) for i in range(rows)]
    axis = step.axes[0]
    labels = []
    for position in first:
        parts = []
        if "N" in axis:
            parts.append(f"n{int(step.clip[position])}")
        if "T" in axis:
            parts.append(f"t{int(step.frame[position])}")
        if "H" in axis:
            parts.append(f"h{int(step.row[position])} w{int(step.column[position])}")
        if axis.startswith(("C", "M")):
            parts.append(f"{step.channel_name.lower()}{int(step.channel[position])}")
        labels.append(" ".join(parts))
    return labels


def _column_labels(step: ReshapeStep, groups: list[int]) -> list[str]:
    name = step.channel_name.lower() if step.axes[1] in ("C", "M", "C_out") else step.axes[1]
    if len(step.shape) == 5:
        return [f"{name}{c}\nt{t}" if t == 0 else f"t{t}"
                for c, size in enumerate(groups) for t in range(size)]
    if step.axes[1] == "T":
        return [f"t{t}" for t in range(groups[0])]
    return [f"{name}{c}" for c in range(groups[0])]


def _axis_text(step: ReshapeStep) -> str:
    inner = " × ".join(step.axes[2 + (len(step.shape) == 5):])
    outer = step.axes[1] + (f", then {step.axes[2]}" if len(step.shape) == 5 else "")
    return f"columns: {outer}; each panel: {inner}\ncolour: the frame a value comes from"
