"""Loading torchvision's Kinetics-400 weights, and preparing clips the way they expect.

Nothing here downloads: the package works offline. A user with internet gets
torchvision's files once, by hand, from the addresses in `TORCHVISION_WEIGHTS`
(the same files ``torchvision.models.video.r2plus1d_18(weights="DEFAULT")``
fetches), for example::

    # in a shell, on a machine with internet
    curl -LO https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth

and then, offline::

    from r21d_edu.models import r2plus1d_18
    from r21d_edu.weights import load_weights, preprocess_clip

    model = r2plus1d_18()
    load_weights(model, "r2plus1d_18-91a641e6.pth")
    logits = model.eval()(preprocess_clip(frames).unsqueeze(0))

The 8 hex digits in each file name are the start of the file's SHA-256
(``sha256sum r2plus1d_18-91a641e6.pth``), which `sha256_matches_name` checks.

Files are read with ``torch.load(..., weights_only=True)``: a checkpoint is a
pickle, and a pickle can run any code when it is loaded; ``weights_only``
restricts it to tensors and plain containers, so a file carrying anything
else is refused instead of executed.

A damaged file is refused, not loaded: torch.save writes a zip archive that
stores a CRC-32 of every entry, but ``torch.load`` does not check them (on
PyTorch 2.13 a changed byte inside a tensor loads silently as a wrong weight),
so `read_state_dict` checks every entry's CRC first (reading the file once more,
about a second per GB). Files in the pre-1.6 pickle format carry no checksum:
only their structure is checked.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_bool, check_int, check_number
from .video import VideoClip

__all__ = [
    "KINETICS400_MEAN",
    "KINETICS400_STD",
    "TORCHVISION_WEIGHTS",
    "StateDictMismatchError",
    "StateDictReport",
    "check_state_dict",
    "load_weights",
    "preprocess_clip",
    "read_state_dict",
    "sha256_matches_name",
]

#: torchvision's Kinetics-400 weights: builder name -> address of the file.
#: Top-1 accuracy on Kinetics-400 clips (torchvision's docs): r3d_18 63.2 %,
#: mc3_18 63.96 %, r2plus1d_18 67.463 %. There are no torchvision weights
#: for the 34-layer networks or for the paper-faithful variant.
TORCHVISION_WEIGHTS: dict[str, str] = {
    "r3d_18": "https://download.pytorch.org/models/r3d_18-b3b3357e.pth",
    "mc3_18": "https://download.pytorch.org/models/mc3_18-a90a0ba3.pth",
    "r2plus1d_18": "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth",
}

#: Per-channel (R, G, B) mean and standard deviation of Kinetics-400 frames in [0, 1].
KINETICS400_MEAN: tuple[float, float, float] = (0.43216, 0.394666, 0.37645)
KINETICS400_STD: tuple[float, float, float] = (0.22803, 0.22145, 0.216989)

PathLike = str | os.PathLike


# --------------------------------------------------------------------------
# Reading a file safely
# --------------------------------------------------------------------------


def read_state_dict(path: PathLike, key: str | None = None) -> dict[str, torch.Tensor]:
    """Read a state_dict (parameter name -> tensor) from a file, refusing anything else.

    Uses ``torch.load(path, map_location="cpu", weights_only=True)``, so a
    file whose pickle carries arbitrary Python objects (which could run code)
    is refused with `pickle.UnpicklingError` instead of being executed; an
    empty, truncated or damaged file (an entry whose CRC-32 does not match, which
    ``torch.load`` itself would load as wrong weights) with a `ValueError`.

    Args:
        path: a ``.pth`` / ``.pt`` file written by ``torch.save(model.state_dict(), path)``.
        key: for training checkpoints that wrap the state_dict, e.g.
            ``{"epoch": 3, "model": {...}}``, the entry to take (``"model"``).

    Returns:
        An ordered dict of tensors on the CPU.
    """
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key must name the checkpoint entry that holds the weights, e.g. "
                        f"'model', got {key!r} ({type(key).__name__})")
    loaded = load_checked(path)
    if key is not None:
        if not isinstance(loaded, Mapping) or key not in loaded:
            found = list(loaded) if isinstance(loaded, Mapping) else type(loaded).__name__
            raise KeyError(f"{path} has no entry {key!r}; it holds {found}")
        loaded = loaded[key]
    if not isinstance(loaded, Mapping):
        raise TypeError(f"{path} holds a {type(loaded).__name__}, not a state_dict "
                        "(a mapping from parameter names to tensors)")
    not_tensors = [k for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise TypeError(
            f"{path} looks like a training checkpoint, not a state_dict: entries "
            f"{not_tensors[:5]} are not tensors. Pass key=... naming the entry that holds "
            f"the weights (one of {list(loaded)[:8]})"
        )
    return dict(loaded)


def _checked_path(path: object, what: str = "weights file") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected the path of a {what} (str or pathlib.Path), got "
                        f"{path!r} ({type(path).__name__})")
    path = Path(path)
    if not path.is_file():
        found = " (found a folder there)" if path.is_dir() else ""
        raise FileNotFoundError(
            f"no {what} at {path}{found}; this package never downloads, so fetch the file "
            "first (see r21d_edu.weights.TORCHVISION_WEIGHTS for torchvision's addresses)"
        )
    return path


def load_checked(path: PathLike) -> object:
    """``torch.load(path, weights_only=True)`` of a file whose format and CRCs are checked first.

    What `read_state_dict` and `r21d_edu.port` read files with: an empty, truncated,
    damaged (a CRC that does not match), foreign (an HTML page) or unsafe (arbitrary
    pickled objects) file is refused with what it is and what to do.
    """
    path = _checked_path(path)
    _check_weights_format(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (EOFError, OSError, RuntimeError, KeyError, ValueError) as error:
        # torch.load's reader fails deep inside on a damaged file, often with no message.
        raise ValueError(
            f"{path} is corrupt: it starts like a PyTorch weights file but cannot be read "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no details'}"
            "); a download that stopped early looks like this: fetch it again and check it "
            "with sha256_matches_name(path)"
        ) from error
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(
            f"refused to load {path}: it holds Python objects other than tensors and plain "
            "containers, and unpickling them could run arbitrary code "
            "(torch.load(..., weights_only=True) stops here). If the file comes from a "
            "source you trust, re-save only its tensors: "
            "torch.save(model.state_dict(), path). Details from torch: "
            f"{str(error).splitlines()[0]}"
        ) from error
    return loaded


def _check_weights_format(path: Path) -> None:
    """Refuse a file that is not in torch.save's format before torch.load trips over it.

    torch.save writes a zip archive (or, before PyTorch 1.6, a pickle starting with
    byte 0x80); anything else (an empty file, an HTML error page saved by a failed
    download, random bytes) would otherwise be reported as an unsafe pickle.
    """
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path} is empty (0 bytes): the download or save did not finish; "
                         "fetch or save the file again")
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PK\x03\x04":
        if not zipfile.is_zipfile(path):
            raise ValueError(
                f"{path} is truncated: it starts as the zip archive torch.save writes, but its "
                f"end is missing ({size:,} bytes on disk); fetch it again and check it with "
                "sha256_matches_name(path)"
            )
        _check_crcs(path)
        return
    if head[:1] != b"\x80":
        raise ValueError(
            f"{path} is not a PyTorch weights file: torch.save writes a zip archive (or a "
            f"pickle, before PyTorch 1.6), but this file starts with {head!r}; if it came "
            "from a download, it may be an error page: fetch it again"
        )


def _check_crcs(path: Path) -> None:
    """Refuse an archive whose entries do not match their stored CRC-32 (torch.load skips them)."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise ValueError(
            f"{path} is damaged: its zip archive cannot be read ({error}); fetch or save it "
            "again"
        ) from error
    if damaged is not None:
        raise ValueError(
            f"{path} is damaged: the CRC-32 stored for its entry {damaged!r} does not match "
            "the bytes on disk, so some weights would load wrong; fetch or save the file again "
            "(a bad download, copy or disk does this)"
        )


