"""Profile a 3D network for factorization: which convs can be, and what each rank costs.

The first half of factorizing a network (`r21d_edu.netfactor` does the second):

1. `is_eligible(conv)` — an `nn.Conv3d` whose kernel is t×d_h×d_w with t > 1 and
   d > 1 (max(d_h, d_w) > 1): a 1×1×1 shortcut, a 1×d×d spatial or a t×1×1 temporal
   conv has nothing to factorize and is kept. Grouped and depthwise convs are
   eligible: each group is factorized on its own (`r21d_edu.lowrank_groups`), M is
   g times the rank per group, and every rank below is per group.
2. `network_profile(model, input_shape)` — the singular values of every eligible
   conv (one SVD each) and what each rank would cost in parameters and MACs
   (`ConvProfile` per conv). Choosing M from a profile is arithmetic, so a slider
   can ask for a new plan on every move.
3. `NetworkProfile.plan(rank= / energy= / budget=)` — M for every layer, as a
   `FactorizationReport` (name, shape, M, energy kept, parameters and MACs before
   and after) with a rich Jupyter display.

Tensors are (N, C, T, H, W) clips throughout.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Literal

import torch
from torch import nn

from ._checks import (
    Triple,
    check_choice,
    check_int,
    check_shape,
    is_int,
    is_number,
)
from .layers import intermediate_channels
from .lowrank import one_thread
from .lowrank_groups import energy_by_rank, unfold_groups

# The plan's report only formats; it lives beside this file and is re-exported.
from .netreport import FactorizationReport, LayerReport, Shape, format_count

__all__ = [
    "ConvProfile",
    "FactorizationReport",
    "LayerReport",
    "NetworkProfile",
    "eligible_convs",
    "is_eligible",
    "network_profile",
]

Cost = Literal["params", "macs"]
Unsupported = Literal["raise", "keep"]


# --------------------------------------------------------------------------
# Which convs can be factorized
# --------------------------------------------------------------------------


def is_eligible(module: nn.Module) -> bool:
    """True for an `nn.Conv3d` with a t×d_h×d_w kernel, t > 1 and max(d_h, d_w) > 1.

    Shape:
        Not a tensor function.
    """
    if not isinstance(module, nn.Conv3d):
        return False
    t, d_h, d_w = module.kernel_size
    return t > 1 and max(d_h, d_w) > 1


def _unsupported_reason(conv: nn.Conv3d) -> str | None:
    """Why `factorize` cannot carry this conv over exactly, or None (groups are fine)."""
    if tuple(conv.dilation) != (1, 1, 1):
        return (f"dilation={tuple(conv.dilation)}: the (2+1)D layer's convs have no dilation "
                "to carry it over")
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        return (f"padding={conv.padding!r} with padding_mode={conv.padding_mode!r}: "
                "SpatioTemporalConv pads its two convs with zeros only (numeric amounts), so "
                "another mode would change the output at the borders")
    if conv.weight.device.type == "meta":
        return "its weights are on the meta device: there is no kernel to take the SVD of"
    return None


def eligible_convs(model: nn.Module, unsupported: Unsupported, what: str
                    ) -> tuple[list[tuple[str, nn.Conv3d]], list[tuple[str, str]]]:
    """(name, conv) of every eligible conv, and (name, reason) of every one kept as it is."""
    chosen, kept = [], []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Conv3d):
            continue
        if not is_eligible(module):
            kept.append((name, f"kernel {tuple(module.kernel_size)}: nothing to factorize"))
            continue
        reason = _unsupported_reason(module)
        if reason is None:
            chosen.append((name, module))
        elif unsupported == "keep":
            kept.append((name, reason))
        else:
            raise ValueError(
                f"{what}: layer {name!r} ({module}) cannot be factorized: {reason}. Pass "
                "unsupported='keep' to keep such layers as 3D convs, or rebuild the layer "
                "without it")
    return chosen, kept


# --------------------------------------------------------------------------
# The profile: singular values and costs per eligible layer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvProfile:
    """One eligible conv: its shape, its singular values, and what a rank costs.

    Fields: ``name`` (the module's dotted name), ``in_channels``,
    ``out_channels``, ``kernel_size`` (t, d_h, d_w), ``stride``, ``bias``;
    ``singular_values`` of the (C_out·t) × (C_in·d_h·d_w) unfolded kernel,
    descending; ``input_size`` (N, T, H, W) of its input and ``output_size``
    (T', H', W') of its output for the profile's input shape (None without
    one); ``groups``.

    A grouped conv (``groups`` = g) is g convs C_in/g -> C_out/g: its
    ``singular_values`` are g runs of ``full_rank`` values (group 0 first, each
    descending) of the groups' (C_out/g·t) × (C_in/g·d_h·d_w) kernels, a rank is
    per group (M = g·rank), and the energy at rank r adds up every group's top r.
    """

    name: str
    in_channels: int
    out_channels: int
    kernel_size: Triple
    stride: Triple
    bias: bool
    singular_values: tuple[float, ...]
    input_size: tuple[int, int, int, int] | None = None
    output_size: Triple | None = None
    groups: int = 1

    @property
    def full_rank(self) -> int:
        """Per group: min(C_out/g·t, C_in/g·d_h·d_w)."""
        return len(self.singular_values) // self.groups

    @cached_property
    def energy(self) -> tuple[float, ...]:
        """``energy[r - 1]``: share of the squared singular values the top r (per group) keep."""
        if self.groups == 1:  # the sum in the order it always had: stored plans stay equal
            squares = [s * s for s in self.singular_values]
            total = sum(squares) or 1.0
            running, shares = 0.0, []
            for value in squares:
                running += value
                shares.append(running / total)
            return tuple(shares)
        squares = torch.tensor(self.singular_values, dtype=torch.float64).square()
        shares = energy_by_rank(squares.reshape(self.groups, self.full_rank))
        # An all-zero kernel has nothing to lose: every rank keeps all of it, as above.
        return shares if shares[-1] > 0 else (1.0,) * self.full_rank

    def energy_at(self, rank: int) -> float:
        return self.energy[rank - 1]

    def rank_for(self, energy: float) -> int:
        """The smallest rank that keeps at least ``energy`` of the squared singular values."""
        for rank, kept in enumerate(self.energy, start=1):
            if kept >= energy - 1e-12:  # so that energy=1.0 is met despite rounding
                return rank
        return self.full_rank

    def relative_error_at(self, rank: int) -> float:
        """‖W − W_r‖_F / ‖W‖_F = sqrt(1 − energy kept): what Eckart–Young says is lost."""
        return math.sqrt(max(0.0, 1.0 - self.energy_at(rank)))

    @property
    def params_3d(self) -> int:
        """t·d_h·d_w·C_in·C_out/g weights, plus the bias."""
        t, d_h, d_w = self.kernel_size
        weights = self.out_channels * (self.in_channels // self.groups) * t * d_h * d_w
        return weights + self.out_channels * self.bias

    def rank_params(self) -> int:
        """Parameters one more rank costs: C_in·d_h·d_w + C_out·t.

        For g groups that is one more channel in each: g·(d_h·d_w·C_in/g + t·C_out/g),
        the same sum.
        """
        t, d_h, d_w = self.kernel_size
        return self.in_channels * d_h * d_w + self.out_channels * t

    def params_at(self, rank: int) -> int:
        return rank * self.rank_params() + self.out_channels * self.bias

    @property
    def macs_3d(self) -> int | None:
        if self.output_size is None or self.input_size is None:
            return None
        t, d_h, d_w = self.kernel_size
        n = self.input_size[0]
        per_output = (self.in_channels // self.groups) * t * d_h * d_w
        return n * math.prod(self.output_size) * self.out_channels * per_output

    def rank_macs(self) -> int | None:
        """MACs one more intermediate channel (per group) costs on the profile's input.

        The spatial conv writes T×H'×W' values per channel (it keeps every
        frame), each a sum of C_in·d_h·d_w products; the temporal conv reads
        that channel t times for each of its C_out×T'×H'×W' outputs. With g
        groups, g channels of C_in/g·d_h·d_w products and C_out outputs reading
        one more channel of their group: the same sum.
        """
        if self.output_size is None or self.input_size is None:
            return None
        t, d_h, d_w = self.kernel_size
        n, frames = self.input_size[0], self.input_size[1]
        t_out, h_out, w_out = self.output_size
        return n * (self.in_channels * d_h * d_w * frames * h_out * w_out
                    + self.out_channels * t * t_out * h_out * w_out)

    def macs_at(self, rank: int) -> int | None:
        unit = self.rank_macs()
        return None if unit is None else rank * unit

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping) -> ConvProfile:
        if not isinstance(values, Mapping):
            raise TypeError(f"a layer of a stored profile must be a dict, got "
                            f"{type(values).__name__}")
        needed = ("name", "in_channels", "out_channels", "kernel_size", "stride", "bias",
                  "singular_values")
        missing = [k for k in needed if k not in values]
        if missing:
            raise ValueError(f"a layer of a stored profile lacks {', '.join(missing)} (it has "
                             f"{', '.join(map(str, values))}); write it with "
                             "NetworkProfile.to_dict()")
        tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        try:
            return cls(**tuples)
        except TypeError as error:
            raise ValueError(f"a layer of a stored profile does not fit ConvProfile: {error}") \
                from None


@dataclass(frozen=True, repr=False)
class NetworkProfile:
    """The singular values and costs of every eligible conv of one network.

    Made by `network_profile`; `plan` chooses M per layer from it without
    another SVD, and `to_dict` / `from_dict` store it as JSON (the trade-off
    study keeps the trained network's profile so the tutorial's slider needs
    no weights).

    Fields: ``model_name``; ``layers`` (`ConvProfile`); ``kept`` ((name,
    reason) of every Conv3d left as it is); ``input_shape`` (None: no MACs);
    ``params`` and ``macs`` of the whole network.
    """

    model_name: str
    layers: tuple[ConvProfile, ...]
    kept: tuple[tuple[str, str], ...]
    input_shape: Shape | None
    params: int
    macs: int | None

    def __repr__(self) -> str:
        return (f"NetworkProfile({self.model_name}: {len(self.layers)} eligible Conv3d, "
                f"{len(self.kept)} kept, params={self.params:,}, macs={format_count(self.macs)})")

    def to_dict(self) -> dict:
        return {"model_name": self.model_name, "layers": [p.to_dict() for p in self.layers],
                "kept": [list(k) for k in self.kept],
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "params": self.params, "macs": self.macs}

    @classmethod
    def from_dict(cls, values: Mapping) -> NetworkProfile:
        """Read a profile written by `to_dict` (e.g. from a results.json), checking its fields."""
        if not isinstance(values, Mapping):
            raise TypeError(f"a stored NetworkProfile is a dict (from NetworkProfile.to_dict), "
                            f"got {type(values).__name__}")
        missing = [k for k in ("model_name", "layers", "params") if k not in values]
        if missing:
            raise ValueError(f"a stored NetworkProfile needs model_name, layers and params; "
                             f"this one lacks {', '.join(missing)}")
        if not isinstance(values["layers"], (list, tuple)):
            raise TypeError(f"a stored NetworkProfile's layers must be a list, got "
                            f"{values['layers']!r}")
        shape = values.get("input_shape")
        return cls(values["model_name"],
                   tuple(ConvProfile.from_dict(p) for p in values["layers"]),
                   tuple(tuple(k) for k in values.get("kept", ())),
                   None if shape is None else tuple(shape), int(values["params"]),
                   values.get("macs"))

    def plan(
        self,
        *,
        rank: int | Literal["paper"] | Mapping[str, int] | None = None,
        energy: float | None = None,
        budget: int | float | None = None,
        cost: Cost = "params",
    ) -> FactorizationReport:
        """Choose M for every layer; exactly one of ``rank``, ``energy``, ``budget``.

        Args:
            rank: the same M for every layer (capped at each layer's full
                rank, where the factorization is already exact), ``"paper"``
                for each layer's M from the paper's formula (same parameters
                as the 3D conv), or a mapping layer name -> M.
            energy: keep at least this share (0 < energy ≤ 1) of each layer's
                squared singular values: M = the smallest rank that does.
            budget: the whole network's parameters (``cost="params"``) or MACs
                (``cost="macs"``) after factorizing, at most: an int is a
                count, a float in (0, 1] a share of the network's count
                before. How it is shared out: every layer starts at M = 1,
                then one intermediate channel at a time goes to the layer
                whose next singular value buys the most energy share
                (s²_{r+1} / Σ s²) per parameter (or MAC) it costs, as long as
                it fits. Singular values fall, so a layer's gains fall with
                each channel and this greedy choice maximizes the summed
                energy shares, up to the last channel that no longer fits.
                The budget is never exceeded; one below what M = 1 everywhere
                costs is refused.
            cost: what ``budget`` counts: ``"params"`` or ``"macs"`` (which
                needs the profile's input shape).

        Returns:
            `FactorizationReport`.
        """
        given = [name for name, value in (("rank", rank), ("energy", energy),
                                          ("budget", budget)) if value is not None]
        if len(given) != 1:
            raise ValueError(
                "choose M with exactly one of rank= (e.g. 16, or 'paper'), energy= (e.g. 0.9) "
                f"or budget= (e.g. 0.5 of the parameters), got {given or 'none'}")
        check_choice(cost, "cost", ("params", "macs"))
        if rank is not None:
            ranks, rule = self._ranks_fixed(rank)
        elif energy is not None:
            if not is_number(energy) or not 0 < float(energy) <= 1:  # NaN fails 0 < nan
                raise ValueError(f"energy must be a share in (0, 1], e.g. 0.9 to keep 90 % of "
                                 f"each layer's squared singular values, got {energy!r}")
            energy = float(energy)
            ranks = [layer.rank_for(energy) for layer in self.layers]
            rule = f"energy ≥ {energy:g}"
        else:
            ranks, rule = self._ranks_for_budget(budget, cost)
        return self._report(ranks, rule)

    def _ranks_fixed(self, rank: object) -> tuple[list[int], str]:
        if rank == "paper":
            # A grouped conv's M per group is the paper's M of one group's channels.
            ranks = [min(max(intermediate_channels(p.in_channels // p.groups,
                                                   p.out_channels // p.groups,
                                                   p.kernel_size), 1), p.full_rank)
                     for p in self.layers]
            return ranks, "paper's M per layer"
        if isinstance(rank, Mapping):
            names = {p.name for p in self.layers}
            unknown = sorted(set(rank) - names)
            if unknown:
                raise ValueError(f"rank names layers that are not eligible Conv3d of this "
                                 f"network: {unknown}; the eligible ones are {sorted(names)}")
            missing = sorted(names - set(rank))
            if missing:
                raise ValueError(f"rank gives no M for {missing}; give one for every eligible "
                                 "layer, or use rank=<int> for all")
            ranks = []
            for p in self.layers:
                m = check_int(rank[p.name], f"rank[{p.name!r}]", minimum=1)
                if m > p.full_rank:
                    raise ValueError(f"rank[{p.name!r}] = {m} exceeds the layer's full rank "
                                     f"{p.full_rank}; at {p.full_rank} it is already exact")
                ranks.append(m)
            return ranks, "M per layer as given"
        if isinstance(rank, str):
            raise ValueError(f"rank must be an int, 'paper' or a mapping layer name -> M, got "
                             f"{rank!r}")
        m = check_int(rank, "rank", minimum=1)
        return [min(m, p.full_rank) for p in self.layers], f"rank {m} (capped at full rank)"

    def _total(self, cost: Cost) -> int:
        if cost == "params":
            return self.params
        if self.macs is None:
            raise ValueError("a MAC budget needs the MACs of every layer: build the profile "
                             "with an input_shape, e.g. network_profile(model, (1, 3, 16, 112, "
                             "112))")
        return self.macs

    def _ranks_for_budget(self, budget: object, cost: Cost) -> tuple[list[int], str]:
        total = self._total(cost)
        if not is_number(budget):
            raise TypeError(f"budget must be a count (int) or a share in (0, 1] (float), "
                            f"got {budget!r}")
        if not is_int(budget):
            budget = float(budget)  # type: ignore[arg-type]
            if not 0 < budget <= 1:  # NaN and inf fail this too
                raise ValueError(f"a float budget is a share of the network's {cost} in (0, 1], "
                                 f"got {budget}; pass an int for a count")
            limit, rule = int(budget * total), f"budget {budget:.0%} of {cost}"
        else:
            limit = check_int(budget, "budget", minimum=1)
            rule = f"budget {limit:,} {cost}"

        def before(p: ConvProfile) -> int:
            return p.params_3d if cost == "params" else p.macs_3d  # type: ignore[return-value]

        def unit(p: ConvProfile) -> int:
            return p.rank_params() if cost == "params" else p.rank_macs()  # type: ignore

        def fixed(p: ConvProfile) -> int:
            return p.out_channels * p.bias if cost == "params" else 0

        rest = total - sum(before(p) for p in self.layers)
        ranks = [1] * len(self.layers)
        spent = rest + sum(fixed(p) + unit(p) for p in self.layers)
        if spent > limit:
            raise ValueError(
                f"{rule} = {limit:,} is below the least this network can cost with every "
                f"eligible layer at M = 1: {spent:,} {cost} ({rest:,} in the other modules); "
                f"ask for at least {spent:,}")
        shares = [p.energy for p in self.layers]
        # Max-heap of (energy share bought per unit of cost) for each layer's next channel.
        heap = [(-(shares[i][1] - shares[i][0]) / unit(p), i)
                for i, p in enumerate(self.layers) if p.full_rank > 1]
        heapq.heapify(heap)
        while heap:
            _, i = heapq.heappop(heap)
            p = self.layers[i]
            if spent + unit(p) > limit:
                continue  # this layer's channels all cost the same: none fits any more
            spent += unit(p)
            ranks[i] += 1
            if ranks[i] < p.full_rank:
                gain = shares[i][ranks[i]] - shares[i][ranks[i] - 1]
                heapq.heappush(heap, (-gain / unit(p), i))
        return ranks, rule

    def _report(self, ranks: Sequence[int], rule: str) -> FactorizationReport:
        rows = []
        for p, m in zip(self.layers, ranks, strict=True):
            rows.append(LayerReport(
                p.name, p.in_channels, p.out_channels, p.kernel_size, p.stride, m, p.full_rank,
                p.energy_at(m), p.relative_error_at(m), p.params_3d, p.params_at(m),
                p.macs_3d, p.macs_at(m), p.groups))
        params_after = self.params + sum(r.params_after - r.params_before for r in rows)
        macs_after = None if self.macs is None else (
            self.macs + sum(r.macs_after - r.macs_before for r in rows))  # type: ignore[operator]
        return FactorizationReport(rule, tuple(rows), self.kept, self.input_shape, self.params,
                                   params_after, self.macs, macs_after)


def _default_input_shape(model: nn.Module) -> Shape | None:
    shape = getattr(model, "default_input_shape", None)
    if shape is None:
        return None
    shape = list(shape)
    # A VideoResNet built for grey clips (the family) takes 1 channel, not RGB's 3.
    shape[1] = getattr(model, "in_channels", shape[1])
    return tuple(shape)


def _trace_sizes(model: nn.Module, names: Iterable[str], input_shape: Shape
                 ) -> tuple[dict[str, tuple], int]:
    """Input (N, T, H, W) and output (T', H', W') of the named convs, and the network's MACs.

    Runs the model once on the meta device (shapes only, no memory, the
    caller's weights untouched), like `summarize_network`.
    """
    from .counting import summarize_network

    meta = copy.deepcopy(model).to("meta").eval()
    floats = [p.dtype for p in model.parameters() if p.is_floating_point()]
    dtype = floats[0] if floats else torch.float32  # layers check the clip's dtype
    sizes: dict[str, tuple] = {}
    handles = []
    for name in names:
        def hook(_module, inputs, output, name=name):  # noqa: ANN001
            x = inputs[0]
            sizes[name] = ((x.shape[0], *x.shape[2:]), tuple(output.shape[2:]))
        handles.append(meta.get_submodule(name).register_forward_hook(hook))
    try:
        with torch.no_grad():
            meta(torch.zeros(input_shape, device="meta", dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
    return sizes, summarize_network(meta, input_shape, dtype=dtype).macs


def _singular_values(name: str, conv: nn.Conv3d) -> tuple[float, ...]:
    """Singular values of the unfolded kernel, descending, from its smaller Gram matrix.

    The energies need only the squared singular values, which are the
    eigenvalues of W Wᵀ (or Wᵀ W, whichever is smaller): for R3D-18's layer4
    kernels (1,536 × 4,608) that is a 1,536 × 1,536 symmetric eigenproblem,
    several times faster than the SVD. In float64 the squares are accurate
    to ~1e-16 of the largest, far below any energy share this module reports.
    A grouped conv gets one (batched) eigenproblem per group, group 0 first.
    """
    weight = conv.weight.detach()
    if not torch.isfinite(weight).all():
        raise ValueError(
            f"layer {name!r} holds {int((~torch.isfinite(weight)).sum())} weights that are NaN "
            "or inf (a diverged training run leaves such weights); reload a checkpoint or "
            "replace them, e.g. torch.nan_to_num_(conv.weight.data)")
    matrix = unfold_groups(weight.double().cpu(), conv.groups)  # (g, rows, cols)
    wide = matrix.shape[1] <= matrix.shape[2]
    gram = matrix @ matrix.mT if wide else matrix.mT @ matrix
    with one_thread():
        squares = torch.linalg.eigvalsh(gram).flip(-1).clamp(min=0.0)
    return tuple(float(v) for v in squares.sqrt().flatten())


def network_profile(
    model: nn.Module,
    input_shape: Sequence[int] | None = None,
    *,
    unsupported: Unsupported = "raise",
) -> NetworkProfile:
    """Singular values and per-rank costs of every eligible Conv3d of `model`.

    One symmetric eigenproblem per layer (float64, one thread; see
    `_singular_values`).

    Args:
        model: any `nn.Module`; it is not changed.
        input_shape: the clip (N, C, T, H, W) MACs are counted for. Default:
            the model's ``default_input_shape`` if it has one (VideoResNet:
            (1, C, 16, 112, 112)), else no MACs.
        unsupported: what to do with an eligible conv that cannot be
            factorized exactly (dilation, non-zero padding modes; grouped and
            depthwise convs can, group by group):
            ``"raise"`` (default) a ValueError naming the layer, or ``"keep"``
            it as a 3D conv.

    Returns:
        `NetworkProfile`.

    Shape:
        - Input of the model: ``input_shape`` = (N, C, T, H, W)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"network_profile expects an nn.Module, got {type(model).__name__}")
    check_choice(unsupported, "unsupported", ("raise", "keep"))
    chosen, kept = eligible_convs(model, unsupported, "network_profile")
    if input_shape is None:
        input_shape = _default_input_shape(model)
    shape = None if input_shape is None else check_shape(input_shape)
    sizes, macs = ({}, None) if shape is None else _trace_sizes(
        model, [name for name, _ in chosen], shape)
    layers = []
    for name, conv in chosen:
        traced = sizes.get(name)
        layers.append(ConvProfile(
            name, conv.in_channels, conv.out_channels, tuple(conv.kernel_size),
            tuple(conv.stride), conv.bias is not None, _singular_values(name, conv),
            None if traced is None else tuple(traced[0]),
            None if traced is None else tuple(traced[1]), conv.groups))
    params = sum(p.numel() for p in model.parameters())
    return NetworkProfile(type(model).__name__, tuple(layers), tuple(kept), shape, params, macs)
