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

`KINETICS_FACTORIZED` holds one or two rows per factorization beyond (2+1)D (P3D, S3D,
S3D-G, ip/ir-CSN, X3D for depthwise (2+1)D, TSM) for ``experiments/factorizations``, each
with its own network, frames, views, pretraining and source, since those differ row by row.
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


# --------------------------------------------------------------------------
# The family of factorizations beyond (2+1)D (experiments/factorizations)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyResult:
    """One published Kinetics-400 top-1 accuracy of a factorized network, and its protocol.

    Fields:
        family: the factorization it stands for (a `r21d_edu.factorized_family` member
            or ``"r2plus1d"``).
        network: the network the source trained (its depth and backbone).
        top1: top-1 accuracy (%) on the Kinetics-400 validation set, as the source gives it.
        frames: input frames per clip (× the frame stride where the source gives one).
        views: how the accuracy was measured (``clip``: one clip; ``video``: the average
            over several clips or crops of each video, as given).
        pretraining: ``"none"`` (from scratch), or the dataset the network saw first.
        source: the paper (arXiv id, table) or model zoo the number comes from.
        verified: whether the number was checked against that source with the search
            tool (False: quoted from the paper, not re-read there).
    """

    family: str
    network: str
    top1: float
    frames: str
    views: str
    pretraining: str
    source: str
    verified: bool


#: One row per family, beside the factorization study (never compared with it by a test:
#: the protocols differ in task, network size, pretraining, budget and metric).
KINETICS_FACTORIZED: tuple[FamilyResult, ...] = (
    FamilyResult("r2plus1d", "R(2+1)D-18", 68.5, "16", "video (10 clips)", "none",
                 "Tran et al. 2018 (arXiv 1711.11248), Table 2, via facebookresearch/VMZ "
                 "tutorials/models.md", True),
    FamilyResult("r2plus1d", "R(2+1)D-152", 77.3, "32", "video", "none",
                 "facebookresearch/VMZ tutorials/model_zoo.md (R(2+1)D-152 row, None)", True),
    FamilyResult("p3d-a", "P3D ResNet-50 (cycling A, B, C)", 71.6, "16 (x2)", "video", "none",
                 "gluon-cv model zoo, Kinetics400.csv (p3d_resnet50_kinetics400; gluon-cv's "
                 "own training — the P3D paper, arXiv 1711.10305, reports Sports-1M, not "
                 "Kinetics-400)", True),
    FamilyResult("s3d", "S3D (Inception)", 68.368, "128", "clip (1 clip)", "ImageNet",
                 "torchvision S3D_Weights.KINETICS400_V1 (weights ported from "
                 "kylemin/S3D, approximating Xie et al. 2018, arXiv 1712.04851)", True),
    FamilyResult("s3d-g", "S3D-G (Inception)", 74.7, "64", "video", "ImageNet",
                 "Xie et al. 2018 (arXiv 1712.04851), Kinetics-400 table (RGB); the abstract's "
                 "'+3.5 % over I3D' was checked, the table value itself was not", False),
    FamilyResult("ip-csn", "ip-CSN-152", 77.8, "32", "video", "none",
                 "facebookresearch/VMZ tutorials/model_zoo.md (ip-CSN-152 row, None; "
                 "Tran et al. 2019, arXiv 1904.02811)", True),
    FamilyResult("ir-csn", "ir-CSN-152", 76.5, "32", "video", "none",
                 "facebookresearch/VMZ tutorials/model_zoo.md (ir-CSN-152 row, None)", True),
    FamilyResult("ir-csn", "ir-CSN-152", 82.6, "32", "video", "IG-65M",
                 "facebookresearch/VMZ tutorials/model_zoo.md (ir-CSN-152 row, IG-65M)", True),
    FamilyResult("dw-2plus1d", "X3D-M (depthwise 3x3x3 blocks, depthwise (2+1)D stem)", 76.2,
                 "16 (x5)", "video (10 clips x 3 crops)", "none",
                 "facebookresearch/SlowFast MODEL_ZOO.md (X3D-M, 30-view; Feichtenhofer "
                 "2020, arXiv 2004.04730)", True),
    FamilyResult("tsm", "TSM ResNet-50", 74.1, "8", "video (10 clips x 3 crops)", "ImageNet",
                 "mit-han-lab/temporal-shift-module README (dense sampling; Lin et al. 2019, "
                 "arXiv 1811.08383, Table 1)", True),
)


def published_for(family: str) -> list[FamilyResult]:
    """The published rows of one family, in the table's order.

    >>> [row.top1 for row in published_for("ir-csn")]
    [76.5, 82.6]
    """
    families = tuple(dict.fromkeys(row.family for row in KINETICS_FACTORIZED))
    check_choice(family, "family", families)
    return [row for row in KINETICS_FACTORIZED if row.family == family]
