"""Kinetics-400 class names, and naming what a video model sees in a clip.

torchvision's video models (and this package's builders loaded with their
weights, see `r21d_edu.weights`) end in a 400-way classifier over the
Kinetics-400 actions; output i is the i-th name of `KINETICS400_CLASSES`, in
torchvision's order ("abseiling" … "zumba", alphabetical). The names ship with
the package (``kinetics400_classes.txt``), so nothing is downloaded.

`predict(model, clip)` runs a model in evaluation mode and returns the top-k
labels with their probabilities, as a `Prediction` that displays as a small
bar table in Jupyter and has plain fields for code::

    clip = read_video("my_clip.mp4", 0.0, 2.0)
    prediction = predict(model, clip)            # preprocessed like torchvision's preset
    prediction.labels[0], prediction.probabilities[0]
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import torch
from torch import nn

from ._checks import check_finite, check_int
from ._tables import Cell, html_table
from .video import VideoClip
from .weights import preprocess_clip

__all__ = ["KINETICS400_CLASSES", "Prediction", "predict"]


def _read_class_names() -> tuple[str, ...]:
    text = resources.files("r21d_edu").joinpath("kinetics400_classes.txt").read_text("utf-8")
    return tuple(line for line in text.splitlines() if line)


#: The 400 Kinetics-400 action names in torchvision's order (output index -> name).
KINETICS400_CLASSES: tuple[str, ...] = _read_class_names()


@dataclass(frozen=True)
class Prediction:
    """The top-k classes a model gives a clip, most probable first.

    Fields:
        labels: class names.
        probabilities: softmax probabilities in [0, 1], same order.
        indices: the classes' output indices.
        clips: how many clips were averaged (several clips of one video give
            one prediction, the mean of their probabilities).
    """

    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    indices: tuple[int, ...]
    clips: int = 1

    @property
    def top(self) -> str:
        """The most probable label."""
        return self.labels[0]

    def __str__(self) -> str:
        width = max(len(label) for label in self.labels)
        return "\n".join(f"{p:6.1%}  {label:<{width}}  (class {i})"
                         for label, p, i in zip(self.labels, self.probabilities, self.indices))

    def _repr_html_(self) -> str:
        # Labels read left to right; each bar is its share of a 12em track.
        rows = [(Cell(f"<div style='text-align:left'>{html.escape(label)}</div>", raw=True),
                 Cell(f"{p:.1%}", num=True),
                 Cell("<div style='width:12em'><div style='background:#4c72b0;height:0.8em;"
                      f"width:{100 * p:.1f}%'></div></div>", raw=True))
                for label, p in zip(self.labels, self.probabilities)]
        averaged = f" (mean over {self.clips} clips)" if self.clips > 1 else ""
        return html_table(rows, ["class", "probability", ""],
                          caption=f"top {len(self.labels)}{averaged}")


def _as_clip_batch(clip: object) -> torch.Tensor:
    """A model-ready (N, C, T, H, W) float batch from a clip, a batch or decoded frames."""
    if isinstance(clip, VideoClip):
        return preprocess_clip(clip).unsqueeze(0)
    if isinstance(clip, Sequence) and clip and all(isinstance(c, VideoClip) for c in clip):
        return torch.stack([preprocess_clip(c) for c in clip])
    if not isinstance(clip, torch.Tensor):
        raise TypeError(
            "predict expects a VideoClip (from read_video), a list of them (from "
            "sample_clips), or a preprocessed float clip (C, T, H, W) / (N, C, T, H, W), "
            f"got {type(clip).__name__}"
        )
    if not clip.is_floating_point():
        raise TypeError(
            f"predict expects a preprocessed float clip, got dtype {clip.dtype} with shape "
            f"{tuple(clip.shape)}: raw frames need preprocess_clip(frames, layout='THWC') "
            "first (resize, crop, normalise like the model's training data)"
        )
    if clip.dim() == 4:
        return clip.unsqueeze(0)
    if clip.dim() == 5:
        return clip
    raise ValueError(f"predict expects a clip (C, T, H, W) or a batch of clips of one video "
                     f"(N, C, T, H, W), got the {clip.dim()}D shape {tuple(clip.shape)}")


def predict(
    model: nn.Module,
    clip: VideoClip | Sequence[VideoClip] | torch.Tensor,
    top: int = 5,
    classes: Sequence[str] | None = None,
) -> Prediction:
    """Name the `top` most probable classes of a clip.

    The model runs in evaluation mode (BatchNorm uses its running statistics)
    without gradients, and is put back in the mode it was in. Several clips
    of one video (a batch, or a list from `sample_clips`) give one
    prediction: the mean of their softmax probabilities.

    Args:
        model: a classifier, e.g. ``r2plus1d_18()`` with torchvision's
            Kinetics-400 weights loaded by `load_weights`.
        clip: a `VideoClip` from `read_video` (preprocessed here with
            `preprocess_clip`), a list of them, or an already preprocessed
            float clip.
        top: how many classes to return.
        classes: names of the model's outputs; default `KINETICS400_CLASSES`
            for a 400-way model.

    Returns:
        A `Prediction` (``.labels``, ``.probabilities``, ``.indices``).

    Shape:
        - clip: (C, T, H, W) or (N, C, T, H, W) float, e.g. (3, 16, 112, 112).
        - model output: (N, K) logits, K = len(classes).

    Example::

        >>> model = r2plus1d_18().eval()
        >>> load_weights(model, "r2plus1d_18-91a641e6.pth")     # doctest: +SKIP
        >>> predict(model, read_video("my_clip.mp4", 0, 2))     # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"predict expects a torch.nn.Module as model, got {type(model).__name__}"
                        "; the arguments are predict(model, clip)")
    top = check_int(top, "top", minimum=1)
    if isinstance(classes, str):
        raise TypeError(f"classes must be a list of class names, one per output, got the string "
                        f"{classes!r} (its letters would be taken as names)")
    batch = _as_clip_batch(clip)
    check_finite(batch, "the clip", "NaN in, NaN probabilities out: check the frames and "
                 "the preprocessing")
    parameter = next(model.parameters(), None)
    if parameter is not None:
        batch = batch.to(device=parameter.device, dtype=parameter.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits = model(batch)
    finally:
        model.train(was_training)
    if logits.dim() != 2 or logits.shape[0] != batch.shape[0]:
        raise ValueError(f"predict expects the model to return (N, K) logits, got shape "
                         f"{tuple(logits.shape)} for {batch.shape[0]} clip(s)")
    names = KINETICS400_CLASSES if classes is None else tuple(classes)
    if logits.shape[1] != len(names):
        hint = ("" if classes is not None else
                "; pass classes=[...] with the names of this model's outputs")
        raise ValueError(f"the model has {logits.shape[1]} outputs but {len(names)} class "
                         f"names were given{hint}")
    check_finite(logits, f"the model's logits for {batch.shape[0]} clip(s)",
                 "the model itself computes NaN or inf (diverged weights?): a ranking of NaN "
                 "probabilities would be arbitrary")
    probabilities = logits.float().softmax(dim=1).mean(dim=0)
    values, indices = probabilities.topk(min(top, len(names)))
    return Prediction(
        labels=tuple(names[i] for i in indices.tolist()),
        probabilities=tuple(float(v) for v in values),
        indices=tuple(indices.tolist()),
        clips=batch.shape[0],
    )
