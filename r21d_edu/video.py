"""Reading real video files into frames, a clip at a time, with bounded memory.

The synthetic clips of `r21d_edu.data` are exact; a learner's next question is
what a layer does to *their* video. `read_video` decodes a file with PyAV (the
FFmpeg bindings, whose wheels ship FFmpeg's libraries, so nothing else needs
installing) into uint8 RGB frames shaped (T, H, W, 3) — what decoders return
and what `r21d_edu.preprocess_clip` takes — with the file's frame rate and
duration.

Only the frames asked for are kept: to read frames 300-315 of a long file the
reader *seeks* to the keyframe before frame 300 and decodes forward from
there, instead of decoding (and holding) everything before it. Memory stays
bounded by the clip, and ``VideoClip.decoded`` says how many frames the
decoder had to produce to get it.

- `video_info(path)` — frame rate, frame count, duration and size, from the
  file's header, without decoding;
- `read_video(path, start_time, end_time)` or ``start_frame=, end_frame=`` —
  one clip, by time (seconds) or by frame index, optionally every ``step``-th
  frame and resized while decoding;
- `sample_clips(path, clip_len, num_clips=k)` — k clips spread uniformly over
  the video (how Kinetics models are evaluated), or ``stride=s`` for a dense
  clip every s frames.

Frames are numbered from 0 in display order; frame i is shown at i / fps
seconds after the stream starts (files with a variable frame rate are placed on
that grid by their timestamps).

A damaged file is reported, not decoded into wrong frames, wherever the format
allows it: Matroska / WebM files carry a CRC-32 per top-level element (FFmpeg
writes them by default, FFmpeg's reader does not check them), which is checked
before decoding; the decoder runs with FFmpeg's error detection on
(``err_detect=crccheck+bitstream+buffer+explode``), so a broken bitstream stops
the read instead of being concealed; and a file that starts like a known
container but cannot be opened is called damaged or truncated. Formats without
checksums (MP4 / MOV, AVI, and the H.264 / MPEG-4 bitstreams inside them) cannot
reveal a changed byte that still decodes: such damage goes unnoticed.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ._checks import check_int, is_number

__all__ = [
    "VideoClip",
    "VideoInfo",
    "VideoReadError",
    "read_video",
    "sample_clips",
    "video_info",
]

PathLike = str | os.PathLike

#: The most bytes of frames one read may hold (4 GiB): a whole phone video at full size
#: would need far more (10 min of 1080p at 30 fps is 112 GB), so such a read is refused up
#: front with what to do instead, rather than ending in the machine running out of memory.
MAX_CLIP_BYTES = 4 * 2**30


class VideoReadError(ValueError):
    """A file could not be read as a video: not a video, no frames, or a corrupt stream."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file's header says, read without decoding a frame.

    Fields:
        path: the file.
        fps: average frame rate in frames per second.
        frame_count: number of frames (from the header, or duration × fps
            where the container does not store it, as in .mkv).
        duration: length in seconds.
        width, height: frame size in pixels.
        codec: the codec's short name, e.g. ``"h264"``, ``"ffv1"``.
    """

    path: Path
    fps: float
    frame_count: int
    duration: float
    width: int
    height: int
    codec: str

    def __str__(self) -> str:
        return (f"{self.path.name}: {self.frame_count} frames of {self.width}×{self.height} "
                f"at {self.fps:g} fps ({self.duration:.2f} s, {self.codec})")


@dataclass(frozen=True, repr=False)
class VideoClip:
    """Frames decoded from a video file, and where they came from.

    Fields:
        frames: uint8 RGB frames, (T, H, W, 3).
        fps: the file's frame rate (frames per second).
        duration: the whole file's length in seconds.
        frame_indices: the index in the file of every frame in ``frames``.
        path: the file.
        decoded: how many frames the decoder produced to get these: about
            the clip's length plus the distance back to the keyframe the
            reader seeked to, not the number of frames before the clip.

    Shape:
        - frames: (T, H, W, 3), uint8; ``preprocess_clip(clip)`` turns it
          into the (C, T, 112, 112) float clip Kinetics models take.
    """

    frames: torch.Tensor
    fps: float
    duration: float
    frame_indices: tuple[int, ...]
    path: Path
    decoded: int

    #: where the channel axis is, for `preprocess_clip`.
    layout = "THWC"

    @property
    def start_time(self) -> float:
        """When the first frame is shown, in seconds from the start of the video."""
        return self.frame_indices[0] / self.fps

    @property
    def timestamps(self) -> tuple[float, ...]:
        """When each frame is shown, in seconds."""
        return tuple(i / self.fps for i in self.frame_indices)

    def __len__(self) -> int:
        return len(self.frame_indices)

    def __repr__(self) -> str:
        t, h, w, _ = self.frames.shape
        first, last = self.frame_indices[0], self.frame_indices[-1]
        return (f"VideoClip({self.path.name}: frames {first}–{last} of a "
                f"{self.duration:.2f} s video at {self.fps:g} fps, {t}×{h}×{w}×3 uint8, "
                f"{self.decoded} frames decoded)")


# --------------------------------------------------------------------------
# Opening a file, with errors that say what went wrong
# --------------------------------------------------------------------------


#: FFmpeg's decoder error detection: check CRCs the bitstream carries, refuse broken
#: bitstreams and buffers, and stop at the first error instead of concealing it.
DECODER_ERROR_DETECTION = "crccheck+bitstream+buffer+explode"

# How files of the common containers start: a file that starts like one but cannot be
# opened is damaged or cut short, not "not a video".
_SIGNATURES = (
    ("Matroska/WebM", lambda head: head[:4] == b"\x1a\x45\xdf\xa3"),
    ("MP4/MOV", lambda head: head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide",
                                           b"skip", b"pnot")),
    ("AVI", lambda head: head[:4] == b"RIFF" and head[8:12] == b"AVI "),
    ("Ogg", lambda head: head[:4] == b"OggS"),
    ("FLV", lambda head: head[:3] == b"FLV"),
    ("MPEG program stream", lambda head: head[:4] == b"\x00\x00\x01\xba"),
)


def _container_of(path: Path) -> str | None:
    """The container a file's first bytes announce, or None."""
    with path.open("rb") as handle:
        head = handle.read(12)
    return next((name for name, matches in _SIGNATURES if matches(head)), None)


