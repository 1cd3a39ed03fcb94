"""Make docs/figure.png, the README figure: what a (2+1)D layer can and cannot express.

A 7×9×9 kernel tuned to a pattern drifting right (a space-time oriented Gabor)
is factorized into (2+1)D layers with r21d_edu.factorize, and each layer's
effective 3D kernel (r21d_edu.compose) is drawn next to the original:

- with M = 1 the layer is one spatial filter times one temporal profile, a
  separable kernel: it flickers in place and cannot prefer a direction;
- with M = 2 (two spatial filters in quadrature, each with its own temporal
  profile) it reproduces the moving kernel exactly, as the tilted stripes of
  the x–t slice show.

Run from the repository root:  python docs/make_figure.py
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from r21d_edu import FullConv3d, compose, energy_profile, factorize, intermediate_channels
from r21d_edu.viz._common import hide_ticks, new_figure, symmetric_limit

OUT = Path(__file__).with_name("figure.png")
T, D = 7, 9  # kernel t × d × d
SPEED = 1.0  # pixels per frame, to the right
WAVELENGTH = 6.0  # pixels


def drifting_gabor() -> torch.Tensor:
    """A (1, 1, T, D, D) kernel: a grating moving right at SPEED under a Gaussian window."""
    t = torch.arange(T, dtype=torch.float64) - (T - 1) / 2
    y = torch.arange(D, dtype=torch.float64) - (D - 1) / 2
    x = y.clone()
    tt, yy, xx = torch.meshgrid(t, y, x, indexing="ij")
    window = torch.exp(-(tt / 2.0) ** 2 / 2 - (yy / 2.5) ** 2 / 2 - (xx / 2.5) ** 2 / 2)
    kernel = window * torch.cos(2 * math.pi * (xx - SPEED * tt) / WAVELENGTH)
    return (kernel / kernel.norm()).float()[None, None]


def main() -> None:
    torch.manual_seed(0)
    conv = FullConv3d(1, 1, (T, D, D), padding=(T // 2, D // 2, D // 2), bias=False)
    with torch.no_grad():
        conv.weight.copy_(drifting_gabor())
    profile = energy_profile(conv)
    rows = [("full 3D kernel", conv.weight.detach()[0, 0])]
    for rank in (1, 2):
        kernel = compose(factorize(conv, rank)).weight.detach()[0, 0]
        what = "separable: flickers in place" if rank == 1 else "moves right, like the 3D kernel"
        rows.append((f"(2+1)D, M = {rank}\nkeeps {profile.energy_at(rank):.1%} of the energy\n"
                     f"{what}", kernel))
    limit = symmetric_limit(*(k for _, k in rows))
    fig = new_figure(12.5, 5.4)
    grid = fig.subplots(len(rows), T + 1, gridspec_kw={"width_ratios": [1] * T + [1.25]})
    for r, (label, kernel) in enumerate(rows):
        for t in range(T):
            ax = grid[r, t]
            ax.imshow(kernel[t].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            hide_ticks(ax)
            if r == 0:
                ax.set_title(f"frame t = {t}", fontsize=10)
        grid[r, 0].set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center",
                              labelpad=8)
        # The x–t slice through the middle row: motion is a tilt, a separable kernel has none.
        slice_ax = grid[r, T]
        image = slice_ax.imshow(kernel[:, D // 2, :].numpy(), cmap="RdBu_r", vmin=-limit,
                                vmax=limit, aspect="auto")
        slice_ax.set_xticks([0, D - 1], ["0", str(D - 1)])
        slice_ax.set_yticks([0, T - 1], ["0", str(T - 1)])
        slice_ax.set_ylabel("t (frames)", fontsize=8)
        if r == 0:
            slice_ax.set_title("x–t slice (middle row)", fontsize=10)
        if r == len(rows) - 1:
            slice_ax.set_xlabel("x (pixels)", fontsize=8)
    fig.colorbar(image, ax=grid[:, T], shrink=0.6, label="weight")
    paper = intermediate_channels(1, 1, (T, D, D))
    fig.suptitle(
        f"A {T}×{D}×{D} kernel tuned to rightward motion, and its best (2+1)D factorizations "
        f"(r21d_edu.factorize; the paper's M is {paper} here)",
        fontsize=11,
    )
    fig.savefig(OUT, dpi=100)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB); energy kept at M = 1: "
          f"{profile.energy_at(1):.4f}, at M = 2: {profile.energy_at(2):.6f}")


if __name__ == "__main__":
    main()
