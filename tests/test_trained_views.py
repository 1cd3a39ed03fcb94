"""Looking at what training changed: the initial network, the stem's conv, the spread in time."""

from __future__ import annotations

import pytest
import torch

from r21d_edu.family import family_model
from r21d_edu.layers import SpatioTemporalConv
from r21d_edu.trained import (
    initial_model,
    load_trained,
    spacetime_convs,
    stem_conv,
    temporal_change,
    trained_stem,
)


def test_the_initial_model_is_the_runs_start_and_leaves_the_rng_alone() -> None:
    state = torch.get_rng_state()
    first = initial_model("r2plus1d", seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(3)
    expected = family_model("r2plus1d")
    for (key, a), (_, b) in zip(first.state_dict().items(), expected.state_dict().items()):
        assert torch.equal(a, b), key
    assert not first.training


def test_training_changed_the_committed_weights() -> None:
    before, after = spacetime_convs(initial_model("r3d")), spacetime_convs(load_trained("r3d"))
    assert list(before) == list(after) and "stem.0" in before
    assert all(not torch.equal(before[n].weight, after[n].weight.to(before[n].weight.dtype))
               for n in before)
    assert all(m.kernel_size[0] > 1 and m.kernel_size[1] * m.kernel_size[2] > 1
               for m in after.values())


def test_a_2plus1d_stems_conv_computes_the_stems_conv_part_exactly() -> None:
    model = initial_model("r2plus1d").double()
    layer = stem_conv(model)
    assert isinstance(layer, SpatioTemporalConv) and not layer.training
    clip = torch.randn(2, 1, 8, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        conv_part = torch.nn.Sequential(*list(model.stem)[:4])  # spatial, BN, ReLU, temporal
        expected = conv_part(clip)
        assert torch.allclose(layer(clip), expected, rtol=1e-12, atol=1e-12)


def test_a_3d_stems_conv_is_a_copy() -> None:
    model = initial_model("r3d")
    conv = stem_conv(model)
    assert torch.equal(conv.weight, model.stem[0].weight) and conv is not model.stem[0]
    with torch.no_grad():
        conv.weight.zero_()
    assert model.stem[0].weight.abs().sum() > 0
    assert trained_stem("r3d").weight.shape == (16, 1, 3, 7, 7)


def test_temporal_change_of_known_kernels() -> None:
    static = torch.ones(2, 1, 3, 5, 5)
    assert temporal_change(static).tolist() == [0.0, 0.0]
    step = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 3, 1, 1).expand(1, 1, 3, 5, 5)
    assert temporal_change(step).tolist() == [1.0]
    torch.manual_seed(0)
    random = temporal_change(torch.randn(2000, 4, 3, 3, 3))
    assert random.mean().item() == pytest.approx(2 / 3, abs=0.01)


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown model 'r4d'"):
        initial_model("r4d")
    with pytest.raises(TypeError, match="whose .stem starts with an nn.Conv3d"):
        stem_conv(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="effective kernel"):
        temporal_change(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="all-zero output channel"):
        temporal_change(torch.zeros(1, 1, 3, 3, 3))
    with pytest.raises(TypeError, match="nn.Module"):
        spacetime_convs("r3d")
