"""Loading torchvision-format weights from files the tests make, and clip preprocessing."""

from __future__ import annotations

import hashlib
import pathlib
import pickle

import pytest
import torch

from r21d_edu import models
from r21d_edu.weights import (
    KINETICS400_MEAN,
    KINETICS400_STD,
    TORCHVISION_WEIGHTS,
    StateDictMismatchError,
    check_state_dict,
    load_weights,
    preprocess_clip,
    read_state_dict,
    sha256_matches_name,
)


def on_meta(builder, *args, **kwargs):
    with torch.device("meta"):
        return builder(*args, **kwargs)


# --------------------------------------------------------------------------
# Round trip and strict loading
# --------------------------------------------------------------------------


def test_state_dict_round_trip_through_a_file(tmp_path) -> None:
    torch.manual_seed(0)
    source = models.r2plus1d_18(num_classes=7).eval()
    with torch.no_grad():  # non-default BN statistics, so buffers are checked too
        source.stem[1].running_mean.uniform_(-1, 1)
    path = tmp_path / "r2plus1d_18-test.pth"
    torch.save(source.state_dict(), path)

    torch.manual_seed(1)
    target = models.r2plus1d_18(num_classes=7).eval()
    report = load_weights(target, path)
    path.unlink()  # 126 MB: pytest keeps its last 3 temporary folders, so don't leave it there
    assert report.ok and report.matched == 224
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(target(clip), source(clip), rtol=0, atol=0)


def test_strict_loading_lists_missing_unexpected_and_mismatched_keys() -> None:
    model = on_meta(models.r3d_18)
    state = dict(model.state_dict())
    del state["layer3.1.conv2.1.weight"]
    state["layer5.0.conv1.0.weight"] = torch.empty(1, device="meta")
    state["fc.weight"] = torch.empty(10, 512, device="meta")
    with pytest.raises(StateDictMismatchError) as caught:
        load_weights(model, state)
    message = str(caught.value)
    assert "missing from the file (1):\n  layer3.1.conv2.1.weight" in message
    assert "unexpected in the file (1):\n  layer5.0.conv1.0.weight" in message
    assert "fc.weight: (400, 512) vs (10, 512)" in message
    assert "num_classes=10" in message  # the hint says how to fix it
    report = caught.value.report
    assert report.missing == ("layer3.1.conv2.1.weight",)
    assert report.matched == 122 - 2


def test_non_strict_loading_keeps_what_fits() -> None:
    torch.manual_seed(0)
    source = models.r3d_18(num_classes=10)
    target = models.r3d_18(num_classes=400)
    fc_before = target.fc.weight.clone()
    report = load_weights(target, source.state_dict(), strict=False)
    assert [k for k, _, _ in report.mismatched] == ["fc.weight", "fc.bias"]
    assert torch.equal(target.layer4[1].conv2[0].weight, source.layer4[1].conv2[0].weight)
    assert torch.equal(target.fc.weight, fc_before)  # the new classifier is left alone


def test_hints_name_the_usual_causes() -> None:
    vision = on_meta(models.r2plus1d_18).state_dict()
    report = check_state_dict(on_meta(models.r2plus1d_18, convention="paper"), vision)
    assert report.unexpected == () and report.missing == ()
    assert ("stem.0.weight", (83, 3, 1, 7, 7), (45, 3, 1, 7, 7)) in report.mismatched
    assert any("convention='torchvision'" in hint for hint in report.hints)

    r3d = on_meta(models.r3d_18).state_dict()
    assert any("r3d_18 / mc3_18" in h for h in check_state_dict(
        on_meta(models.r2plus1d_18), r3d).hints)

    wrapped = {f"module.{k}": v for k, v in r3d.items()}
    assert any("DataParallel" in h for h in check_state_dict(on_meta(models.r3d_18),
                                                             wrapped).hints)


