"""Kinetics-400 class names and `predict`: a video file and a weights file in, labels out.

Nothing downloads: the weights are random and saved here, the video is written
here with PyAV. What is checked is the path a user takes, and that the labels
and probabilities are exactly those of the model's logits.
"""

from __future__ import annotations

import html
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch import nn

from r21d_edu import (
    KINETICS400_CLASSES,
    Prediction,
    load_weights,
    predict,
    preprocess_clip,
    r2plus1d_18,
    read_video,
    sample_clips,
)


def write_video(path: Path, frames: int = 24, fps: int = 8, size: tuple[int, int] = (72, 96)) -> None:
    """A bright square moving right over a dark background (MPEG-4, like a phone's file)."""
    height, width = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            picture = np.full((height, width, 3), 20, np.uint8)
            picture[20:44, 4 + 3 * t:28 + 3 * t] = (230, 180, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


class MeanColour(nn.Module):
    """A tiny 400-way 'video model': the clip's mean colour through a linear layer."""

    def __init__(self, classes: int = 400) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3, 4)))


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("predict") / "square.mp4"
    write_video(path)
    return path


# --------------------------------------------------------------------------
# The class names
# --------------------------------------------------------------------------


def test_the_400_names_in_torchvisions_order() -> None:
    assert len(KINETICS400_CLASSES) == len(set(KINETICS400_CLASSES)) == 400
    assert KINETICS400_CLASSES[0] == "abseiling" and KINETICS400_CLASSES[-1] == "zumba"
    # torchvision's list is alphabetical, case-insensitively ("passing American football").
    assert list(KINETICS400_CLASSES) == sorted(KINETICS400_CLASSES, key=str.lower)
    assert KINETICS400_CLASSES[5] == "archery"
    assert KINETICS400_CLASSES[208] == "passing American football (in game)"
    assert all(name == name.strip() and name for name in KINETICS400_CLASSES)


def test_the_names_ship_as_package_data() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    # Without this entry a wheel (pip install without -e) would lack the file.
    assert "kinetics400_classes.txt" in config["tool"]["setuptools"]["package-data"]["r21d_edu"]
    assert (root / "r21d_edu" / "kinetics400_classes.txt").is_file()


# --------------------------------------------------------------------------
# The whole path: video file + weights file -> labelled prediction
# --------------------------------------------------------------------------


def test_a_video_file_and_a_weights_file_give_labelled_probabilities(video, tmp_path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "r2plus1d_18-random.pth"
    torch.save(r2plus1d_18().state_dict(), weights)
    try:
        # What the README shows, with a file the user fetched.
        model = r2plus1d_18()
        load_weights(model, weights)
        clip = read_video(video, start_frame=0, end_frame=8)
        prediction = predict(model, clip, top=5)
    finally:
        weights.unlink()  # 126 MB: leave nothing behind in pytest's temporary folder

    model.eval()
    with torch.no_grad():
        logits = model(preprocess_clip(clip.frames, layout="THWC").unsqueeze(0))
    expected, order = logits.softmax(dim=1)[0].topk(5)
    assert prediction.indices == tuple(order.tolist())
    assert prediction.labels == tuple(KINETICS400_CLASSES[i] for i in order.tolist())
    assert prediction.probabilities == pytest.approx(expected.tolist(), abs=1e-6)
    assert prediction.top == prediction.labels[0]


def test_several_clips_average_their_probabilities(video) -> None:
    model = MeanColour()
    clips = sample_clips(video, clip_len=8, num_clips=3)
    prediction = predict(model, clips, top=3)
    batch = torch.stack([preprocess_clip(c) for c in clips])
    with torch.no_grad():
        mean = model(batch).softmax(dim=1).mean(dim=0)
    assert prediction.clips == 3
    assert prediction.probabilities == pytest.approx(mean.topk(3).values.tolist(), abs=1e-6)
    # A preprocessed batch tensor gives the same prediction as the list of clips.
    assert predict(model, batch, top=3) == prediction


def test_the_model_runs_in_eval_mode_and_gets_its_mode_back(video) -> None:
    model = nn.Sequential(nn.BatchNorm3d(3), MeanColour())
    model.train()
    clip = preprocess_clip(read_video(video, start_frame=0, end_frame=8))
    first = predict(model, clip)
    assert model.training  # restored
    assert model[0].num_batches_tracked.item() == 0  # BN statistics untouched
    assert predict(model, clip) == first


# --------------------------------------------------------------------------
# How a prediction reads
# --------------------------------------------------------------------------


def test_plain_text_and_html() -> None:
    prediction = Prediction(labels=("yoga", "massaging person's head"),
                            probabilities=(0.625, 0.125), indices=(398, 198))
    assert str(prediction) == (" 62.5%  yoga                     (class 398)\n"
                               " 12.5%  massaging person's head  (class 198)")
    page = prediction._repr_html_()
    assert "<caption>top 2</caption>" in page and "62.5%" in page
    assert html.escape("massaging person's head") in page and "width:62.5%" in page


# --------------------------------------------------------------------------
# Mistakes
# --------------------------------------------------------------------------


def test_raw_frames_are_sent_to_preprocess_clip(video) -> None:
    frames = read_video(video, start_frame=0, end_frame=8).frames
    with pytest.raises(TypeError, match=r"predict expects a preprocessed float clip, got dtype "
                                        r"torch.uint8 with shape \(8, 72, 96, 3\): raw frames "
                                        r"need preprocess_clip\(frames, layout='THWC'\) first"):
        predict(MeanColour(), frames)


def test_a_model_with_other_outputs_needs_its_class_names() -> None:
    clip = torch.zeros(3, 8, 112, 112)
    with pytest.raises(ValueError, match=r"the model has 10 outputs but 400 class names were "
                                         r"given; pass classes=\[...\]"):
        predict(MeanColour(10), clip)
    names = [f"class {i}" for i in range(10)]
    assert predict(MeanColour(10), clip, top=20, classes=names).labels[0].startswith("class ")
    assert len(predict(MeanColour(10), clip, top=20, classes=names).labels) == 10


@pytest.mark.parametrize("arguments, error, message", [
    ((torch.zeros(3, 8, 112, 112), MeanColour()), TypeError,
     r"predict expects a torch.nn.Module as model, got Tensor; the arguments are predict\(model, clip\)"),
    ((MeanColour(), "clip.mp4"), TypeError,
     r"predict expects a VideoClip \(from read_video\), a list of them"),
    ((MeanColour(), torch.zeros(8, 112, 112)), ValueError,
     r"expects a clip \(C, T, H, W\) or a batch of clips of one video \(N, C, T, H, W\), "
     r"got the 3D shape \(8, 112, 112\)"),
])
def test_wrong_arguments(arguments, error, message) -> None:
    with pytest.raises(error, match=message):
        predict(*arguments)


def test_top_must_be_a_positive_integer() -> None:
    with pytest.raises(ValueError, match="top must be an integer >= 1, got 0"):
        predict(MeanColour(), torch.zeros(3, 8, 112, 112), top=0)
