"""A small video file the tutorials write when the learner has none of their own.

Nothing may download at run time, yet tutorials 09 and 11 read "your own clip".
`write_demo_video` writes one: a yellow disc moving **right** and a blue square
moving **down**, both at 1 pixel per frame, over a faintly textured background.
It is encoded with FFV1, FFmpeg's lossless codec, so the frames read back are
exactly the frames written and every number a tutorial prints from it is the same
on every run and every machine; a keyframe every 6 frames gives seeking
(`r21d_edu.video.read_video` of a late range) some work to skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._checks import check_int

__all__ = ["DEMO_OBJECTS", "demo_frames", "write_demo_video"]

#: What moves in the demo video, and which way (rows grow downwards).
DEMO_OBJECTS = {"yellow disc": "right", "blue square": "down"}


def demo_frames(frames: int = 24, height: int = 72, width: int = 96) -> np.ndarray:
    """The demo video's frames, as `write_demo_video` encodes them.

    Shape:
        - output: (frames, height, width, 3) uint8 RGB
    """
    frames = check_int(frames, "frames", minimum=1)
    height = check_int(height, "height", minimum=48)
    width = check_int(width, "width", minimum=80)
    rng = np.random.default_rng(0)
    background = rng.integers(20, 50, (height, width, 3), dtype=np.uint8)
    rows, cols = np.mgrid[:height, :width]
    pictures = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        picture = background.copy()
        picture[(rows - 22) ** 2 + (cols - 16 - t) ** 2 <= 81] = (240, 200, 60)  # moves right
        picture[30 + t:46 + t, 60:76] = (90, 160, 230)                            # moves down
        pictures[t] = picture
    return pictures


def write_demo_video(path: str | os.PathLike, frames: int = 24, fps: int = 12,
                     height: int = 72, width: int = 96) -> Path:
    """Write the demo video (FFV1 in Matroska) to `path` and return the path.

    Args:
        path: the file to write, e.g. ``"demo.mkv"`` (replaced if it exists).
        frames: how many frames; the default lasts 2 seconds.
        fps: frames per second.
        height, width: the frame size (at least 48 × 80, so both objects fit).

    Shape:
        - the file's frames: (frames, height, width, 3) uint8 RGB when read back

    Example::

        >>> from r21d_edu import read_video
        >>> path = write_demo_video(tmp / "demo.mkv")            # doctest: +SKIP
        >>> read_video(path).frames.shape                         # doctest: +SKIP
        torch.Size([24, 72, 96, 3])
    """
    import av  # PyAV: its wheels carry FFmpeg; imported here so the package stays light

    fps = check_int(fps, "fps", minimum=1)
    pictures = demo_frames(frames, height, width)
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = pictures.shape[2], pictures.shape[1], "bgr0"
        stream.codec_context.gop_size = 6  # a keyframe every 6 frames: seeking has work to skip
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder
            container.mux(packet)
    return path