def _damaged(path: Path, container: str, reason: str) -> VideoReadError:
    return VideoReadError(
        f"{path} is damaged or truncated: it starts like a {container} file, but FFmpeg "
        f"cannot read it ({reason}); a download or copy that stopped early looks like "
        "this: fetch or copy the file again"
    )


def _open(path: PathLike):
    """Open `path` with PyAV and return (container, video stream), or raise plainly."""
    import av  # imported here so that `import r21d_edu` stays light

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected the path of a video file (str or pathlib.Path), got "
                        f"{path!r} ({type(path).__name__})")
    path = Path(path)
    if not path.is_file():
        where = "a folder" if path.is_dir() else "nothing"
        raise FileNotFoundError(
            f"no video file at {path} (found {where} there); this package never downloads, "
            "so pass the path of a video on this machine"
        )
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path} is empty (0 bytes), not a video")
    try:
        container = av.open(str(path))
    except av.error.EOFError as error:
        # A header and nothing after it: FFmpeg reads to the end looking for a first frame.
        raise VideoReadError(
            f"{path} has no frames: FFmpeg reached the end of the file before finding one "
            "(a video written without frames, or cut off right after its header)"
        ) from error
    except av.error.FFmpegError as error:
        kind = _container_of(path)
        if kind is not None:
            raise _damaged(path, kind, _reason(error)) from error
        raise VideoReadError(
            f"{path} is not a video file FFmpeg can read ({_reason(error)}); "
            "convert it first, e.g. ffmpeg -i input -c:v libx264 output.mp4"
        ) from error
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        kind = _container_of(path)
        if not kinds and kind is not None:
            raise _damaged(path, kind, "its header lists no streams at all")
        raise VideoReadError(f"{path} holds no video stream (it has: "
                             f"{', '.join(kinds) or 'no streams'})")
    if container.format.name.startswith("matroska"):
        try:
            _check_matroska_crcs(path)
        except VideoReadError:
            container.close()
            raise
    stream = container.streams.video[0]
    # Let FFmpeg decode with its own threads: several times faster for long-GOP codecs.
    stream.thread_type = "AUTO"
    stream.codec_context.options = {"err_detect": DECODER_ERROR_DETECTION}
    return container, stream


# --------------------------------------------------------------------------
# Matroska's CRC-32 elements, which FFmpeg writes but does not check
# --------------------------------------------------------------------------

_EBML, _SEGMENT, _CRC32 = 0x1A45DFA3, 0x18538067, 0xBF
_checked_files: dict[tuple[str, int, int], None] = {}


