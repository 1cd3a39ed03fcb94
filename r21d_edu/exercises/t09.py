"""Self-checks for tutorial 09's exercises ("Your own clip").

Registered with `r21d_edu.exercises` and listed in its ``PROVIDERS``. The
exercises are about what reading a video costs and what the motion kernels
measure; they need no video file, so every learner can check them (the
tutorial's "Try it on your own clip" section holds the open-ended ones).
"""

from __future__ import annotations

import operator
from typing import Any

import torch

from ._base import register
from .answers import Choice, Function, Incorrect, Int, TupleOf, describe
from .behaviour import draws


def _side(got: float, want: float) -> str:
    return "too many" if got > want else "too few"


def _check_09_1(answer: Any) -> str:
    keyframe = (95 // 30) * 30
    want = 110 - keyframe + 1
    if answer != want:
        raise Incorrect(f"{answer} frames is {_side(answer, want)}: the decoder starts at the "
                        "last keyframe at or before frame 95 and decodes every frame from there "
                        "to the last frame it returns, no further")
    return ("21 frames for a 16-frame clip: the 5 frames from the keyframe (90) to the clip's "
            "start are the price of seeking; reading from the start would decode 111")


register(
    "09", 1,
    prompt="A video has 30 frames per second and a keyframe every 30 frames (at frames 0, 30, "
           "60, ...). How many frames does `read_video(path, start_frame=95, end_frame=111)` "
           "decode to return frames 95-110?",
    hand_in="an int: the frames decoded (what `VideoClip.decoded` reports)",
    hint=["A decoder can only start at a keyframe: find the last one at or before frame 95.",
          "Count the frames from that keyframe to frame 110, both included."],
    solution="keyframe = (95 // 30) * 30   # 90\nanswer = 110 - keyframe + 1",
    check=_check_09_1,
    expects=Int(minimum=0),
)


def _right_left_ratio(speed: float) -> float:
    from ..data import moving_shape
    from ..motion import motion_kernels

    clip = moving_shape(frames=12, size=32, velocity=(0, 1)).clip
    pair = motion_kernels(select=["edge moving right", "edge moving left"], speed=speed)
    with torch.no_grad():
        rms = pair(clip).pow(2).mean(dim=(0, 2, 3, 4)).sqrt()
    return float(rms[0] / rms[1])


def _check_09_2(answer: Any) -> str:
    slow, fast = _right_left_ratio(1.0), _right_left_ratio(2.0)
    expected = "grows" if fast > slow else "shrinks"
    if answer != expected:
        raise Incorrect(f"not what these kernels do on this clip: {answer!r} is a guess to "
                        "test — compute the RMS of each of the two output channels for both "
                        "speeds and compare the two ratios")
    return (f"it {expected}, {slow:.2f} → {fast:.2f}: the faster pair tells the directions "
            "of this 1 px/frame motion apart better than the pair tuned to its speed — tuned "
            "to a speed is not the same as most selective at it (tutorial 05's tuning curves)")


register(
    "09", 2,
    prompt="On `moving_shape(frames=12, size=32, velocity=(0, 1))` (a square moving right at "
           "1 px/frame), compute the RMS ratio of 'edge moving right' to 'edge moving left' "
           "for `motion_kernels(..., speed=1.0)` and for `speed=2.0`. Does the ratio grow or "
           "shrink with the faster kernels? Predict first.",
    hand_in="'grows' or 'shrinks'",
    hint=["A kernel tuned to a speed is not necessarily the most selective at it: measure "
          "rather than guess.",
          "motion_kernels(select=['edge moving right', 'edge moving left'], speed=s) is a "
          "1 -> 2 channel layer; take the RMS of each output channel over (N, T, H, W) and "
          "divide right by left, for s = 1.0 and 2.0."],
    solution="import torch\n"
             "from r21d_edu import moving_shape\n"
             "from r21d_edu.motion import motion_kernels\n"
             "clip = moving_shape(frames=12, size=32, velocity=(0, 1)).clip\n"
             "ratios = []\n"
             "for speed in (1.0, 2.0):\n"
             "    pair = motion_kernels(select=['edge moving right', 'edge moving left'],\n"
             "                          speed=speed)\n"
             "    with torch.no_grad():\n"
             "        rms = pair(clip).pow(2).mean(dim=(0, 2, 3, 4)).sqrt()\n"
             "    ratios.append(float(rms[0] / rms[1]))\n"
             "answer = 'grows' if ratios[1] > ratios[0] else 'shrinks'",
    check=_check_09_2,
    expects=Choice("grows", "shrinks"),
)


def _check_09_3(answer: Any) -> str:
    want = (64 - 16) // 8 + 1
    if answer != want:
        raise Incorrect(f"{answer} clips is {_side(answer, want)}: clips start at frame 0 and "
                        "every 8 frames after it, as long as 16 frames still fit before the "
                        "video ends")
    return "7 clips, starting every 8 frames: (64 − 16) / 8 + 1; neighbours overlap by half"


register(
    "09", 3,
    prompt="How many clips does `sample_clips(path, clip_len=16, stride=8)` cut from a video of "
           "64 frames?",
    hand_in="an int",
    hint=["A clip needs 16 frames; starts are 8 frames apart, beginning at frame 0.",
          "The last start leaves 16 frames: 64 − 16. Count the starts 0, 8, … up to it."],
    solution="frames, clip_len, stride = 64, 16, 8\n"
             "answer = (frames - clip_len) // stride + 1",
    check=_check_09_3,
    expects=Int(minimum=0),
)


def _check_09_4(answer: Any) -> str:
    full, small = 16 * 1080 * 1920 * 3, 16 * 112 * 200 * 3
    for what, got, want in (("the bytes at full size", answer[0], full),
                            ("the bytes with size=(112, 200)", answer[1], small)):
        if got != want:
            side = "too many" if got > want else "too few"
            raise Incorrect(f"{what}: {got:,} is {side} — frames are (T, H, W, 3) uint8, one "
                            "byte per value")
    return (f"{full / 2**20:.1f} MiB against {small / 2**20:.2f} MiB: resizing while decoding "
            f"keeps {full // small}× less in memory")


register(
    "09", 4,
    prompt="16 frames of a 1920×1080 video, as uint8 RGB: how many bytes do they take as "
           "decoded, and how many when read with `size=(112, 200)`?",
    hand_in="a tuple of two ints (bytes at full size, bytes resized)",
    hint=["`read_video` returns (T, H, W, 3) uint8: one byte per value.",
          "Multiply T·H·W·3 with H, W = 1080, 1920 and then 112, 200."],
    solution="answer = (16 * 1080 * 1920 * 3, 16 * 112 * 200 * 3)",
    check=_check_09_4,
    expects=TupleOf(("bytes at full size", Int(minimum=0)), ("bytes resized", Int(minimum=0))),
)


# --------------------------------------------------------------------------
# 09.5: where sample_clips starts its clips (coding, checked by behaviour)
# --------------------------------------------------------------------------

START_CASES = 7


def _start_cases(seed: int = 905) -> list[tuple[str, tuple[int, int, int, int]]]:
    """(label, (num_frames, clip_len, stride, step)): drawn videos, and the edges — a
    video exactly one clip long, a stride longer than the video, stride 1, step > 1, a
    stride that leaves frames over at the end, and a video too short for one clip."""
    rng = draws(seed)
    clip_len = rng.randint(4, 8)
    drawn = (rng.randint(30, 60), clip_len, rng.randint(2, clip_len), 1)
    stepped = (rng.randint(30, 50), rng.randint(3, 5), rng.randint(3, 6), 2)
    params = [drawn, (16, 16, 8, 1), (20, 8, 50, 1), (12, 5, 1, 1), stepped,
              (29, 6, 7, 1), (9, 5, 2, 3)]
    cases = []
    for k, (frames, length, stride, step) in enumerate(params):
        cases.append((f"case {k + 1}: clip_starts({frames}, clip_len={length}, "
                      f"stride={stride}, step={step})", (frames, length, stride, step)))
    return cases


def _library_starts(num_frames: int, clip_len: int, stride: int, step: int) -> list[int] | None:
    """The starts `r21d_edu.video.sample_clips(path, clip_len, stride=, step=)` decodes
    for a video of `num_frames` frames (its own arithmetic, which the tests hold equal
    to sample_clips on written videos); None where sample_clips raises ValueError
    because no clip fits."""
    span = (clip_len - 1) * step + 1
    if span > num_frames:
        return None
    return list(range(0, num_frames - span + 1, stride))


def _check_09_5(clip_starts: Any) -> str:
    from .behaviour import call

    for case, (frames, length, stride, step) in _start_cases():
        want = _library_starts(frames, length, stride, step)
        if want is None:
            try:
                got = clip_starts(frames, length, stride, step)
            except ValueError:
                continue
            except NotImplementedError:
                raise Incorrect(f"{case}: clip_starts raised NotImplementedError — replace "
                                "the `raise NotImplementedError()` of the skeleton by your "
                                "code") from None
            except Exception as error:  # the learner's code: any failure is feedback
                raise Incorrect(f"{case}: clip_starts raised {type(error).__name__}, not "
                                "ValueError: a clip that does not fit in the video is a bad "
                                "value, and sample_clips says so with ValueError") from None
            raise Incorrect(f"{case}: clip_starts returned {describe(got)}, but no clip of "
                            "these frames fits in this video: sample_clips raises ValueError "
                            "there, and so should clip_starts")
        got = call(clip_starts, frames, length, stride, step, case=case, what="clip_starts")
        try:
            starts = [operator.index(s) for s in got]
        except TypeError:
            raise Incorrect(f"{case}: clip_starts returned {describe(got)}; return a list of "
                            "ints, the first frame of each clip") from None
        if starts == want:
            continue
        if len(starts) != len(want):
            side = "more" if len(starts) > len(want) else "fewer"
            raise Incorrect(f"{case}: clip_starts gives {len(starts)} starts: {side} clips than "
                            "sample_clips cuts from this video")
        first = next(i for i, (a, b) in enumerate(zip(starts, want)) if a != b)
        raise Incorrect(f"{case}: the number of clips is right, but start {first} "
                        f"(counting from 0) is {starts[first]}, "
                        f"{'later' if starts[first] > want[first] else 'earlier'} than the "
                        "frame sample_clips starts that clip on")
    return (f"the same starts as sample_clips on all {START_CASES} cases: a clip of clip_len "
            "frames taken every step-th frame spans (clip_len − 1)·step + 1 frames, so the last "
            "start is num_frames − span, and the starts run from 0 to it every stride frames; "
            "frames after the last whole clip are left out")


register(
    "09", 5,
    prompt="Write where `sample_clips(path, clip_len, stride=stride, step=step)` starts its "
           "clips: `clip_starts(num_frames, clip_len, stride, step=1)` returns the first frame "
           "of every clip it cuts from a video of `num_frames` frames, in order, as a list "
           "of ints, and raises ValueError when not even one clip fits, as sample_clips does.",
    hand_in="your function clip_starts (the function itself, not a call)",
    hint=["A clip keeps every step-th frame: how many frames of the video does one clip "
          "cover from its first frame to its last? The last start must leave that many.",
          "span = (clip_len − 1)·step + 1; if span > num_frames raise ValueError; otherwise "
          "the starts are 0, stride, 2·stride, … up to and including num_frames − span "
          "(Python's range with a stop one past it)."],
    solution="""
        def clip_starts(num_frames, clip_len, stride, step=1):
            ### BEGIN SOLUTION
            span = (clip_len - 1) * step + 1     # frames one clip covers, first to last
            if span > num_frames:
                raise ValueError(f"a clip spans {span} frames; the video has {num_frames}")
            return list(range(0, num_frames - span + 1, stride))
            ### END SOLUTION

        answer = clip_starts
    """,
    check=_check_09_5,
    expects=Function("a function clip_starts(num_frames, clip_len, stride, step=1)"),
)
