"""The low-rank view of a grouped (or depthwise) 3D convolution: one SVD per group.

`nn.Conv3d(C_in, C_out, k, groups=g)` splits its input channels into g blocks of
C_in/g and its output channels into g blocks of C_out/g, and output block j reads input
block j only, through its own kernel ``W_j = weight[j·C_out/g : (j+1)·C_out/g]`` of shape
(C_out/g, C_in/g, t, d_h, d_w). So the conv is g independent convs side by side, and
everything `r21d_edu.lowrank` says of one conv holds for each group on its own:

- Unfolded as in `lowrank.unfold_kernel`, group j's kernel is the
  (C_out/g·t) × (C_in/g·d_h·d_w) matrix A_j; the whole kernel, unfolded over all
  channels, is block diagonal with blocks A_1 … A_g (zeros where groups do not meet).
  Each block has rank ≤ R_g = min(C_out/g·t, C_in/g·d_h·d_w), the per-group full rank.
- A (2+1)D layer whose two convs are grouped the same way, with r intermediate channels
  per group (a spatial conv C_in -> g·r with groups g, a temporal conv g·r -> C_out with
  groups g), is g (2+1)D layers side by side: it composes to a block-diagonal kernel
  whose blocks have rank ≤ r, and every such kernel is one.
- The blocks do not interact, so the squared Frobenius error is the sum of the blocks'
  errors, each minimized by its own truncated SVD (Eckart–Young): the best such layer
  keeps the top r singular values of every group, its error is
  ``sqrt(Σ_j Σ_{i>r} s_{j,i}²)``, and the energy it keeps is
  ``Σ_j Σ_{i≤r} s_{j,i}² / Σ_j ‖A_j‖²``. (The best rank-g·r approximation of the whole
  block-diagonal matrix may give the groups unequal ranks; a grouped conv has the same
  r in every group, and among those the per-group truncation is optimal.)
- Weights: the spatial conv has g·r·(C_in/g)·d_h·d_w, the temporal conv C_out·r·t, so
  ``g·r·(d_h·d_w·C_in/g + t·C_out/g) = r·(d_h·d_w·C_in + t·C_out)``, against the
  grouped 3D conv's ``t·d_h·d_w·C_in·C_out/g``; they match at the paper's M of one group,
  ``r = intermediate_channels(C_in/g, C_out/g, k)``.
- Depthwise (g = C_in, C_out = m·C_in for a channel multiplier m): each block is
  (m·t) × (d_h·d_w), so R_g = min(m·t, d_h·d_w): 3 per channel for a 3×3×3 ir-CSN conv
  (m = 1), not 1. At r = 1 the factorization is the depthwise (2+1)D layer
  (`r21d_edu.factorized.DepthwiseConv2Plus1d`, ``K[o] = T[o] ⊗ S[o]``); r = 3 is exact.

This module holds the arithmetic (the per-group matrices, full rank and energies);
`r21d_edu.lowrank` takes the SVDs and builds the layers. Kernels are
(C_out, C_in/g, t, d_h, d_w) like a grouped `nn.Conv3d.weight`.
"""

from __future__ import annotations

import torch

from ._checks import check_int

__all__ = [
    "check_kernel_groups",
    "compose_groups",
    "energy_by_rank",
    "explain_groups",
    "group_shares",
    "group_full_rank",
    "unfold_groups",
]


def check_kernel_groups(weight: torch.Tensor, groups: object, what: str) -> int:
    """``groups`` as an int that divides the kernel's output channels, or a clear error.

    Shape:
        - weight: (C_out, C_in/groups, t, d_h, d_w)
    """
    groups = check_int(groups, "groups", minimum=1)
    c_out = weight.shape[0]
    if c_out % groups:
        raise ValueError(
            f"{what}: a kernel for groups={groups} has C_out a multiple of {groups} (each "
            f"group makes C_out/groups channels), got a kernel of shape "
            f"{tuple(weight.shape)}; pass the groups of the conv it comes from"
        )
    return groups


