"""Reading video files: exact frames, ranges by time and frame, seeking, clip sampling, errors.

Every video is written here with PyAV: lossless FFV1 in .mkv where frames are
compared exactly, MPEG-4 Part 2 with a keyframe every 25 frames where seeking
matters (a long GOP is what makes seeking decode frames before the clip).
"""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from r21d_edu import (
    VideoReadError,
    preprocess_clip,
    read_video,
    sample_clips,
    video_info,
)


def frame_pattern(index: int, height: int = 24, width: int = 32) -> np.ndarray:
    """A frame that names its index: red = index, a green column moving right, blue noise."""
    rng = np.random.default_rng(index)
    frame = rng.integers(0, 64, (height, width, 3), dtype=np.uint8)
    frame[..., 0] = index % 256
    frame[:, index % width, 1] = 255
    return frame


def write_video(path: Path, frames: int, fps: int = 10, codec: str = "ffv1",
                gop: int = 1, height: int = 24, width: int = 32) -> np.ndarray:
    """Write `frames` pattern frames and return them, (T, H, W, 3) uint8."""
    lossless = codec == "ffv1"
    pictures = np.stack([frame_pattern(i, height, width) for i in range(frames)])
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        # FFV1 stores RGB losslessly as bgr0; other codecs get the usual yuv420p.
        stream.pix_fmt = "bgr0" if lossless else "yuv420p"
        stream.codec_context.gop_size = gop
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return pictures


@pytest.fixture(scope="module")
def lossless(tmp_path_factory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("video") / "pattern.mkv"
    return path, write_video(path, frames=30)


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "long.mp4"
    write_video(path, frames=300, codec="mpeg4", gop=25)
    return path


# --------------------------------------------------------------------------
# Frames, rate and duration
# --------------------------------------------------------------------------


def test_a_lossless_file_reads_back_exactly(lossless) -> None:
    path, pictures = lossless
    clip = read_video(path)
    assert clip.frames.dtype == torch.uint8 and clip.frames.shape == (30, 24, 32, 3)
    assert np.array_equal(clip.frames.numpy(), pictures)
    assert clip.fps == 10 and clip.duration == pytest.approx(3.0)
    assert clip.frame_indices == tuple(range(30)) and len(clip) == 30


def test_info_comes_from_the_header(lossless) -> None:
    info = video_info(lossless[0])
    assert (info.fps, info.frame_count, info.width, info.height, info.codec) == (
        10, 30, 32, 24, "ffv1")
    assert info.duration == pytest.approx(3.0)
    assert str(info) == "pattern.mkv: 30 frames of 32×24 at 10 fps (3.00 s, ffv1)"


def test_a_frame_range_with_a_step(lossless) -> None:
    path, pictures = lossless
    clip = read_video(path, start_frame=10, end_frame=20, step=3)
    assert clip.frame_indices == (10, 13, 16, 19)
    assert np.array_equal(clip.frames.numpy(), pictures[10:20:3])


def test_a_time_range_takes_the_frames_shown_in_it(lossless) -> None:
    path, pictures = lossless
    clip = read_video(path, 1.0, 1.5)  # frames shown at 1.0, 1.1, ..., 1.4 s at 10 fps
    assert clip.frame_indices == (10, 11, 12, 13, 14)
    assert clip.start_time == 1.0 and clip.timestamps[-1] == pytest.approx(1.4)
    assert np.array_equal(clip.frames.numpy(), pictures[10:15])
    assert read_video(path, 2.95).frame_indices == (29,)  # shown from 2.9 s, the last frame


def test_resizing_while_decoding(lossless) -> None:
    clip = read_video(lossless[0], start_frame=0, end_frame=4, size=(12, 16))
    assert clip.frames.shape == (4, 12, 16, 3)


def test_the_result_goes_straight_into_preprocess_clip(lossless) -> None:
    path, pictures = lossless
    clip = read_video(path, start_frame=0, end_frame=8)
    model_ready = preprocess_clip(clip)
    assert model_ready.shape == (3, 8, 112, 112)
    # The same as passing the frames (as a tensor or as NumPy) with their layout.
    torch.testing.assert_close(model_ready, preprocess_clip(clip.frames, layout="THWC"))
    torch.testing.assert_close(model_ready, preprocess_clip(pictures[:8], layout="THWC"))


# --------------------------------------------------------------------------
# Seeking: memory and work bounded by the clip
# --------------------------------------------------------------------------


def test_seeking_gives_the_frames_a_full_decode_gives(long_gop) -> None:
    everything = read_video(long_gop)
    assert everything.frames.shape[0] == 300
    clip = read_video(long_gop, start_frame=200, end_frame=216)
    assert clip.frame_indices == tuple(range(200, 216))
    assert torch.equal(clip.frames, everything.frames[200:216])


def test_a_clip_late_in_a_video_decodes_about_the_clip_not_the_video(long_gop) -> None:
    clip = read_video(long_gop, start_frame=260, end_frame=276)
    # 16 frames plus at most one GOP (25 frames) back to the keyframe before frame 260.
    assert 16 <= clip.decoded <= 16 + 25
    assert clip.frames.numel() == 16 * 24 * 32 * 3  # only the clip is kept


def test_uniform_clips_span_the_video(long_gop) -> None:
    clips = sample_clips(long_gop, clip_len=16, num_clips=4)
    assert [c.frame_indices[0] for c in clips] == [0, 95, 189, 284]
    assert all(c.frames.shape == (16, 24, 32, 3) for c in clips)
    assert clips[-1].frame_indices[-1] == 299
    reference = read_video(long_gop, start_frame=95, end_frame=111)
    assert torch.equal(clips[1].frames, reference.frames)


def test_dense_clips_every_stride_frames(lossless) -> None:
    path, pictures = lossless
    clips = sample_clips(path, clip_len=8, stride=8, step=1)
    assert [c.frame_indices for c in clips] == [tuple(range(s, s + 8)) for s in (0, 8, 16)]
    stepped = sample_clips(path, clip_len=4, stride=10, step=2)
    assert [c.frame_indices for c in stepped] == [(0, 2, 4, 6), (10, 12, 14, 16),
                                                  (20, 22, 24, 26)]
    assert np.array_equal(stepped[2].frames.numpy(), pictures[20:27:2])


# --------------------------------------------------------------------------
# Errors that say what went wrong
# --------------------------------------------------------------------------


def test_a_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no video file at .*missing.mp4 \(found nothing "
                                                r"there\); this package never downloads"):
        read_video(tmp_path / "missing.mp4")
    with pytest.raises(FileNotFoundError, match="found a folder there"):
        read_video(tmp_path)


def test_a_file_that_is_not_a_video(tmp_path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VideoReadError, match=r"notes.mp4 is not a video file FFmpeg can read"):
        read_video(text)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoReadError, match=r"empty.mp4 is empty \(0 bytes\), not a video"):
        read_video(empty)


