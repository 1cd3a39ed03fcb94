"""Factorize a whole 3D network: every eligible Conv3d becomes its best rank-M (2+1)D layer.

Steps 1 and 2 (which convs, what each rank costs) live in `r21d_edu.netprofile` and
are re-exported here; this module holds steps 3 to 5.

`r21d_edu.lowrank.factorize` turns one `nn.Conv3d` into the best linear (2+1)D
layer with M intermediate channels (truncated SVD, Eckart–Young). This module
does it for a whole network — yours, or R3D-18 with Kinetics weights — and
says what each layer keeps:

1. `network_profile(model, input_shape)` — the singular values of every
   eligible conv (one SVD each) and what each rank would cost in parameters
   and MACs. Choosing M from a profile is arithmetic, so a slider can ask for
   a new plan on every move.
2. `NetworkProfile.plan(rank= / energy= / budget=)` — M for every layer, as a
   `FactorizationReport` (name, shape, M, energy kept, parameters and MACs
   before and after) with a rich Jupyter display.
3. `factorize_network(model, rank= / energy= / budget=)` — a new network (the
   input is left untouched) with those layers replaced; ``.factorization``
   holds its report.
4. `compose_network(model)` — the reverse: every linear (2+1)D layer composed
   back into one `nn.Conv3d`.
5. `insert_middle_bn_relu(model, clips)` — from a linear factorization to
   R(2+1)D: BatchNorm + ReLU between the halves, initialised so the block
   starts near the linear one, ready to fine-tune with `r21d_edu.training.train`.

Eligible means an `nn.Conv3d` whose kernel is t×d_h×d_w with t > 1 and d > 1
(max(d_h, d_w) > 1): a 1×1×1 shortcut, a 1×d×d spatial or a t×1×1 temporal
conv has nothing to factorize and is kept. A grouped or depthwise conv (ir-CSN's
3×3×3, groups = C) is eligible: it becomes a grouped (2+1)D layer, one truncated
SVD per group, with the rank per group. Other modules are kept as they
are. Tensors are (N, C, T, H, W) clips throughout.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

from ._checks import (
    check_choice,
    check_finite,
    check_number,
    rng_kept,
)
from .layers import NaiveConv2Plus1d, SpatioTemporalConv
from .lowrank import compose, factorize

# Profiling (steps 1-2) lives in netprofile.py; re-exported so that one import serves.
from .netprofile import (
    ConvProfile,
    Cost,
    FactorizationReport,
    LayerReport,
    NetworkProfile,
    Unsupported,
    is_eligible,
    network_profile,
)

__all__ = [
    "ConvProfile",
    "FactorizationReport",
    "LayerReport",
    "NetworkProfile",
    "compose_network",
    "factorize_network",
    "insert_middle_bn_relu",
    "is_eligible",
    "network_profile",
]


# --------------------------------------------------------------------------
# 1. Building the factorized network, and back
# --------------------------------------------------------------------------


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)  # an nn.Sequential's "0" is replaced in place, keys kept


def factorize_network(
    model: nn.Module,
    *,
    rank: int | Literal["paper"] | Mapping[str, int] | None = None,
    energy: float | None = None,
    budget: int | float | None = None,
    cost: Cost = "params",
    input_shape: Sequence[int] | None = None,
    unsupported: Unsupported = "raise",
    profile: NetworkProfile | None = None,
) -> nn.Module:
    """A copy of `model` with every eligible Conv3d replaced by its best rank-M (2+1)D layer.

    Each conv t×d_h×d_w (t > 1, max(d_h, d_w) > 1) becomes
    `lowrank.factorize` (conv, M): a `SpatioTemporalConv` without middle
    BN/ReLU whose kernel is the truncated SVD of the unfolded 3D kernel —
    stride, padding and bias carried over, and by Eckart–Young no rank-M
    (2+1)D layer is closer. A grouped conv (groups = g) becomes a grouped
    (2+1)D layer with the planned rank per group (M = g·rank; the plan's costs
    are g·rank·(d_h·d_w·C_in/g + t·C_out/g) weights). Every other module
    (BatchNorm, 1×1×1 shortcuts, 2D convs, the classifier) is kept as it is,
    with its state. At full rank the new network computes what the old one
    does (to float rounding: test it in float64, eval mode).

    Args:
        model: any `nn.Module`; it is deep-copied and left untouched.
        rank, energy, budget, cost: how M is chosen per layer; exactly one of
            rank / energy / budget, see `NetworkProfile.plan`.
        input_shape: the clip (N, C, T, H, W) MACs are counted for (see
            `network_profile`); needed for ``cost="macs"``.
        unsupported: ``"raise"`` (default) refuses a dilated or non-zero-padded
            eligible conv with an error naming the layer and why; ``"keep"``
            keeps it as a 3D conv (listed in the report). Grouped convs are
            factorized group by group.
        profile: a `NetworkProfile` of this very model, to skip the SVDs when
            factorizing the same network several times.

    Returns:
        The new network, in the input's dtype, device and train/eval mode;
        its ``factorization`` attribute is the `FactorizationReport`.

    Shape:
        - Input: (N, C, T, H, W), as `model`'s
        - Output: as `model`'s

    Example::

        >>> # R3D-18: 17 SVDs, 47 s on a shared 2-core CPU (most of it layer4's kernels)
        >>> small = factorize_network(r3d_18(), energy=0.9, input_shape=(1, 3, 16, 112, 112))
        >>> small.factorization            # the per-layer table in Jupyter
    """
    if profile is None:
        profile = network_profile(model, input_shape, unsupported=unsupported)
    elif not isinstance(profile, NetworkProfile):
        raise TypeError(f"profile must be a NetworkProfile, got {type(profile).__name__}")
    report = profile.plan(rank=rank, energy=energy, budget=budget, cost=cost)
    new = copy.deepcopy(model)
    for layer in report.layers:
        try:
            conv = new.get_submodule(layer.name)
        except AttributeError:
            conv = None
        if (not is_eligible(conv) or tuple(conv.kernel_size) != layer.kernel_size
                or conv.groups != layer.groups):
            raise ValueError(f"the profile names {layer.name!r} with kernel {layer.kernel_size} "
                             f"and groups={layer.groups}, which this model does not have: the "
                             "profile belongs to another network; build it with "
                             "network_profile(model)")
        factorized = factorize(conv, layer.rank)
        factorized.train(conv.training)
        _replace(new, layer.name, factorized)
    new.factorization = report
    return new


def compose_network(model: nn.Module, *, unsupported: Unsupported = "raise") -> nn.Module:
    """The reverse of `factorize_network`: every linear (2+1)D layer composed into one Conv3d.

    Each `SpatioTemporalConv` or `NaiveConv2Plus1d` built with
    ``middle_bn_relu=False`` becomes `lowrank.compose` (layer), a `FullConv3d`
    with kernel Σ_m temporal ⊗ spatial: the same function, as one 3D conv.

    Args:
        model: any `nn.Module`; it is deep-copied and left untouched.
        unsupported: a (2+1)D layer *with* BN + ReLU in the middle is not a 3D
            conv (ReLU is not linear): ``"raise"`` (default) refuses it with
            an error naming the layer, ``"keep"`` keeps it as it is.

    Returns:
        The new network.

    Shape:
        - Input and output: as `model`'s.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"compose_network expects an nn.Module, got {type(model).__name__}")
    check_choice(unsupported, "unsupported", ("raise", "keep"))
    new = copy.deepcopy(model)
    targets = [(name, m) for name, m in new.named_modules()
               if isinstance(m, (SpatioTemporalConv, NaiveConv2Plus1d))]
    for name, layer in targets:
        if not layer.is_linear:
            if unsupported == "keep":
                continue
            raise ValueError(
                f"compose_network: layer {name!r} has BatchNorm + ReLU between its convs, so "
                "it is not a 3D convolution (relu(a) + relu(b) != relu(a + b)); pass "
                "unsupported='keep' to keep such layers, or compose only linear ones")
        conv = compose(layer)
        conv.train(layer.training)
        _replace(new, name, conv)
    return new