def unfold_groups(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """Each group's unfolded kernel, stacked: g matrices (C_out/g·t) × (C_in/g·d_h·d_w).

    Row (o, τ) of matrix j holds what output channel j·C_out/g + o takes from time
    offset τ; column (i, y, x) what comes from input channel j·C_in/g + i at pixel
    offset (y, x). With groups = 1 it is `lowrank.unfold_kernel` with a leading 1.

    Shape:
        - Input: (C_out, C_in/g, t, d_h, d_w), a grouped `nn.Conv3d.weight`
        - Output: (g, C_out/g·t, C_in/g·d_h·d_w)
    """
    c_out, c_in_group, t, d_h, d_w = weight.shape
    g = groups
    # Output channels are group-major in a grouped conv's weight, so block j is a slice.
    return (weight.permute(0, 2, 1, 3, 4)
            .reshape(g, (c_out // g) * t, c_in_group * d_h * d_w))


def group_full_rank(weight: torch.Tensor, groups: int) -> int:
    """R_g = min(C_out/g·t, C_in/g·d_h·d_w): the most any group's unfolded kernel can have.

    Shape:
        - weight: (C_out, C_in/g, t, d_h, d_w)
    """
    c_out, c_in_group, t, d_h, d_w = weight.shape
    return min((c_out // groups) * t, c_in_group * d_h * d_w)


def compose_groups(temporal: torch.Tensor, spatial: torch.Tensor, groups: int) -> torch.Tensor:
    """The grouped 3D kernel of a grouped spatial conv followed by a grouped temporal conv.

    ``K[j·C_out/g + o, i, τ, y, x] = Σ_m T[j·C_out/g + o, m, τ] · S[j·r + m, i, y, x]``:
    output block j composes only the r middle channels of its own group.

    Shape:
        - temporal: (C_out, r, t), the temporal conv's weight with its space axes dropped
        - spatial: (g·r, C_in/g, d_h, d_w), the spatial conv's with its time axis dropped
        - Output: (C_out, C_in/g, t, d_h, d_w), like a grouped `nn.Conv3d.weight`
    """
    c_out, r, t = temporal.shape
    _, c_in_group, d_h, d_w = spatial.shape
    g = groups
    kernel = torch.einsum("gomt,gmihw->goithw", temporal.reshape(g, c_out // g, r, t),
                          spatial.reshape(g, r, c_in_group, d_h, d_w))
    return kernel.reshape(c_out, c_in_group, t, d_h, d_w)


def energy_by_rank(squares: torch.Tensor) -> tuple[float, ...]:
    """Share of the kernel's squared norm kept at each per-group rank r = 1 … R_g.

    ``energy[r - 1] = Σ_j Σ_{i≤r} s_{j,i}² / Σ_j Σ_i s_{j,i}²``: every group keeps its
    top r, so the shares of all groups add up. Zero energy gives zeros (a caller that
    must refuse it checks the total first).

    Shape:
        - squares: (g, R_g), squared singular values, descending within each group
    """
    total = float(squares.sum())
    kept = squares.sum(0).cumsum(0)
    return tuple(float(e) for e in (kept / total if total > 0 else kept * 0))


def explain_groups(squares: torch.Tensor, sizes: tuple[int, int, int, int, int], paper: int,
                   paper_energy: float) -> list[str]:
    """The first lines of a grouped `lowrank.EnergyProfile`'s explanation, numbers put in.

    Args:
        squares: (g, R_g) squared singular values, descending within each group.
        sizes: (C_in/g, C_out/g, t, d_h, d_w), one group's conv.
        paper: the paper's M of one group; ``paper_energy`` what it keeps in all.

    Shape:
        - squares: (g, R_g)
    """
    ci, co, t, d_h, d_w = sizes
    g, full = squares.shape
    rows, cols = co * t, ci * d_h * d_w
    s = squares.sqrt()
    lines = [
        f"kernel ({g * co}, {ci}, {t}, {d_h}, {d_w}), groups = {g}: each group's block "
        f"unfolded as (C_out/g·t) × (C_in/g·d_h·d_w) = ({co}·{t}) × ({ci}·{d_h}·{d_w}) = "
        f"{rows} × {cols}: full rank min({rows}, {cols}) = {full} per group",
        f"energy kept at rank r per group = Σ over the {g} groups of (s_1² + … + s_r²), "
        f"over the kernel's Σ s²; M = {g}·r; largest s = {float(s.max()):.4g}, smallest "
        f"= {float(s.min()):.4g}",
        f"paper's M per group = ⌊{t}·{d_h * d_w}·{ci}·{co} / ({d_h * d_w}·{ci} + {t}·{co})⌋ "
        f"= {paper} (M = {g * paper}) = {paper / full:.1%} of full rank, keeps "
        f"{paper_energy:.2%} of the energy",
    ]
    if paper >= 1:
        own = group_shares(squares, paper)
        lines.append(f"  each group keeps from {min(own):.2%} to {max(own):.2%} at rank {paper}")
    return lines


def group_shares(squares: torch.Tensor, rank: int) -> tuple[float, ...]:
    """Each group's own share of its squared norm kept by its top ``rank`` singular values.

    A group whose kernel is all zeros has nothing to lose and counts as 1.0.

    Shape:
        - squares: (g, R_g), squared singular values, descending within each group
    """
    totals = squares.sum(1)
    kept = squares[:, :rank].sum(1)
    return tuple(float(k / t) if t > 0 else 1.0 for k, t in zip(kept, totals, strict=True))