def test_a_pickle_carrying_an_arbitrary_object_is_refused(tmp_path) -> None:
    marker = tmp_path / "code-ran"

    class Payload:
        # Unpickling this object would call marker.touch(): code run by loading.
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    path = tmp_path / "malicious.pth"
    torch.save({"fc.weight": torch.zeros(2, 2), "payload": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match="refused to load.*weights_only=True"):
        read_state_dict(path)
    with pytest.raises(pickle.UnpicklingError):
        load_weights(on_meta(models.r3d_18), path)
    assert not marker.exists()


def test_training_checkpoints_need_a_key(tmp_path) -> None:
    state = {"weight": torch.ones(2), "bias": torch.zeros(2)}
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "model": state}, path)
    with pytest.raises(TypeError, match=r"training checkpoint.*key=.*'model'"):
        read_state_dict(path)
    loaded = read_state_dict(path, key="model")
    assert loaded.keys() == state.keys() and torch.equal(loaded["weight"], state["weight"])
    with pytest.raises(KeyError, match="no entry 'state_dict'"):
        read_state_dict(path, key="state_dict")


def test_missing_file_says_nothing_is_downloaded(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="never downloads"):
        read_state_dict(tmp_path / "r2plus1d_18-91a641e6.pth")


def test_sha256_prefix_in_the_file_name(tmp_path) -> None:
    payload = b"not really weights"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    good = tmp_path / f"tiny-{prefix}.pth"
    good.write_bytes(payload)
    bad = tmp_path / "tiny-00000000.pth"
    bad.write_bytes(payload)
    assert sha256_matches_name(good) and not sha256_matches_name(bad)
    with pytest.raises(ValueError, match="not named like torchvision's"):
        sha256_matches_name(tmp_path / "weights.pth")


def test_every_published_file_has_a_builder() -> None:
    for name, url in TORCHVISION_WEIGHTS.items():
        assert callable(getattr(models, name))
        assert url.startswith("https://download.pytorch.org/models/" + name + "-")


# --------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------


def test_preprocess_shapes_for_both_layouts_and_batches() -> None:
    torch.manual_seed(0)
    thwc = torch.randint(0, 256, (2, 5, 60, 80, 3), dtype=torch.uint8)
    out = preprocess_clip(thwc, layout="THWC")
    assert out.shape == (2, 3, 5, 112, 112) and out.dtype == torch.float32
    tchw = thwc.permute(0, 1, 4, 2, 3)
    torch.testing.assert_close(preprocess_clip(tchw), out)
    assert preprocess_clip(tchw[0]).shape == (3, 5, 112, 112)


def test_preprocess_normalises_with_kinetics_statistics() -> None:
    value = 200
    frames = torch.full((4, 3, 90, 120), value, dtype=torch.uint8)
    out = preprocess_clip(frames)
    for c in range(3):
        expected = (value / 255 - KINETICS400_MEAN[c]) / KINETICS400_STD[c]
        torch.testing.assert_close(out[c], torch.full((4, 112, 112), expected))
    torch.testing.assert_close(preprocess_clip(frames.float() / 255), out)


def test_preprocess_crops_the_centre_like_torchvision() -> None:
    # Frames already 128 x 171 are not changed by the resize; each pixel holds its
    # column index, so the crop's first column tells where the crop starts.
    columns = torch.arange(171, dtype=torch.float32).expand(1, 3, 128, 171) / 255
    rows = torch.arange(128, dtype=torch.float32).view(128, 1).expand(1, 3, 128, 171) / 255
    mean, std = KINETICS400_MEAN[0], KINETICS400_STD[0]
    first_col = preprocess_clip(columns)[0, 0, 0, 0] * std + mean
    first_row = preprocess_clip(rows)[0, 0, 0, 0] * std + mean
    assert round(first_col.item() * 255) == 30  # (171 - 112) / 2 = 29.5 rounds to 30
    assert round(first_row.item() * 255) == 8  # (128 - 112) / 2


def test_preprocess_errors_teach() -> None:
    with pytest.raises(ValueError, match="looks like THWC frames: pass layout='THWC'"):
        preprocess_clip(torch.zeros(8, 64, 64, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="must be in \\[0, 1\\].*uint8"):
        preprocess_clip(torch.full((8, 3, 64, 64), 255.0))
    with pytest.raises(TypeError, match="uint8.*float"):
        preprocess_clip(torch.zeros(8, 3, 64, 64, dtype=torch.int64))
    with pytest.raises(ValueError, match="3D shape"):
        preprocess_clip(torch.zeros(3, 64, 64))
