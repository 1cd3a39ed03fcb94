"""Published Kinetics-400 accuracies of the paper's family, with their source.

The experiments here train small networks on a synthetic task; what the paper's
authors measured on Kinetics is a different protocol, so it is printed *beside* a
result, never compared with it by a test. One table, one source, so every tutorial
and README quotes the same numbers.

Source: the VMZ model zoo of the paper's authors (facebookresearch/VMZ,
``tutorials/models.md``), 18-layer networks trained from scratch on Kinetics-400,
16×112×112 clips. ``clip`` is the accuracy of one clip, ``video`` the average over
clips of the whole video (what papers usually quote). Each network was trained once:
the table reports no seeds and no intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._checks import check_choice

SOURCE = ("facebookresearch/VMZ, tutorials/models.md (Tran et al. 2018's model zoo): "
          "18 layers, Kinetics-400 from scratch, 16×112×112 clips, one run per network")


@dataclass(frozen=True)
class Published:
    """Top-1 accuracy (%) of one network on Kinetics-400, as the source reports it."""

    clip: float
    video: float


#: 16-frame clips, keyed by this package's family names.
KINETICS_16_FRAMES: dict[str, Published] = {
    "r2d": Published(clip=47.5, video=59.4),
    "f-r2d": Published(clip=50.7, video=60.9),
    "r3d": Published(clip=52.9, video=64.7),
    "mc3": Published(clip=54.1, video=65.2),
    "rmc3": Published(clip=53.6, video=65.5),
    "r2plus1d": Published(clip=57.3, video=68.5),
}

#: The same table's 8-frame video accuracies: the gain of (2+1)D depends on the setting.
KINETICS_8_FRAMES_VIDEO: dict[str, float] = {"r3d": 62.3, "r2plus1d": 65.3}


def published_gain(metric: str = "video", frames: int = 16) -> float:
    """R(2+1)D − R3D in points, as published (one run each, so no interval exists).

    >>> round(published_gain("video"), 1), round(published_gain("clip"), 1)
    (3.8, 4.4)
    >>> round(published_gain("video", frames=8), 1)
    3.0
    """
    if frames == 8:
        if metric != "video":
            raise ValueError(f"the source gives only video accuracy at 8 frames, got {metric!r}")
        return KINETICS_8_FRAMES_VIDEO["r2plus1d"] - KINETICS_8_FRAMES_VIDEO["r3d"]
    if frames != 16:
        raise ValueError(f"the source reports 8 or 16 frames, got {frames!r}")
    check_choice(metric, "metric", ("clip", "video"))
    table = KINETICS_16_FRAMES
    return getattr(table["r2plus1d"], metric) - getattr(table["r3d"], metric)