def sha256_matches_name(path: PathLike) -> bool:
    """Whether a torchvision-style file ``name-<8 hex digits>.pth`` has that SHA-256 prefix.

    torchvision names its files after the start of their SHA-256 digest, so a
    truncated or corrupted download is caught before loading.
    """
    if not isinstance(path, (str, os.PathLike)):
        path = _checked_path(path)  # refuses it, naming what came
    path = Path(path)
    prefix = path.stem.rsplit("-", 1)[-1]
    if "-" not in path.stem or len(prefix) < 8:
        raise ValueError(f"{path.name} is not named like torchvision's files "
                         "(name-<hash prefix>.pth)")
    path = _checked_path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest().startswith(prefix)


# --------------------------------------------------------------------------
# Comparing a state_dict with a model
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class StateDictReport:
    """How a state_dict fits a model: what is missing, unexpected, or of another shape.

    Attributes:
        missing: keys the model has and the state_dict lacks.
        unexpected: keys the state_dict has and the model lacks.
        mismatched: (key, shape in the model, shape in the state_dict).
        matched: number of keys present in both with the same shape.
    """

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()
    matched: int = 0
    hints: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ok(self) -> bool:
        """True when every key matches in name and shape."""
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        if self.ok:
            return f"all {self.matched} entries match in name and shape"
        lines = [f"{self.matched} entries match; "
                 f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
                 f"{len(self.mismatched)} of another shape"]
        lines += _listing("missing from the file", self.missing)
        lines += _listing("unexpected in the file", self.unexpected)
        lines += _listing(
            "shape mismatches (model vs file)",
            [f"{k}: {tuple(a)} vs {tuple(b)}" for k, a, b in self.mismatched],
        )
        lines += [f"hint: {h}" for h in self.hints]
        return "\n".join(lines)


