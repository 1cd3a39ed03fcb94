"""Attribution maps scored against the truth: does the map point at the moving object?

The direction task (`r21d_edu.tasks`) knows, in every frame of every clip,
which pixels the moving shape covers (`r21d_edu.tasks.object_masks`). So a map
of `r21d_edu.attribution` need not be admired; it can be scored. Every score
reads the map's *importance* |map| (a value that pushed the class down is as
much "looked at" as one that pushed it up):

- **energy pointing**: the share of a clip's importance inside the mask
  (1 = all of it on the object). Chance — importance spread evenly — is the
  mask's share of the clip, ``mask_share`` (about 5 % of the pixels on the
  default task), so ``lift`` = energy / mask share says how many times better
  than chance a map does;
- **the pointing game** (Zhang et al. 2016): is the map's single peak over
  frames and pixels inside the object? Chance is again the mask share;
- **the temporal profile**: each frame's share of the importance (rows sum to
  1): which frames the decision uses. ``effective_frames`` sums it up as
  exp(entropy): 1 when one frame holds everything, T when all frames hold the same.

A map that is zero everywhere (Grad-CAM whose ReLU removed everything) points
nowhere: energy 0, no hit, a flat profile.

Shape:
    - maps, masks: (N, T, H, W); scores per clip: (N,); profiles: (N, T)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._tables import Cell, html_table

__all__ = [
    "PointingScores",
    "effective_frames",
    "energy_pointing",
    "pointing_game",
    "score_maps",
    "scores_table",
    "temporal_profile",
]


def _pair(maps: object, masks: object) -> tuple[torch.Tensor, torch.Tensor]:
    for value, name in ((maps, "maps"), (masks, "masks")):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a tensor (N, T, H, W), got {type(value).__name__}")
        if value.dim() != 4:
            raise ValueError(f"{name} must be (N, T, H, W) (an Attribution's .maps, "
                             f"object_masks(...)), got shape {tuple(value.shape)}")
    if maps.shape != masks.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} must have "
                         "the same (N, T, H, W): one mask per clip, frame and pixel")
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be bool (True on the object), got {masks.dtype}; "
                         "use masks > 0.5 or object_masks(truth)")
    return _importance(maps), masks


def _importance(maps: object) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor) or maps.dim() != 4:
        shape = tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__
        raise ValueError(f"maps must be a tensor (N, T, H, W), got {shape}")
    if not maps.is_floating_point():
        raise ValueError(f"maps must be floating point, got {maps.dtype}")
    if not torch.isfinite(maps).all():
        raise ValueError("maps hold NaN or infinite values")
    return maps.detach().abs().double()


def energy_pointing(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N,) the share of each clip's importance |maps| that lies inside its mask, in [0, 1]."""
    importance, masks = _pair(maps, masks)
    total = importance.sum(dim=(1, 2, 3))
    inside = (importance * masks).sum(dim=(1, 2, 3))
    return torch.where(total > 0, inside / total.clamp_min(1e-300), torch.zeros_like(total))