def test_a_sound_file_has_no_video_stream(tmp_path) -> None:
    sound = tmp_path / "beep.wav"
    with wave.open(str(sound), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x01" * 800)
    with pytest.raises(VideoReadError, match=r"beep.wav holds no video stream \(it has: audio\)"):
        read_video(sound)


def test_a_video_stream_without_frames(tmp_path) -> None:
    path = tmp_path / "no_frames.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "bgr0"
        container.start_encoding()  # the header, then no frame at all
    with pytest.raises(VideoReadError, match="no_frames.mkv has no frames"):
        read_video(path)


def test_a_truncated_stream_is_reported_not_returned_short(tmp_path, lossless) -> None:
    data = lossless[0].read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match=r"cut.mkv is truncated or corrupt: it ends after "
                                             r"frame \d+, but its header says 30 frames"):
        read_video(cut)


def test_a_corrupt_stream_names_where_decoding_failed(tmp_path, long_gop) -> None:
    data = bytearray(long_gop.read_bytes())
    # Garbage over about frames 90-100 of the stream; the index at the end stays intact.
    at = int(len(data) * 0.3)
    data[at:at + 500] = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    # Where the decoder notices depends on the bytes hit: mid-packet, or a packet cut short.
    with pytest.raises(VideoReadError, match=r"the video stream of .*damaged.mp4 is (corrupt: "
                                             r"decoding failed after \d+ frames|truncated or "
                                             r"corrupt: it ends after frame \d+)"):
        read_video(damaged)


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_frame=30), r"start_frame 30 is outside pattern.mkv, which has 30 frames "
                           r"\(0 to 29\)"),
    (dict(start_frame=20, end_frame=31), r"end_frame 31 is past the end of pattern.mkv, which "
                                         r"has 30 frames \(0 to 29\); use end_frame=None"),
    (dict(start_frame=5, end_frame=5), r"end_frame \(5\) must be greater than start_frame \(5\)"),
    (dict(start_time=3.0), r"start_time 3.0 s is outside pattern.mkv, which lasts 3.000 s "
                           r"\(30 frames at 10 fps\)"),
    (dict(start_time=1.0, end_time=3.5), r"end_time 3.5 s is past the end of pattern.mkv"),
    (dict(start_time=2.0, end_time=1.0), r"end_time \(1.0 s\) must come after start_time"),
    (dict(start_time=-1.0), r"start_time must be >= 0 s, got -1.0"),
    (dict(start_time=1.0, start_frame=3), "give a range by time .* or by frame .*, not both"),
])
def test_a_range_outside_the_video(lossless, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        read_video(lossless[0], **kwargs)


def test_a_read_too_large_for_memory_is_refused_up_front(lossless, monkeypatch) -> None:
    import r21d_edu.video

    # 30 frames of 24×32×3 bytes = 69,120 bytes; pretend the limit is below that.
    monkeypatch.setattr(r21d_edu.video, "MAX_CLIP_BYTES", 50_000)
    with pytest.raises(ValueError, match=r"reading 30 frames of 24×32 from pattern.mkv would hold "
                                         r"0.0 GiB of frames .*; read a range \(start_time=, "
                                         r"end_time=\), every step-th frame \(step=\)"):
        read_video(lossless[0])
    assert len(read_video(lossless[0], step=2)) == 15  # what the message suggests fits


def test_clip_sampling_arguments(lossless) -> None:
    path = lossless[0]
    with pytest.raises(ValueError, match="give either num_clips .* or stride"):
        sample_clips(path, 8)
    with pytest.raises(ValueError, match=r"a clip of 16 frames with step 2 spans 31 frames, but "
                                         r"pattern.mkv has 30"):
        sample_clips(path, 16, num_clips=2, step=2)
    with pytest.raises(TypeError, match=r"size must be \(height, width\)"):
        read_video(path, size=112)
    with pytest.raises(TypeError, match="step must be an integer, got 1.5"):
        read_video(path, step=1.5)