def _listing(title: str, entries: Sequence[str], limit: int = 10) -> list[str]:
    if not entries:
        return []
    shown = [f"  {e}" for e in entries[:limit]]
    if len(entries) > limit:
        shown.append(f"  ... and {len(entries) - limit} more")
    return [f"{title} ({len(entries)}):", *shown]


def _hints(missing: Sequence[str], unexpected: Sequence[str],
           mismatched: Sequence[tuple[str, tuple, tuple]]) -> tuple[str, ...]:
    """Name the usual causes of a mismatch, so the fix is one line away."""
    hints = []
    if unexpected and all(k.startswith("module.") for k in unexpected):
        hints.append("the file was saved from nn.DataParallel / DistributedDataParallel; "
                     "strip the prefix: {k.removeprefix('module.'): v for k, v in sd.items()}")
    shapes = dict((k, (a, b)) for k, a, b in mismatched)
    if "fc.weight" in shapes:
        (model_classes, _), (file_classes, _) = shapes["fc.weight"]
        hints.append(f"the classifier differs ({model_classes} vs {file_classes} classes): "
                     f"build the model with num_classes={file_classes}, load, then replace fc")
    if "stem.0.weight" in shapes:
        (m_model, *_), (m_file, *_) = shapes["stem.0.weight"]
        if {m_model, m_file} == {45, 83}:
            hints.append("the stem's M differs (45 is torchvision's, 83 the paper's formula): "
                         "torchvision's weights need r2plus1d_18(convention='torchvision')")
    if any(".conv1.0.0." in k for k in missing) and any(".conv1.0.weight" in k
                                                       for k in unexpected):
        hints.append("the file has single 3D convs where the model has (2+1)D ones: "
                     "use the builder the file was trained with (r3d_18 / mc3_18)")
    if any(".conv1.0.weight" in k for k in missing) and any(".conv1.0.0." in k
                                                           for k in unexpected):
        hints.append("the file has (2+1)D convs where the model has 3D ones: "
                     "use r2plus1d_18")
    return tuple(hints)


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> StateDictReport:
    """Compare a state_dict with a model's, key by key and shape by shape.

    Args:
        model: the network to load into.
        state_dict: parameter name -> tensor, e.g. from `read_state_dict`.

    Returns:
        A `StateDictReport`; ``report.ok`` is True when loading would succeed
        strictly, and ``str(report)`` lists every problem.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module to load into, got {type(model).__name__}; "
                        "the arguments are (model, state_dict)")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"expected a state_dict (a mapping from parameter names to tensors), "
                        f"got {type(state_dict).__name__}")
    not_tensors = {k: type(v).__name__ for k, v in state_dict.items()
                   if not isinstance(v, torch.Tensor)}
    if not_tensors:
        kinds = sorted(set(not_tensors.values()))
        hint = (": convert with {k: torch.from_numpy(v) for k, v in sd.items()}"
                if kinds == ["ndarray"] else "")
        raise TypeError(
            f"a state_dict holds tensors, but {len(not_tensors)} of its {len(state_dict)} "
            f"entries are {', '.join(kinds)} (e.g. {next(iter(not_tensors))!r}){hint}"
        )
    expected = model.state_dict()
    missing = tuple(k for k in expected if k not in state_dict)
    unexpected = tuple(k for k in state_dict if k not in expected)
    mismatched = tuple(
        (k, tuple(expected[k].shape), tuple(state_dict[k].shape))
        for k in expected
        if k in state_dict and expected[k].shape != state_dict[k].shape
    )
    matched = len(expected) - len(missing) - len(mismatched)
    return StateDictReport(missing, unexpected, mismatched, matched,
                           _hints(missing, unexpected, mismatched))


class StateDictMismatchError(ValueError):
    """A state_dict does not fit a model; ``.report`` holds the details."""

    def __init__(self, report: StateDictReport, model_name: str) -> None:
        super().__init__(f"the weights do not fit {model_name}: {report}")
        self.report = report


def load_weights(
    model: nn.Module,
    source: PathLike | Mapping[str, torch.Tensor],
    *,
    strict: bool = True,
    key: str | None = None,
) -> StateDictReport:
    """Load a torchvision-format state_dict (a file or a mapping) into a model.

    Checks every key and shape first and raises one error that lists all
    missing keys, unexpected keys and shape mismatches (with a hint at the
    usual cause), instead of torch's first-failure message.

    Args:
        model: e.g. ``r2plus1d_18()``; its module names equal torchvision's.
        source: a path (read with `read_state_dict`, ``weights_only=True``)
            or a state_dict already in memory.
        strict: raise on any mismatch (default). With ``strict=False`` the
            entries that match in name and shape are loaded and the rest are
            reported, e.g. to reuse a backbone under a new ``fc``.
        key: for a checkpoint file that wraps the state_dict, its entry name.

    Returns:
        The `StateDictReport` of what matched.

    Raises:
        StateDictMismatchError: with ``strict=True``, when anything does not fit.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"load_weights expects a torch.nn.Module first, got "
                        f"{type(model).__name__}; call it as load_weights(model, path)")
    strict = check_bool(strict, "strict")
    if isinstance(source, Mapping):
        state_dict = dict(source)
    elif isinstance(source, (str, os.PathLike)):
        state_dict = read_state_dict(source, key=key)
    else:
        raise TypeError(f"load_weights expects the path of a weights file or a state_dict, "
                        f"got {source!r} ({type(source).__name__})")
    report = check_state_dict(model, state_dict)
    if not report.ok and strict:
        raise StateDictMismatchError(report, type(model).__name__)
    bad = set(report.unexpected) | {k for k, _, _ in report.mismatched}
    fitting = {k: v for k, v in state_dict.items() if k not in bad}
    model.load_state_dict(fitting, strict=strict)
    return report


