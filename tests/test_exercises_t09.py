"""Exercise 09.5 (clip_starts): the solution passes, the check's reference is what
sample_clips decodes from real files, and mistakes are told by case, not the starts."""

from __future__ import annotations

import pytest

from r21d_edu.exercises import exercise
from r21d_edu.exercises.t09 import START_CASES, _library_starts, _start_cases


def _ignores_step(num_frames, clip_len, stride, step=1):
    """A clip of clip_len frames taken as if step were 1."""
    if clip_len > num_frames:
        raise ValueError("no clip fits")
    return list(range(0, num_frames - clip_len + 1, stride))


def _one_short(num_frames, clip_len, stride, step=1):
    """range() stopping at the last start instead of one past it."""
    span = (clip_len - 1) * step + 1
    if span > num_frames:
        raise ValueError("no clip fits")
    return list(range(0, num_frames - span, stride))


def _never_refuses(num_frames, clip_len, stride, step=1):
    span = (clip_len - 1) * step + 1
    return list(range(0, num_frames - span + 1, stride))


#: For tests/test_checks_never_tell.py: a plausible wrong hand-in per new exercise.
MISTAKES: dict[str, object] = {"09.5": _ignores_step}


def test_the_solution_passes_and_the_blank_is_told_to_start() -> None:
    item = exercise("09.5")
    assert item.is_coding
    assert item.check(item.solve()).correct
    blank = item.check(item.blank())
    assert not blank.correct and "NotImplementedError" in blank.text
    assert blank.text.startswith("case 1: ")


@pytest.mark.parametrize("mistake", [_ignores_step, _one_short, _never_refuses])
def test_a_mistake_is_told_its_case_not_the_starts(mistake) -> None:
    feedback = exercise("09.5").check(mistake)
    assert not feedback.correct
    assert feedback.text.startswith("case ")
    case = int(feedback.text.split(":")[0].split()[1])
    want = _library_starts(*_start_cases()[case - 1][1])
    assert str(want) not in feedback.text


def test_wrong_types_are_told() -> None:
    item = exercise("09.5")
    for bad in ("abc", object(), lambda *a: 3, lambda *a: ["a"]):
        assert not item.check(bad).correct


def test_the_reference_is_what_sample_clips_decodes(tmp_path) -> None:
    """The check's arithmetic against sample_clips on written videos, for every case."""
    pytest.importorskip("av")
    from r21d_edu import sample_clips
    from r21d_edu.demo_video import write_demo_video

    cases = _start_cases()
    assert len(cases) == START_CASES
    videos = {}
    for _, (frames, clip_len, stride, step) in cases:
        if frames not in videos:
            videos[frames] = write_demo_video(tmp_path / f"v{frames}.mkv", frames=frames,
                                              height=48, width=80)
        want = _library_starts(frames, clip_len, stride, step)
        if want is None:
            with pytest.raises(ValueError):
                sample_clips(videos[frames], clip_len, stride=stride, step=step, size=(8, 8))
            continue
        clips = sample_clips(videos[frames], clip_len, stride=stride, step=step, size=(8, 8))
        assert [c.frame_indices[0] for c in clips] == want
