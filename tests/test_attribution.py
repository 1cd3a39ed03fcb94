"""Attributions (r21d_edu.attribution), their scores against the truth (r21d_edu.pointing)
and the object masks of the direction task (r21d_edu.tasks.object_masks).

The scores are tested on a planted case: a network whose answer depends on one
known space-time region only, so every method must point there and nowhere else.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from r21d_edu.attribution import (
    METHODS,
    AttributionError,
    attribute,
    attribute_all,
    baseline_clip,
    default_layer,
    find_layer,
    layer_names,
)
from r21d_edu.family import FAMILY, family_model
from r21d_edu.pointing import (
    effective_frames,
    energy_pointing,
    pointing_game,
    score_maps,
    temporal_profile,
)
from r21d_edu.tasks import DirectionTask, make_splits, object_masks, render_directions

# The planted region: frames 2-3, rows 4-9, columns 10-15 of an 8 x 16 x 16 clip.
REGION = (slice(2, 4), slice(4, 10), slice(10, 16))
SHAPE = (3, 1, 8, 16, 16)


class Gate(nn.Module):
    """Multiplies its input by a fixed 0/1 mask: everything outside the region is dropped."""

    def __init__(self) -> None:
        super().__init__()
        mask = torch.zeros(1, 1, *SHAPE[2:])
        mask[(0, 0, *REGION)] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class Planted(nn.Module):
    """A clip classifier that sees only the planted region (after its first conv)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 4, 1)
        self.gate = Gate()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.gate(torch.relu(self.conv(x)))).flatten(1))


def planted() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = Planted().double()
    with torch.no_grad():  # class 0 is evidence for, so Grad-CAM's ReLU keeps its map
        model.fc.weight[0].abs_()
    clips = torch.rand(SHAPE, dtype=torch.float64)
    masks = torch.zeros(SHAPE[0], *SHAPE[2:], dtype=torch.bool)
    masks[(slice(None), *REGION)] = True
    return model, clips, masks


@pytest.mark.parametrize("method", METHODS)
def test_every_method_points_at_the_planted_region(method: str) -> None:
    model, clips, masks = planted()
    options = {"layer": "gate"} if method == "grad_cam" else {}
    if method == "occlusion":
        options = {"window": (1, 2, 2), "stride": (1, 2, 2)}
    maps = attribute(model, clips, method, target=0, **options).maps
    assert maps.shape == (3, 8, 16, 16)
    scores = score_maps(maps, masks)
    assert scores.energy.min() > 0.999, scores.energy
    assert scores.hits.all()
    # The decision uses frames 2 and 3 only.
    assert scores.profile[:, 2:4].sum(dim=1).min() > 0.999
    assert scores.spread.max() <= 2 + 1e-9


def test_scores_of_a_map_spread_evenly_are_chance() -> None:
    _, _, masks = planted()
    flat = torch.ones(masks.shape, dtype=torch.float64)
    scores = score_maps(flat, masks)
    share = 2 * 6 * 6 / (8 * 16 * 16)
    assert torch.allclose(scores.energy, torch.full((3,), share, dtype=torch.float64))
    assert abs(scores.lift() - 1) < 1e-12
    assert not scores.hits.any()  # tied everywhere: the peak is not on the object alone
    assert torch.allclose(scores.spread, torch.full((3,), 8.0, dtype=torch.float64))


def test_scores_by_hand() -> None:
    maps = torch.zeros(1, 2, 2, 2)
    maps[0, 0, 0, 0] = -3.0  # importance is |map|: a push down counts
    maps[0, 1, 1, 1] = 1.0
    masks = torch.zeros(1, 2, 2, 2, dtype=torch.bool)
    masks[0, 0, 0, 0] = True
    assert float(energy_pointing(maps, masks)) == pytest.approx(0.75)
    assert bool(pointing_game(maps, masks))
    assert temporal_profile(maps).tolist() == [[0.75, 0.25]]
    assert float(effective_frames(torch.tensor([[0.5, 0.5]]))) == pytest.approx(2.0)
    zero = score_maps(torch.zeros(1, 2, 2, 2), masks)
    assert float(zero.energy) == 0 and not bool(zero.hits)