# --------------------------------------------------------------------------
# 2. From a linear factorization to R(2+1)D: BN + ReLU in the middle
# --------------------------------------------------------------------------


def insert_middle_bn_relu(
    model: nn.Module,
    clips: torch.Tensor,
    *,
    margin: float = 4.0,
) -> nn.Module:
    """A copy of `model` with BatchNorm + ReLU between the halves of every linear (2+1)D layer.

    The paper's (2+1)D block has a non-linearity in the middle; a network
    factorized after training has none. This adds it, initialised so that the
    block starts close to the linear factorization it replaces, and leaves the
    fine-tuning to `r21d_edu.training.train`.

    The initialisation, and why: the middle activations z of channel m have
    mean μ_m and standard deviation σ_m (measured on ``clips``). The BN is set
    to running mean μ, running variance σ², weight sqrt(σ² + eps) and bias
    ``margin``·σ, so it computes z − μ + margin·σ: the same values shifted up
    until ReLU clips only those more than ``margin`` standard deviations
    below the mean (0.003 % of a Gaussian at 4; trained activations have heavier
    tails: on the direction task's trained R3D, margin 2 moved the logits by
    34 %, 3 by 20 %, 4 by 13 %). Unit-variance outputs (γ = 1,
    β = 0, PyTorch's default) would instead let ReLU zero half the values and
    start the block far from what it learned. The shift c = margin·σ − μ is
    taken back out by the temporal conv's bias, b ← b − Σ_{m,τ} W[o, m, τ]·c_m.

    One bias cancels the shift at every frame only if every frame the temporal
    kernel reads carries it. With the temporal zero padding on the temporal
    conv (as `SpatioTemporalConv` builds it) the padded frames carry 0, not
    c, and the first and last output frames are off by the hidden taps' share
    of the shift — on the direction task's short clips (T = 8, 4, 2, 1 over
    the stages) that offset was as large as the signal and the network fell
    to chance. So the block pads time *before* the spatial conv instead
    (spatial padding (p_t, p_h, p_w), temporal padding 0): a padded frame
    enters the middle as z = 0 like any other value, gets the same shift, and
    the bias cancels it everywhere. Outputs keep their shape; the spatial conv
    computes 2·p_t more (all-zero) frames, and what the ReLU makes of a padded
    frame becomes a learned padding value. The temporal conv always gets a
    bias (C_out more parameters; the next BatchNorm would absorb it anyway).
    In eval mode the new block equals the linear one except where ReLU clips;
    in training mode BN normalizes with batch statistics, close to the
    measured ones.

    Args:
        model: a network with linear `SpatioTemporalConv` layers (e.g. from
            `factorize_network`); deep-copied and left untouched.
        clips: a batch of training clips (N, C, T, H, W) to measure the middle
            activations on (in eval mode; a few dozen clips suffice).
        margin: how many standard deviations below the mean ReLU starts to
            clip. Default: 4.0.

    Returns:
        The new network, in train/eval mode as the input was.

    Shape:
        - clips: (N, C, T, H, W), as the model takes
        - Middle of each layer: (N, M, T, H', W'); BN statistics are per M.
    """
    # NaN or inf would pass `margin < 0` and make every BatchNorm shift, and the network, NaN.
    margin = check_number(margin, "margin (standard deviations)", minimum=0.0)
    if not isinstance(clips, torch.Tensor) or clips.dim() != 5:
        shown = (tuple(clips.shape) if isinstance(clips, torch.Tensor)
                 else type(clips).__name__)
        raise ValueError("clips must be a batch of clips (N, C, T, H, W) to measure the middle "
                         f"activations on, got {shown}")
    if not clips.is_floating_point():
        raise TypeError(f"clips must be float clips like the model's training input, got dtype "
                        f"{clips.dtype}; convert video frames with x.float() / 255 first")
    check_finite(clips, "clips", "the BatchNorm statistics measured on them would be NaN: "
                 "pass clean training clips")
    new = copy.deepcopy(model)
    targets = [(name, m) for name, m in new.named_modules()
               if isinstance(m, SpatioTemporalConv) and m.is_linear]
    if not targets:
        raise ValueError("the model has no SpatioTemporalConv without middle BN/ReLU; "
                         "factorize it first with factorize_network")
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = []
    for name, layer in targets:
        def hook(_module, _inputs, output, name=name):  # noqa: ANN001
            z = output.detach().double().transpose(0, 1).flatten(1)  # (M, N·T·H'·W')
            stats[name] = (z.mean(1), z.var(1, unbiased=False))
        handles.append(layer.spatial.register_forward_hook(hook))
    training = new.training
    new.eval()
    try:
        with torch.no_grad():
            new(clips.to(next(new.parameters()).dtype))
    finally:
        for handle in handles:
            handle.remove()
    for name, layer in targets:
        mean, var = stats[name]
        config = {**layer.config, "middle_bn_relu": True, "middle_bn": True, "middle_relu": True,
                  "bias": True}
        weight = layer.spatial.weight
        with rng_kept():  # its weights are set below: leave the RNG alone
            block = SpatioTemporalConv(**config).to(device=weight.device, dtype=weight.dtype)
        bn = block.bn
        # The temporal zero padding moves in front of the spatial conv (see the docstring).
        p_t = layer.padding[0]
        block.spatial.padding = (p_t, *block.spatial.padding[1:])
        block.temporal.padding = (0, 0, 0)
        shift = margin * var.sqrt() - mean  # c: what BN adds to z
        old_bias = (layer.temporal.bias.detach().double() if layer.temporal.bias is not None
                    else torch.zeros(layer.out_channels, dtype=torch.float64))
        with torch.no_grad():
            block.spatial.weight.copy_(layer.spatial.weight)
            block.temporal.weight.copy_(layer.temporal.weight)
            # Output block j reads only the middle channels of its own group.
            g = layer.groups
            temporal = layer.temporal.weight.detach().double().flatten(2)  # (C_out, M/g, t)
            shift_out = torch.einsum("gomt,gm->go",
                                     temporal.reshape(g, layer.out_channels // g, -1,
                                                      temporal.shape[-1]),
                                     shift.reshape(g, -1)).reshape(-1)
            block.temporal.bias.copy_(old_bias - shift_out)
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_((var + bn.eps).sqrt())
            bn.bias.copy_(margin * var.sqrt())
        _replace(new, name, block)
    new.train(training)
    return new
