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