def test_scores_refuse_what_does_not_fit() -> None:
    maps = torch.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="same"):
        energy_pointing(maps, torch.zeros(1, 2, 2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="must be bool"):
        energy_pointing(maps, torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"\(N, T, H, W\)"):
        pointing_game(torch.zeros(2, 2, 2), torch.zeros(2, 2, 2, dtype=torch.bool))


def grad_cam_by_hand(model: nn.Module, layer: nn.Module, clips: torch.Tensor,
                     target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM in a few lines, as tutorial 11 writes it."""
    saved = {}
    handle = layer.register_forward_hook(lambda m, i, o: saved.update(a=o))
    try:
        scores = model(clips)[torch.arange(len(clips)), target].sum()
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(scores, saved["a"])
    weights = grad.mean(dim=(2, 3, 4), keepdim=True)       # one weight per channel
    cam = torch.relu((weights * saved["a"]).sum(dim=1, keepdim=True))
    return nn.functional.interpolate(cam, size=clips.shape[2:], mode="trilinear")[:, 0]


def test_grad_cam_by_hand_equals_captum_in_float64() -> None:
    torch.manual_seed(0)
    model = family_model("r2plus1d").double().eval()
    clips = torch.rand(2, 1, 8, 32, 32, dtype=torch.float64)
    ours = attribute(model, clips, "grad_cam", layer="layer2")
    hand = grad_cam_by_hand(model, model.layer2, clips, ours.target)
    assert ours.maps.dtype == torch.float32  # maps come back float32 for the figures
    captum_maps = _captum_grad_cam(model, model.layer2, clips, ours.target)
    assert torch.allclose(hand, captum_maps, rtol=1e-12, atol=1e-14)
    assert ours.layer_shape == (4, 8, 8)


def _captum_grad_cam(model, layer, clips, target):
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(model, layer).attribute(clips, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(clips.shape[2:]), "trilinear")[:, 0]


def test_integrated_gradients_are_complete() -> None:
    torch.manual_seed(0)
    model = family_model("r3d").double().eval()
    clips = torch.rand(2, 1, 8, 32, 32, dtype=torch.float64)
    result = attribute(model, clips, "integrated_gradients", steps=64)
    assert result.completeness_gap < 0.02
    start = baseline_clip(clips, "mean")
    with torch.no_grad():
        rows = torch.arange(2)
        change = model(clips)[rows, result.target] - model(start)[rows, result.target]
    assert torch.allclose(result.maps.double().sum(dim=(1, 2, 3)), change,
                          rtol=0.05, atol=0.02 * float(change.abs().max()))


@pytest.mark.parametrize("name", FAMILY)
def test_attributions_run_on_every_family_member(name: str) -> None:
    torch.manual_seed(0)
    model = family_model(name)
    model.train()
    clips = torch.rand(2, 1, 8, 32, 32)
    results = attribute_all(model, clips, steps=2, window=(4, 16, 16))
    assert set(results) == set(METHODS)
    for result in results.values():
        assert result.maps.shape == (2, 8, 32, 32)
        assert torch.isfinite(result.maps).all()
    assert model.training  # given back in the mode it came in
    assert results["grad_cam"].layer == default_layer(model, clips)


@pytest.mark.parametrize("builder", ["r3d_18", "mc3_18", "r2plus1d_18"])
def test_attributions_run_on_the_18_layer_networks(builder: str) -> None:
    import r21d_edu

    torch.manual_seed(0)
    model = getattr(r21d_edu, builder)(num_classes=5)
    clips = torch.rand(1, 3, 4, 32, 32)
    results = attribute_all(model, clips, steps=2, window=(4, 16, 16), stride=(4, 16, 16))
    for result in results.values():
        assert result.maps.shape == (1, 4, 32, 32)
        assert torch.isfinite(result.maps).all()


def test_default_layer_of_the_18_layer_network_keeps_two_frames() -> None:
    import r21d_edu

    model = r21d_edu.r3d_18(num_classes=5)
    assert default_layer(model, torch.rand(1, 3, 16, 112, 112)) == "layer4"


def test_clear_errors() -> None:
    model = family_model("r3d")
    clips = torch.rand(1, 1, 8, 32, 32)
    with pytest.raises(AttributionError, match="no layer 'layer9'.*stem, layer1"):
        attribute(model, clips, "grad_cam", layer="layer9")
    with pytest.raises(AttributionError, match="did you mean 'layer1.0.conv1'"):
        find_layer(model, "0.conv1")
    with pytest.raises(AttributionError, match="target 8 is out of range.*8 classes"):
        attribute(model, clips, target=8)
    with pytest.raises(AttributionError, match="does not take clips"):
        attribute(model, torch.rand(1, 3, 8, 32, 32))
    with pytest.raises(AttributionError, match="4D shape"):
        attribute(model, clips[0])
    with pytest.raises(AttributionError, match="class scores"):
        attribute(nn.Conv3d(1, 2, 3), clips)
    with pytest.raises(AttributionError, match="layer= is Grad-CAM's"):
        attribute(model, clips, "occlusion", layer="layer1")
    with pytest.raises(AttributionError, match="window .* does not fit"):
        attribute(model, clips, "occlusion", window=(9, 4, 4))
    with pytest.raises(ValueError, match="method"):
        attribute(model, clips, "saliency")
    with pytest.raises(AttributionError, match="needs a layer whose output is a map"):
        attribute(model, clips, "grad_cam", layer="fc")
    assert "layer4.0.conv2" in layer_names(model)


def test_attribution_leaves_grad_mode_rng_and_parameter_grads_alone() -> None:
    model = family_model("r2plus1d")
    clips = torch.rand(1, 1, 8, 32, 32)
    state = torch.random.get_rng_state()
    with torch.no_grad():
        attribute(model, clips, "gradient_x_input")
        assert not torch.is_grad_enabled()
    assert torch.equal(state, torch.random.get_rng_state())


# --------------------------------------------------------------------------
# Object masks
# --------------------------------------------------------------------------


def test_masks_cover_exactly_the_pixels_the_shape_changes() -> None:
    # No texture, no noise: a pixel differs from the flat background iff the shape covers it
    # by enough to move its uint8 value: a shift of one level or more always changes the
    # rounded value (a shift of 0.6 from 9.5 + ε rounds back to 10, so the bound is 1).
    task = DirectionTask(train=64, val=8, test=8, texture=0.0, noise=0.0,
                         contrast=(0.15, 0.4))
    labels = torch.arange(64) % 8
    clips, truth = render_directions(labels, task, torch.Generator().manual_seed(3))
    coverage = object_masks(truth, task, coverage=True)
    masks = object_masks(truth, task)
    background = (truth["background"].double() * 255).round()[:, None, None, None]
    changed = clips[:, 0].double() != background
    assert (changed <= masks).all()              # nothing outside the mask changes
    visible = coverage * truth["contrast"].abs().double()[:, None, None, None] * 255 >= 1.0
    assert (visible <= changed).all()            # every visibly covered pixel changes
    assert (masks == (coverage > 0)).all()
    # Square shapes: the covered area is the square's area in every frame.
    square = ~truth["disc"]
    area = coverage[square].sum(dim=(2, 3))
    assert torch.allclose(area, (truth["extent"][square].double() ** 2)[:, None], atol=1e-4)


def test_masks_of_a_split_follow_its_clips() -> None:
    splits = make_splits(DirectionTask(train=8, val=8, test=16))
    masks = object_masks(splits["test"].truth)
    assert masks.shape == (16, 8, 32, 32)
    assert masks.any(dim=(2, 3)).all()           # the object is in every frame
    with pytest.raises(ValueError, match="lacks start"):
        object_masks({"velocity": torch.zeros(1, 2)})
    with pytest.raises(TypeError, match="DirectionTask"):
        object_masks(splits["test"].truth, task=8)
