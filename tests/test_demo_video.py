"""The demo video the tutorials write: lossless, so its frames read back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from r21d_edu import read_video, video_info
from r21d_edu.demo_video import demo_frames, write_demo_video


def test_the_frames_read_back_are_the_frames_written(tmp_path) -> None:
    path = write_demo_video(tmp_path / "demo.mkv")
    info = video_info(path)
    assert (info.frame_count, info.fps, info.height, info.width) == (24, 12, 72, 96)
    assert np.array_equal(read_video(path).frames.numpy(), demo_frames())


def test_the_objects_move_one_pixel_a_frame() -> None:
    frames = demo_frames(frames=3)
    yellow = np.all(frames == (240, 200, 60), axis=-1)
    blue = np.all(frames == (90, 160, 230), axis=-1)
    assert np.array_equal(np.roll(yellow[0], 1, axis=1), yellow[1])   # right
    assert np.array_equal(np.roll(blue[0], 1, axis=0), blue[1])       # down


def test_a_late_range_seeks_to_its_keyframe(tmp_path) -> None:
    path = write_demo_video(tmp_path / "demo.mkv")
    last = read_video(path, start_frame=20)
    assert last.frame_indices == (20, 21, 22, 23) and last.decoded == 6


@pytest.mark.parametrize("kwargs, message", [({"height": 10}, "height"), ({"frames": 0}, "frames"),
                                              ({"fps": 1.5}, "fps")])
def test_bad_sizes_are_refused(tmp_path, kwargs, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        write_demo_video(tmp_path / "demo.mkv", **kwargs)