def pointing_game(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N,) bool: is the peak of |maps| over frames and pixels on the object?

    Ties (several values at the peak) count as a hit only when every tied
    value is on the object; an all-zero map never hits.
    """
    importance, masks = _pair(maps, masks)
    flat, inside = importance.flatten(1), masks.flatten(1)
    peak = flat.amax(dim=1, keepdim=True)
    at_peak = flat == peak
    return (peak[:, 0] > 0) & (at_peak <= inside).all(dim=1)


def temporal_profile(maps: torch.Tensor) -> torch.Tensor:
    """(N, T): each frame's share of the clip's importance |maps| (rows sum to 1; flat if zero)."""
    importance = _importance(maps)
    per_frame = importance.sum(dim=(2, 3))
    total = per_frame.sum(dim=1, keepdim=True)
    flat = torch.full_like(per_frame, 1.0 / per_frame.shape[1])
    return torch.where(total > 0, per_frame / total.clamp_min(1e-300), flat)


def effective_frames(profile: torch.Tensor) -> torch.Tensor:
    """(N,) exp(entropy) of temporal profiles (N, T): how many frames the importance spreads over.

    1 when one frame holds all of it, T when every frame holds 1/T.
    """
    if not isinstance(profile, torch.Tensor) or profile.dim() != 2:
        shape = (tuple(profile.shape) if isinstance(profile, torch.Tensor)
                 else type(profile).__name__)
        raise ValueError(f"profile must be (N, T) (temporal_profile(maps)), got {shape}")
    p = profile.double()
    terms = torch.where(p > 0, -p * p.clamp_min(1e-300).log(), torch.zeros_like(p))
    return terms.sum(dim=1).exp()


@dataclass(frozen=True)
class PointingScores:
    """The scores of one method's maps on N clips (see the module's docstring).

    Fields (per clip, float64 or bool):
        name: the method (and model) the maps came from.
        energy: (N,) energy pointing.
        hits: (N,) the pointing game.
        mask_share: (N,) the mask's share of the clip: chance for both.
        profile: (N, T) temporal profiles.
        spread: (N,) effective frames.
    """

    name: str
    energy: torch.Tensor
    hits: torch.Tensor
    mask_share: torch.Tensor
    profile: torch.Tensor
    spread: torch.Tensor

    @property
    def clips(self) -> int:
        return int(self.energy.numel())

    @property
    def frames(self) -> int:
        return int(self.profile.shape[1])

    def mean_energy(self) -> float:
        return float(self.energy.mean())

    def hit_rate(self) -> float:
        return float(self.hits.double().mean())

    def chance(self) -> float:
        """The mean mask share: what energy pointing and the pointing game give by chance."""
        return float(self.mask_share.mean())

    def lift(self) -> float:
        """Mean energy pointing over mean chance: how many times better than spreading evenly."""
        return self.mean_energy() / max(self.chance(), 1e-12)

    def mean_spread(self) -> float:
        return float(self.spread.mean())

    def mean_profile(self) -> list[float]:
        return [float(v) for v in self.profile.mean(dim=0)]

    def as_row(self) -> dict[str, object]:
        """One row for a table or a CSV file."""
        return {"method": self.name, "clips": self.clips, "energy": self.mean_energy(),
                "hit_rate": self.hit_rate(), "chance": self.chance(), "lift": self.lift(),
                "effective_frames": self.mean_spread(), "frames": self.frames}

    def __str__(self) -> str:
        return (f"{self.name}: energy pointing {self.mean_energy():.1%} (chance "
                f"{self.chance():.1%}, {self.lift():.1f}x), pointing game "
                f"{self.hit_rate():.0%}, spread over {self.mean_spread():.1f} of "
                f"{self.frames} frames ({self.clips} clips)")

    def _repr_html_(self) -> str:
        return scores_table([self])


def scores_table(scores: list[PointingScores]) -> str:
    """An HTML table of several `PointingScores`, one row each."""
    rows = [[s.name, Cell(f"{s.mean_energy():.1%}", num=True), Cell(f"{s.chance():.1%}", num=True),
             Cell(f"{s.lift():.1f}×", num=True), Cell(f"{s.hit_rate():.0%}", num=True),
             Cell(f"{s.mean_spread():.2f} / {s.frames}", num=True), Cell(s.clips, num=True)]
            for s in scores]
    return html_table(rows, ["maps", "energy inside the object", "chance (mask share)", "lift",
                             "pointing game", "effective frames", "clips"], sections=True)


def score_maps(maps: torch.Tensor, masks: torch.Tensor, name: str = "maps") -> PointingScores:
    """Every score of `maps` (N, T, H, W) against object `masks` (N, T, H, W, bool)."""
    energy = energy_pointing(maps, masks)
    hits = pointing_game(maps, masks)
    profile = temporal_profile(maps)
    share = masks.double().mean(dim=(1, 2, 3))
    return PointingScores(str(name), energy, hits, share, profile, effective_frames(profile))
