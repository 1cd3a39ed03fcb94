"""The low-rank view: a linear (2+1)D layer is a rank-M 3D convolution.

Without the BatchNorm + ReLU in the middle, a (2+1)D layer computes

    out[o] = sum_m temporal[o, m, τ] * (sum_i spatial[m, i, y, x] * x[i])

which is one 3D convolution with kernel

    W[o, i, τ, y, x] = sum_m temporal[o, m, τ] · spatial[m, i, y, x].

Unfold a 3D kernel as a matrix with rows (o, τ) and columns (i, y, x), of size
(C_out·t) × (C_in·d_h·d_w): the formula above says that matrix is the product
of a (C_out·t) × M and an M × (C_in·d_h·d_w) matrix, so its rank is at most
M. Conversely, the truncated SVD of any 3D kernel gives the best rank-M
approximation in Frobenius norm (Eckart–Young), and therefore the best linear
(2+1)D layer with M intermediate channels for that kernel:

- `unfold_kernel` / `fold_kernel` — the matrix view and back;
- `factorize(conv3d, rank)` — the (2+1)D layer (middle BN/ReLU off) of the
  truncated SVD, stride, padding and bias carried over exactly;
- `compose(layer)` — the `nn.Conv3d` that a linear (2+1)D layer equals, with the
  kernel of `composed_kernel(layer)` (the one place that product is computed);
- `energy_profile(conv3d)` — the share of squared singular values kept at each
  rank, the rank a target share needs, and what the paper's M keeps;
- `smooth_kernel` — a seeded, smooth 3D kernel to compare with random ones;
- energy-vs-rank curves are drawn by `r21d_edu.viz.energy_figure`.

A grouped or depthwise conv (``groups`` = g) is g convs side by side: `factorize`,
`compose` and `energy_profile` take it group by group — one SVD per group, the rank
per group, M = g·rank — with the arithmetic and its proof in `r21d_edu.lowrank_groups`.

Tensors are (N, C, T, H, W) clips; kernels are (C_out, C_in/groups, t, d_h, d_w) like
`nn.Conv3d.weight`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ._checks import (
    Triple,
    as_triple,
    check_dtype,
    check_fits_in_memory,
    check_formula_m,
    check_int,
    check_number,
    check_seed,
    is_number,
    rng_kept,
)
from ._moved import moved_names
from .layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv, intermediate_channels
from .lowrank_groups import (
    check_kernel_groups,
    compose_groups,
    energy_by_rank,
    explain_groups,
    group_full_rank,
    group_shares,
    unfold_groups,
)

__all__ = [
    "EnergyProfile",
    "compose",
    "composed_kernel",
    "energy_profile",
    "factorize",
    "fold_kernel",
    "smooth_kernel",
    "unfold_kernel",
]


# --------------------------------------------------------------------------
# The matrix view of a 3D kernel
# --------------------------------------------------------------------------


def _check_kernel(weight: object) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"expected a kernel tensor, got {type(weight).__name__}")
    if weight.dim() != 5:
        raise ValueError(
            "expected a 3D-conv kernel of shape (C_out, C_in, t, d_h, d_w) like "
            f"nn.Conv3d.weight, got shape {tuple(weight.shape)}"
        )
    return weight


def unfold_kernel(weight: torch.Tensor) -> torch.Tensor:
    """The 3D kernel as a (C_out·t) × (C_in·d_h·d_w) matrix.

    Row (o, τ) holds what output channel o takes from time offset τ; column
    (i, y, x) what comes from input channel i at pixel offset (y, x). Time goes
    with the output side because the temporal conv of the (2+1)D layer comes
    last (it maps M channels to C_out over t frames).

    Args:
        weight: (C_out, C_in, t, d_h, d_w), e.g. ``conv.weight``.

    Shape:
        - Input: (C_out, C_in, t, d_h, d_w)
        - Output: (C_out·t, C_in·d_h·d_w)
    """
    w = _check_kernel(weight)
    c_out, c_in, t, d_h, d_w = w.shape
    return w.permute(0, 2, 1, 3, 4).reshape(c_out * t, c_in * d_h * d_w)


def fold_kernel(
    matrix: torch.Tensor, out_channels: int, in_channels: int, kernel_size: int | Sequence[int]
) -> torch.Tensor:
    """Inverse of `unfold_kernel`: a (C_out·t) × (C_in·d_h·d_w) matrix back to a kernel.

    Args:
        matrix: the unfolded kernel.
        out_channels: C_out.
        in_channels: C_in.
        kernel_size: t, or (t, d_h, d_w).

    Shape:
        - Input: (C_out·t, C_in·d_h·d_w)
        - Output: (C_out, C_in, t, d_h, d_w)
    """
    t, d_h, d_w = as_triple(kernel_size, "kernel_size", minimum=1)
    out_channels = check_int(out_channels, "out_channels", minimum=1)
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    if not isinstance(matrix, torch.Tensor):
        raise TypeError(f"fold_kernel expects the unfolded kernel as a matrix tensor, got "
                        f"{type(matrix).__name__}")
    expected = (out_channels * t, in_channels * d_h * d_w)
    if tuple(matrix.shape) != expected:
        raise ValueError(
            f"expected a ({out_channels}·{t}) × ({in_channels}·{d_h}·{d_w}) = {expected} matrix "
            f"for {in_channels} -> {out_channels} channels and kernel {(t, d_h, d_w)}, got "
            f"shape {tuple(matrix.shape)}"
        )
    return matrix.reshape(out_channels, t, in_channels, d_h, d_w).permute(0, 2, 1, 3, 4)


def _check_conv3d(conv: object, what: str) -> nn.Conv3d:
    if not isinstance(conv, nn.Conv3d):
        raise TypeError(
            f"{what} expects an nn.Conv3d (or FullConv3d), got {type(conv).__name__}"
        )
    if tuple(conv.dilation) != (1, 1, 1):
        raise ValueError(
            f"{what} supports undilated convs only, got dilation={tuple(conv.dilation)}: the "
            "(2+1)D layer's convs have no dilation to carry it over"
        )
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise ValueError(
            f"{what} needs numeric zero padding, got padding={conv.padding!r}, padding_mode="
            f"{conv.padding_mode!r}: SpatioTemporalConv pads its two convs with zeros only, "
            "so another mode (or a padding string) would change the output at the borders; "
            "build the Conv3d with padding=(p_t, p_h, p_w) and padding_mode='zeros'"
        )
    _check_weight_values(conv.weight.detach(), what)
    return conv


def _check_weight_values(weight: torch.Tensor, what: str) -> None:
    """Refuse a kernel the SVD cannot take: shapes only (meta), NaN or inf, or too big."""
    if weight.device.type == "meta":
        raise ValueError(
            f"{what} needs the kernel's values, but its weights are on the meta device "
            "(shapes only); build the layer on the CPU, or load its weights first"
        )
    # The SVD turns one inf into NaN weights everywhere (and NaN into a bare LinAlgError).
    if not torch.isfinite(weight).all():
        bad = int((~torch.isfinite(weight)).sum())
        kinds = ", ".join(k for k, m in (("NaN", weight.isnan()), ("inf", weight.isinf()))
                          if m.any())
        raise ValueError(
            f"{what} needs a finite kernel, got {bad} of {weight.numel()} weights that are "
            f"{kinds}; a diverged training run leaves such weights: reload a checkpoint or "
            "replace them, e.g. torch.nan_to_num_(conv.weight.data)"
        )
    # The SVD holds the float64 matrix, U and Vᵀ: about three float64 copies of the kernel.
    check_fits_in_memory(3 * 8 * weight.numel(),
                         f"{what} of a kernel of shape {tuple(weight.shape)} (its SVD in float64)",
                         "factorize a smaller layer")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run LAPACK single-threaded for the duration of the block.

    The unfolded kernels here are small (192 × 576 for 64 -> 64): one thread
    takes milliseconds, while MKL's threaded SVD on a machine whose cores are
    busy was measured at 4 s for the same matrix — a slider must not wait that.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------
# Factorize and compose
# --------------------------------------------------------------------------


def factorize(conv: nn.Conv3d, rank: int | None = None) -> SpatioTemporalConv:
    """The best rank-``rank`` (2+1)D approximation of a 3D convolution.

    Takes the SVD of the unfolded kernel, ``U S Vᵀ``, keeps the top ``rank``
    singular values and splits each one evenly (√s to each side)::

        spatial  = √S_r · V_rᵀ   (rank × C_in·d_h·d_w)  -> kernels (rank, C_in, 1, d_h, d_w)
        temporal = U_r · √S_r    (C_out·t × rank)       -> kernels (C_out, rank, t, 1, 1)

    By Eckart–Young no rank-``rank`` kernel is closer to the original in
    Frobenius norm; the error is sqrt(s_{r+1}² + … ), see
    `EnergyProfile.error_at`. At full rank the layer computes the same function
    as ``conv`` (up to rounding). The SVD runs in float64; the layer comes back
    in ``conv``'s dtype and device.

    A grouped conv (``groups`` = g, depthwise when g = C_in) is g convs
    C_in/g -> C_out/g side by side: each group's (C_out/g·t) × (C_in/g·d_h·d_w)
    kernel gets its own SVD, ``rank`` is the rank *per group*, and the layer's two
    convs are grouped the same way, with M = g·rank intermediate channels. It is
    the best (2+1)D layer with ``rank`` channels per group (the error is the root
    of the groups' summed squared tails; `r21d_edu.lowrank_groups` proves it).

    Args:
        conv: an undilated `nn.Conv3d` / `FullConv3d` with numeric zero padding,
            grouped or not.
        rank: per group, 1 ≤ rank ≤ min(C_out/g·t, C_in/g·d_h·d_w) (with g = 1:
            M itself). None uses the paper's M of one group
            (`intermediate_channels` (C_in/g, C_out/g, kernel)).

    Returns:
        A `SpatioTemporalConv` with ``middle_bn_relu=False``, ``groups`` = g and
        M = g·``rank``, with ``conv``'s stride, padding and bias.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Middle: (N, g·rank, T, H', W')
        - Output: (N, C_out, T', H', W'), the same as ``conv``'s.

    Example::

        >>> conv = nn.Conv3d(64, 64, 3, padding=1)
        >>> factorize(conv).intermediate_channels   # the paper's M
        144
        >>> factorize(nn.Conv3d(64, 64, 3, groups=64), 3).intermediate_channels  # exact
        192
    """
    conv = _check_conv3d(conv, "factorize")
    weight = conv.weight.detach()
    g = conv.groups
    full = group_full_rank(weight, g)
    c_out, ci, t, d_h, d_w = weight.shape
    co = c_out // g  # ci and co: one group's channels
    if rank is None:
        rank = check_formula_m(intermediate_channels(ci, co, (t, d_h, d_w)), ci, co,
                               (t, d_h, d_w), fix=f"pass a rank between 1 and {full}")
    rank = check_int(rank, "rank", minimum=1)
    if rank > full:
        shape = "" if g == 1 else f" of each of the {g} groups, min(C_out/g·t, C_in/g·d_h·d_w)"
        raise ValueError(
            f"rank must be at most the full rank{shape or ' min(C_out·t, C_in·d_h·d_w)'} = "
            f"min({co}·{t}, {ci}·{d_h}·{d_w}) = {full}, got {rank}; a larger rank "
            f"adds only zero channels — use rank={full} for an exact factorization"
        )
    with one_thread():
        u, s, vh = torch.linalg.svd(unfold_groups(weight.double(), g), full_matrices=False)
    root = s[:, :rank].sqrt()  # (g, rank)
    # Group j's temporal kernels feed output block j from middle block j, and its
    # spatial kernels fill middle block j from input block j: stacking them group by
    # group is the layout of a grouped conv's weight.
    temporal = (u[:, :, :rank] * root[:, None, :]).reshape(c_out, t, rank).permute(0, 2, 1)
    spatial = (root[:, :, None] * vh[:, :rank]).reshape(g * rank, ci, d_h, d_w)
    with rng_kept():  # its initial weights are overwritten below: leave the RNG alone
        layer = SpatioTemporalConv(
            ci * g, c_out, (t, d_h, d_w), tuple(conv.stride), tuple(conv.padding),
            bias=conv.bias is not None, intermediate_channels=g * rank, middle_bn_relu=False,
            groups=g,
        ).to(device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        layer.spatial.weight.copy_(spatial.reshape(layer.spatial.weight.shape))
        layer.temporal.weight.copy_(temporal.reshape(layer.temporal.weight.shape))
        if conv.bias is not None:
            layer.temporal.bias.copy_(conv.bias)
    return layer


def composed_kernel(layer: SpatioTemporalConv | NaiveConv2Plus1d) -> torch.Tensor:
    """The 3D kernel of a (2+1)D layer's two convs, composed as if nothing sat between them.

    ``W[o, i, τ, y, x] = Σ_m temporal[o, m, τ] · spatial[m, i, y, x]``. For a layer
    built with ``middle_bn_relu=False`` this is the kernel the layer applies (see
    `compose`); with BN + ReLU in the middle it is the kernel of the layer's linear
    part only, which callers must say (``viz.effective_kernel(..., ignore_bn_relu=True)``).
    A grouped layer (groups = g) sums, for the outputs of group j, over the M/g middle
    channels of group j only (`lowrank_groups.compose_groups`).

    Shape:
        - Output: (C_out, C_in/groups, t, d_h, d_w), like ``nn.Conv3d.weight``, detached.
    """
    t, d_h, d_w = layer.kernel_size
    g = layer.groups
    m = layer.intermediate_channels
    temporal = layer.temporal.weight.detach().reshape(layer.out_channels, m // g, t)
    spatial = layer.spatial.weight.detach().reshape(m, layer.in_channels // g, d_h, d_w)
    return compose_groups(temporal, spatial, g)


def compose(layer: SpatioTemporalConv | NaiveConv2Plus1d) -> FullConv3d:
    """The 3D convolution that a linear (2+1)D layer computes.

    Its kernel is ``W[o, i, τ, y, x] = Σ_m temporal[o, m, τ] · spatial[m, i, y, x]``,
    with the layer's stride, padding and bias. Zero padding commutes with the
    bias-free spatial conv, so the padded 3D conv gives exactly the layer's
    output, borders included.

    Args:
        layer: a `SpatioTemporalConv` or `NaiveConv2Plus1d` built with
            ``middle_bn_relu=False``.

    Returns:
        A `FullConv3d` (an `nn.Conv3d`) in the layer's dtype and device, with
        the layer's ``groups``.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Kernel: (C_out, C_in/groups, t, d_h, d_w), of rank ≤ M when unfolded
          (≤ M/groups in each group's block)
        - Output: (N, C_out, T', H', W'), the same as the layer's.
    """
    if not isinstance(layer, (SpatioTemporalConv, NaiveConv2Plus1d)):
        raise TypeError(
            "compose expects a SpatioTemporalConv or NaiveConv2Plus1d, got "
            f"{type(layer).__name__}"
        )
    if not layer.is_linear:
        raise ValueError(
            "compose needs a layer built with middle_bn_relu=False: with BatchNorm + ReLU "
            "between the convs the layer is not a 3D convolution — ReLU is not linear "
            "(relu(a) + relu(b) != relu(a + b)), so no single kernel gives its output, and "
            "BatchNorm in training mode depends on the batch. Build the layer with "
            "middle_bn_relu=False (factorize does) to compose it"
        )
    kernel = composed_kernel(layer)
    with rng_kept():  # its initial weights are overwritten below: leave the RNG alone
        conv = FullConv3d(
            layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
            layer.padding, bias=layer.temporal.bias is not None, groups=layer.groups,
        ).to(device=kernel.device, dtype=kernel.dtype)
    with torch.no_grad():
        conv.weight.copy_(kernel)
        if conv.bias is not None:
            conv.bias.copy_(layer.temporal.bias)
    return conv


# --------------------------------------------------------------------------
# Energy per rank
# --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class EnergyProfile:
    """How much of a 3D kernel each rank of the (2+1)D factorization keeps.

    The energy kept at rank r is ``(s_1² + … + s_r²) / (s_1² + … + s_R²)`` with
    s the singular values of the unfolded kernel and R the full rank. It is the
    share of the kernel's squared Frobenius norm that the best rank-r (2+1)D
    layer reproduces.

    For a grouped kernel (``groups`` = g > 1) every rank is per group: each
    group's kernel is unfolded on its own, R is the per-group full rank, and the
    energy kept at rank r is ``Σ_groups (s_1² + … + s_r²) / Σ_groups ‖W_j‖²``
    (every group keeps its top r, so their shares add up); M = g·r.

    Fields: ``in_channels`` (all groups'), ``out_channels``, ``kernel_size``;
    ``unfolded_shape`` (rows, cols) of one group's matrix; ``full_rank`` R;
    ``singular_values`` (descending; for g > 1, g runs of R values, group 0
    first, see ``group_singular_values``); ``energy`` (``energy[r - 1]`` is the
    share kept at rank r); ``paper_rank`` (the paper's M for this shape, per
    group) and ``paper_energy``; ``groups``.
    Methods: `energy_at`, `rank_for`, `error_at`, `group_energy_at`.
    """

    in_channels: int
    out_channels: int
    kernel_size: Triple
    unfolded_shape: tuple[int, int]
    full_rank: int
    singular_values: tuple[float, ...]
    energy: tuple[float, ...]
    paper_rank: int
    paper_energy: float
    explanation: str = field(default="", compare=False)
    groups: int = 1

    @property
    def group_singular_values(self) -> tuple[tuple[float, ...], ...]:
        """One tuple of singular values per group, each descending."""
        r = self.full_rank
        return tuple(self.singular_values[j * r:(j + 1) * r] for j in range(self.groups))

    def _check_rank(self, rank: int) -> int:
        rank = check_int(rank, "rank", minimum=1)
        if rank > self.full_rank:
            raise ValueError(
                f"rank must be between 1 and the full rank {self.full_rank} of the "
                f"{self.unfolded_shape[0]} × {self.unfolded_shape[1]} unfolded kernel, got {rank}"
            )
        return rank

    def energy_at(self, rank: int) -> float:
        """Share of the squared singular values kept by the top ``rank`` (0..1)."""
        return self.energy[self._check_rank(rank) - 1]

    def rank_for(self, target: float) -> int:
        """The smallest rank that keeps at least ``target`` (0 < target ≤ 1) of the energy."""
        # A bool is not a share, and NaN fails 0 < target (so it is refused too).
        if not is_number(target) or not 0 < float(target) <= 1:
            error = ValueError if is_number(target) else TypeError
            raise error(f"target must be an energy share in (0, 1], e.g. 0.9 for 90 %, got "
                        f"{target!r}")
        target = float(target)
        for rank, kept in enumerate(self.energy, start=1):
            # A hair of tolerance so that target=1.0 is met despite rounding.
            if kept >= target - 1e-12:
                return rank
        return self.full_rank

    def error_at(self, rank: int) -> float:
        """Frobenius distance of the best rank-``rank`` kernel: sqrt(s_{r+1}² + … + s_R²),
        summed over the groups for a grouped kernel."""
        rank = self._check_rank(rank)
        return math.sqrt(sum(s * s for group in self.group_singular_values
                             for s in group[rank:]))

    def group_energy_at(self, rank: int) -> tuple[float, ...]:
        """Each group's own share kept at ``rank`` (one value, `energy_at`, when ungrouped).

        A group whose kernel is all zeros has nothing to lose and counts as 1.0.
        """
        squares = torch.tensor(self.singular_values, dtype=torch.float64).square()
        return group_shares(squares.reshape(self.groups, -1), self._check_rank(rank))

    def __str__(self) -> str:
        return self.explanation

    def __repr__(self) -> str:
        groups = f", groups={self.groups}" if self.groups != 1 else ""
        return (f"EnergyProfile({self.in_channels} -> {self.out_channels}, kernel="
                f"{self.kernel_size}{groups}, full_rank={self.full_rank}, paper_rank="
                f"{self.paper_rank}, paper_energy={self.paper_energy:.4f})")

    def _repr_markdown_(self) -> str:
        return "```text\n" + self.explanation + "\n```"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.explanation)}</pre>"


def energy_profile(conv_or_kernel: nn.Conv3d | torch.Tensor, *,
                   groups: int | None = None) -> EnergyProfile:
    """Energy kept per rank by factorizing a 3D kernel, and what the paper's M keeps.

    Args:
        conv_or_kernel: an undilated `nn.Conv3d` (grouped or not), or its weight
            tensor (C_out, C_in/groups, t, d_h, d_w).
        groups: keyword-only; the groups of a kernel tensor (a conv brings its
            own). Default: the conv's, or 1 for a tensor. With g > 1 every rank is
            per group and the energy adds up the groups' kept squares.

    Returns:
        `EnergyProfile`.

    Shape:
        - Kernel: (C_out, C_in/g, t, d_h, d_w), each group's block unfolded to
          (C_out/g·t) × (C_in/g·d_h·d_w)

    Example::

        >>> torch.manual_seed(0)
        >>> profile = energy_profile(nn.Conv3d(64, 64, 3))
        >>> profile.full_rank, profile.paper_rank
        (192, 144)
    """
    if isinstance(conv_or_kernel, nn.Module):
        conv = _check_conv3d(conv_or_kernel, "energy_profile")
        if groups is not None and groups != conv.groups:
            raise ValueError(f"energy_profile: groups={groups!r} was given for a conv with "
                             f"groups={conv.groups}; leave groups out for a conv")
        weight, g = conv.weight.detach(), conv.groups
    else:
        weight = _check_kernel(conv_or_kernel).detach()
        g = check_kernel_groups(weight, 1 if groups is None else groups, "energy_profile")
        _check_weight_values(weight, "energy_profile")
    c_out, ci, t, d_h, d_w = weight.shape
    co, c_in = c_out // g, ci * g  # one group's output channels; all input channels
    with one_thread():
        s = torch.linalg.svdvals(unfold_groups(weight.double().cpu(), g))  # (g, R)
    squares = s * s
    if float(squares.sum()) == 0.0:
        raise ValueError("the kernel is all zeros: it has no energy to share among ranks")
    energy = energy_by_rank(squares)
    full = len(energy)
    paper = intermediate_channels(ci, co, (t, d_h, d_w))
    paper_energy = energy[paper - 1] if paper >= 1 else 0.0
    rows, cols = co * t, ci * d_h * d_w
    if g > 1:
        lines = explain_groups(squares, (ci, co, t, d_h, d_w), paper, paper_energy)
    else:
        lines = [
            f"kernel ({c_out}, {c_in}, {t}, {d_h}, {d_w}) unfolded as (C_out·t) × "
            f"(C_in·d_h·d_w) = ({c_out}·{t}) × ({c_in}·{d_h}·{d_w}) = {rows} × {cols}: full "
            f"rank min({rows}, {cols}) = {full}",
            f"energy kept at rank r = (s_1² + … + s_r²) / (s_1² + … + s_{full}²); "
            f"s_1 = {float(s[0, 0]):.4g}, s_{full} = {float(s[0, -1]):.4g}",
            f"paper's M = ⌊{t}·{d_h * d_w}·{c_in}·{c_out} / ({d_h * d_w}·{c_in} + "
            f"{t}·{c_out})⌋ = {paper} = {paper / full:.1%} of full rank, keeps "
            f"{paper_energy:.2%} of the energy",
        ]
    if paper >= 2:
        half = paper // 2
        lines.append(f"half of it, rank {half}, keeps {energy[half - 1]:.2%}")
    ranks = {target: next(r for r, e in enumerate(energy, 1) if e >= target - 1e-12)
             for target in (0.5, 0.9, 0.99)}
    lines.append("rank needed for " + ", ".join(f"{t_:.0%}: {r}" for t_, r in ranks.items()))
    return EnergyProfile(c_in, c_out, (t, d_h, d_w), (rows, cols), full,
                         tuple(float(v) for v in s.flatten()), energy, paper, paper_energy,
                         "\n".join(lines), g)


# --------------------------------------------------------------------------
# A smooth kernel, and a figure
# --------------------------------------------------------------------------


def smooth_kernel(
    out_channels: int,
    in_channels: int,
    kernel_size: int | Sequence[int] = 3,
    *,
    seed: int = 0,
    decay: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """A seeded kernel that varies smoothly in time and space, like a trained one.

    Each (output, input) channel pair gets a sum of 3D cosines (a DCT) whose
    random coefficients shrink like ``exp(-decay · (f_t² + f_h² + f_w²))`` with
    the frequency: the slowly varying patterns dominate, so the unfolded kernel
    has a few strong directions and its energy concentrates in low ranks,
    unlike a random (white-noise) kernel.

    Args:
        out_channels: C_out.
        in_channels: C_in.
        kernel_size: t, or (t, d_h, d_w). Default: 3.
        seed: seed of the coefficients (the global RNG is left alone).
        decay: how fast high frequencies fade; 0 gives white noise. Default: 1.0.
        dtype: Default: ``torch.float64``.

    Shape:
        - Output: (C_out, C_in, t, d_h, d_w), like ``nn.Conv3d.weight``.
    """
    c_out = check_int(out_channels, "out_channels", minimum=1)
    c_in = check_int(in_channels, "in_channels", minimum=1)
    sizes = as_triple(kernel_size, "kernel_size", minimum=1)
    decay = check_number(decay, "decay", minimum=0.0)
    dtype = check_dtype(dtype)
    # The coefficients, their product with the basis and the result: three float64 kernels.
    check_fits_in_memory(3 * 8 * c_out * c_in * math.prod(sizes),
                         f"a smooth kernel of shape {(c_out, c_in, *sizes)}",
                         "ask for fewer channels or a smaller kernel")
    generator = torch.Generator().manual_seed(check_seed(seed))

    def dct_basis(n: int) -> torch.Tensor:  # (frequency, position), orthonormal
        pos = torch.arange(n, dtype=torch.float64) + 0.5
        freq = torch.arange(n, dtype=torch.float64)[:, None]
        basis = torch.cos(math.pi * freq * pos / n)
        return basis / basis.norm(dim=1, keepdim=True)

    b_t, b_h, b_w = (dct_basis(n) for n in sizes)
    f_t, f_h, f_w = (torch.arange(n, dtype=torch.float64) for n in sizes)
    scale = torch.exp(-decay * (f_t[:, None, None] ** 2 + f_h[None, :, None] ** 2
                                + f_w[None, None, :] ** 2))
    coeffs = torch.randn(c_out, c_in, *sizes, generator=generator, dtype=torch.float64) * scale
    # The 3D inverse DCT of every channel pair at once: one small matrix product with
    # the Kronecker product of the three 1D bases (one thread: see `one_thread`).
    basis = torch.kron(torch.kron(b_t, b_h), b_w)
    with one_thread():
        kernel = (coeffs.reshape(c_out * c_in, -1) @ basis).reshape(c_out, c_in, *sizes)
    # Same overall size as nn.Conv3d's default init, so plots compare like with like.
    fan_in = c_in * math.prod(sizes)
    kernel = kernel / kernel.std() / math.sqrt(3 * fan_in)
    return kernel.to(dtype)


# Figures moved to r21d_edu.viz, so that `import r21d_edu` needs no matplotlib; the old
# import path keeps working, with a warning, and imports viz only when it is used.
__getattr__ = moved_names(__name__, {"energy_figure": "r21d_edu.viz.energy"})
