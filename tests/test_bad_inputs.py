"""Inputs that used to get a silent wrong answer or a cryptic error, and now get a clear one.

From issue 13's catalogue of bad inputs tried across the public API: each test
states what the user is now told (what was expected, what came, what to do),
or that the input simply works.
"""

from __future__ import annotations

import copy
import math
import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from r21d_edu import (
    ConvSpec,
    FullConv3d,
    NaiveConv2Plus1d,
    SpatioTemporalConv,
    activation_memory,
    compare_layers,
    count_macs,
    energy_profile,
    factorize,
    layer_cost,
    load_weights,
    make_fast,
    preprocess_clip,
    r3d_18,
    read_state_dict,
    stage_shapes,
)

SPEC = ConvSpec("2plus1d", 3, 8, 3, padding=1)

# --------------------------------------------------------------------------
# Silent or wrong before
# --------------------------------------------------------------------------


@pytest.mark.parametrize("count", [count_macs, layer_cost, activation_memory, stage_shapes])
@pytest.mark.parametrize("size, shown", [(8.7, "8.7 (float)"), (True, "True (bool)")])
def test_cost_functions_refuse_sizes_that_are_not_integers(count, size, shown) -> None:
    # int() used to count T = 8.7 as 8 frames, and True as 1.
    with pytest.raises(TypeError, match=rf"input_shape must hold integer sizes \(N, C, T, H, W\), "
                                        rf"got {re.escape(shown)} in \(1, 3, {size}, 16, 16\); "
                                        r"round a computed size first"):
        count(SPEC, (1, 3, size, 16, 16))


def test_cost_functions_still_take_numpy_integers_and_torch_sizes() -> None:
    expected = count_macs(SPEC, (1, 3, 8, 16, 16)).macs
    assert count_macs(SPEC, tuple(np.array([1, 3, 8, 16, 16]))).macs == expected
    assert count_macs(SPEC, torch.Size([1, 3, 8, 16, 16])).macs == expected


@pytest.mark.parametrize("bad, kinds, count", [(math.inf, "inf", 1), (math.nan, "NaN", 1)])
def test_factorize_refuses_a_kernel_that_is_not_finite(bad, kinds, count) -> None:
    # inf used to give NaN weights without a word, NaN a bare LinAlgError.
    conv = nn.Conv3d(2, 2, 3)
    with torch.no_grad():
        conv.weight[0, 0, 0, 0, 0] = bad
    message = (rf"factorize needs a finite kernel, got {count} of 108 weights that are {kinds}; "
               r"a diverged training run leaves such weights")
    with pytest.raises(ValueError, match=message):
        factorize(conv, 1)
    with pytest.raises(ValueError, match="energy_profile needs a finite kernel"):
        energy_profile(conv)


def test_an_empty_weights_file(tmp_path) -> None:
    path = tmp_path / "r2plus1d_18-91a641e6.pth"
    path.touch()
    # torch.load raised EOFError() with no message.
    with pytest.raises(ValueError, match=r"r2plus1d_18-91a641e6.pth is empty \(0 bytes\): the "
                                         r"download or save did not finish"):
        read_state_dict(path)


@pytest.mark.parametrize("layer, option", [
    (lambda: FullConv3d(3, 8, 3, bias="no"), "bias"),
    (lambda: NaiveConv2Plus1d(3, 8, 3, bias="no"), "bias"),
    (lambda: SpatioTemporalConv(3, 8, 3, bias="False"), "bias"),
    (lambda: SpatioTemporalConv(3, 8, 3, middle_bn_relu="False"), "middle_bn_relu"),
    (lambda: NaiveConv2Plus1d(3, 8, 3, middle_bn_relu="no"), "middle_bn_relu"),
])
def test_string_booleans_are_refused_not_taken_as_true(layer, option) -> None:
    with pytest.raises(TypeError, match=rf"{option} must be True or False, got '(no|False)' "
                                        r"\(str\); a string such as .* would count as True"):
        layer()


def test_boolean_options_still_take_bools_and_numpy_bools() -> None:
    assert FullConv3d(3, 8, 3, bias=False).bias is None
    assert SpatioTemporalConv(3, 8, 3, middle_bn_relu=np.bool_(False)).middle_bn_relu is False


def test_compare_layers_on_a_clip_of_one_frame_and_pixel() -> None:
    # nn.Conv3d accepts it; training-mode BatchNorm used to refuse the 1×1×1 middle tensor.
    comparison = compare_layers(64, 64, 3, padding=1, input_size=1)
    assert comparison.output_shape == (1, 64, 1, 1, 1)
    assert comparison.middle_shape == (1, 144, 1, 1, 1)


# --------------------------------------------------------------------------
# Cryptic before
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: FullConv3d(3, 8, 3, padding=1),
                                  lambda: NaiveConv2Plus1d(3, 8, 3, padding=1),
                                  lambda: SpatioTemporalConv(3, 8, 3, padding=1)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_a_clip_of_another_float_dtype(make, dtype) -> None:
    layer = make()
    name = type(layer).__name__
    clip = torch.zeros(1, 3, 4, 8, 8, dtype=dtype)
    shown = str(dtype).removeprefix("torch.")
    with pytest.raises(TypeError, match=rf"{name} holds float32 weights but got a {shown} clip; "
                                        rf"convert the clip with x.float\(\), or the layer with "
                                        rf"layer.to\(torch.{shown}\)"):
        layer(clip)
    assert layer.to(dtype)(clip).dtype == dtype  # and the suggested fix works


def test_a_complex_clip() -> None:
    with pytest.raises(TypeError, match=r"FullConv3d holds float32 weights but got a complex64 "
                                        r"clip; a video clip is real: take x.real or x.abs\(\)"):
        FullConv3d(3, 8, 3)(torch.zeros(1, 3, 4, 8, 8, dtype=torch.complex64))