# --------------------------------------------------------------------------
# Preparing clips like torchvision's Kinetics-400 models expect
# --------------------------------------------------------------------------


def preprocess_clip(
    frames: torch.Tensor | np.ndarray | VideoClip,
    layout: Literal["TCHW", "THWC"] | None = None,
    resize_size: tuple[int, int] = (128, 171),
    crop_size: tuple[int, int] = (112, 112),
    mean: Sequence[float] = KINETICS400_MEAN,
    std: Sequence[float] = KINETICS400_STD,
) -> torch.Tensor:
    r"""Resize, centre-crop and normalise RGB frames into a model-ready clip.

    torchvision's ``VideoClassification`` preset for its Kinetics-400 video
    models, step by step:

    1. resize every frame to 128 x 171 (bilinear, no antialiasing; uint8
       frames are rounded back to uint8 as torchvision does);
    2. crop the central 112 x 112;
    3. scale to [0, 1] (uint8 / 255; float frames are taken as already in
       [0, 1]) and normalise per channel with the Kinetics-400 mean and std;
    4. move time behind channels: (T, C, H, W) -> (C, T, H, W).

    The aspect ratio changes slightly (128/171 is 0.75, 3:4), as in
    torchvision: the model saw frames squeezed that way during training.

    Args:
        frames: RGB frames, uint8 in [0, 255] or float in [0, 1], as a
            tensor or a NumPy array: one clip ``(T, C, H, W)`` or a batch
            ``(B, T, C, H, W)`` with ``layout="TCHW"`` (torchvision's
            ``read_video(..., output_format="TCHW")``), or ``(T, H, W, C)`` /
            ``(B, T, H, W, C)`` with ``layout="THWC"`` (what most decoders
            return); or a `VideoClip` from `r21d_edu.read_video`.
        layout: where the channel axis is, see above. Default: ``"THWC"``
            for a `VideoClip`, ``"TCHW"`` otherwise.
        resize_size: (height, width) after resizing. Default: (128, 171).
        crop_size: (height, width) of the central crop. Default: (112, 112).
        mean, std: per-channel normalisation. Default: Kinetics-400's.

    Shape:
        - Input: (T, C, H, W) or (B, T, C, H, W) for ``"TCHW"``;
          (T, H, W, C) or (B, T, H, W, C) for ``"THWC"``; C = 3.
        - Output: float32 (C, T, 112, 112) or (B, C, T, 112, 112), a clip
          in the package's (N, C, T, H, W) convention once batched.

    Example::

        >>> frames = torch.randint(0, 256, (16, 240, 320, 3), dtype=torch.uint8)
        >>> preprocess_clip(frames, layout="THWC").shape
        torch.Size([3, 16, 112, 112])
    """
    if isinstance(frames, VideoClip):
        if layout not in (None, "THWC"):
            raise ValueError(f"a VideoClip's frames are (T, H, W, C); got layout={layout!r}, "
                             "leave it out")
        frames, layout = frames.frames, "THWC"
    if isinstance(frames, np.ndarray):
        # Decoders (PyAV, OpenCV, imageio) return NumPy frames: share their memory.
        # A read-only array (np.frombuffer, a memory map) is copied: torch warns on those.
        array = np.ascontiguousarray(frames)
        frames = torch.from_numpy(array if array.flags.writeable else array.copy())
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"preprocess_clip expects frames as a torch.Tensor, a NumPy array or "
                        f"a VideoClip, got {type(frames).__name__}")
    if layout is None:
        layout = "TCHW"
    if layout not in ("TCHW", "THWC"):
        raise ValueError(f"layout must be 'TCHW' or 'THWC', got {layout!r}")
    shape = tuple(frames.shape)
    if frames.dim() not in (4, 5):
        raise ValueError(
            f"preprocess_clip expects one clip ({', '.join(layout)}) or a batch "
            f"(B, {', '.join(layout)}), got the {frames.dim()}D shape {shape}"
        )
    channel_axis = -3 if layout == "TCHW" else -1
    if shape[channel_axis] != 3:
        other, other_axis = ("THWC", -1) if layout == "TCHW" else ("TCHW", -3)
        hint = (f"; it looks like {other} frames: pass layout={other!r}"
                if shape[other_axis] == 3 else "")
        raise ValueError(
            f"preprocess_clip expects 3 RGB channels at dim {channel_axis} for "
            f"layout={layout!r}, got shape {shape}{hint}"
        )
    if frames.dtype == torch.uint8:
        is_uint8 = True
    elif frames.is_floating_point():
        is_uint8 = False
        if frames.numel() and (frames.min() < 0 or frames.max() > 1):
            raise ValueError(
                f"float frames must be in [0, 1], got values in [{frames.min().item():g}, "
                f"{frames.max().item():g}]; for 0-255 values pass a uint8 tensor or divide by 255"
            )
    else:
        raise TypeError(f"frames must be uint8 (0-255) or float (0-1), got {frames.dtype}")
    if not is_uint8 and frames.numel() and not bool(torch.isfinite(frames).all()):
        # NaN passes the range check above (every comparison with NaN is False).
        bad = int((~torch.isfinite(frames)).sum())
        raise ValueError(f"float frames must be finite values in [0, 1], but {bad:,} of "
                         f"{frames.numel():,} are NaN or inf; a decoding or division step "
                         "went wrong before preprocess_clip")
    rh, rw = _size_pair(resize_size, "resize_size")
    ch, cw = _size_pair(crop_size, "crop_size")
    mean_t, std_t = _per_channel(mean, "mean"), _per_channel(std, "std")
    if any(v <= 0 for v in std_t):
        raise ValueError(f"std must be three standard deviations > 0, got {tuple(std_t)}; "
                         "a 0 would divide by zero")
    if ch > rh or cw > rw:
        raise ValueError(f"crop_size {crop_size} must fit inside resize_size {resize_size}")

    batched = frames.dim() == 5
    clips = frames if batched else frames.unsqueeze(0)
    if layout == "THWC":
        clips = clips.permute(0, 1, 4, 2, 3)  # (B, T, H, W, C) -> (B, T, C, H, W)
    b, t = clips.shape[:2]
    images = clips.reshape(b * t, *clips.shape[2:]).float()
    images = F.interpolate(images, size=(rh, rw), mode="bilinear", align_corners=False,
                           antialias=False)
    if is_uint8:
        # torchvision resizes uint8 frames back into uint8: round like it does.
        images = images.round().clamp(0, 255)
    # torchvision's centre crop rounds the offsets (Python's round, halves to even).
    top, left = int(round((rh - ch) / 2.0)), int(round((rw - cw) / 2.0))
    images = images[:, :, top:top + ch, left:left + cw]
    if is_uint8:
        images = images / 255.0
    mean_t = torch.tensor(mean_t, dtype=images.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std_t, dtype=images.dtype).view(1, 3, 1, 1)
    images = (images - mean_t) / std_t
    out = images.reshape(b, t, 3, ch, cw).permute(0, 2, 1, 3, 4).contiguous()
    return out if batched else out[0]


def _size_pair(value: object, name: str) -> tuple[int, int]:
    """(height, width) in pixels, each an integer >= 1."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) \
            or len(value) != 2:
        raise TypeError(f"{name} must be (height, width) in pixels, got {value!r}")
    return (check_int(value[0], f"{name} height", minimum=1),
            check_int(value[1], f"{name} width", minimum=1))


def _per_channel(value: object, name: str) -> list[float]:
    """Three finite numbers, one per RGB channel."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray,
                                                                 torch.Tensor)):
        raise TypeError(f"{name} must be three numbers, one per RGB channel, got {value!r}")
    values = list(value.tolist() if isinstance(value, (np.ndarray, torch.Tensor)) else value)
    if len(values) != 3:
        raise ValueError(f"{name} must be three numbers, one per RGB channel, got "
                         f"{len(values)}: {values!r}")
    return [check_number(v, f"{name} entries") for v in values]