def _vint(handle, keep_marker: bool) -> tuple[int | None, int] | None:
    """An EBML variable-length integer: (value, bytes read); value None for "unknown size"."""
    first = handle.read(1)
    if not first:
        return None
    byte, length, mask = first[0], 1, 0x80
    while length <= 8 and not byte & mask:
        mask >>= 1
        length += 1
    if length > 8:
        return None
    rest = handle.read(length - 1)
    if len(rest) != length - 1:
        return None
    value = byte if keep_marker else byte & (mask - 1)
    for b in rest:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return None, length
    return value, length


def _element(handle) -> tuple[int, int | None, int] | None:
    """(ID, size or None, offset of the data) of the element at the handle's position."""
    ident = _vint(handle, keep_marker=True)
    size = _vint(handle, keep_marker=False) if ident is not None else None
    if ident is None or size is None:
        return None
    return ident[0], size[0], handle.tell()  # type: ignore[return-value]


def _check_matroska_crcs(path: Path) -> None:
    """Refuse a Matroska/WebM file whose top-level elements do not match their CRC-32.

    Each top-level element (Info, Tracks, every Cluster of frames, Cues, ...) may open
    with a CRC-32 element: the little-endian CRC-32 (zlib's) of the rest of its data.
    Reads the file once; the answer is kept for as long as the file is unchanged.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _checked_files:
        return
    with path.open("rb") as handle:
        header = _element(handle)
        if header is None or header[0] != _EBML or header[1] is None:
            return
        handle.seek(header[2] + header[1])
        segment = _element(handle)
        if segment is None or segment[0] != _SEGMENT:
            return
        end = stat.st_size if segment[1] is None else min(segment[2] + segment[1],
                                                          stat.st_size)
        position = segment[2]
        while position < end:
            handle.seek(position)
            element = _element(handle)
            if element is None or element[1] is None or element[2] + element[1] > end:
                break  # an element of unknown size, or cut off: the decoder reports that
            ident, size, start = element
            head = handle.read(6)
            if size >= 6 and head[0] == _CRC32 and head[1] == 0x84:
                stored = int.from_bytes(head[2:6], "little")
                crc, left = 0, size - 6
                while left:
                    chunk = handle.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    crc = zlib.crc32(chunk, crc)
                    left -= len(chunk)
                if crc != stored:
                    raise VideoReadError(
                        f"{path} is damaged: the CRC-32 of its Matroska element 0x{ident:X} at "
                        f"byte {position:,} does not match its data, so frames would decode "
                        "wrong; fetch or copy the file again (a bad download, copy or disk "
                        "does this)"
                    )
            position = start + size
    if len(_checked_files) > 256:
        _checked_files.clear()
    _checked_files[key] = None


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


def _fps(stream, path: Path) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or float(rate) <= 0:
        raise VideoReadError(f"{path} does not say its frame rate, so frames cannot be "
                             "placed in time; re-encode it with a constant rate "
                             "(ffmpeg -i input -r 25 output.mp4)")
    return float(rate)


def _info(container, stream, path: Path) -> VideoInfo:
    fps = _fps(stream, path)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        # container.duration is in microseconds (av.time_base), from the file's start.
        duration = container.duration / 1_000_000 - _stream_start(stream)
    else:
        duration = 0.0
    # .mkv and some streams store no frame count (0): derive it from the duration.
    frame_count = stream.frames or int(round(duration * fps))
    if not stream.frames and duration <= 0:
        frame_count = 0
    ctx = stream.codec_context
    return VideoInfo(path, fps, frame_count, frame_count / fps if frame_count else duration,
                     ctx.width, ctx.height, ctx.name)


def _stream_start(stream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def video_info(path: PathLike) -> VideoInfo:
    """Read a video file's frame rate, frame count, duration and size, without decoding.

    Example::

        >>> video_info("my_clip.mp4")   # doctest: +SKIP
        VideoInfo(path=PosixPath('my_clip.mp4'), fps=30.0, frame_count=300, ...)
    """
    container, stream = _open(path)
    try:
        return _info(container, stream, Path(path))
    finally:
        container.close()


# --------------------------------------------------------------------------
# Decoding a range of frames
# --------------------------------------------------------------------------


def _frames_from(container, stream, start: int, fps: float,
                 path: Path) -> Iterator[tuple[int, object]]:
    """Yield (index, av.VideoFrame) from frame `start` on, seeking to the keyframe before it.

    Frame indices come from timestamps, so they stay right after a seek, which
    lands on a keyframe somewhere before the frame asked for.
    """
    import av

    offset = _stream_start(stream)
    seeked = False
    counter = 0
    try:
        if stream.time_base is not None:
            # Also for start = 0: the container may have been read before (sample_clips).
            target = int(round((offset + start / fps) / stream.time_base))
            container.seek(target, stream=stream, backward=True, any_frame=False)
            seeked = True
        for frame in container.decode(stream):
            if frame.time is None:
                if seeked:  # no timestamps to place the frame: decode from the start instead
                    container.seek(0, stream=stream)
                    yield from _count_from_start(container, stream)
                    return
                index = counter
            else:
                index = int(round((frame.time - offset) * fps))
            counter += 1
            yield index, frame
    except av.error.FFmpegError as error:
        raise VideoReadError(
            f"the video stream of {path} is corrupt: decoding failed after {counter} "
            f"frames ({_reason(error)}); read a range that ends before that point, or "
            "re-encode the file (ffmpeg -i input -c:v libx264 output.mp4)"
        ) from error


def _count_from_start(container, stream) -> Iterator[tuple[int, object]]:
    for index, frame in enumerate(container.decode(stream)):
        yield index, frame


def _decode_range(container, stream, info: VideoInfo, start: int, stop: int | None, step: int,
                  size: tuple[int, int] | None) -> VideoClip:
    """Decode frames start, start+step, … below `stop` (None: to the end of the file)."""
    height, width = size if size is not None else (info.height, info.width)
    wanted = None if stop is None else len(range(start, stop, step))
    # Fill one preallocated array, so the peak is one clip, not a list of frames plus their
    # stack; to the end of the file its size comes from the header's count, and frames past
    # that count (a header that underestimates) are collected in a list and appended.
    capacity = wanted if wanted is not None else len(range(start, info.frame_count, step))
    needed = capacity * height * width * 3
    if needed > MAX_CLIP_BYTES:
        raise ValueError(
            f"reading {capacity} frames of {height}×{width} from {info.path.name} would hold "
            f"{needed / 2**30:.1f} GiB of frames (limit {MAX_CLIP_BYTES / 2**30:g} GiB); read "
            "a range (start_time=, end_time=), every step-th frame (step=), smaller frames "
            "(size=(h, w)), or clips with sample_clips"
        )
    buffer = np.empty((capacity, height, width, 3), np.uint8) if capacity else None
    frames: list[np.ndarray] = []
    indices: list[int] = []
    decoded = 0
    for index, frame in _frames_from(container, stream, start, info.fps, info.path):
        decoded += 1
        if index < start or (index - start) % step:
            continue
        if stop is not None and index >= stop:
            break
        if size is not None:
            array = frame.to_ndarray(format="rgb24", width=width, height=height)
        else:
            array = frame.to_ndarray(format="rgb24")
        if buffer is not None and len(indices) < capacity:
            buffer[len(indices)] = array
        else:
            frames.append(array)
        indices.append(index)
        if wanted is not None and len(indices) == wanted:
            break
    if not indices:
        if decoded == 0 and start == 0:
            raise VideoReadError(f"{info.path} has no frames: its video stream holds no "
                                 "frame that could be decoded (empty or cut off)")
        raise ValueError(
            f"frame {start} is outside {info.path.name}: decoding ended before it, "
            f"although its header says {info.frame_count} frames (the file may be truncated)"
        )
    if wanted is not None and len(indices) < wanted:
        raise ValueError(
            f"{info.path.name} ends at frame {indices[-1]}, before the requested range "
            f"[{start}, {stop}) ended (its header says {info.frame_count} frames, "
            "so the file may be truncated); ask for frames below "
            f"{indices[-1] + 1}"
        )
    # Reading to the end: a stream that stops well short of its header's count was cut off
    # or damaged (a few frames of slack for headers that only estimate the count).
    short = info.frame_count - (indices[-1] + 1)
    if stop is None and short > max(2, info.frame_count // 50):
        raise VideoReadError(
            f"the video stream of {info.path} is truncated or corrupt: it ends after frame "
            f"{indices[-1]}, but its header says {info.frame_count} frames; read a range "
            f"that ends by then (end_frame={indices[-1] + 1}) or re-encode the file"
        )
    filled = min(len(indices), capacity)
    parts = [buffer[:filled]] if buffer is not None else []
    if frames:
        parts.append(np.stack(frames))
    array = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return VideoClip(torch.from_numpy(array), info.fps, info.duration, tuple(indices),
                     info.path, decoded)


def _frame_range(info: VideoInfo, start_time: float | None, end_time: float | None,
                 start_frame: int | None, end_frame: int | None) -> tuple[int, int | None]:
    """Turn a time or frame range into [start, stop) frame indices, checked against the video."""
    by_time = start_time is not None or end_time is not None
    by_frame = start_frame is not None or end_frame is not None
    if by_time and by_frame:
        raise ValueError("give a range by time (start_time, end_time in seconds) or by frame "
                         "(start_frame, end_frame), not both")
    n = info.frame_count
    if by_time:
        for name, value in (("start_time", start_time), ("end_time", end_time)):
            if value is not None and (not is_number(value) or not math.isfinite(value)):
                raise TypeError(f"{name} must be a finite number of seconds, got {value!r}")
        start_time = None if start_time is None else float(start_time)
        end_time = None if end_time is None else float(end_time)
        # Frame i is shown during [i/fps, (i+1)/fps): start with the frame on screen at
        # start_time, stop before the first frame shown at or after end_time. The 1e-9 keeps
        # a time computed as i / fps from landing on the frame before i in floating point.
        start = 0 if start_time is None else max(0, math.floor(start_time * info.fps + 1e-9))
        stop = None if end_time is None else math.ceil(end_time * info.fps - 1e-9)
        if start_time is not None and start_time < 0:
            raise ValueError(f"start_time must be >= 0 s, got {start_time}")
        if end_time is not None and start_time is not None and end_time <= start_time:
            raise ValueError(f"end_time ({end_time} s) must come after start_time "
                             f"({start_time} s)")
        if start_time is not None and n and start >= n:
            raise ValueError(f"start_time {start_time} s is outside {info.path.name}, which "
                             f"lasts {info.duration:.3f} s ({n} frames at {info.fps:g} fps)")
        if end_time is not None and n and stop is not None and stop > n:
            raise ValueError(f"end_time {end_time} s is past the end of {info.path.name}, "
                             f"which lasts {info.duration:.3f} s ({n} frames at "
                             f"{info.fps:g} fps); use end_time=None to read to the end")
        if stop is not None and stop <= start:
            raise ValueError(f"no frame starts in [{start_time}, {end_time}) s at "
                             f"{info.fps:g} fps; widen the range")
        return start, stop
    start = 0 if start_frame is None else check_int(start_frame, "start_frame", minimum=0)
    stop = None if end_frame is None else check_int(end_frame, "end_frame", minimum=1)
    if stop is not None and stop <= start:
        raise ValueError(f"end_frame ({stop}) must be greater than start_frame ({start})")
    if n and start >= n:
        raise ValueError(f"start_frame {start} is outside {info.path.name}, which has "
                         f"{n} frames (0 to {n - 1})")
    if n and stop is not None and stop > n:
        raise ValueError(f"end_frame {stop} is past the end of {info.path.name}, which has "
                         f"{n} frames (0 to {n - 1}); use end_frame=None to read to the end")
    return start, stop


def _check_size(size: object) -> tuple[int, int] | None:
    if size is None:
        return None
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise TypeError(f"size must be (height, width) in pixels, two positive ints, got {size!r}")
    # The same integers every size argument takes: ints, NumPy ints, 0-d integer tensors.
    return (check_int(size[0], "size height", minimum=1),
            check_int(size[1], "size width", minimum=1))


def read_video(
    path: PathLike,
    start_time: float | None = None,
    end_time: float | None = None,
    *,
    start_frame: int | None = None,
    end_frame: int | None = None,
    step: int = 1,
    size: tuple[int, int] | None = None,
) -> VideoClip:
    """Decode a video file, or a range of it, into uint8 RGB frames.

    With no range the whole file is decoded — fine for a short clip; for a
    long video give a range: the reader seeks to the keyframe before it, so
    only about the range is decoded and only the range is kept in memory.

    Args:
        path: a video file (any container and codec FFmpeg reads: .mp4,
            .mkv, .avi, .webm, …).
        start_time, end_time: a range in seconds, [start_time, end_time): from
            the frame on screen at start_time to the last one shown before end_time.
        start_frame, end_frame: or a range of frame indices,
            [start_frame, end_frame), counted from 0.
        step: keep every step-th frame of the range (2 halves the frame rate).
        size: (height, width) to resize every frame to while decoding, which
            keeps a large video's clip small; default: the file's size.

    Returns:
        A `VideoClip`: ``.frames`` (T, H, W, 3) uint8, ``.fps``,
        ``.duration`` (of the whole file), ``.frame_indices``, ``.decoded``.

    Raises:
        FileNotFoundError: no file at `path`.
        VideoReadError: the file is not a video, has no frames, or its stream
            is corrupt (a `ValueError`).
        ValueError: the range lies (partly) outside the video, or its frames
            would take more than `MAX_CLIP_BYTES` (4 GiB) of memory.

    Shape:
        - Output ``frames``: (T, H, W, 3), uint8, RGB.

    Example::

        >>> clip = read_video("my_clip.mp4", 1.0, 2.0)      # doctest: +SKIP
        >>> clip.frames.shape                                # one second at 30 fps
        torch.Size([30, 720, 1280, 3])
        >>> preprocess_clip(clip).shape                      # (C, T, H, W), model-ready
        torch.Size([3, 30, 112, 112])
    """
    step = check_int(step, "step", minimum=1)
    size = _check_size(size)
    container, stream = _open(path)
    try:
        info = _info(container, stream, Path(path))
        start, stop = _frame_range(info, start_time, end_time, start_frame, end_frame)
        return _decode_range(container, stream, info, start, stop, step, size)
    finally:
        container.close()


def sample_clips(
    path: PathLike,
    clip_len: int = 16,
    *,
    num_clips: int | None = None,
    stride: int | None = None,
    step: int = 1,
    size: tuple[int, int] | None = None,
) -> list[VideoClip]:
    """Cut a video into clips of `clip_len` frames: k spread evenly, or one every `stride` frames.

    Each clip is decoded on its own after a seek, so memory holds one clip
    at a time while decoding (plus the clips returned).

    Args:
        path: a video file.
        clip_len: frames per clip (16 for torchvision's Kinetics models).
        num_clips: k clips whose starts are spread evenly from the first
            frame to the last possible start (Kinetics evaluation averages
            the predictions of such clips).
        stride: instead, a clip starting every `stride` frames (dense
            sampling; stride = clip_len * step gives clips that touch).
        step: keep every step-th frame inside each clip.
        size: (height, width) to resize frames to while decoding.

    Returns:
        A list of `VideoClip`, in time order.

    Shape:
        - Each clip's ``frames``: (clip_len, H, W, 3), uint8.
    """
    clip_len = check_int(clip_len, "clip_len", minimum=1)
    step = check_int(step, "step", minimum=1)
    size = _check_size(size)
    if (num_clips is None) == (stride is None):
        raise ValueError("give either num_clips (k clips spread uniformly) or stride "
                         "(a clip every stride frames), exactly one of them")
    container, stream = _open(path)
    try:
        info = _info(container, stream, Path(path))
        span = (clip_len - 1) * step + 1
        if span > info.frame_count:
            raise ValueError(
                f"a clip of {clip_len} frames with step {step} spans {span} frames, but "
                f"{info.path.name} has {info.frame_count}; use a smaller clip_len or step"
            )
        last_start = info.frame_count - span
        if num_clips is not None:
            k = check_int(num_clips, "num_clips", minimum=1)
            if k > last_start + 1:
                # Checked before np.linspace, which for a billion clips would first allocate
                # 8 GB; and k clips from fewer starts would repeat frames or come back short.
                raise ValueError(
                    f"num_clips={k:,} clips of {span} frames cannot all start on different "
                    f"frames of {info.path.name} ({info.frame_count} frames): there are "
                    f"{last_start + 1} possible starts; ask for at most {last_start + 1}, or "
                    "use stride= for every clip at a fixed spacing"
                )
            starts = sorted({int(round(s)) for s in np.linspace(0, last_start, k)})
        else:
            starts = list(range(0, last_start + 1, check_int(stride, "stride", minimum=1)))
        height, width = size if size is not None else (info.height, info.width)
        total = len(starts) * clip_len * height * width * 3
        if total > MAX_CLIP_BYTES:
            raise ValueError(
                f"{len(starts)} clips of {clip_len} frames of {height}×{width} from "
                f"{info.path.name} would hold {total / 2**30:.1f} GiB of frames together "
                f"(limit {MAX_CLIP_BYTES / 2**30:g} GiB); ask for fewer clips (num_clips=, a "
                "larger stride=) or smaller frames (size=(h, w))"
            )
        return [_decode_range(container, stream, info, s, s + span, step, size) for s in starts]
    finally:
        container.close()
