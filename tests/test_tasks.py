"""The direction task: balanced, seeded, disjoint splits whose motion is what the label says."""

import math

import pytest
import torch

from r21d_edu.tasks import DIRECTION_NAMES, DirectionTask, MotionDirections, make_splits

SMALL = DirectionTask(train=96, val=32, test=32)


@pytest.fixture(scope="module")
def splits():
    return make_splits(SMALL)


def test_splits_have_the_asked_sizes_shapes_and_balanced_classes(splits):
    for name, count in (("train", 96), ("val", 32), ("test", 32)):
        split = splits[name]
        assert len(split) == count
        assert split.clips.dtype == torch.uint8
        assert split.clips.shape == (count, 1, 8, 32, 32)
        assert torch.bincount(split.labels, minlength=8).tolist() == [count // 8] * 8


def test_the_same_seed_gives_the_same_clips_and_another_seed_others(splits):
    again = make_splits(SMALL)
    assert torch.equal(again["train"].clips, splits["train"].clips)
    assert torch.equal(again["test"].labels, splits["test"].labels)
    other = make_splits(DirectionTask(train=96, val=32, test=32, seed=1))
    assert not torch.equal(other["train"].clips, splits["train"].clips)


def test_no_clip_appears_in_two_splits(splits):
    seen = {}
    for name, split in splits.items():
        for clip in split.clips:
            key = hash(clip.numpy().tobytes())
            assert key not in seen, f"a {name} clip repeats a {seen.get(key)} clip"
            seen[key] = name


def _circular_centroid(weights: torch.Tensor) -> tuple[float, float]:
    """Centre of mass on a torus (positions as angles), in pixels."""
    size = weights.shape[-1]
    angles = (torch.arange(size, dtype=torch.float64) + 0.5) * 2 * math.pi / size
    centre = []
    for axis_weights in (weights.sum(1), weights.sum(0)):  # rows (y), columns (x)
        z = (axis_weights * torch.exp(1j * angles)).sum()
        centre.append(float(torch.angle(z)) % (2 * math.pi) * size / (2 * math.pi))
    return centre[0], centre[1]


def test_the_shape_moves_by_its_velocity_every_frame_in_the_labelled_direction():
    clean = DirectionTask(train=32, val=8, test=8, texture=0.0, noise=0.0, extent=(6.0, 6.0))
    split = make_splits(clean)["train"]
    for index in range(16):
        label = int(split.labels[index])
        dy, dx = split.truth["velocity"][index].tolist()
        angle = math.degrees(math.atan2(dy, dx)) % 360
        assert angle == pytest.approx(45 * label, abs=1e-3), DIRECTION_NAMES[label]
        clip = split.clips[index, 0].double() / 255
        mask = (clip - split.truth["background"][index]).abs()  # the shape alone
        size = clip.shape[-1]
        centres = [_circular_centroid(frame) for frame in mask]
        for (y0, x0), (y1, x1) in zip(centres, centres[1:]):
            step_y = (y1 - y0 + size / 2) % size - size / 2
            step_x = (x1 - x0 + size / 2) % size - size / 2
            assert step_y == pytest.approx(dy, abs=0.1)
            assert step_x == pytest.approx(dx, abs=0.1)


def test_one_frame_says_nothing_about_the_class_the_shape_is_anywhere_on_the_torus():
    # Where the shape starts is uniform and independent of the label: the mean
    # start of each class is near the centre, whatever the direction. (Uniform
    # on [0, 32): sd 9.24 px, so 500 clips give a standard error of 0.41 px;
    # the bound is 5 standard errors.)
    split = make_splits(DirectionTask(train=4000, val=8, test=8))["train"]
    for label in range(8):
        start = split.truth["start"][split.labels == label]
        assert start.mean(0).sub(16).abs().max() < 5 * 9.24 / math.sqrt(500)
        assert start.min() >= 0 and start.max() < 32


def test_single_frame_view_repeats_the_middle_frame(splits):
    clips, labels = splits["train"].with_view("single_frame").batch([0, 1, 2])
    original, same_labels = splits["train"].batch([0, 1, 2])
    assert torch.equal(labels, same_labels)
    for t in range(8):
        assert torch.equal(clips[:, :, t], original[:, :, 4])


def test_shuffled_view_permutes_frames_afresh_on_every_visit(splits):
    shuffled = splits["train"].with_view("shuffled", seed=3)
    original, _ = splits["train"].batch([5])
    first, _ = shuffled.batch([5])
    second, _ = shuffled.batch([5])
    frames = {frame.numpy().tobytes() for frame in original[0, 0]}
    assert {frame.numpy().tobytes() for frame in first[0, 0]} == frames
    assert not torch.equal(first, second)


def test_a_shuffled_view_for_evaluation_shows_each_clip_the_same_way_every_time(splits):
    fixed = splits["val"].with_view("shuffled", seed=1, fresh_each_visit=False)
    first, _ = fixed.batch([2, 5])
    again, _ = fixed.batch([5, 2])
    assert torch.equal(first[1], again[0]) and torch.equal(first[0], again[1])
    original, _ = splits["val"].batch([5])
    assert not torch.equal(first[1], original[0])  # shuffled, not in order


def test_a_shuffled_view_draws_from_its_own_seed_not_from_what_came_before(splits):
    # Two views with the same seed shuffle alike however much a third one was used.
    a = splits["train"].with_view("shuffled", seed=7)
    other = splits["train"].with_view("shuffled", seed=8)
    other.batch(range(32))
    b = splits["train"].with_view("shuffled", seed=7)
    assert torch.equal(a.batch([1, 2, 3])[0], b.batch([1, 2, 3])[0])


def test_splits_that_cannot_fit_in_memory_are_refused_before_any_clip_is_drawn():
    with pytest.raises(MemoryError, match=r"would need [\d,.]+ GiB, but this machine has"):
        make_splits(DirectionTask(train=10**9))


def test_items_are_float_clips_in_the_unit_range(splits):
    clip, label = splits["val"][3]
    assert clip.dtype == torch.float32 and clip.shape == (1, 8, 32, 32)
    assert 0 <= float(clip.min()) and float(clip.max()) <= 1
    assert 0 <= int(label) < 8


@pytest.mark.parametrize("kwargs, message", [
    ({"train": 0}, "train (clips in the split) must be an integer >= 1, got 0"),
    ({"frames": 1}, "frames must be an integer >= 2, got 1"),
    ({"speed": (3.0, 1.0)}, "speed must be a range (low, high) with 0 <= low <= high"),
    ({"extent": (4.0, 20.0)}, "extent (4.0, 20.0) is too large for a 32-pixel frame"),
    ({"noise": -1}, "noise must be a finite number >= 0"),
    ({"noise": float("nan")}, "noise must be a finite number >= 0"),
    ({"texture": float("inf")}, "texture must be a finite number >= 0"),
    ({"contrast": 0.3}, "contrast must be a pair of finite numbers (low, high)"),
    ({"speed": (1.0, float("nan"))}, "speed must be a pair of finite numbers"),
])
def test_bad_task_settings_say_what_was_expected(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as error:
        DirectionTask(**kwargs)
    assert message in str(error.value)


def test_bad_dataset_contents_and_views_are_refused(splits):
    with pytest.raises(ValueError, match="view must be one of"):
        splits["train"].with_view("reversed")
    with pytest.raises(ValueError, match="clips must be uint8"):
        MotionDirections(splits["train"].clips.float(), splits["train"].labels)
    with pytest.raises(ValueError, match="labels must have shape"):
        MotionDirections(splits["train"].clips, splits["train"].labels[:3])
    with pytest.raises(TypeError, match="task must be a DirectionTask"):
        make_splits({"train": 8})
