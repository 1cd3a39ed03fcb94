"""The frame scrubber: attributions once, a step only redraws, errors as messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import r21d_edu.widgets.attribution as scrubber_module
from r21d_edu.family import family_model
from r21d_edu.widgets import attribution_scrubber
from r21d_edu.widgets.attribution import mask_outline


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    models = {"r3d": family_model("r3d").eval(), "r2plus1d": family_model("r2plus1d").eval()}
    clip = torch.rand(1, 1, 8, 32, 32)
    masks = torch.zeros(1, 8, 32, 32, dtype=torch.bool)
    masks[0, :, 8:14, 8:14] = True
    return models, clip, masks


def test_a_step_shows_the_frame_and_its_share_without_attributing_again(parts, monkeypatch) -> None:
    models, clip, masks = parts
    scrubber = attribution_scrubber(models, clip, masks=masks,
                                    methods=["grad_cam", "gradient_x_input"], target=3,
                                    class_names=[f"c{k}" for k in range(8)])
    assert set(scrubber.attributions) == {(m, k) for m in models
                                          for k in ("grad_cam", "gradient_x_input")}

    def no_more(*args, **kwargs):
        raise AssertionError("a step must not attribute again")

    monkeypatch.setattr(scrubber_module, "attribute", no_more)
    before = scrubber.image.value
    scrubber.controls["frame"].value = 5
    assert scrubber.image.value != before and scrubber.message.value == ""
    result = scrubber.attributions["r3d", "grad_cam"]
    share = float(result.temporal_profile()[0, 5])
    assert f"frame 5 holds {share:.0%}" in scrubber.readout.value
    assert "inside the object" in scrubber.readout.value and "c3" in scrubber.readout.value
    heat = scrubber._heat.get_array()
    importance = result.importance()[0]
    assert np.allclose(heat, (importance[5] / importance.max()).numpy())
    scrubber.controls["model"].value = "r2plus1d"
    scrubber.controls["method"].value = "gradient_x_input"
    bars = [bar.get_height() for bar in scrubber._bars]
    expected = scrubber.attributions["r2plus1d", "gradient_x_input"].temporal_profile()[0]
    assert np.allclose(bars, expected.numpy())


def test_one_model_without_masks(parts) -> None:
    models, clip, _ = parts
    scrubber = attribution_scrubber(models["r3d"], clip, methods=["gradient_x_input"])
    assert tuple(scrubber.controls["model"].options) == (type(models["r3d"]).__name__,)
    assert "inside the object" not in scrubber.readout.value


def test_the_outline_is_the_masks_border() -> None:
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[1:4, 1:4] = True
    outline = mask_outline(mask)
    assert int(outline.sum()) == 8 and not bool(outline[2, 2])


def test_bad_inputs_are_refused_clearly(parts) -> None:
    models, clip, masks = parts
    with pytest.raises(ValueError, match=r"one clip \(1, C, T, H, W\)"):
        attribution_scrubber(models, clip[0])
    with pytest.raises(ValueError, match="masks must be bool"):
        attribution_scrubber(models, clip, masks=masks.float())
    with pytest.raises(ValueError, match="methods must be some of"):
        attribution_scrubber(models, clip, methods=["saliency"])
    with pytest.raises(TypeError, match="mapping of names to models"):
        attribution_scrubber({}, clip)
