"""Trained members of the family, as the experiment saved them: load one and use it.

``python -m r21d_edu.experiment --save-weights`` keeps every finished run's
weights in ``<out>/weights/``: the state_dict in float16 (half the bytes of
float32; the test accuracy of the float16 copy is recorded beside the
float32 one, so what the rounding costs is measured, not assumed) and a
``manifest.json`` with each file's SHA-256. `load_trained` checks that digest
before it reads a byte with ``torch.load(..., weights_only=True)``, builds the
member with `r21d_edu.family.family_model`, loads the weights strictly and
returns it in float32, in eval mode.

The repository commits the seed-0 weights of every member under
``experiments/trained/weights`` (`TRAINED_FOLDER`), which the tutorials show.

To look at what training changed, `initial_model` rebuilds a member as its run
began (the same seed, the same draws), `stem_conv` and `trained_stem` give the
first conv of a stem as a layer the figures of `r21d_edu.viz.kernels` take,
`spacetime_convs` lists the convs whose kernels span time and space, and
`temporal_change` measures how much of a kernel changes over its time offsets.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ._checks import check_seed, rng_kept
from .family import FAMILY, family_model
from .layers import SpatioTemporalConv
from .models import R2Plus1dStem

__all__ = ["TRAINED_FOLDER", "TrainedWeightsError", "TrainedEntry", "initial_model",
           "load_trained", "spacetime_convs", "stem_conv", "temporal_change", "trained_entries",
           "trained_stem"]

#: Where a checkout of the repository keeps the committed weights.
TRAINED_FOLDER = Path(__file__).resolve().parent.parent / "experiments" / "trained" / "weights"


class TrainedWeightsError(RuntimeError):
    """A weights folder or file that is missing, damaged or not what the manifest says."""


@dataclass(frozen=True)
class TrainedEntry:
    """One line of a weights manifest."""

    model: str
    seed: int
    file: str
    sha256: str
    bytes: int
    params: int
    test_accuracy: float
    test_accuracy_float16: float


def trained_entries(folder: Path | str | None = None) -> list[TrainedEntry]:
    """The manifest of a weights folder (default `TRAINED_FOLDER`)."""
    folder = Path(folder) if folder is not None else TRAINED_FOLDER
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise TrainedWeightsError(
            f"no trained weights in {folder} (no manifest.json there); they come with a "
            "checkout of the repository, or run python -m r21d_edu.experiment --save-weights "
            "--out DIR and pass folder=DIR/weights")
    try:
        rows = json.loads(manifest.read_text())
        return [TrainedEntry(**row) for row in rows]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as error:
        raise TrainedWeightsError(f"{manifest} is damaged or not a weights manifest "
                                  f"({type(error).__name__}: {error})") from error


def load_trained(name: str, seed: int = 0, folder: Path | str | None = None) -> nn.Module:
    """A trained member of the family, checked against its manifest, in float32 and eval mode.

    Args:
        name: one of `r21d_edu.family.FAMILY`.
        seed: the run's seed. Default: 0 (the committed weights).
        folder: a weights folder written by ``--save-weights``. Default: `TRAINED_FOLDER`.

    Shape:
        - Input: (N, 1, 8, 32, 32) clips of the direction task
        - Output: (N, 8) logits

    Raises:
        TrainedWeightsError: no such entry, a file whose SHA-256 differs from
            the manifest's (damaged or replaced), or weights that do not fit.

    Example::

        >>> model = load_trained("r2plus1d")          # doctest: +SKIP
        >>> model(torch.rand(2, 1, 8, 32, 32)).shape   # doctest: +SKIP
        torch.Size([2, 8])
    """
    if name not in FAMILY:
        raise ValueError(f"unknown model {name!r}; the family is {', '.join(FAMILY)}")
    folder = Path(folder) if folder is not None else TRAINED_FOLDER
    entries = trained_entries(folder)
    matching = [e for e in entries if e.model == name and e.seed == seed]
    if not matching:
        have = ", ".join(f"{e.model} seed {e.seed}" for e in entries) or "none"
        raise TrainedWeightsError(f"{folder} has no weights of {name} seed {seed}; it has: {have}")
    entry = matching[0]
    path = folder / entry.file
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TrainedWeightsError(f"cannot read {path} ({error.strerror or error})") from error
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise TrainedWeightsError(
            f"{path} is not the file its manifest describes (its SHA-256 differs): it is "
            "damaged or was replaced. Restore it (git checkout) or retrain with --save-weights")
    import io

    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    model = family_model(name)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise TrainedWeightsError(f"{path} does not hold {name}'s weights "
                                  f"({str(error).splitlines()[0]})") from error
    return model.float().eval()


# --------------------------------------------------------------------------
# Looking at what training changed
# --------------------------------------------------------------------------


def initial_model(name: str, seed: int = 0) -> nn.Module:
    """A member as its training run began: the weights `load_trained` started from.

    The experiment calls ``torch.manual_seed(seed)`` and then builds the member
    with `r21d_edu.family.family_model`, so the initialization depends on the
    run's seed alone; this repeats those draws. The global random streams are
    left as they were, so a notebook's later random numbers do not depend on
    whether this ran.

    Args:
        name: one of `r21d_edu.family.FAMILY`.
        seed: the run's seed. Default: 0 (the committed weights' run).

    Shape:
        - Input: (N, 1, 8, 32, 32) clips of the direction task
        - Output: (N, 8) logits

    Example::

        >>> before = initial_model("r3d")
        >>> before(torch.rand(2, 1, 8, 32, 32)).shape
        torch.Size([2, 8])
    """
    if name not in FAMILY:
        raise ValueError(f"unknown model {name!r}; the family is {', '.join(FAMILY)}")
    seed = check_seed(seed)
    with rng_kept():
        torch.manual_seed(seed)
        return family_model(name).eval()


def stem_conv(model: nn.Module) -> nn.Conv3d | SpatioTemporalConv:
    """The first conv of a family member's stem, as a layer the kernel figures take.

    - a 3D or 2D stem (r3d, mc3, r2d, f-r2d, rmc3): a copy of its ``nn.Conv3d``,
      t × 7 × 7 (``kernel_grid``, ``feature_maps``);
    - a (2+1)D stem: its 1 × 7 × 7 spatial conv, the middle BatchNorm / ReLU (or
      what the member has instead) and its 3 × 1 × 1 temporal conv, copied into
      a `SpatioTemporalConv` with the same weights and running statistics
      (``spatial_filters``, ``temporal_profiles``, ``middle_feature_maps``).

    The stem's last BatchNorm and ReLU are left out: this is the conv, what the
    kernels compute. The copy is in eval mode; changing it leaves the model alone.

    Args:
        model: a member of `r21d_edu.family` (from `load_trained`, `initial_model`
            or `family_model`), or any network with a torchvision-style ``stem``.

    Shape:
        - Input: (N, C_in, T, H, W)
        - Output: (N, width, T', ceil(H / 2), ceil(W / 2)), before the stem's
          last BatchNorm and ReLU (T' = T but for r2d, whose kernel spans all frames)

    Example::

        >>> stem_conv(initial_model("r3d")).weight.shape
        torch.Size([16, 1, 3, 7, 7])
        >>> stem_conv(initial_model("r2plus1d")).intermediate_channels
        24
    """
    stem = getattr(model, "stem", None)
    if not isinstance(stem, nn.Sequential) or not isinstance(stem[0], nn.Conv3d):
        raise TypeError(f"stem_conv expects a network whose .stem starts with an nn.Conv3d "
                        f"(a family member, r3d_18, r2plus1d_18), got {type(model).__name__}")
    if not isinstance(stem, R2Plus1dStem):
        return copy.deepcopy(stem[0]).eval()
    spatial, middle_bn, middle_relu, temporal = stem[0], stem[1], stem[2], stem[3]
    with rng_kept():  # its fresh weights are overwritten at once
        layer = SpatioTemporalConv(
            spatial.in_channels, temporal.out_channels,
            (temporal.kernel_size[0], *spatial.kernel_size[1:]),
            stride=(temporal.stride[0], *spatial.stride[1:]),
            padding=(temporal.padding[0], *spatial.padding[1:]), bias=False,
            intermediate_channels=spatial.out_channels,
            middle_bn=isinstance(middle_bn, nn.BatchNorm3d),
            middle_relu=isinstance(middle_relu, nn.ReLU),
        ).to(device=spatial.weight.device, dtype=spatial.weight.dtype)
    # The layer's modules sit at the stem's positions 0-3, so the keys are the stem's.
    layer.load_state_dict({key: value for key, value in stem.state_dict().items()
                           if key.split(".")[0] in ("0", "1", "2", "3")})
    return layer.eval()


def trained_stem(name: str, seed: int = 0,
                 folder: Path | str | None = None) -> nn.Conv3d | SpatioTemporalConv:
    """`stem_conv` of a trained member (`load_trained`), leaving the random streams alone.

    Args:
        name, seed, folder: as `load_trained`.

    Shape:
        - Input: (N, 1, T, H, W) grey clips (trained on T = 8, H = W = 32)
        - Output: (N, 16, T, ceil(H / 2), ceil(W / 2)) for the default widths

    Example::

        >>> trained_stem("r3d").kernel_size     # doctest: +SKIP
        (3, 7, 7)
    """
    with rng_kept():  # building the member draws weights that the file then replaces
        return stem_conv(load_trained(name, seed, folder))


def spacetime_convs(model: nn.Module) -> dict[str, nn.Conv3d]:
    """The model's ``nn.Conv3d`` whose kernels span time and space (t > 1 and d > 1), by name.

    These are the convs a (2+1)D layer could replace (tutorial 06's unfolded
    kernels): not the 1 × 1 × 1 shortcuts, the 1 × d × d spatial or the
    t × 1 × 1 temporal halves. The modules are the model's own, in its order.

    Shape:
        - Each weight: (C_out, C_in, t, d_h, d_w), t > 1 and d_h · d_w > 1.

    Example::

        >>> list(spacetime_convs(initial_model("r3d")))[:3]
        ['stem.0', 'layer1.0.conv1.0', 'layer1.0.conv2.0']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"spacetime_convs expects an nn.Module, got {type(model).__name__}")
    return {name: module for name, module in model.named_modules()
            if isinstance(module, nn.Conv3d) and module.kernel_size[0] > 1
            and module.kernel_size[1] * module.kernel_size[2] > 1}


def temporal_change(kernel: nn.Conv3d | torch.Tensor) -> torch.Tensor:
    """Per output channel, the share of a 3D kernel's energy that changes over τ.

    Each output channel's kernel ``W[o]`` splits into its mean over the time
    offsets τ (the same image in every slice: what a static pattern excites)
    and the rest, which sums to zero over τ (what only change over time
    excites). The share is ``‖W[o] − mean_τ W[o]‖² / ‖W[o]‖²``: 0 for a kernel
    that is the same in every slice, 1 for one that sums to zero over τ (a
    frame difference), and on average (t − 1) / t for independent random
    weights — 2/3 for t = 3.

    Args:
        kernel: an ``nn.Conv3d`` (or `FullConv3d`) or its weight (C_out, C_in, t, d_h, d_w).

    Returns:
        A float64 tensor of C_out shares in [0, 1].

    Shape:
        - Input: (C_out, C_in, t, d_h, d_w)
        - Output: (C_out,)

    Example::

        >>> static = torch.ones(2, 1, 3, 5, 5)
        >>> temporal_change(static).tolist()
        [0.0, 0.0]
        >>> difference = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 3, 1, 1).expand(1, 1, 3, 5, 5)
        >>> temporal_change(difference).tolist()
        [1.0]
    """
    weight = getattr(kernel, "weight", None) if isinstance(kernel, nn.Module) else kernel
    if not isinstance(weight, torch.Tensor) or weight.dim() != 5:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(kernel).__name__
        raise ValueError(f"temporal_change expects a 3D conv or its kernel (C_out, C_in, t, d_h, "
                         f"d_w), got {shape}; for a (2+1)D layer pass its effective kernel "
                         "(r21d_edu.viz.kernels.effective_kernel)")
    weight = weight.detach().double()
    total = weight.pow(2).sum(dim=(1, 2, 3, 4))
    if bool((total == 0).any()):
        raise ValueError("a kernel with an all-zero output channel has no energy to share")
    moving = (weight - weight.mean(dim=2, keepdim=True)).pow(2).sum(dim=(1, 2, 3, 4))
    return moving / total