def test_autocast_still_mixes_dtypes() -> None:
    layer = FullConv3d(3, 8, 3, padding=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(torch.zeros(1, 3, 4, 8, 8, dtype=torch.bfloat16)).dtype == torch.bfloat16


@pytest.fixture()
def weights_file(tmp_path):
    path = tmp_path / "tiny-weights.pth"
    torch.save(nn.Linear(64, 64).state_dict(), path)
    return path


def test_a_truncated_weights_file(weights_file) -> None:
    data = weights_file.read_bytes()
    weights_file.write_bytes(data[: len(data) // 2])
    # The zip reader used to fail with an internal error.
    with pytest.raises(ValueError, match=r"tiny-weights.pth is truncated: it starts as the zip "
                                         r"archive torch.save writes, but its end is missing"):
        read_state_dict(weights_file)


@pytest.mark.parametrize("content, start", [
    (b"\xff\xd8\xff\xe0" + bytes(4000), re.escape(r"b'\xff\xd8\xff\xe0'")),  # a JPEG
    (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "b'<!DO'"),
])
def test_a_file_that_is_not_a_weights_file(tmp_path, content, start) -> None:
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    # Random bytes used to be reported as an unsafe pickle.
    with pytest.raises(ValueError, match=rf"weights.pth is not a PyTorch weights file: torch.save "
                                         rf"writes a zip archive .*, but this file starts with "
                                         rf"{start}"):
        read_state_dict(path)


def test_a_state_dict_of_numpy_arrays() -> None:
    model = nn.Linear(3, 2)
    arrays = {k: v.numpy() for k, v in model.state_dict().items()}
    with pytest.raises(TypeError, match=r"a state_dict holds tensors, but 2 of its 2 entries are "
                                        r"ndarray \(e.g. 'weight'\): convert with "
                                        r"\{k: torch.from_numpy\(v\)"):
        load_weights(model, arrays)
    load_weights(model, {k: torch.from_numpy(v) for k, v in arrays.items()})  # the fix works


@pytest.mark.parametrize("arguments, message", [
    ((nn.Linear(3, 2), 123), r"load_weights expects the path of a weights file or a state_dict, "
                             r"got 123 \(int\)"),
    ((nn.Linear(3, 2), None), r"load_weights expects the path of a weights file or a "
                              r"state_dict, got None \(NoneType\)"),
    ((None, nn.Linear(3, 2).state_dict()), r"load_weights expects a torch.nn.Module first, got "
                                           r"NoneType; call it as load_weights\(model, path\)"),
])
def test_load_weights_with_the_wrong_kind_of_argument(arguments, message) -> None:
    with pytest.raises(TypeError, match=message):
        load_weights(*arguments)


def test_clip_strip_takes_a_numpy_clip() -> None:
    from r21d_edu.viz import clip_strip

    # It used to look up ndarray.clip and report a builtin_function_or_method.
    figure = clip_strip(np.random.default_rng(0).random((1, 3, 4, 8, 8), dtype=np.float32))
    assert len(figure.axes) == 4
    with pytest.raises(ValueError, match=r"clip_strip expects a 5D clip \(N, C, T, H, W\), got "
                                         r"the 4D shape \(4, 8, 8, 3\)"):
        clip_strip(np.zeros((4, 8, 8, 3), np.float32))


def test_make_fast_on_a_network_without_2plus1d_layers() -> None:
    with torch.device("meta"):
        network = r3d_18()
    with pytest.raises(ValueError, match=r"make_fast found no \(2\+1\)D layer \(SpatioTemporalConv "
                                         r"or NaiveConv2Plus1d\) in VideoResNet, so there is "
                                         r"nothing to make fast"):
        make_fast(network)


def test_a_fast_layer_in_training_mode_warns_that_it_differs() -> None:
    torch.manual_seed(0)
    layer = SpatioTemporalConv(3, 4, 3, padding=1)  # training mode, as built
    fast = make_fast(layer)
    clip = torch.randn(2, 3, 4, 8, 8)
    with pytest.warns(UserWarning, match=r"FastSpatioTemporalConv is for inference: its "
                                         r"BatchNorm is folded with the running statistics.*"
                                         r"call .eval\(\)"):
        trained_output = fast(clip)
    # What the warning is about (a copy: a training-mode call updates the BN statistics).
    assert not torch.allclose(trained_output, copy.deepcopy(layer)(clip), atol=1e-3)
    layer.eval(), fast.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # eval mode: no warning, and the outputs agree
        torch.testing.assert_close(fast(clip), layer(clip), rtol=1e-4, atol=1e-5)


def test_preprocess_clip_takes_numpy_frames() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (4, 60, 80, 3), dtype=np.uint8)
    clip = preprocess_clip(frames, layout="THWC")
    torch.testing.assert_close(clip, preprocess_clip(torch.from_numpy(frames), layout="THWC"))
    frames.setflags(write=False)  # e.g. np.frombuffer: no warning from torch, same result
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.testing.assert_close(preprocess_clip(frames, layout="THWC"), clip)
    with pytest.raises(TypeError, match="preprocess_clip expects frames as a torch.Tensor, a "
                                        "NumPy array or a VideoClip, got list"):
        preprocess_clip(frames.tolist())


# ==========================================================================
# The sweep: every public function and class of the core modules × the classes of
# bad input (issue 16), each outcome classified
# ==========================================================================
#
# clear: an error that names what was expected and what came (the case's words), raised
#        by the package itself, in one line (a command line: exit 2 with "error: ...");
# weak:  an error, but a raw torch / NumPy / pathlib / FFmpeg message, an empty one, one
#        that does not name the argument or the value, or a command-line traceback;
# bad:   a silent wrong result (bad input accepted), a valid input refused, a hang, or
#        global state (RNGs, determinism, threads, grad mode, cuDNN flags) left changed.
#
# `python tests/test_bad_inputs.py` prints the counts and every weak or bad case.

import argparse  # noqa: E402
import atexit  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import io  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import zipfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import r21d_edu  # noqa: E402

NAN, INF = float("nan"), float("inf")
PACKAGE = Path(r21d_edu.__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    """One input: the call, and what a clear refusal names (case-insensitive)."""

    name: str
    call: Callable[[], object]
    words: tuple[str, ...] = ()
    valid: bool = False   # a valid input: it must work
    draws: bool = False   # it initialises weights from torch's RNG, as nn.Conv3d does

    def __str__(self) -> str:
        return self.name


def bad(name: str, call: Callable[[], object], *words: str) -> Case:
    return Case(name, call, tuple(words))


def ok(name: str, call: Callable[[], object], *, draws: bool = False) -> Case:
    return Case(name, call, valid=True, draws=draws)


# --------------------------------------------------------------------------
# Global state: what no call may leave changed
# --------------------------------------------------------------------------


def global_state(*, rng: bool = True) -> dict[str, object]:
    state: dict[str, object] = {
        "deterministic algorithms": (torch.are_deterministic_algorithms_enabled(),
                                     torch.is_deterministic_algorithms_warn_only_enabled()),
        "threads": torch.get_num_threads(),
        "grad mode": torch.is_grad_enabled(),
        "inference mode": torch.is_inference_mode_enabled(),
        "anomaly mode": torch.is_anomaly_enabled(),
        "default dtype": torch.get_default_dtype(),
        "cudnn flags": (torch.backends.cudnn.enabled, torch.backends.cudnn.benchmark,
                        torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32),
        "matmul precision": (torch.backends.cuda.matmul.allow_tf32,
                             torch.get_float32_matmul_precision()),
    }
    if rng:
        state["torch RNG"] = torch.random.get_rng_state().numpy().tobytes()
        state["python random"] = random.getstate()
        state["numpy RNG"] = pickle.dumps(np.random.get_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["CUDA RNG"] = [s.numpy().tobytes() for s in torch.cuda.get_rng_state_all()]
    return state


def changed_state(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return [key for key in before if before[key] != after.get(key)]


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise `Hang` in the main thread after `seconds` (a call that should refuse at once)."""
    if not hasattr(signal, "setitimer") or threading_main() is False:
        yield
        return

    def alarm(_signum, _frame):
        raise Hang(f"no answer after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# --------------------------------------------------------------------------
# Judging an outcome
# --------------------------------------------------------------------------


class CommandLineError(Exception):
    """A command line exited non-zero with a one-line message (what it should do)."""


class CommandLineTraceback(Exception):
    """A command line let an exception escape: a traceback where an error line is documented."""


def message_of(error: BaseException) -> str:
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


def raised_in_package(error: BaseException) -> bool:
    """Whether the innermost frame of the error's traceback is inside r21d_edu."""
    tb = error.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    return Path(last.tb_frame.f_code.co_filename).resolve().is_relative_to(PACKAGE)


def judge(case: Case) -> tuple[str, str]:
    """(clear | weak | bad, why) for one case."""
    before = global_state(rng=not case.draws)
    try:
        with time_limit(20), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.call()
    except Hang as error:
        return "bad", f"hang: {error}"
    except CommandLineTraceback as error:
        verdict = ("weak", f"command-line traceback: {error}")
    except CommandLineError as error:
        text = message_of(error)
        missing = [w for w in case.words if w.lower() not in text.lower()]
        if case.valid:
            verdict = ("bad", f"valid command refused: {text}")
        elif missing:
            verdict = ("weak", f"does not name {missing}: {text}")
        else:
            verdict = ("clear", text)
    except Exception as error:  # noqa: BLE001 - classifying is the point
        text = message_of(error)
        missing = [w for w in case.words if w.lower() not in text.lower()]
        if case.valid:
            verdict = ("bad", f"valid input refused: {type(error).__name__}: {text}")
        elif not text.strip():
            verdict = ("weak", f"empty {type(error).__name__}")
        elif not raised_in_package(error):
            verdict = ("weak", f"raw {type(error).__name__} from outside the package: {text}")
        elif missing:
            verdict = ("weak", f"does not name {missing}: {type(error).__name__}: {text}")
        else:
            verdict = ("clear", f"{type(error).__name__}: {text}")
    else:
        verdict = (("clear", "works") if case.valid
                   else ("bad", f"accepted silently, returned {type(result).__name__}"))
    left = changed_state(before, global_state(rng=not case.draws))
    if left:
        # Put it back, so one leak does not show up again in every later case.
        if "threads" in left:
            torch.set_num_threads(before["threads"])  # type: ignore[arg-type]
        if "deterministic algorithms" in left:
            torch.use_deterministic_algorithms(*before["deterministic algorithms"][:1],
                                               warn_only=before["deterministic algorithms"][1])
        if "grad mode" in left:
            torch.set_grad_enabled(before["grad mode"])  # type: ignore[arg-type]
        return "bad", f"left changed: {', '.join(left)} ({verdict[0]}: {verdict[1]})"
    return verdict


# --------------------------------------------------------------------------
# What the cases work on: small objects and files, made once, without touching the RNG
# --------------------------------------------------------------------------

_FOLDER: list[Path] = []


def folder() -> Path:
    if not _FOLDER:
        path = Path(tempfile.mkdtemp(prefix="r21d-bad-inputs-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _FOLDER.append(path)
    return _FOLDER[0]


def made(function):
    """Cache a fixture and build it with the global random streams left alone."""
    @functools.cache
    @functools.wraps(function)
    def build():
        torch_state, python_state = torch.random.get_rng_state(), random.getstate()
        numpy_state = np.random.get_state()
        try:
            torch.manual_seed(0)
            return function()
        finally:
            torch.random.set_rng_state(torch_state)
            random.setstate(python_state)
            np.random.set_state(numpy_state)
    return build


@made
def conv3d() -> nn.Conv3d:
    return nn.Conv3d(3, 4, 3, padding=1)


@made
def plain() -> SpatioTemporalConv:
    return SpatioTemporalConv(3, 4, 3, padding=1).eval()


@made
def naive() -> NaiveConv2Plus1d:
    return NaiveConv2Plus1d(3, 4, 3, padding=1).eval()


@functools.cache
def built(cls: type, kernel: int = 3) -> nn.Module:
    return made(lambda: cls(3, 8, kernel))()


@made
def linear_layer() -> SpatioTemporalConv:
    return factorize(conv3d(), 2)


@made
def linear_2d() -> nn.Module:
    return nn.Linear(2, 2)


@made
def small_net() -> nn.Module:
    return nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 4, 3, padding=1))


@made
def factorized_net() -> nn.Module:
    from r21d_edu import factorize_network

    return factorize_network(small_net(), rank=2)


@made
def profile():
    from r21d_edu import network_profile

    return network_profile(small_net(), (1, 3, 4, 8, 8))


@made
def energy():
    return energy_profile(conv3d())


@made
def meta_r3d():
    with torch.device("meta"):
        return r3d_18()


@made
def classifier() -> nn.Module:
    # Any 400-way classifier of clips will do for predict's checks.
    return nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(3, 400))


@made
def tuning():
    from r21d_edu import motion_tuning

    return motion_tuning({"d": [-1, 1]}, speeds=[0.0, 1.0, 2.0],
                         directions=[0.0, 90.0, 180.0, 270.0])


def clip(*shape: int, fill: float | None = None) -> torch.Tensor:
    x = torch.rand(shape or (1, 3, 4, 8, 8), generator=torch.Generator().manual_seed(0))
    if fill is not None:
        x[(0,) * x.dim()] = fill
    return x


def flip_bytes_at(data: bytes, offset: int, count: int = 2) -> bytes:
    out = bytearray(data)
    for i in range(offset, offset + count):
        out[i] ^= 0x55
    return bytes(out)


@made
def weights_files() -> dict[str, Path]:
    """A small state_dict written by torch.save, and damaged copies of it."""
    base = folder() / "weights"
    base.mkdir()
    good = base / "good.pth"
    torch.save({"weight": torch.randn(64, 64), "bias": torch.randn(64)}, good)
    data = good.read_bytes()
    archive = zipfile.ZipFile(good)
    entry = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    name_length, extra_length = struct.unpack("<HH", data[entry.header_offset + 26:
                                                          entry.header_offset + 30])
    start = entry.header_offset + 30 + name_length + extra_length
    files = {"good": good}
    for label, content in {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "flipped": flip_bytes_at(data, start + 100),  # inside the weight's bytes
        "html": b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
        "noise": np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
    }.items():
        files[label] = base / f"{label}.pth"
        files[label].write_bytes(content)
    files["folder"] = base
    files["missing"] = base / "missing.pth"
    return files


@made
def port_files() -> dict[str, Path]:
    """A small checkpoint in the port's names (enough keys to convert), and damaged copies."""
    base = folder() / "port"
    base.mkdir()
    state = {f"res2plus1d.conv{stage}.blocks.0.bn1.weight": torch.ones(width)
             for stage, width in zip(range(2, 6), (64, 128, 256, 512), strict=True)}
    state["res2plus1d.conv2.block1.bn1.weight"] = torch.linspace(0.5, 1.5, 64)
    good = base / "port.pth"
    torch.save({"epoch": 3, "state_dict": state}, good)
    data = good.read_bytes()
    files = {"good": good}
    for label, content in {"empty": b"", "truncated": data[: len(data) // 2],
                           "html": b"<html>Not Found</html>"}.items():
        files[label] = base / f"{label}.pth"
        files[label].write_bytes(content)
    archive = zipfile.ZipFile(good)
    entry = next(i for i in archive.infolist() if i.filename.endswith("/data/4"))
    name_length, extra_length = struct.unpack("<HH", data[entry.header_offset + 26:
                                                          entry.header_offset + 30])
    start = entry.header_offset + 30 + name_length + extra_length
    files["flipped"] = base / "flipped.pth"
    files["flipped"].write_bytes(flip_bytes_at(data, start + 8))
    files["missing"] = base / "missing.pth"
    return files


def write_video(path: Path, frames: int, codec: str = "ffv1", gop: int = 1) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height = 32, 24
        stream.pix_fmt = "bgr0" if codec == "ffv1" else "yuv420p"
        stream.codec_context.gop_size = gop
        for i in range(frames):
            picture = np.random.default_rng(i).integers(0, 256, (24, 32, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@made
def video_files() -> dict[str, Path]:
    base = folder() / "video"
    base.mkdir()
    mkv, mp4 = base / "clip.mkv", base / "clip.mp4"
    write_video(mkv, 30)
    write_video(mp4, 60, codec="mpeg4", gop=25)
    mkv_data, mp4_data = mkv.read_bytes(), mp4.read_bytes()
    files = {"mkv": mkv, "mp4": mp4}
    for label, content in {
        # A few bytes of one frame changed: the file still parses and decodes.
        "mkv-flipped": flip_bytes_at(mkv_data, int(len(mkv_data) * 0.6)),
        # A download that stopped: the header's first part only, or the moov atom lost.
        "mp4-head": mp4_data[:2000],
        "mp4-half": mp4_data[: len(mp4_data) // 2],
        "mp4-flipped": flip_bytes_at(mp4_data, int(len(mp4_data) * 0.3)),
        "text": b"just some notes, not a video\n" * 50,
        "empty": b"",
    }.items():
        suffix = ".mkv" if label.startswith("mkv") else ".mp4"
        files[label] = base / f"{label}{suffix}"
        files[label].write_bytes(content)
    files["missing"] = base / "missing.mp4"
    return files


def weights(label: str) -> Path:
    return weights_files()[label]


def video(label: str) -> Path:
    return video_files()[label]


def command_line(main: Callable[[list[str]], object], argv: list[str]) -> object:
    """Run a command line in-process: exit 0 returns, an error line raises CommandLineError."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return main(argv)
    except SystemExit as stop:
        if stop.code in (0, None):
            return stop.code
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        text = lines[-1] if lines else str(stop.code)
        if "Traceback" in err.getvalue():
            raise CommandLineTraceback(text) from None
        raise CommandLineError(text) from None
    except (KeyboardInterrupt, Hang):
        raise
    except BaseException as error:  # noqa: BLE001
        raise CommandLineTraceback(f"{type(error).__name__}: {error}") from None


def bench_main(*argv: str) -> object:
    from r21d_edu import bench

    tiny = ["--device", "cpu", "--layers", "4", "--batch", "1", "--repeats", "1", "--warmup",
            "1", "--mode", "inference", "--methods", "2plus1d", "--out", str(folder() / "bench")]
    return command_line(bench.main, [*tiny, *argv])


# --------------------------------------------------------------------------
# The cases, module by module
# --------------------------------------------------------------------------


def layer_cases() -> list[Case]:
    from r21d_edu import block_intermediate_channels, copy_weights, intermediate_channels
    from r21d_edu.layers import method_of

    cases = []
    for cls in (FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv):
        n = cls.__name__
        make = functools.partial
        cases += [
            bad(f"{n}(bias='no')", make(cls, 3, 8, 3, bias="no"), "bias", "'no'"),
            bad(f"{n}(bias='False')", make(cls, 3, 8, 3, bias="False"), "bias", "'False'"),
            bad(f"{n}(bias=1)", make(cls, 3, 8, 3, bias=1), "bias", "1"),
            bad(f"{n}(in_channels=3.0)", make(cls, 3.0, 8, 3), "in_channels", "3.0"),
            bad(f"{n}(in_channels=True)", make(cls, True, 8, 3), "in_channels", "True"),
            bad(f"{n}(in_channels='3')", make(cls, "3", 8, 3), "in_channels", "'3'"),
            bad(f"{n}(in_channels=0)", make(cls, 0, 8, 3), "in_channels", "0"),
            bad(f"{n}(out_channels=-8)", make(cls, 3, -8, 3), "out_channels", "-8"),
            bad(f"{n}(out_channels=nan)", make(cls, 3, NAN, 3), "out_channels", "nan"),
            bad(f"{n}(kernel_size=(3, 3))", make(cls, 3, 8, (3, 3)), "kernel_size", "(3, 3)"),
            bad(f"{n}(kernel_size=nan)", make(cls, 3, 8, NAN), "kernel_size", "nan"),
            bad(f"{n}(kernel_size=(3, 3.5, 3))", make(cls, 3, 8, (3, 3.5, 3)), "kernel_size",
                "3.5"),
            bad(f"{n}(kernel_size='3')", make(cls, 3, 8, "3"), "kernel_size", "'3'"),
            bad(f"{n}(stride=0)", make(cls, 3, 8, 3, stride=0), "stride", "0"),
            bad(f"{n}(stride=inf)", make(cls, 3, 8, 3, stride=INF), "stride", "inf"),
            bad(f"{n}(padding=-1)", make(cls, 3, 8, 3, padding=-1), "padding", "-1"),
            bad(f"{n}(padding=1.5)", make(cls, 3, 8, 3, padding=1.5), "padding", "1.5"),
            ok(f"{n}(np.int64 sizes)", make(cls, np.int64(3), np.int64(8), np.int64(3),
                                            padding=np.int64(1)), draws=True),
            ok(f"{n}(0-d tensor sizes)", make(cls, torch.tensor(3), torch.tensor(8),
                                              (torch.tensor(3), 3, 3)), draws=True),
            ok(f"{n}(bias=np.False_)", make(cls, 3, 8, 3, bias=np.False_), draws=True),
            bad(f"{n}()(4D frames)", lambda cls=cls: built(cls)(torch.zeros(4, 3, 8, 8)),
                "5D", "(4, 3, 8, 8)"),
            bad(f"{n}()(integer clip)", lambda cls=cls: built(cls)(
                torch.zeros(1, 3, 4, 8, 8, dtype=torch.uint8)), "float", "uint8"),
            bad(f"{n}()(list)", lambda cls=cls: built(cls)([[0.0]]), "tensor", "list"),
        ]
    for cls in (NaiveConv2Plus1d, SpatioTemporalConv):
        n = cls.__name__
        make = functools.partial
        cases += [
            bad(f"{n}(middle_bn_relu='False')", make(cls, 3, 8, 3, middle_bn_relu="False"),
                "middle_bn_relu", "'False'"),
            bad(f"{n}(middle_bn='no')", make(cls, 3, 8, 3, middle_bn="no"), "middle_bn",
                "'no'"),
            bad(f"{n}(middle_relu='yes')", make(cls, 3, 8, 3, middle_relu="yes"),
                "middle_relu", "'yes'"),
            bad(f"{n}(middle_relu=0)", make(cls, 3, 8, 3, middle_relu=0), "middle_relu", "0"),
            bad(f"{n}(intermediate_channels=0)", make(cls, 3, 8, 3, intermediate_channels=0),
                "intermediate_channels", "0"),
            bad(f"{n}(intermediate_channels=2.5)",
                make(cls, 3, 8, 3, intermediate_channels=2.5), "intermediate_channels", "2.5"),
            bad(f"{n}(intermediate_channels=nan)",
                make(cls, 3, 8, 3, intermediate_channels=NAN), "intermediate_channels", "nan"),
            bad(f"{n}(1 -> 1, kernel 1: M = 0)", make(cls, 1, 1, 1), "M = 0", "intermediate"),
            ok(f"{n}(intermediate_channels=np.int64(4))",
               make(cls, 3, 8, 3, intermediate_channels=np.int64(4)), draws=True),
            ok(f"{n}(middle_bn=np.True_, middle_relu=np.False_)",
               make(cls, 3, 8, 3, middle_bn=np.True_, middle_relu=np.False_), draws=True),
        ]
    cases += [
        bad("intermediate_channels(convention='Paper')",
            lambda: intermediate_channels(64, 64, 3, "Paper"), "convention", "'Paper'"),
        bad("intermediate_channels(64.0, 64)", lambda: intermediate_channels(64.0, 64),
            "in_channels", "64.0"),
        bad("intermediate_channels(64, nan)", lambda: intermediate_channels(64, NAN),
            "out_channels", "nan"),
        bad("intermediate_channels(kernel_size=0)", lambda: intermediate_channels(64, 64, 0),
            "kernel_size", "0"),
        ok("intermediate_channels(np.int64)",
           lambda: intermediate_channels(np.int64(64), np.int64(64), np.int64(3))),
        bad("block_intermediate_channels(convention=None)",
            lambda: block_intermediate_channels(64, 128, 3, None), "convention", "None"),
        bad("block_intermediate_channels(True, 128)",
            lambda: block_intermediate_channels(True, 128), "in_channels", "True"),
        bad("copy_weights(nn.Conv3d, layer)", lambda: copy_weights(conv3d(), plain()),
            "copy_weights", "Conv3d"),
        bad("copy_weights(layers of other shapes)",
            lambda: copy_weights(plain(), built(SpatioTemporalConv, 1)), "kernel_size"),
        bad("method_of('conv')", lambda: method_of("conv"), "str", "SpatioTemporalConv"),
    ]
    return cases


def counting_cases() -> list[Case]:
    from r21d_edu import receptive_field, summarize_network
    from r21d_edu.counting import compare_costs, intermediate_channels_table, spec_of

    shape = (1, 3, 8, 16, 16)
    cases = [
        bad("ConvSpec(bias='no', middle_bn_relu='False')",
            lambda: ConvSpec("2plus1d", 3, 8, 3, bias="no", middle_bn_relu="False"), "bias",
            "'no'"),
        bad("ConvSpec(middle_bn_relu='False')",
            lambda: ConvSpec("2plus1d", 3, 8, 3, middle_bn_relu="False"), "middle_bn_relu"),
        bad("ConvSpec(middle_bn='no')", lambda: ConvSpec("2plus1d", 3, 8, 3, middle_bn="no"),
            "middle_bn", "'no'"),
        bad("ConvSpec(middle_relu=1)", lambda: ConvSpec("naive", 3, 8, 3, middle_relu=1),
            "middle_relu", "1"),
        bad("ConvSpec(method='2+1d')", lambda: ConvSpec("2+1d", 3, 8, 3), "method", "'2+1d'"),
        bad("ConvSpec(in_channels=3.5)", lambda: ConvSpec("3d", 3.5, 8, 3), "in_channels",
            "3.5"),
        bad("ConvSpec(intermediate_channels=nan)",
            lambda: ConvSpec("2plus1d", 3, 8, 3, intermediate_channels=NAN),
            "intermediate_channels", "nan"),
        bad("ConvSpec(padding=(1, 1))", lambda: ConvSpec("3d", 3, 8, 3, padding=(1, 1)),
            "padding", "(1, 1)"),
        ok("ConvSpec(NumPy and 0-d tensor sizes)",
           lambda: ConvSpec("2plus1d", np.int64(3), torch.tensor(8), (np.int32(3), 3, 3),
                            bias=np.False_, intermediate_channels=np.int64(4))),
        bad("spec_of('layer')", lambda: spec_of("layer"), "str", "ConvSpec"),
        bad("spec_of(dilated Conv3d)", lambda: spec_of(made(lambda: nn.Conv3d(3, 4, 3,
                                                                      dilation=2))()),
            "dilation", "(2, 2, 2)"),
    ]
    for count in (count_macs, layer_cost, activation_memory, stage_shapes):
        n = count.__name__
        cases += [
            bad(f"{n}(T=nan)", lambda c=count: c(SPEC, (1, 3, NAN, 16, 16)), "input_shape",
                "nan"),
            bad(f"{n}(T='8')", lambda c=count: c(SPEC, (1, 3, "8", 16, 16)), "input_shape",
                "'8'"),
            bad(f"{n}(input_shape=5)", lambda c=count: c(SPEC, 5), "input_shape", "5"),
            bad(f"{n}(input_shape=None)", lambda c=count: c(SPEC, None), "input_shape", "None"),
            bad(f"{n}(4 entries)", lambda c=count: c(SPEC, (1, 3, 8, 16)), "5D", "(1, 3, 8, 16)"),
            bad(f"{n}(N=0)", lambda c=count: c(SPEC, (0, 3, 8, 16, 16)), "input_shape", "0"),
            bad(f"{n}(C=4 for 3 channels)", lambda c=count: c(SPEC, (1, 4, 8, 16, 16)),
                "3", "4"),
            ok(f"{n}(0-d tensors and np.int64)",
               lambda c=count: c(SPEC, (torch.tensor(1), np.int64(3), 8, 16, 16))),
            ok(f"{n}(a huge clip: arithmetic only)",
               lambda c=count: c(SPEC, (10**6, 3, 10**4, 10**4, 10**4))),
        ]
    cases += [
        bad("activation_memory(dtype='float32')",
            lambda: activation_memory(SPEC, shape, dtype="float32"), "dtype", "'float32'"),
        bad("layer_cost(dtype=4)", lambda: layer_cost(SPEC, shape, dtype=4), "dtype", "4"),
        bad("compare_costs(padding=nan)",
            lambda: compare_costs(8, 8, 3, (1, 8, 8, 16, 16), padding=NAN), "padding", "nan"),
        bad("compare_costs(intermediate_channels=0)",
            lambda: compare_costs(8, 8, 3, (1, 8, 8, 16, 16), intermediate_channels=0),
            "intermediate_channels", "0"),
        bad("compare_costs(kernel_size=2.5)",
            lambda: compare_costs(8, 8, 2.5, (1, 8, 8, 16, 16)), "kernel_size", "2.5"),
        ok("compare_costs(np.int64)",
           lambda: compare_costs(np.int64(8), 8, np.int64(3), (1, 8, 8, 16, 16))),
        bad("receptive_field([])", lambda: receptive_field([]), "at least one"),
        bad("receptive_field(5)", lambda: receptive_field(5), "int", "layers"),
        bad("receptive_field([nn.Linear])", lambda: receptive_field([linear_2d()]),
            "Linear"),
        bad("receptive_field(['conv'])", lambda: receptive_field(["conv"]), "str"),
        bad("summarize_network('r3d_18')", lambda: summarize_network("r3d_18", shape),
            "nn.Module", "str"),
        bad("summarize_network(T=8.5)", lambda: summarize_network(small_net(), (1, 3, 8.5, 8, 8)),
            "input_shape", "8.5"),
        bad("summarize_network(T=nan)", lambda: summarize_network(small_net(), (1, 3, NAN, 8, 8)),
            "input_shape", "nan"),
        bad("summarize_network(input_shape=5)", lambda: summarize_network(small_net(), 5),
            "input_shape", "5"),
        bad("summarize_network(dtype='float32')",
            lambda: summarize_network(small_net(), (1, 3, 4, 8, 8), dtype="float32"), "dtype",
            "'float32'"),
        bad("summarize_network(device='gpu')",
            lambda: summarize_network(small_net(), (1, 3, 4, 8, 8), device="gpu"), "device",
            "'gpu'"),
        bad("summarize_network(on the CPU, a clip of 4.8 TB)",
            lambda: summarize_network(small_net(), (10**4, 3, 10**3, 10**3, 40), device="cpu"),
            "GiB", "input"),
        ok("summarize_network(meta, a huge clip)",
           lambda: summarize_network(small_net(), (10**4, 3, 10**3, 10**3, 40))),
        ok("summarize_network(np.int64 shape)",
           lambda: summarize_network(small_net(), np.array([1, 3, 4, 8, 8]))),
        bad("intermediate_channels_table({})", lambda: intermediate_channels_table({}),
            "at least one"),
        bad("intermediate_channels_table({'a': 5})",
            lambda: intermediate_channels_table({"a": 5}), "'a'", "int"),
        bad("intermediate_channels_table(no (2+1)D conv)",
            lambda: intermediate_channels_table({"a": small_net()}), "(2+1)D"),
        ok("intermediate_channels_table(skip='stem') skips the stem only",
           lambda: _same_skip()),
    ]
    return cases


def _same_skip() -> None:
    from r21d_edu.counting import intermediate_channels_table

    with torch.device("meta"):
        net = r21d_edu.r2plus1d_18()
    as_string = intermediate_channels_table({"a": net}, skip="stem")
    as_tuple = intermediate_channels_table({"a": net}, skip=("stem",))
    assert [r.name for r in as_string.rows] == [r.name for r in as_tuple.rows], \
        "skip='stem' was read letter by letter"


def lowrank_cases() -> list[Case]:
    from r21d_edu import compose, smooth_kernel
    from r21d_edu.lowrank import fold_kernel, unfold_kernel

    with torch.device("meta"):
        meta_conv = nn.Conv3d(3, 4, 3)
    nan_kernel = torch.ones(2, 2, 3, 3, 3)
    nan_kernel[0, 0, 0, 0, 0] = NAN
    matrix = unfold_kernel(conv3d().weight.detach())
    return [
        bad("factorize(rank=2.0)", lambda: factorize(conv3d(), 2.0), "rank", "2.0"),
        bad("factorize(rank=nan)", lambda: factorize(conv3d(), NAN), "rank", "nan"),
        bad("factorize(rank=0)", lambda: factorize(conv3d(), 0), "rank", "0"),
        bad("factorize(rank='2')", lambda: factorize(conv3d(), "2"), "rank", "'2'"),
        bad("factorize(rank=True)", lambda: factorize(conv3d(), True), "rank", "True"),
        bad("factorize(rank=1000)", lambda: factorize(conv3d(), 1000), "rank", "1000", "12"),
        ok("factorize(rank=np.int64(2))", lambda: factorize(conv3d(), np.int64(2))),
        ok("factorize(rank=torch.tensor(2))", lambda: factorize(conv3d(), torch.tensor(2))),
        bad("factorize('conv')", lambda: factorize("conv"), "Conv3d", "str"),
        bad("factorize(a meta conv)", lambda: factorize(meta_conv, 2), "meta"),
        bad("factorize(a 2D conv)", lambda: factorize(made(lambda: nn.Conv2d(3, 4, 3))()),
            "Conv3d", "Conv2d"),
        bad("compose(layer with BN + ReLU)", lambda: compose(plain()), "middle_bn_relu=False"),
        bad("compose(nn.Conv3d)", lambda: compose(conv3d()), "compose", "Conv3d"),
        ok("compose(linear layer)", lambda: compose(linear_layer())),
        bad("unfold_kernel([[1.0]])", lambda: unfold_kernel([[1.0]]), "kernel", "list"),
        bad("unfold_kernel(4D weight)", lambda: unfold_kernel(torch.zeros(2, 2, 3, 3)),
            "(C_out, C_in, t, d_h, d_w)", "(2, 2, 3, 3)"),
        bad("fold_kernel(out_channels='4')", lambda: fold_kernel(matrix, "4", 3, 3),
            "out_channels", "'4'"),
        bad("fold_kernel(in_channels=1.5)", lambda: fold_kernel(matrix, 4, 1.5, 3),
            "in_channels", "1.5"),
        bad("fold_kernel(matrix=list)", lambda: fold_kernel([[0.0]], 4, 3, 3), "matrix",
            "list"),
        bad("fold_kernel(wrong shape)", lambda: fold_kernel(matrix, 4, 2, 3), "(12, 18)"),
        ok("fold_kernel(np.int64)", lambda: fold_kernel(matrix, np.int64(4), np.int64(3), 3)),
        bad("energy_profile(kernel with NaN)", lambda: energy_profile(nan_kernel), "NaN"),
        bad("energy_profile(conv with inf)", lambda: energy_profile(_inf_conv()), "inf"),
        bad("energy_profile(all zeros)", lambda: energy_profile(torch.zeros(2, 2, 3, 3, 3)),
            "zeros"),
        bad("energy_profile(a meta conv)", lambda: energy_profile(meta_conv), "meta"),
        bad("energy_profile('w')", lambda: energy_profile("w"), "kernel", "str"),
        bad("EnergyProfile.energy_at(2.0)", lambda: energy().energy_at(2.0), "rank", "2.0"),
        bad("EnergyProfile.energy_at(0)", lambda: energy().energy_at(0), "rank", "0"),
        bad("EnergyProfile.rank_for(nan)", lambda: energy().rank_for(NAN), "target", "nan"),
        bad("EnergyProfile.rank_for(True)", lambda: energy().rank_for(True), "target", "True"),
        bad("EnergyProfile.rank_for(1.5)", lambda: energy().rank_for(1.5), "target", "1.5"),
        bad("EnergyProfile.rank_for('0.9')", lambda: energy().rank_for("0.9"), "target",
            "'0.9'"),
        ok("EnergyProfile.rank_for(np.float32(0.9))", lambda: energy().rank_for(np.float32(0.9))),
        bad("EnergyProfile.error_at(nan)", lambda: energy().error_at(NAN), "rank", "nan"),
        ok("EnergyProfile.error_at(np.int64(2))", lambda: energy().error_at(np.int64(2))),
        bad("smooth_kernel(decay=nan)", lambda: smooth_kernel(2, 2, decay=NAN), "decay", "nan"),
        bad("smooth_kernel(decay=inf)", lambda: smooth_kernel(2, 2, decay=INF), "decay", "inf"),
        bad("smooth_kernel(decay=-1)", lambda: smooth_kernel(2, 2, decay=-1), "decay", "-1"),
        bad("smooth_kernel(decay='1')", lambda: smooth_kernel(2, 2, decay="1"), "decay", "'1'"),
        bad("smooth_kernel(seed=1.5)", lambda: smooth_kernel(2, 2, seed=1.5), "seed", "1.5"),
        bad("smooth_kernel(seed='a')", lambda: smooth_kernel(2, 2, seed="a"), "seed", "'a'"),
        bad("smooth_kernel(dtype='float32')", lambda: smooth_kernel(2, 2, dtype="float32"),
            "dtype", "'float32'"),
        bad("smooth_kernel(out_channels=0)", lambda: smooth_kernel(0, 2), "out_channels", "0"),
        bad("smooth_kernel(a 2 TiB kernel)", lambda: smooth_kernel(10**5, 10**5), "GiB"),
        ok("smooth_kernel(np.int64 seed, np.float32 decay)",
           lambda: smooth_kernel(2, 2, seed=np.int64(3), decay=np.float32(0.5))),
    ]


@made
def _inf_conv() -> nn.Conv3d:
    conv = nn.Conv3d(2, 2, 3)
    with torch.no_grad():
        conv.weight[0, 0, 0, 0, 0] = INF
    return conv


def netfactor_cases() -> list[Case]:
    from r21d_edu import (
        NetworkProfile,
        compose_network,
        factorize_network,
        insert_middle_bn_relu,
        network_profile,
    )

    clips = clip(2, 3, 4, 8, 8)
    nan_clips = clip(2, 3, 4, 8, 8, fill=NAN)
    net = factorized_net
    return [
        bad("insert_middle_bn_relu(margin=nan)",
            lambda: insert_middle_bn_relu(net(), clips, margin=NAN), "margin", "nan"),
        bad("insert_middle_bn_relu(margin=inf)",
            lambda: insert_middle_bn_relu(net(), clips, margin=INF), "margin", "inf"),
        bad("insert_middle_bn_relu(margin=-1)",
            lambda: insert_middle_bn_relu(net(), clips, margin=-1), "margin", "-1"),
        bad("insert_middle_bn_relu(margin='4')",
            lambda: insert_middle_bn_relu(net(), clips, margin="4"), "margin", "'4'"),
        bad("insert_middle_bn_relu(margin=True)",
            lambda: insert_middle_bn_relu(net(), clips, margin=True), "margin", "True"),
        bad("insert_middle_bn_relu(clips with NaN)",
            lambda: insert_middle_bn_relu(net(), nan_clips), "clips", "NaN"),
        bad("insert_middle_bn_relu(clips 4D)",
            lambda: insert_middle_bn_relu(net(), clips[0]), "clips", "(3, 4, 8, 8)"),
        bad("insert_middle_bn_relu(integer clips)",
            lambda: insert_middle_bn_relu(net(), (clips * 255).to(torch.uint8)), "clips",
            "uint8"),
        bad("insert_middle_bn_relu(no linear layer)",
            lambda: insert_middle_bn_relu(small_net(), clips), "factorize"),
        ok("insert_middle_bn_relu(margin=np.float32(2))",
           lambda: insert_middle_bn_relu(net(), clips, margin=np.float32(2.0))),
        ok("insert_middle_bn_relu(margin=0)", lambda: insert_middle_bn_relu(net(), clips,
                                                                              margin=0)),
        bad("network_profile('net')", lambda: network_profile("net"), "nn.Module", "str"),
        bad("network_profile(unsupported='skip')",
            lambda: network_profile(small_net(), unsupported="skip"), "unsupported", "'skip'"),
        bad("network_profile(input_shape=(1, 3, 4, 8, 8.0))",
            lambda: network_profile(small_net(), (1, 3, 4, 8, 8.0)), "input_shape", "8.0"),
        bad("network_profile(input_shape=5)", lambda: network_profile(small_net(), 5),
            "input_shape", "5"),
        bad("plan(energy=nan)", lambda: profile().plan(energy=NAN), "energy", "nan"),
        bad("plan(energy=True)", lambda: profile().plan(energy=True), "energy", "True"),
        bad("plan(energy=1.5)", lambda: profile().plan(energy=1.5), "energy", "1.5"),
        bad("plan(budget=nan)", lambda: profile().plan(budget=NAN), "budget", "nan"),
        bad("plan(budget=inf)", lambda: profile().plan(budget=INF), "budget", "inf"),
        bad("plan(budget='half')", lambda: profile().plan(budget="half"), "budget", "'half'"),
        bad("plan(budget=True)", lambda: profile().plan(budget=True), "budget", "True"),
        ok("plan(budget=np.float32(0.5))", lambda: profile().plan(budget=np.float32(0.5))),
        ok("plan(budget=np.int64(800))", lambda: profile().plan(budget=np.int64(800))),
        ok("plan(energy=np.float32(0.9))", lambda: profile().plan(energy=np.float32(0.9))),
        bad("plan(rank=2.0)", lambda: profile().plan(rank=2.0), "rank", "2.0"),
        bad("plan(rank='papers')", lambda: profile().plan(rank="papers"), "rank", "'papers'",
            "'paper'"),
        bad("plan(rank={'0': 2.5, '2': 2})", lambda: profile().plan(rank={"0": 2.5, "2": 2}),
            "rank", "2.5"),
        bad("plan(rank=2, energy=0.9)", lambda: profile().plan(rank=2, energy=0.9),
            "exactly one"),
        bad("plan(cost='flops')", lambda: profile().plan(budget=0.5, cost="flops"), "cost",
            "'flops'"),
        ok("plan(rank=np.int64(2))", lambda: profile().plan(rank=np.int64(2))),
        bad("factorize_network(profile='p')",
            lambda: factorize_network(small_net(), energy=0.9, profile="p"), "profile", "str"),
        bad("factorize_network(energy=nan)",
            lambda: factorize_network(small_net(), energy=NAN), "energy", "nan"),
        bad("compose_network('net')", lambda: compose_network("net"), "nn.Module", "str"),
        bad("compose_network(unsupported='x')",
            lambda: compose_network(net(), unsupported="x"), "unsupported", "'x'"),
        bad("NetworkProfile.from_dict({})", lambda: NetworkProfile.from_dict({}),
            "model_name"),
        bad("NetworkProfile.from_dict(layers=None)", lambda: NetworkProfile.from_dict(
            {**profile().to_dict(), "layers": None}), "layers", "None"),
        bad("NetworkProfile.from_dict(a layer without singular values)",
            lambda: NetworkProfile.from_dict({**profile().to_dict(), "layers": [
                {k: v for k, v in profile().to_dict()["layers"][0].items()
                 if k != "singular_values"}]}), "singular_values"),
        bad("NetworkProfile.from_dict([])", lambda: NetworkProfile.from_dict([]), "dict",
            "list"),
    ]


def model_cases() -> list[Case]:
    from r21d_edu import (
        SpatioTemporalResBlock,
        SpatioTemporalResLayer,
        VideoResNet,
        mc3_18,
        r2plus1d_18,
        r2plus1d_34,
        r3d_34,
        resnet18,
        video_resnet,
    )
    from r21d_edu.models import BasicStem, ConvBuilder, R2Plus1dStem

    def meta(build):
        def call():
            with torch.device("meta"):
                return build()
        return call

    return [
        bad("video_resnet(depth=18.0)", meta(lambda: video_resnet("r3d", 18.0)), "depth",
            "18.0"),
        bad("video_resnet(depth='18')", meta(lambda: video_resnet("r3d", "18")), "depth",
            "'18'"),
        bad("video_resnet(depth=True)", meta(lambda: video_resnet("r3d", True)), "depth",
            "True"),
        bad("video_resnet(depth=50)", meta(lambda: video_resnet("r3d", 50)), "depth", "50"),
        ok("video_resnet(depth=np.int64(18))", meta(lambda: video_resnet("r3d", np.int64(18)))),
        bad("video_resnet(arch='r4d')", meta(lambda: video_resnet("r4d")), "arch", "'r4d'"),
        bad("video_resnet(num_classes=400.0)", meta(lambda: video_resnet("r3d",
                                                                         num_classes=400.0)),
            "num_classes", "400.0"),
        bad("video_resnet(convention='Paper')",
            meta(lambda: video_resnet("r2plus1d", convention="Paper")), "convention", "'Paper'"),
        bad("r3d_18(num_classes=0)", meta(lambda: r3d_18(0)), "num_classes", "0"),
        bad("r3d_18(num_classes=True)", meta(lambda: r3d_18(True)), "num_classes", "True"),
        bad("mc3_18(num_classes=nan)", meta(lambda: mc3_18(NAN)), "num_classes", "nan"),
        bad("r2plus1d_18(convention='paper ')", meta(lambda: r2plus1d_18(convention="paper ")),
            "convention"),
        bad("r2plus1d_34(num_classes='400')", meta(lambda: r2plus1d_34("400")), "num_classes",
            "'400'"),
        bad("r3d_34(num_classes=-1)", meta(lambda: r3d_34(-1)), "num_classes", "-1"),
        bad("resnet18(num_classes=1.5)", meta(lambda: resnet18(1.5)), "num_classes", "1.5"),
        ok("r3d_18(num_classes=np.int64(10))", meta(lambda: r3d_18(np.int64(10)))),
        bad("ConvBuilder(middle_bn_relu='no')", lambda: ConvBuilder(middle_bn_relu="no"),
            "middle_bn_relu", "'no'"),
        bad("ConvBuilder(middle_bn='False')", lambda: ConvBuilder(middle_bn="False"),
            "middle_bn", "'False'"),
        bad("ConvBuilder(rank_divisor=2.0)", lambda: ConvBuilder(rank_divisor=2.0),
            "rank_divisor", "2.0"),
        bad("ConvBuilder(conv_type='4d')", lambda: ConvBuilder("4d"), "conv_type", "'4d'"),
        ok("ConvBuilder(middle_bn_relu=np.True_)", lambda: ConvBuilder(middle_bn_relu=np.True_)),
        ok("ConvBuilder(middle_relu=np.False_)", lambda: ConvBuilder(middle_relu=np.False_)),
        bad("SpatioTemporalResBlock(downsample='yes')",
            meta(lambda: SpatioTemporalResBlock(8, 8, downsample="yes")), "downsample", "'yes'"),
        ok("SpatioTemporalResBlock(downsample=np.False_)",
           meta(lambda: SpatioTemporalResBlock(8, 8, downsample=np.False_))),
        bad("SpatioTemporalResBlock(kernel_size=2)",
            meta(lambda: SpatioTemporalResBlock(8, 8, 2)), "odd", "2"),
        bad("SpatioTemporalResLayer(layer_size=0)",
            meta(lambda: SpatioTemporalResLayer(8, 8, 3, 0)), "layer_size", "0"),
        bad("SpatioTemporalResLayer(downsample='no')",
            meta(lambda: SpatioTemporalResLayer(8, 8, 3, 1, downsample="no")), "downsample",
            "'no'"),
        bad("BasicStem(temporal_kernel=3.0)", meta(lambda: BasicStem(temporal_kernel=3.0)),
            "temporal_kernel", "3.0"),
        bad("R2Plus1dStem(middle_bn_relu='off')", meta(lambda: R2Plus1dStem(
            middle_bn_relu="off")), "middle_bn_relu", "'off'"),
        ok("R2Plus1dStem(middle_bn_relu=np.True_)",
           meta(lambda: R2Plus1dStem(middle_bn_relu=np.True_))),
        bad("VideoResNet(conv_types='3d')",
            meta(lambda: VideoResNet("3d", (2, 2, 2, 2), BasicStem())), "conv_types", "'3d'"),
        bad("VideoResNet(blocks=(2, 2, 2))",
            meta(lambda: VideoResNet(("3d",) * 4, (2, 2, 2), BasicStem())), "blocks"),
        bad("r3d_18()(a clip of 1 frame in training)",
            lambda: meta_r3d().train()(torch.zeros(1, 3, 1, 4, 4, device="meta")), "training"),
        bad("r3d_18()(a (N, T, C, H, W) clip)",
            lambda: meta_r3d()(torch.zeros(1, 8, 3, 32, 32, device="meta")),
            "permute(0, 2, 1, 3, 4)"),
    ]


def weights_cases() -> list[Case]:
    from r21d_edu import check_state_dict
    from r21d_edu.weights import sha256_matches_name

    def linear() -> nn.Module:
        return made(lambda: nn.Linear(64, 64))()

    frames = torch.rand(4, 60, 80, 3, generator=torch.Generator().manual_seed(0))
    nan_frames = frames.clone()
    nan_frames[0, 0, 0, 0] = NAN
    uint8 = (frames * 255).to(torch.uint8)
    return [
        bad("read_state_dict(0-byte file)", lambda: read_state_dict(weights("empty")), "empty",
            "0 bytes"),
        bad("read_state_dict(truncated)", lambda: read_state_dict(weights("truncated")),
            "truncated"),
        bad("read_state_dict(a byte of a weight changed)",
            lambda: read_state_dict(weights("flipped")), "CRC", "data/0"),
        bad("read_state_dict(an HTML page)", lambda: read_state_dict(weights("html")),
            "not a PyTorch weights file", "<!DO"),
        bad("read_state_dict(random bytes)", lambda: read_state_dict(weights("noise")),
            "not a PyTorch weights file"),
        bad("read_state_dict(a folder)", lambda: read_state_dict(weights("folder")),
            "weights", "folder"),
        bad("read_state_dict(missing)", lambda: read_state_dict(weights("missing")),
            "no weights file", "missing.pth"),
        bad("read_state_dict(123)", lambda: read_state_dict(123), "path", "123"),
        bad("read_state_dict(key='model')", lambda: read_state_dict(weights("good"), "model"),
            "'model'", "weight"),
        ok("read_state_dict(good)", lambda: read_state_dict(weights("good"))),
        bad("load_weights(a byte changed)", lambda: load_weights(linear(), weights("flipped")),
            "CRC"),
        bad("load_weights(strict='no')",
            lambda: load_weights(linear(), read_state_dict(weights("good")), strict="no"),
            "strict", "'no'"),
        ok("load_weights(strict=np.True_)",
           lambda: load_weights(linear(), read_state_dict(weights("good")), strict=np.True_)),
        bad("load_weights(key=3)", lambda: load_weights(linear(), weights("good"), key=3),
            "key", "3"),
        bad("check_state_dict(model, 'file.pth')",
            lambda: check_state_dict(linear(), "file.pth"), "state_dict", "str"),
        bad("sha256_matches_name(missing)",
            lambda: sha256_matches_name(folder() / "r3d_18-b3b3357e.pth"), "no weights file",
            "r3d_18-b3b3357e.pth"),
        bad("sha256_matches_name(123)", lambda: sha256_matches_name(123), "path", "123"),
        bad("preprocess_clip(float frames with NaN)",
            lambda: preprocess_clip(nan_frames, layout="THWC"), "frames", "NaN"),
        bad("preprocess_clip(resize_size=(128.5, 171))",
            lambda: preprocess_clip(uint8, layout="THWC", resize_size=(128.5, 171)),
            "resize_size", "128.5"),
        bad("preprocess_clip(resize_size=(0, 0))",
            lambda: preprocess_clip(uint8, layout="THWC", resize_size=(0, 0)), "resize_size",
            "0"),
        bad("preprocess_clip(resize_size=128)",
            lambda: preprocess_clip(uint8, layout="THWC", resize_size=128), "resize_size",
            "128"),
        bad("preprocess_clip(crop_size=(-1, 112))",
            lambda: preprocess_clip(uint8, layout="THWC", crop_size=(-1, 112)), "crop_size",
            "-1"),
        bad("preprocess_clip(crop_size=(nan, 112))",
            lambda: preprocess_clip(uint8, layout="THWC", crop_size=(NAN, 112)), "crop_size",
            "nan"),
        bad("preprocess_clip(mean with NaN)",
            lambda: preprocess_clip(uint8, layout="THWC", mean=(NAN, 0.4, 0.4)), "mean",
            "nan"),
        bad("preprocess_clip(std with 0)",
            lambda: preprocess_clip(uint8, layout="THWC", std=(0.0, 0.2, 0.2)), "std", "0"),
        bad("preprocess_clip(std of 2 values)",
            lambda: preprocess_clip(uint8, layout="THWC", std=(0.2, 0.2)), "std", "three"),
        bad("preprocess_clip(mean='rgb')",
            lambda: preprocess_clip(uint8, layout="THWC", mean="rgb"), "mean", "'rgb'"),
        bad("preprocess_clip(layout='thwc')",
            lambda: preprocess_clip(uint8, layout="thwc"), "layout", "'thwc'"),
        bad("preprocess_clip(channels last, layout TCHW)", lambda: preprocess_clip(uint8),
            "layout='THWC'"),
        ok("preprocess_clip(np.int64 sizes)",
           lambda: preprocess_clip(uint8, layout="THWC", resize_size=(np.int64(64),
                                                                      np.int64(80)),
                                   crop_size=(np.int64(56), np.int64(56)))),
        ok("preprocess_clip(NumPy mean and std)",
           lambda: preprocess_clip(uint8, layout="THWC", mean=np.array([0.4, 0.4, 0.4]),
                                   std=np.array([0.2, 0.2, 0.2]))),
    ]


def port_cases() -> list[Case]:
    from r21d_edu import convert_port_state_dict

    def port(label: str) -> Path:
        return port_files()[label]

    state = {"res2plus1d.conv1.spatial_conv.weight": torch.zeros(83, 3, 1, 7, 7)}
    return [
        bad("convert_port_state_dict(0-byte file)",
            lambda: convert_port_state_dict(port("empty")), "empty", "0 bytes"),
        bad("convert_port_state_dict(truncated)",
            lambda: convert_port_state_dict(port("truncated")), "truncated"),
        bad("convert_port_state_dict(an HTML page)",
            lambda: convert_port_state_dict(port("html")), "not a PyTorch weights file"),
        bad("convert_port_state_dict(a byte of a weight changed)",
            lambda: convert_port_state_dict(port("flipped")), "CRC"),
        bad("convert_port_state_dict(missing)",
            lambda: convert_port_state_dict(port("missing")), "no weights file", "missing.pth"),
        bad("convert_port_state_dict(123)", lambda: convert_port_state_dict(123), "port",
            "int"),
        bad("convert_port_state_dict(torchvision keys)",
            lambda: convert_port_state_dict({"stem.0.weight": torch.zeros(1)}), "port",
            "stem.0.weight"),
        bad("convert_port_state_dict(an entry that is not a tensor)",
            lambda: convert_port_state_dict({**state, "res2plus1d.conv1.bn.weight": 3}),
            "res2plus1d.conv1.bn.weight", "int"),
        bad("convert_port_state_dict(an unknown key)",
            lambda: convert_port_state_dict({**state, "res2plus1d.conv2.foo.weight":
                                             torch.zeros(1)}), "res2plus1d.conv2.foo.weight"),
        ok("convert_port_state_dict(good file)", lambda: convert_port_state_dict(port("good"))),
    ]


def video_cases() -> list[Case]:
    from r21d_edu import read_video, sample_clips, video_info

    mkv = lambda: video("mkv")  # noqa: E731
    return [
        ok("read_video(size=(np.int64(16), np.int64(16)))",
           lambda: read_video(mkv(), size=(np.int64(16), np.int64(16)))),
        ok("read_video(size as a 0-d tensor pair)",
           lambda: read_video(mkv(), size=(torch.tensor(16), torch.tensor(16)))),
        ok("read_video(end_frame=np.int64(5))", lambda: read_video(mkv(), end_frame=np.int64(5))),
        ok("read_video(end_time=np.float32(1.0))",
           lambda: read_video(mkv(), end_time=np.float32(1.0))),
        bad("read_video(size=(16.0, 16))", lambda: read_video(mkv(), size=(16.0, 16)), "size",
            "16.0"),
        bad("read_video(size=(0, 16))", lambda: read_video(mkv(), size=(0, 16)), "size", "0"),
        bad("read_video(size=16)", lambda: read_video(mkv(), size=16), "size", "16"),
        bad("read_video(size=(10**6, 10**6))", lambda: read_video(mkv(), size=(10**6, 10**6)),
            "GiB", "size="),
        bad("read_video(step=0)", lambda: read_video(mkv(), step=0), "step", "0"),
        bad("read_video(step=1.5)", lambda: read_video(mkv(), step=1.5), "step", "1.5"),
        bad("read_video(start_time=nan)", lambda: read_video(mkv(), NAN), "start_time", "nan"),
        bad("read_video(end_time=inf)", lambda: read_video(mkv(), 0.0, INF), "end_time", "inf"),
        bad("read_video(start_time='1')", lambda: read_video(mkv(), "1"), "start_time", "'1'"),
        bad("read_video(start_frame=1.5)", lambda: read_video(mkv(), start_frame=1.5),
            "start_frame", "1.5"),
        bad("read_video(start_frame=-1)", lambda: read_video(mkv(), start_frame=-1),
            "start_frame", "-1"),
        bad("read_video(a byte of a frame changed, .mkv)",
            lambda: read_video(video("mkv-flipped")), "CRC", "mkv-flipped.mkv"),
        bad("read_video(the first 2000 bytes of an .mp4)",
            lambda: read_video(video("mp4-head")), "mp4-head.mp4", "truncated"),
        bad("read_video(half an .mp4)", lambda: read_video(video("mp4-half")), "mp4-half.mp4",
            "damaged"),
        bad("read_video(an .mp4 with bytes changed)", lambda: read_video(video("mp4-flipped")),
            "mp4-flipped.mp4", "corrupt"),
        bad("read_video(a text file)", lambda: read_video(video("text")), "not a video"),
        bad("read_video(0-byte file)", lambda: read_video(video("empty")), "empty", "0 bytes"),
        bad("read_video(missing)", lambda: read_video(video("missing")), "no video file",
            "missing.mp4"),
        bad("read_video(123)", lambda: read_video(123), "path", "123"),
        bad("video_info(half an .mp4)", lambda: video_info(video("mp4-half")), "mp4-half.mp4",
            "damaged"),
        bad("video_info(None)", lambda: video_info(None), "path", "None"),
        bad("sample_clips(num_clips=10**9)", lambda: sample_clips(mkv(), 8, num_clips=10**9),
            "num_clips"),
        ok("sample_clips(num_clips=np.int64(2))",
           lambda: sample_clips(mkv(), 8, num_clips=np.int64(2))),
        bad("sample_clips(num_clips=2.5)", lambda: sample_clips(mkv(), 8, num_clips=2.5),
            "num_clips", "2.5"),
        bad("sample_clips(num_clips=0)", lambda: sample_clips(mkv(), 8, num_clips=0),
            "num_clips", "0"),
        bad("sample_clips(stride=0)", lambda: sample_clips(mkv(), 8, stride=0), "stride", "0"),
        bad("sample_clips(clip_len=8.0)", lambda: sample_clips(mkv(), 8.0, num_clips=2),
            "clip_len", "8.0"),
        bad("sample_clips(size=('16', 16))",
            lambda: sample_clips(mkv(), 8, num_clips=2, size=("16", 16)), "size", "'16'"),
        bad("sample_clips(2 clips of 30 frames at 4 GiB each)",
            lambda: _sample_huge_clips(), "GiB", "clips"),
    ]


def _sample_huge_clips() -> object:
    from r21d_edu import sample_clips

    # 2 clips of 8 frames of 10,000 x 10,000 x 3 bytes = 4.5 GiB together, 2.2 GiB each.
    return sample_clips(video("mkv"), 8, num_clips=2, size=(10_000, 10_000))


def kinetics_cases() -> list[Case]:
    from r21d_edu import predict

    good = clip(1, 3, 4, 8, 8)
    return [
        bad("predict(clip with NaN)", lambda: predict(classifier(), clip(1, 3, 4, 8, 8,
                                                                         fill=NAN)),
            "clip", "NaN"),
        bad("predict(a model that returns NaN)",
            lambda: predict(_nan_model(), good), "NaN", "logits"),
        bad("predict(top=0)", lambda: predict(classifier(), good, top=0), "top", "0"),
        bad("predict(top=5.0)", lambda: predict(classifier(), good, top=5.0), "top", "5.0"),
        bad("predict(top='5')", lambda: predict(classifier(), good, top="5"), "top", "'5'"),
        bad("predict(classes='abc')", lambda: predict(classifier(), good, classes="abc"),
            "classes", "str"),
        bad("predict(classes of 3 names)",
            lambda: predict(classifier(), good, classes=["a", "b", "c"]), "400", "3"),
        bad("predict('model', clip)", lambda: predict("model", good), "nn.Module", "str"),
        bad("predict(uint8 frames)", lambda: predict(classifier(), (good * 255).byte()),
            "preprocess_clip", "uint8"),
        bad("predict(a 3D tensor)", lambda: predict(classifier(), good[0, 0]), "(4, 8, 8)"),
        ok("predict(top=np.int64(3))", lambda: predict(classifier(), good, top=np.int64(3))),
    ]


@made
def _nan_model() -> nn.Module:
    model = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(3, 400))
    with torch.no_grad():
        model[2].bias[0] = NAN
    return model


def timing_cases() -> list[Case]:
    from r21d_edu.timing import (
        TimingSettings,
        Variant,
        compare,
        count_work,
        environment,
        lookup_device,
        time_module,
        time_side_by_side,
    )

    shape = (1, 3, 4, 8, 8)
    quick = {"repeats": 1, "warmup": 1, "warmup_s": 0.0, "min_sample_s": 0.0}

    def timed(**changes):
        return lambda: time_module(plain(), shape, **{**quick, **changes})

    cases = [
        ok("time_module(mode='training')", timed(mode="training")),
        ok("time_module(inference)", timed()),
        ok("time_module(np.int64 shape, repeats=np.int64(1))",
           lambda: time_module(plain(), tuple(np.array(shape)), **{**quick,
                                                                    "repeats": np.int64(1)})),
        ok("time_module(settings=TimingSettings(...))",
           lambda: time_module(plain(), shape, TimingSettings(**quick))),
        bad("time_module(repeats=0)", timed(repeats=0), "repeats", "0"),
        bad("time_module(repeats=2.0)", timed(repeats=2.0), "repeats", "2.0"),
        bad("time_module(warmup='1')", timed(warmup="1"), "warmup", "'1'"),
        bad("time_module(warmup_s=inf)", timed(warmup_s=INF), "warmup_s", "inf"),
        bad("time_module(warmup_s=nan)", timed(warmup_s=NAN), "warmup_s", "nan"),
        bad("time_module(warmup_s=-1)", timed(warmup_s=-1.0), "warmup_s", "-1"),
        bad("time_module(min_sample_s=inf)", timed(min_sample_s=INF), "min_sample_s", "inf"),
        bad("time_module(min_sample_s=nan)", timed(min_sample_s=NAN), "min_sample_s", "nan"),
        bad("time_module(peak_tflops=nan)", timed(peak_tflops=NAN, bandwidth_tbs=1.0),
            "peak_tflops", "nan"),
        bad("time_module(peak_tflops=0)", timed(peak_tflops=0.0, bandwidth_tbs=1.0),
            "peak_tflops", "0"),
        bad("time_module(peak_tflops=-1)", timed(peak_tflops=-1.0, bandwidth_tbs=1.0),
            "peak_tflops", "-1"),
        bad("time_module(bandwidth_tbs=inf)", timed(peak_tflops=1.0, bandwidth_tbs=INF),
            "bandwidth_tbs", "inf"),
        bad("time_module(cudnn_benchmark='no')", timed(cudnn_benchmark="no"),
            "cudnn_benchmark", "'no'"),
        bad("time_module(tf32='False')", timed(tf32="False"), "tf32", "'False'"),
        bad("time_module(threads=0)", timed(threads=0), "threads", "0"),
        bad("time_module(threads=2.0)", timed(threads=2.0), "threads", "2.0"),
        bad("time_module(seed='a')", timed(seed="a"), "seed", "'a'"),
        bad("time_module(seed=1.5)", timed(seed=1.5), "seed", "1.5"),
        bad("time_module(device='gpu')", timed(device="gpu"), "device", "'gpu'"),
        bad("time_module(dtype='float32')", timed(dtype="float32"), "dtype", "'float32'"),
        bad("time_module(dtype=torch.int32)", timed(dtype=torch.int32), "dtype", "int32"),
        bad("time_module(mode='train')", timed(mode="train"), "mode", "'train'"),
        bad("time_module(method='fastest')",
            lambda: time_module(plain(), shape, method="fastest", **quick), "method",
            "'fastest'"),
        bad("time_module(memory_format='channels_last')",
            lambda: time_module(plain(), shape, memory_format="channels_last", **quick),
            "memory_format", "'channels_last'"),
        bad("time_module(label=5)", lambda: time_module(plain(), shape, label=5, **quick),
            "label", "5"),
        bad("time_module(input_shape=5)", lambda: time_module(plain(), 5, **quick),
            "input_shape", "5"),
        bad("time_module(input_shape=(1, 3, 4, 8, 8.5))",
            lambda: time_module(plain(), (1, 3, 4, 8, 8.5), **quick), "input_shape", "8.5"),
        bad("time_module(a clip of 1.2 TB)",
            lambda: time_module(conv3d(), (10**4, 3, 10**3, 10**2, 10**2), **quick), "GiB"),
        bad("time_module(warmupp=1)", lambda: time_module(plain(), shape, warmupp=1),
            "warmupp"),
        bad("time_module('layer')", lambda: time_module("layer", shape, **quick), "str"),
        bad("time_side_by_side([])", lambda: time_side_by_side([], shape, **quick),
            "Variant"),
        bad("time_side_by_side([layer])", lambda: time_side_by_side([plain()], shape, **quick),
            "Variant", "SpatioTemporalConv"),
        bad("compare(modes='inference')",
            lambda: compare([Variant("", plain())], shape, modes="inference", **quick),
            "modes", "'inference'"),
        bad("compare(modes=('fast',))",
            lambda: compare([Variant("", plain())], shape, modes=("fast",), **quick), "mode",
            "'fast'"),
        ok("compare(training, with the fast path skipped)",
           lambda: compare([Variant("", plain()), Variant("", r21d_edu.make_fast(plain()))],
                           shape, modes=("training",), **quick)),
        bad("count_work(mode='x')", lambda: count_work(plain(), shape, mode="x"), "mode",
            "'x'"),
        bad("count_work(dtype='half')", lambda: count_work(plain(), shape, dtype="half"),
            "dtype", "'half'"),
        bad("environment('gpu')", lambda: environment("gpu"), "device", "'gpu'"),
        bad("lookup_device(5)", lambda: lookup_device(5), "device_name", "5"),
    ]
    if not torch.cuda.is_available():
        cases.append(bad("time_module(device='cuda') without a GPU", timed(device="cuda"),
                         "cuda", "cpu"))
    return cases


def fast_cases() -> list[Case]:
    from r21d_edu import FastSpatioTemporalConv

    return [
        ok("make_fast(eval naive layer) stays in eval mode", lambda: _fast_of_eval_naive()),
        ok("make_fast(eval network of naive layers) stays in eval mode",
           lambda: _fast_of_eval_naive_network()),
        bad("make_fast(pad_to=0)", lambda: make_fast(plain(), pad_to=0), "pad_to", "0"),
        bad("make_fast(pad_to=8.0)", lambda: make_fast(plain(), pad_to=8.0), "pad_to", "8.0"),
        bad("make_fast(channels_last='no')", lambda: make_fast(plain(), channels_last="no"),
            "channels_last", "'no'"),
        bad("make_fast(compile='yes')", lambda: make_fast(plain(), compile="yes"), "compile",
            "'yes'"),
        bad("make_fast(compile=1)", lambda: make_fast(plain(), compile=1), "compile", "1"),
        ok("make_fast(channels_last=np.False_)",
           lambda: make_fast(plain(), channels_last=np.False_)),
        bad("make_fast('layer')", lambda: make_fast("layer"), "make_fast", "str"),
        bad("FastSpatioTemporalConv(relu='no')",
            lambda: FastSpatioTemporalConv(3, 4, (3, 3, 3), (1, 1, 1), (1, 1, 1), 4,
                                           relu="no"), "relu", "'no'"),
        bad("FastSpatioTemporalConv(bias='no')",
            lambda: FastSpatioTemporalConv(3, 4, (3, 3, 3), (1, 1, 1), (1, 1, 1), 4,
                                           bias="no"), "bias", "'no'"),
        bad("FastSpatioTemporalConv(kernel_size=3.0)",
            lambda: FastSpatioTemporalConv(3, 4, 3.0, 1, 1, 4), "kernel_size", "3.0"),
        bad("FastSpatioTemporalConv.from_layer(conv)",
            lambda: FastSpatioTemporalConv.from_layer(conv3d()), "from_layer", "Conv3d"),
    ]


def _fast_of_eval_naive() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a training-mode fast layer warns on every call
        fast = make_fast(naive())
        assert not fast.training, "make_fast of an eval-mode layer came back in training mode"
        fast(clip())


def _fast_of_eval_naive_network() -> None:
    network = made(lambda: nn.Sequential(NaiveConv2Plus1d(3, 4, 3, padding=1)).eval())()
    fast = make_fast(network)
    assert not any(m.training for m in fast.modules()), "a layer came back in training mode"


def bench_cases() -> list[Case]:
    return [
        bad("bench --peak-tflops nan", lambda: bench_main("--peak-tflops", "nan"),
            "--peak-tflops", "nan"),
        bad("bench --peak-tflops inf", lambda: bench_main("--peak-tflops", "inf"),
            "--peak-tflops", "inf"),
        bad("bench --peak-tflops 0", lambda: bench_main("--peak-tflops", "0"),
            "--peak-tflops", "0"),
        bad("bench --peak-tflops -5", lambda: bench_main("--peak-tflops", "-5"),
            "--peak-tflops", "-5"),
        bad("bench --bandwidth-tbs nan", lambda: bench_main("--bandwidth-tbs", "nan"),
            "--bandwidth-tbs", "nan"),
        bad("bench --peak-tflops fast", lambda: bench_main("--peak-tflops", "fast"),
            "--peak-tflops", "'fast'"),
        bad("bench --seed 1.5", lambda: bench_main("--seed", "1.5"), "--seed", "1.5"),
        bad("bench --seed 2**70", lambda: bench_main("--seed", str(2**70)), "--seed",
            str(2**70)),
        bad("bench --threads 0", lambda: bench_main("--threads", "0"), "--threads", "0"),
        bad("bench --batch 1.5", lambda: bench_main("--batch", "1.5"), "--batch", "1.5"),
        bad("bench --frames 12", lambda: bench_main("--frames", "12"), "--frames", "12"),
        bad("bench --device tpu", lambda: bench_main("--device", "tpu"), "device", "'tpu'"),
        bad("bench --slug a/b", lambda: bench_main("--slug", "a/b"), "--slug", "'a/b'"),
        bad("bench --slug ..", lambda: bench_main("--slug", ".."), "--slug", "'..'"),
        bad("bench --out <a file>", lambda: bench_main("--out", str(weights("good"))),
            "--out", "good.pth"),
    ]


def data_cases() -> list[Case]:
    from r21d_edu import (
        bouncing_ball,
        drifting_grating,
        flash,
        make_clip,
        moving_shape,
        static_scene,
    )

    cases = []
    for make in (moving_shape, drifting_grating, bouncing_ball, flash, static_scene):
        n = make.__name__
        cases += [
            bad(f"{n}(noise=nan)", lambda m=make: m(noise=NAN), "noise", "nan"),
            bad(f"{n}(noise=inf)", lambda m=make: m(noise=INF), "noise", "inf"),
            bad(f"{n}(noise=-0.1)", lambda m=make: m(noise=-0.1), "noise", "-0.1"),
            bad(f"{n}(noise='0.1')", lambda m=make: m(noise="0.1"), "noise", "'0.1'"),
            bad(f"{n}(seed=1.5)", lambda m=make: m(seed=1.5), "seed", "1.5"),
            bad(f"{n}(seed='0')", lambda m=make: m(seed="0"), "seed", "'0'"),
            bad(f"{n}(frames=8.0)", lambda m=make: m(frames=8.0), "frames", "8.0"),
            bad(f"{n}(size=10**6)", lambda m=make: m(size=10**6), "size", "256"),
            bad(f"{n}(channels=True)", lambda m=make: m(channels=True), "channels", "True"),
            ok(f"{n}(np.float32 noise, np.int64 sizes and seed)",
               lambda m=make: m(frames=np.int64(8), size=np.int64(16), seed=np.int64(3),
                                noise=np.float32(0.1))),
            ok(f"{n}(0-d tensor seed)", lambda m=make: m(frames=8, size=16,
                                                          seed=torch.tensor(2))),
        ]
    cases += [
        bad("moving_shape(velocity=(nan, 0))", lambda: moving_shape(velocity=(NAN, 0)),
            "velocity", "nan"),
        bad("moving_shape(extent=inf)", lambda: moving_shape(extent=INF), "extent", "inf"),
        bad("drifting_grating(direction=inf)", lambda: drifting_grating(direction=INF),
            "direction", "inf"),
        bad("drifting_grating(period=nan)", lambda: drifting_grating(period=NAN), "period",
            "nan"),
        bad("drifting_grating(contrast=nan)", lambda: drifting_grating(contrast=NAN),
            "contrast", "nan"),
        bad("drifting_grating(speed=True)", lambda: drifting_grating(speed=True), "speed",
            "True"),
        ok("drifting_grating(np.float32 direction, period)",
           lambda: drifting_grating(direction=np.float32(30), period=np.float32(8))),
        bad("bouncing_ball(radius=nan)", lambda: bouncing_ball(radius=NAN), "radius", "nan"),
        bad("flash(onset=1.5)", lambda: flash(onset=1.5), "onset", "1.5"),
        bad("flash(duration=0)", lambda: flash(duration=0), "duration", "0"),
        bad("make_clip(speed=nan)", lambda: make_clip("grating", speed=NAN), "speed", "nan"),
        bad("make_clip(direction='left')", lambda: make_clip("grating", direction="left"),
            "direction", "'left'"),
        bad("make_clip(kind=5)", lambda: make_clip(5), "kind", "5"),
        ok("make_clip(np.float64 direction)", lambda: make_clip("moving_shape",
                                                                 direction=np.float64(90))),
    ]
    return cases


def motion_cases() -> list[Case]:
    from r21d_edu import motion_kernels, motion_tuning, temporal_response
    from r21d_edu.motion import temporal_filters_of

    return [
        bad("temporal_response(speed=nan)", lambda: temporal_response([-1, 1], NAN, 8.0),
            "speed", "nan"),
        bad("temporal_response(period=0)", lambda: temporal_response([-1, 1], 1.0, 0.0),
            "period", "0"),
        bad("temporal_response(period=nan)", lambda: temporal_response([-1, 1], 1.0, NAN),
            "period", "nan"),
        bad("temporal_response(contrast=nan)",
            lambda: temporal_response([-1, 1], 1.0, 8.0, contrast=NAN), "contrast", "nan"),
        bad("temporal_response(speed='1')", lambda: temporal_response([-1, 1], "1", 8.0),
            "speed", "'1'"),
        bad("temporal_response(taps=[nan])", lambda: temporal_response([NAN], 1.0, 8.0),
            "taps", "nan"),
        bad("temporal_response(taps='ab')", lambda: temporal_response("ab", 1.0, 8.0), "taps",
            "'ab'"),
        ok("temporal_response(np.float32 period, speeds array)",
           lambda: temporal_response(np.array([-1.0, 1.0]), np.linspace(0, 8, 5),
                                     np.float32(8))),
        bad("temporal_filters_of(out_channel=1.5)",
            lambda: temporal_filters_of(plain(), out_channel=1.5), "out_channel", "1.5"),
        bad("temporal_filters_of(middle_channels=[99])",
            lambda: temporal_filters_of(plain(), middle_channels=[99]), "99"),
        bad("temporal_filters_of(conv3d)", lambda: temporal_filters_of(conv3d()), "temporal"),
        bad("motion_kernels(t=2.0)", lambda: motion_kernels(t=2.0), "t", "2.0"),
        bad("motion_kernels(d=4)", lambda: motion_kernels(d=4), "d", "odd"),
        bad("motion_tuning(10**6 speeds)",
            lambda: motion_tuning({"d": [-1, 1]}, speeds=np.linspace(0, 8, 10**6)), "GiB",
            "speeds"),
        bad("motion_tuning(period=nan)", lambda: motion_tuning({"d": [-1, 1]}, period=NAN),
            "period", "nan"),
        bad("motion_tuning(contrast=nan)",
            lambda: motion_tuning({"d": [-1, 1]}, contrast=NAN), "contrast", "nan"),
        bad("motion_tuning(frames=0)", lambda: motion_tuning({"d": [-1, 1]}, frames=0),
            "frames", "0"),
        bad("motion_tuning(directions=[nan])",
            lambda: motion_tuning({"d": [-1, 1]}, directions=[NAN]), "directions", "nan"),
        bad("motion_tuning(speeds=[-1])", lambda: motion_tuning({"d": [-1, 1]}, speeds=[-1]),
            "speeds", "-1"),
        bad("motion_tuning(filters=[])", lambda: motion_tuning([]), "filters"),
        bad("motion_tuning({'x': 'abc'})", lambda: motion_tuning({"x": "abc"}), "'x'", "'abc'"),
        bad("motion_tuning(seed=0.5)", lambda: motion_tuning({"d": [-1, 1]}, seed=0.5), "seed",
            "0.5"),
        bad("MotionTuning.curve(direction=nan)", lambda: tuning().curve("d", NAN), "direction",
            "nan"),
        bad("MotionTuning.curve('nope')", lambda: tuning().curve("nope"), "'nope'", "d"),
        bad("MotionTuning.direction_selectivity(speed=nan)",
            lambda: tuning().direction_selectivity("d", NAN), "speed", "nan"),
        bad("MotionTuning.direction_selectivity(speed=5)",
            lambda: tuning().direction_selectivity("d", 5.0), "speed", "5"),
        ok("MotionTuning.curve(direction=np.float32(180))",
           lambda: tuning().curve("d", np.float32(180))),
    ]


def summary_cases() -> list[Case]:
    from r21d_edu import compare_layers, compare_networks, layer_table

    return [
        bad("layer_table(depth=0)", lambda: layer_table(meta_r3d(), depth=0), "depth", "0"),
        bad("layer_table(depth=1.5)", lambda: layer_table(meta_r3d(), depth=1.5), "depth",
            "1.5"),
        bad("layer_table(depth=True)", lambda: layer_table(meta_r3d(), depth=True), "depth",
            "True"),
        bad("layer_table(input_shape=(1, 3, 16, 112, 112.0))",
            lambda: layer_table(meta_r3d(), (1, 3, 16, 112, 112.0)), "input_shape", "112.0"),
        bad("layer_table('r3d_18')", lambda: layer_table("r3d_18"), "nn.Module", "str"),
        bad("layer_table(nn.Linear without input_shape)",
            lambda: layer_table(linear_2d()), "input_shape", "Linear"),
        ok("layer_table(depth=np.int64(1))", lambda: layer_table(meta_r3d(), depth=np.int64(1))),
        bad("compare_networks({'a': 'x'})", lambda: compare_networks({"a": "x"}), "'a'",
            "str"),
        bad("compare_networks({})", lambda: compare_networks({}), "at least one"),
        bad("compare_networks(input_shapes for another)",
            lambda: compare_networks({"a": meta_r3d()}, {"b": (1, 3, 8, 32, 32)}), "'b'"),
        bad("compare_layers(input_size=(8, 56.5, 56))",
            lambda: compare_layers(8, 8, 3, input_size=(8, 56.5, 56)), "input_size", "56.5"),
        bad("compare_layers(input_size=nan)", lambda: compare_layers(8, 8, 3, input_size=NAN),
            "input_size", "nan"),
        bad("compare_layers(batch_size=0)", lambda: compare_layers(8, 8, 3, batch_size=0),
            "batch_size", "0"),
        bad("compare_layers(intermediate_channels=0)",
            lambda: compare_layers(8, 8, 3, intermediate_channels=0), "intermediate_channels",
            "0"),
        bad("compare_layers(kernel larger than the clip)",
            lambda: compare_layers(8, 8, 5, input_size=(2, 8, 8)), "kernel", "T"),
        ok("compare_layers(a huge batch: shapes only)",
           lambda: compare_layers(64, 64, 3, padding=1, input_size=(64, 1024, 1024),
                                  batch_size=10**6)),
        ok("compare_layers(np.int64)", lambda: compare_layers(np.int64(8), np.int64(8),
                                                              np.int64(3),
                                                              batch_size=np.int64(2))),
    ]


class ShownByExplorer(CommandLineError):
    """An explorer flagged the setting in its message (what an explorer should do)."""


def explorer_message(explorer: object) -> object:
    if explorer.message.value:  # type: ignore[attr-defined]
        raise ShownByExplorer(explorer.message.value)  # type: ignore[attr-defined]
    return explorer


def widget_cases() -> list[Case]:
    from r21d_edu.widgets import FactorizationExplorer
    from r21d_edu.widgets.budget import budget, rank_energy
    from r21d_edu.widgets.factorize import explore_plan
    from r21d_edu.widgets.kernels import feature_view

    return [
        bad("budget(position='conv3')", lambda: budget(64, 64, 3, 3, position="conv3"),
            "position", "'conv3'"),
        bad("budget(t=2.0)", lambda: budget(64, 64, 2.0, 3), "t", "2.0"),
        bad("budget(convention='Paper')", lambda: budget(64, 64, 3, 3, convention="Paper"),
            "convention", "'Paper'"),
        bad("budget(frames=nan)", lambda: budget(64, 64, 3, 3, frames=NAN), "nan"),
        ok("budget(np.int64)", lambda: budget(np.int64(64), np.int64(64), np.int64(3),
                                              np.int64(3))),
        bad("rank_energy(kernel='x')", lambda: rank_energy("x", 8, 3, 3, 2), "kernel", "'x'"),
        bad("rank_energy(channels=0)", lambda: rank_energy("smooth", 0, 3, 3, 2), "channels",
            "0"),
        bad("rank_energy(rank=nan)", lambda: rank_energy("smooth", 8, 3, 3, NAN), "rank",
            "nan"),
        bad("rank_energy(a 27 GiB kernel)", lambda: rank_energy("random", 20_000, 3, 3, 2),
            "GiB"),
        bad("feature_view(direction=nan)", lambda: feature_view(direction=NAN), "direction",
            "nan"),
        bad("feature_view(rank=13)", lambda: feature_view(method="2plus1d", rank=13), "rank",
            "13"),
        bad("feature_view(rank=2.0)", lambda: feature_view(method="2plus1d", rank=2.0), "rank",
            "2.0"),
        bad("feature_view(view='x')", lambda: feature_view(view="x"), "view", "'x'"),
        bad("feature_view(method='fast')", lambda: feature_view(method="fast"), "method",
            "'fast'"),
        bad("explore_plan(energy=nan)", lambda: explore_plan(profile(), NAN), "energy", "nan"),
        bad("explore_plan(points without energy)",
            lambda: explore_plan(profile(), 0.9, [{"variant": "linear"}]), "points", "energy"),
        bad("explore_plan(points=5)", lambda: explore_plan(profile(), 0.9, 5), "points", "int"),
        bad("FactorizationExplorer('p')", lambda: FactorizationExplorer("p"), "NetworkProfile",
            "str"),
        bad("FactorizationExplorer(energy=nan)",
            lambda: explorer_message(FactorizationExplorer(profile(), energy=NAN)), "energy",
            "nan"),
    ]


def viz_cases() -> list[Case]:
    from r21d_edu import viz

    x = clip(1, 3, 4, 8, 8)
    cases = [
        bad("clip_strip(max_frames=0)", lambda: viz.clip_strip(x, max_frames=0), "max_frames",
            "0"),
        bad("clip_strip(max_frames=2.5)", lambda: viz.clip_strip(x, max_frames=2.5),
            "max_frames", "2.5"),
        bad("clip_strip(sample=5)", lambda: viz.clip_strip(x, sample=5), "sample", "5"),
        bad("clip_strip(channel=7)", lambda: viz.clip_strip(x, channel=7), "channel", "7"),
        bad("clip_animation(fps=nan)", lambda: viz.clip_animation(x, fps=NAN), "fps", "nan"),
        bad("clip_animation(fps=0)", lambda: viz.clip_animation(x, fps=0), "fps", "0"),
        bad("clip_animation(scale=0)", lambda: viz.clip_animation(x, scale=0), "scale", "0"),
        bad("clip_animation(max_size=2.5)", lambda: viz.clip_animation(x, max_size=2.5),
            "max_size", "2.5"),
        ok("clip_animation(np.float32 fps)", lambda: viz.clip_animation(x, fps=np.float32(4))),
        bad("cost_vs_width(widths=[0, 8])", lambda: viz.cost_vs_width([0, 8]), "widths", "0"),
        bad("cost_vs_width(widths=[16.5, 32])", lambda: viz.cost_vs_width([16.5, 32]),
            "widths", "16.5"),
        bad("cost_vs_width(kernel_size=nan)", lambda: viz.cost_vs_width(kernel_size=NAN),
            "kernel_size", "nan"),
        bad("cost_vs_width(input_size=(8, 56))", lambda: viz.cost_vs_width(input_size=(8, 56)),
            "input_size", "(8, 56)"),
        bad("cost_vs_kernel_size(vary='depth')", lambda: viz.cost_vs_kernel_size(vary="depth"),
            "vary", "'depth'"),
        bad("cost_vs_kernel_size(sizes=[2.5, 3])",
            lambda: viz.cost_vs_kernel_size(sizes=[2.5, 3]), "sizes", "2.5"),
        bad("cost_vs_m(m_values=[0, 4])", lambda: viz.cost_vs_m(m_values=[0, 4]), "m_values",
            "0"),
        bad("cost_vs_m(m_values=[nan, 4])", lambda: viz.cost_vs_m(m_values=[NAN, 4]),
            "m_values", "nan"),
        bad("intermediate_channels_figure(kernels=[(3,)])",
            lambda: viz.intermediate_channels_figure(kernels=[(3,)]), "kernels", "(3,)"),
        bad("cost_sweep_figure(log='no')", lambda: viz.cost_sweep_figure(
            [1, 2], [r21d_edu.counting.compare_costs(8, 8, 3, (1, 8, 4, 8, 8))] * 2,
            x_label="x", log="no"), "log", "'no'"),
        bad("energy_figure({})", lambda: viz.energy_figure({}), "at least one"),
        bad("energy_figure({'a': 5})", lambda: viz.energy_figure({"a": 5}), "'a'", "int"),
        bad("energy_figure(mark_ranks=[nan])",
            lambda: viz.energy_figure({"a": energy()}, mark_ranks=[NAN]), "mark_ranks", "nan"),
        bad("energy_figure(mark_ranks=[0])",
            lambda: viz.energy_figure({"a": energy()}, mark_ranks=[0]), "mark_ranks", "0"),
        bad("layer_output(layer, 'clip')", lambda: viz.layer_output(plain(), "clip"), "str"),
        bad("middle_output(conv3d)", lambda: viz.middle_output(conv3d(), x), "middle"),
        bad("feature_maps(sample=3)", lambda: viz.feature_maps(plain(), x, sample=3), "sample",
            "3"),
        bad("feature_maps(channels=[99])", lambda: viz.feature_maps(plain(), x, channels=[99]),
            "99"),
        bad("feature_maps(frames=[1.5])", lambda: viz.feature_maps(plain(), x, frames=[1.5]),
            "1.5"),
        bad("kernel_3d_figure(out_channel=99)",
            lambda: viz.kernel_3d_figure(conv3d(), out_channel=99), "out_channel", "99"),
        bad("kernel_3d_figure(in_channel=1.5)",
            lambda: viz.kernel_3d_figure(conv3d(), in_channel=1.5), "in_channel", "1.5"),
        bad("feature_maps_over_time(max_channels=0)",
            lambda: viz.feature_maps_over_time(x, max_channels=0), "max_channels", "0"),
        bad("receptive_field_figure(layer=2.5)", lambda: viz.receptive_field_figure(2.5),
            "float", "ConvSpec"),
        bad("receptive_field_figure(output_voxel=(nan, 0, 0))",
            lambda: viz.receptive_field_figure(output_voxel=(NAN, 0, 0)), "output_voxel",
            "nan"),
        bad("cost_surface(quantity='speed')", lambda: viz.cost_surface("speed"), "quantity",
            "'speed'"),
        bad("effective_kernel(ignore_bn_relu='no')",
            lambda: viz.effective_kernel(plain(), ignore_bn_relu="no"), "ignore_bn_relu",
            "'no'"),
        bad("kernel_grid(ignore_bn_relu='yes')",
            lambda: viz.kernel_grid(plain(), ignore_bn_relu="yes"), "ignore_bn_relu", "'yes'"),
        bad("kernel_grid(out_channel=99)", lambda: viz.kernel_grid(conv3d(), 99), "out_channel",
            "99"),
        bad("spatial_filters(max_filters=0)", lambda: viz.spatial_filters(plain(),
                                                                          max_filters=0),
            "max_filters", "0"),
        bad("spatial_filters(columns=0)", lambda: viz.spatial_filters(plain(), columns=0),
            "columns", "0"),
        bad("temporal_profiles(out_channels=[99])",
            lambda: viz.temporal_profiles(plain(), out_channels=[99]), "99"),
        bad("effective_kernel_figure(ignore_bn_relu='False')",
            lambda: viz.effective_kernel_figure(plain(), ignore_bn_relu="False"),
            "ignore_bn_relu", "'False'"),
        bad("effective_kernel_figure(out_channel=99)",
            lambda: viz.effective_kernel_figure(linear_layer(), conv3d(), out_channel=99),
            "out_channel", "99"),
        bad("tuning_curves('x')", lambda: viz.tuning_curves("x"), "MotionTuning", "str"),
        bad("tuning_curves(direction=nan)", lambda: viz.tuning_curves(tuning(), NAN),
            "direction", "nan"),
        bad("tuning_curves(show_law='no')", lambda: viz.tuning_curves(tuning(), show_law="no"),
            "show_law", "'no'"),
        bad("tuning_polar(speed=nan)", lambda: viz.tuning_polar(tuning(), NAN), "speed", "nan"),
        bad("plot_timings([])", lambda: viz.plot_timings([]), "at least one"),
        bad("plot_timings([object()])", lambda: viz.plot_timings([object()]), "label"),
        bad("pareto_figure([])", lambda: viz.pareto_figure([]), "points"),
        bad("pareto_figure(highlight=nan)",
            lambda: viz.pareto_figure([{"variant": "3d", "energy": 1.0, "macs": 1,
                                        "accuracy_before": 0.5}], highlight=NAN), "highlight",
            "nan"),
        bad("training_curves([])", lambda: viz.training_curves([]), "history"),
        bad("training_curves([{'model': 'a'}])",
            lambda: viz.training_curves([{"model": "a"}]), "seed", "epoch"),
    ]
    return cases

# -- the training stack and its two command lines ---------------------------------------------


def _stdout_quiet(function, argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = function(argv)
        except SystemExit as stop:  # argparse's refusals (exit 2) and --help (exit 0)
            status = stop.code
    return status, err.getvalue()


def study_main(module: str, *argv: str) -> object:
    """Run experiment or tradeoff in-process: a refusal is exit 2 with one line on stderr."""
    import importlib

    main = importlib.import_module(f"r21d_edu.{module}").main
    try:
        status, err = _stdout_quiet(main, list(argv))
    except (KeyboardInterrupt, Hang):
        raise
    except BaseException as error:  # noqa: BLE001
        raise CommandLineTraceback(f"{type(error).__name__}: {error}") from None
    if status in (0, None):
        return status
    lines = [line for line in err.splitlines() if line.strip()]
    if "Traceback" in err:
        raise CommandLineTraceback(lines[-1] if lines else str(status))
    raise CommandLineError(lines[-1] if lines else f"exit {status}")


TINY_STUDY = ["--models", "f-r2d", "--seeds", "0", "--epochs", "1", "--train", "32", "--val",
              "16", "--test", "16", "--batch-size", "16", "--no-progress", "--no-figure"]


def experiment(*argv: str) -> object:
    return study_main("experiment", *TINY_STUDY, *argv)


def results_folder_holding(name: str, content: str) -> str:
    out = folder() / f"results-{name}"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(content)
    return str(out)


def a_file() -> str:
    path = folder() / "a-file"
    path.write_text("not a folder")
    return str(path / "inside")


@made
def tiny_splits():
    from r21d_edu.tasks import DirectionTask, make_splits

    return make_splits(DirectionTask(train=32, val=16, test=16))


def damaged_checkpoint(kind: str) -> Path:
    from r21d_edu.training import save_checkpoint

    path = folder() / f"checkpoint-{kind}.pt"
    if kind == "empty":
        path.touch()
    elif kind == "garbage":
        path.write_bytes(b"\x00 not a checkpoint")
    else:
        save_checkpoint(path, {"model": {"w": torch.zeros(2048)}, "optimizer": {}, "epoch": 1})
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    return path


def weights_folder(kind: str) -> Path:
    path = folder() / f"trained-{kind}"
    path.mkdir(exist_ok=True)
    if kind == "damaged-manifest":
        (path / "manifest.json").write_text("{not json")
    elif kind == "foreign-manifest":
        (path / "manifest.json").write_text('[{"model": "r3d"}]')
    return path


def training_cases() -> list[Case]:
    from r21d_edu import stats
    from r21d_edu.plans import Comparison
    from r21d_edu.tasks import DirectionTask, make_splits
    from r21d_edu.trained import load_trained
    from r21d_edu.training import TrainConfig, load_checkpoint, train
    from r21d_edu.workers import run_jobs

    def task(**kw):
        return lambda: DirectionTask(**kw)

    def config(**kw):
        return lambda: TrainConfig(**kw)

    def view(*args, **kw):
        return lambda: tiny_splits()["train"].with_view(*args, **kw)

    cases = [
        bad("DirectionTask(noise=nan)", task(noise=NAN), "noise", "nan"),
        bad("DirectionTask(noise=-0.1)", task(noise=-0.1), "noise", "-0.1"),
        bad("DirectionTask(texture=inf)", task(texture=INF), "texture", "inf"),
        bad("DirectionTask(texture='0.1')", task(texture="0.1"), "texture", "'0.1'"),
        bad("DirectionTask(speed=(1, nan))", task(speed=(1.0, NAN)), "speed", "nan"),
        bad("DirectionTask(speed=(2, 1))", task(speed=(2.0, 1.0)), "speed", "low <= high"),
        bad("DirectionTask(contrast=0.3)", task(contrast=0.3), "contrast", "0.3"),
        bad("DirectionTask(extent=(1, inf))", task(extent=(1.0, INF)), "extent", "inf"),
        bad("DirectionTask(extent=(4, 20))", task(extent=(4.0, 20.0)), "extent", "32-pixel"),
        bad("DirectionTask(train=0)", task(train=0), "train", "0"),
        bad("DirectionTask(train=1.5)", task(train=1.5), "train", "1.5"),
        bad("DirectionTask(frames=True)", task(frames=True), "frames", "True"),
        bad("DirectionTask(frames=1)", task(frames=1), "frames", "1"),
        bad("DirectionTask(size=4)", task(size=4), "size", "4"),
        bad("DirectionTask(seed=-1)", task(seed=-1), "seed", "-1"),
        ok("DirectionTask(train=np.int64(64))", task(train=np.int64(64))),
        ok("DirectionTask(noise=np.float64(0.05))", task(noise=np.float64(0.05))),
        bad("make_splits(train=10**9)", lambda: make_splits(DirectionTask(train=10**9)),
            "GiB", "available"),
        bad("make_splits('task')", lambda: make_splits("task"), "DirectionTask", "str"),
        bad("with_view('reversed')", view("reversed"), "view", "'reversed'"),
        bad("with_view(seed=-1)", view("shuffled", seed=-1), "seed", "-1"),
        bad("with_view(fresh_each_visit='no')", view("shuffled", fresh_each_visit="no"),
            "fresh_each_visit", "'no'"),
        ok("with_view(seed=np.int64(3))", view("shuffled", seed=np.int64(3))),
        bad("TrainConfig(lr=nan)", config(lr=NAN), "lr", "nan"),
        bad("TrainConfig(lr=0)", config(lr=0), "lr", "0"),
        bad("TrainConfig(weight_decay=inf)", config(weight_decay=INF), "weight_decay", "inf"),
        bad("TrainConfig(warmup_epochs=-1)", config(warmup_epochs=-1), "warmup_epochs", "-1"),
        bad("TrainConfig(epochs=0)", config(epochs=0), "epochs", "0"),
        bad("TrainConfig(batch_size=1.5)", config(batch_size=1.5), "batch_size", "1.5"),
        bad("TrainConfig(device='tpu')", config(device="tpu"), "device", "'tpu'"),
        bad("TrainConfig(bn='sync') on CPU", config(bn="sync"), "sync", "CUDA"),
        bad("TrainConfig(bn='group')", config(bn="group"), "bn", "'group'"),
        bad("TrainConfig(deterministic='yes')", config(deterministic="yes"), "deterministic",
            "'yes'"),
        ok("TrainConfig(lr=np.float64(1e-3))", config(lr=np.float64(1e-3))),
        bad("train(split smaller than a batch)",
            lambda: train(made(lambda: r21d_edu.family.family_model("f-r2d"))(),
                          tiny_splits()["train"], tiny_splits()["val"],
                          TrainConfig(batch_size=64), progress=False),
            "fewer than one batch of 64"),
        bad("load_checkpoint(empty)", lambda: load_checkpoint(damaged_checkpoint("empty")),
            "cannot be read", "checkpoint-empty.pt"),
        bad("load_checkpoint(garbage)", lambda: load_checkpoint(damaged_checkpoint("garbage")),
            "cannot be read", "checkpoint-garbage.pt"),
        bad("load_checkpoint(a flipped byte)",
            lambda: load_checkpoint(damaged_checkpoint("flipped")), "checkpoint-flipped.pt",
            "cannot be read"),
        bad("spread([])", lambda: stats.spread([]), "spread", "[]"),
        bad("spread([nan])", lambda: stats.spread([NAN]), "spread", "nan"),
        bad("paired_difference([1, 2], [1])", lambda: stats.paired_difference([1, 2], [1]),
            "2 and 1"),
        bad("paired_difference([1], [1])", lambda: stats.paired_difference([1], [1]),
            "at least 2 seeds"),
        ok("paired_difference(numpy arrays)",
           lambda: stats.paired_difference(np.array([0.9, 0.8]), np.array([0.7, 0.6]))),
        bad("t_quantile(1.5, 3)", lambda: stats.t_quantile(1.5, 3), "p", "1.5"),
        bad("t_quantile(0.975, 0)", lambda: stats.t_quantile(0.975, 0), "degrees of freedom",
            "0"),
        bad("t_quantile_975(2.0)", lambda: stats.t_quantile_975(2.0), "degrees of freedom",
            "2.0"),
        bad("t_cdf(nan, 3)", lambda: stats.t_cdf(NAN, 3), "t", "nan"),
        bad("holm([])", lambda: stats.holm([]), "holm", "[]"),
        bad("holm([nan])", lambda: stats.holm([NAN]), "holm", "nan"),
        bad("required_seeds(nan, 10)", lambda: stats.required_seeds(NAN, 10), "sd", "nan"),
        bad("required_seeds(20, 0)", lambda: stats.required_seeds(20, 0), "half_width", "0"),
        bad("required_seeds(assurance=1.5)",
            lambda: stats.required_seeds(20, 10, assurance=1.5), "assurance", "1.5"),
        bad("sign_test_p(4, 3)", lambda: stats.sign_test_p(4, 3), "4 of 3"),
        bad("sign_test_p(1.5, 3)", lambda: stats.sign_test_p(1.5, 3), "wins", "1.5"),
        bad("Comparison('r4d', ...)",
            lambda: Comparison("r4d", "r3d", "test_accuracy", "primary", "?"), "r4d"),
        bad("Comparison(metric='loss')",
            lambda: Comparison("r3d", "r2d", "loss", "primary", "?"), "metric", "'loss'"),
        bad("load_trained('r4d')", lambda: load_trained("r4d"), "r4d", "family"),
        bad("load_trained(folder without manifest)",
            lambda: load_trained("r3d", folder=weights_folder("empty")), "manifest.json",
            "trained-empty"),
        bad("load_trained(damaged manifest)",
            lambda: load_trained("r3d", folder=weights_folder("damaged-manifest")),
            "damaged", "manifest.json"),
        bad("load_trained(foreign manifest)",
            lambda: load_trained("r3d", folder=weights_folder("foreign-manifest")),
            "manifest.json", "weights manifest"),
        bad("run_jobs(workers=0)", lambda: run_jobs(repr, [1], 0), "workers", "0"),
        bad("run_jobs(workers=True)", lambda: run_jobs(repr, [1], True), "workers", "True"),
        # the experiment's command line
        bad("experiment --lr nan", lambda: experiment("--out", str(folder() / "e"), "--lr",
                                                       "nan"), "nan"),
        bad("experiment --weight-decay inf",
            lambda: experiment("--out", str(folder() / "e"), "--weight-decay", "inf"), "inf"),
        bad("experiment --epochs 0", lambda: experiment("--out", str(folder() / "e"),
                                                         "--epochs", "0"), "0"),
        bad("experiment --workers 0", lambda: experiment("--out", str(folder() / "e"),
                                                          "--workers", "0"), "0"),
        bad("experiment --threads 0", lambda: experiment("--out", str(folder() / "e"),
                                                          "--threads", "0"), "0"),
        bad("experiment --models r4d", lambda: experiment("--out", str(folder() / "e"),
                                                           "--models", "r4d"), "r4d"),
        bad("experiment --seeds -1", lambda: experiment("--out", str(folder() / "e"),
                                                         "--seeds", "-1"), "-1"),
        bad("experiment --data-seed x", lambda: experiment("--out", str(folder() / "e"),
                                                            "--data-seed", "x"), "'x'"),
        bad("experiment --train many", lambda: experiment("--out", str(folder() / "e"),
                                                           "--train", "many"), "'many'"),
        bad("experiment --view reversed", lambda: experiment("--out", str(folder() / "e"),
                                                              "--view", "reversed"),
            "reversed"),
        bad("experiment --plan nope", lambda: study_main("experiment", "--out",
                                                         str(folder() / "e"), "--plan", "nope"),
            "nope"),
        bad("experiment --plan confirmatory --models r3d",
            lambda: study_main("experiment", "--out", str(folder() / "e"), "--plan",
                               "confirmatory", "--models", "r3d"), "--plan", "--models"),
        bad("experiment --bn sync on CPU", lambda: experiment("--out", str(folder() / "e"),
                                                               "--bn", "sync"), "sync", "CUDA"),
        bad("experiment --device cuda without CUDA",
            lambda: experiment("--out", str(folder() / "e"), "--device", "cuda"), "cuda"),
        bad("experiment --train 10**9",
            lambda: experiment("--out", str(folder() / "e-big"), "--train", "1000000000"),
            "GiB", "available"),
        bad("experiment --batch-size 64 (32 clips)",
            lambda: experiment("--out", str(folder() / "e-batch"), "--batch-size", "64"),
            "fewer than one batch of 64"),
        bad("experiment --out inside a file", lambda: experiment("--out", a_file()),
            "not a writable folder"),
        bad("experiment --resume on results.json []",
            lambda: experiment("--resume", "--out", results_folder_holding("list", "[]")),
            "does not hold results", "list"),
        bad("experiment --resume on results.json null",
            lambda: experiment("--resume", "--out", results_folder_holding("null", "null")),
            "does not hold results", "null"),
        bad("experiment --resume on results.json without runs",
            lambda: experiment("--resume", "--out",
                               results_folder_holding("no-runs", '{"protocol": {}}')),
            "does not hold results", "runs"),
        bad("experiment --resume on broken JSON",
            lambda: experiment("--resume", "--out", results_folder_holding("broken", "{x")),
            "cannot read", "results.json"),
        bad("experiment over existing results without --resume",
            lambda: experiment("--out", results_folder_holding("existing", "{}")),
            "already holds results", "--resume"),
        ok("experiment --help", lambda: study_main("experiment", "--help")),
        # the trade-off study's command line
        bad("tradeoff --margin nan", lambda: study_main("tradeoff", "--out", str(folder() / "t"),
                                                        "--margin", "nan"), "nan"),
        bad("tradeoff --margin -1", lambda: study_main("tradeoff", "--out", str(folder() / "t"),
                                                       "--margin", "-1"), "-1"),
        bad("tradeoff --lr inf", lambda: study_main("tradeoff", "--out", str(folder() / "t"),
                                                    "--lr", "inf"), "inf"),
        bad("tradeoff --energies 1.5", lambda: study_main("tradeoff", "--out",
                                                          str(folder() / "t"), "--energies",
                                                          "1.5"), "1.5"),
        bad("tradeoff --energies nan", lambda: study_main("tradeoff", "--out",
                                                          str(folder() / "t"), "--energies",
                                                          "nan"), "nan"),
        bad("tradeoff --seeds -1", lambda: study_main("tradeoff", "--out", str(folder() / "t"),
                                                      "--seeds", "-1"), "-1"),
        bad("tradeoff --threads 0", lambda: study_main("tradeoff", "--out", str(folder() / "t"),
                                                       "--threads", "0"), "0"),
        bad("tradeoff --resume on results.json []",
            lambda: study_main("tradeoff", "--resume", "--smoke", "--no-progress", "--out",
                               results_folder_holding("t-list", "[]")), "does not hold results"),
        ok("tradeoff --help", lambda: study_main("tradeoff", "--help")),
    ]
    return cases


def all_cases() -> list[Case]:
    return [*layer_cases(), *counting_cases(), *lowrank_cases(), *netfactor_cases(),
            *model_cases(), *weights_cases(), *port_cases(), *video_cases(),
            *kinetics_cases(), *timing_cases(), *fast_cases(), *bench_cases(), *data_cases(),
            *motion_cases(), *summary_cases(), *widget_cases(), *viz_cases(),
            *training_cases()]


CASES = all_cases()


def test_the_sweep_is_wide() -> None:
    assert len(CASES) >= 442, len(CASES)
    assert len({c.name for c in CASES}) == len(CASES), "two cases share a name"
    assert sum(c.valid for c in CASES) >= 60  # valid edge cases: NumPy ints, 0-d tensors, ...


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_gets_a_clear_answer(case: Case) -> None:
    verdict, why = judge(case)
    assert verdict == "clear", f"{case.name}: {verdict}: {why}"


def report(cases: list[Case]) -> dict[str, list[tuple[str, str]]]:
    outcomes: dict[str, list[tuple[str, str]]] = {"clear": [], "weak": [], "bad": []}
    for case in cases:
        verdict, why = judge(case)
        outcomes[verdict].append((case.name, why))
    return outcomes


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the bad-input sweep and print its counts.")
    parser.add_argument("--all", action="store_true", help="list the clear outcomes too")
    arguments = parser.parse_args()
    found = report(CASES)
    print(f"{len(CASES)} cases ({sum(c.valid for c in CASES)} valid inputs): "
          + ", ".join(f"{len(v)} {k}" for k, v in found.items()))
    for verdict in ("bad", "weak", *(("clear",) if arguments.all else ())):
        for name, why in found[verdict]:
            print(f"{verdict:5}  {name}: {why.splitlines()[0][:300] if why else ''}")


# --------------------------------------------------------------------------
# The named instances of issue 16, and what the integrity checks rest on
# --------------------------------------------------------------------------


def test_string_flags_no_longer_count_a_bias_and_a_batchnorm() -> None:
    from r21d_edu import count_parameters

    # 644 parameters (a bias and a BN counted) instead of 612 before.
    assert count_parameters(ConvSpec("2plus1d", 3, 8, 3, bias=False,
                                     middle_bn_relu=False)).total == 612
    with pytest.raises(TypeError, match="bias must be True or False, got 'no'"):
        ConvSpec("2plus1d", 3, 8, 3, bias="no", middle_bn_relu="False")


def test_torch_load_itself_does_not_check_the_zip_crcs() -> None:
    # What read_state_dict's own CRC check is for: if a future torch verifies them, this
    # test says so, and the documentation (weights.py) must change with it.
    changed = torch.load(weights("flipped"), weights_only=True)
    original = torch.load(weights("good"), weights_only=True)
    assert not torch.equal(changed["weight"], original["weight"])
    assert zipfile.ZipFile(weights("flipped")).testzip() is not None
    with pytest.raises(ValueError, match=r"is damaged: the CRC-32 stored for its entry "
                                         r"'.*data/0' does not match"):
        read_state_dict(weights("flipped"))


def test_matroska_crcs_are_checked_and_ffmpeg_alone_does_not() -> None:
    import av

    from r21d_edu import read_video

    with av.open(str(video("mkv-flipped"))) as container:  # FFmpeg decodes it without a word
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 30
    with pytest.raises(r21d_edu.VideoReadError, match=r"mkv-flipped.mkv is damaged: the CRC-32 "
                                                      r"of its Matroska element 0x1F43B675"):
        read_video(video("mkv-flipped"))
    assert len(read_video(video("mkv"))) == 30  # an intact file still reads


def test_a_damaged_mp4_is_called_damaged_not_foreign() -> None:
    from r21d_edu import read_video

    with pytest.raises(r21d_edu.VideoReadError, match=r"mp4-half.mp4 is damaged or truncated: "
                                                      r"it starts like a MP4/MOV file"):
        read_video(video("mp4-half"))
    with pytest.raises(r21d_edu.VideoReadError, match="text.mp4 is not a video file"):
        read_video(video("text"))


def test_the_timing_explorer_does_not_judge_a_guess_it_never_timed() -> None:
    from r21d_edu.widgets import TimingExplorer

    explorer = TimingExplorer(repeats=1)
    explorer.controls["mode"].value = "training"
    assert {r.method for r in explorer.comparison.results} == {"3d", "naive", "2plus1d"}
    explorer.guess.value = "fast"
    assert "was not timed in training: the fast path is inference-only" in explorer.verdict.value
    explorer.guess.value = "naive"
    assert explorer.verdict.value.startswith("You predicted")
    assert "not timed" not in explorer.verdict.value


def test_the_environment_says_what_a_missing_cuda_means() -> None:
    from r21d_edu.timing import environment

    env = environment("cpu")
    shown = str(env) + env._repr_html_()
    assert "None" not in shown
    if torch.version.cuda is None:
        assert "cuda: none (a CPU-only build of PyTorch)" in str(env)
        assert env.as_dict()["cuda"] is None  # JSON keeps the plain value


def test_make_fast_keeps_the_mode_of_an_eval_naive_layer() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a training-mode fast layer warns on every call
        fast = make_fast(naive())
        assert not fast.training
        torch.testing.assert_close(fast(clip()), naive()(clip()), rtol=1e-4, atol=1e-5)
    assert make_fast(made(lambda: NaiveConv2Plus1d(3, 4, 3, padding=1))()).training
