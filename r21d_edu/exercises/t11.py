"""Self-checks for tutorial 11's exercises ("Where does the network look?").

Registered with `r21d_edu.exercises` and listed in its ``PROVIDERS``. One coding
exercise (score a map against the truth, checked by behaviour against
`r21d_edu.pointing.energy_pointing`) and three that ask what a score means.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._base import register
from .answers import Choice, Function, Incorrect, Number
from .behaviour import call, draws, same_tensor

ENERGY_CASES = 6


def _energy_cases(seed: int = 11) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Signed maps and masks of drawn shapes, one all-zero map (it points nowhere: 0)."""
    rng = draws(seed)
    cases = []
    for k in range(ENERGY_CASES):
        n, t, h, w = rng.randint(1, 3), rng.randint(2, 5), rng.randint(3, 7), rng.randint(3, 7)
        generator = torch.Generator().manual_seed(rng.randrange(2**31))
        maps = torch.randn(n, t, h, w, generator=generator, dtype=torch.float64)
        masks = torch.rand(n, t, h, w, generator=generator) < 0.3
        if k == ENERGY_CASES - 1:
            maps = torch.zeros_like(maps)
        cases.append((f"case {k + 1}: maps and masks of shape {(n, t, h, w)}"
                      + (", a map that is zero everywhere" if k == ENERGY_CASES - 1 else ""),
                      maps, masks))
    return cases


def _check_11_1(energy_inside: Any) -> str:
    from ..pointing import energy_pointing

    for case, maps, masks in _energy_cases():
        want = energy_pointing(maps, masks)
        got = call(energy_inside, maps.clone(), masks.clone(), case=case,
                   what="energy_inside(maps, masks)")
        same_tensor(got, want, case=case, what="energy_inside(maps, masks)",
                    reference="energy_pointing", atol=1e-9, rtol=1e-7, axes=("N",))
    return (f"the same as r21d_edu.pointing.energy_pointing on all {ENERGY_CASES} cases: the "
            "share of |map| inside the mask, per clip, and 0 for a map that points nowhere")


register(
    "11", 1,
    prompt="Write `energy_inside(maps, masks)`: for maps (N, T, H, W) of any sign and boolean "
           "masks of the same shape, return the (N,) share of each clip's importance |map| "
           "that falls inside its mask (0 for a map that is zero everywhere).",
    hand_in="your function energy_inside (the function itself, not a call)",
    hint=["Importance is the absolute value: a pixel that pushed the class down was looked at "
          "too. Sum it inside the mask and over the whole clip, per clip.",
          "inside = (maps.abs() * masks).sum(dim=(1, 2, 3)); total = maps.abs().sum(dim=(1, 2, "
          "3)); divide where total > 0 (torch.where), else 0."],
    solution="import torch\n\n"
             "def energy_inside(maps, masks):\n"
             "    ### BEGIN SOLUTION\n"
             "    importance = maps.abs()\n"
             "    inside = (importance * masks).sum(dim=(1, 2, 3))\n"
             "    total = importance.sum(dim=(1, 2, 3))\n"
             "    return torch.where(total > 0, inside / total.clamp_min(1e-300),\n"
             "                       torch.zeros_like(total))\n"
             "    ### END SOLUTION\n\n"
             "answer = energy_inside",
    check=_check_11_1,
    expects=Function("a function energy_inside(maps, masks)"),
)


def _check_11_2(answer: float) -> str:
    if abs(answer - 0.06) > 1e-9:
        raise Incorrect("not what an even spread gives: if every pixel of every frame holds the "
                        "same importance, the share inside the object is the share of the "
                        "pixels the object covers")
    return ("0.06, the mask's share of the clip: that is chance for energy pointing and for "
            "the pointing game, so a score only means something beside it (the lift)")


register(
    "11", 2,
    prompt="An attribution map spreads its importance evenly over a clip whose moving object "
           "covers 6 % of the pixels (over all frames). What energy pointing does it get? "
           "Hand it in as a fraction.",
    hand_in="a float between 0 and 1",
    hint=["Energy pointing is (importance inside the mask) / (importance everywhere).",
          "With the same importance in every pixel, both sums count pixels."],
    solution="answer = 0.06",
    check=_check_11_2,
    expects=Number(share=True),
)


def _check_11_3(answer: float) -> str:
    if abs(answer - 2.0) > 1e-6:
        raise Incorrect("not exp(entropy) of that profile: its entropy is −Σ p·ln p over the "
                        "frames that hold any importance")
    return (f"exp(ln 2) = 2: two frames share the importance equally, so it spreads over 2 "
            f"effective frames (8 for a flat profile, 1 for a single frame; here "
            f"{math.exp(-2 * 0.5 * math.log(0.5)):.0f})")


register(
    "11", 3,
    prompt="A clip's temporal profile (each frame's share of the importance) is "
           "[0.5, 0.5, 0, 0, 0, 0, 0, 0]. How many effective frames is that?",
    hand_in="a number",
    hint=["Effective frames is exp(entropy) of the profile.",
          "The entropy −Σ p ln p only has two non-zero terms here."],
    solution="import math\nanswer = math.exp(-(0.5 * math.log(0.5) + 0.5 * math.log(0.5)))",
    check=_check_11_3,
    expects=Number(minimum=1),
)


def _check_11_4(answer: str) -> str:
    if answer != "no":
        raise Incorrect("look at the size of the map Grad-CAM starts from: layer3 of these "
                        "networks holds fewer frames than the clip, and upsampling cannot "
                        "create detail in time that the layer's map does not have")
    return ("no: r3d's layer3 map has 2 frames for the clip's 8, so the upsampled Grad-CAM "
            "varies smoothly over 4 frames at a time; a temporal profile at single-frame "
            "resolution needs an input-level method (gradient × input, integrated gradients)")


register(
    "11", 4,
    prompt="Grad-CAM at `layer3` of the family's r3d gives, for an 8-frame clip, a map of "
           "2 × 4 × 4 that is upsampled to 8 × 32 × 32. Can its temporal profile tell you "
           "which single frame the decision used?",
    hand_in="'yes' or 'no'",
    hint=["Upsampling interpolates between the layer's frames.",
          "How many frames of the clip does one frame of layer3's map stand for?"],
    solution="answer = 'no'",
    check=_check_11_4,
    expects=Choice("yes", "no"),
)
