"""The low-rank view: factorize / compose are exact where they should be, optimal where not."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from r21d_edu.layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv
from r21d_edu.lowrank import (
    compose,
    energy_profile,
    factorize,
    fold_kernel,
    smooth_kernel,
    unfold_kernel,
)
from r21d_edu.viz import energy_figure


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # The tensors here are tiny: extra threads only add synchronisation, which on a
    # busy machine made these tests 10x slower. Restored for the other test files.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


@st.composite
def conv_configs(draw: st.DrawFn) -> tuple[dict, tuple[int, ...], int]:
    """A small random conv (kernel, stride, padding, bias), an input shape, and a seed."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(3))
    args = dict(
        in_channels=draw(st.integers(1, 4)),
        out_channels=draw(st.integers(1, 4)),
        kernel_size=kernel,
        stride=tuple(draw(st.integers(1, 2)) for _ in range(3)),
        padding=padding,
        bias=draw(st.booleans()),
    )
    sizes = tuple(
        max(1, k - 2 * p) + draw(st.integers(0, 3)) for k, p in zip(kernel, padding, strict=True)
    )
    shape = (draw(st.integers(1, 2)), args["in_channels"], *sizes)
    return args, shape, draw(st.integers(0, 2**31 - 1))


def _conv(args: dict, seed: int) -> nn.Conv3d:
    torch.manual_seed(seed)
    return nn.Conv3d(**args).double()


@settings(max_examples=200, deadline=None)
@given(conv_configs())
def test_full_rank_factorization_composes_back_exactly(config) -> None:
    args, shape, seed = config
    conv = _conv(args, seed)
    full = energy_profile(conv).full_rank
    layer = factorize(conv, full)
    assert layer.intermediate_channels == full and not layer.middle_bn_relu
    assert (layer.stride, layer.padding) == (tuple(conv.stride), tuple(conv.padding))
    back = compose(layer)
    assert _relative(back.weight, conv.weight) <= 1e-9
    if conv.bias is not None:
        assert torch.equal(back.bias, conv.bias)
    x = torch.randn(shape, dtype=torch.float64)
    assert _relative(layer(x), conv(x)) <= 1e-9
    assert _relative(back(x), conv(x)) <= 1e-9


@settings(max_examples=200, deadline=None)
@given(conv_configs(), st.integers(1, 36))
def test_truncation_error_equals_the_tail_singular_values(config, rank_seed) -> None:
    args, _shape, seed = config
    conv = _conv(args, seed)
    profile = energy_profile(conv)
    rank = 1 + rank_seed % profile.full_rank
    kernel = compose(factorize(conv, rank)).weight
    tail = torch.tensor(profile.singular_values[rank:], dtype=torch.float64)
    error = float((kernel - conv.weight).detach().norm())
    assert error == pytest.approx(float(tail.square().sum().sqrt()), rel=1e-9, abs=1e-12)
    assert error == pytest.approx(profile.error_at(rank), rel=1e-9, abs=1e-12)
    # Energy kept is 1 - (error / ||W||)^2, and the top r of R values hold at least r/R of it.
    total = float(conv.weight.detach().norm()) ** 2
    assert profile.energy_at(rank) == pytest.approx(1 - error**2 / total, abs=1e-9)
    assert profile.energy_at(rank) >= rank / profile.full_rank - 1e-12
    if profile.singular_values[rank - 1] > 1e-9:
        assert torch.linalg.matrix_rank(unfold_kernel(kernel)) == rank


@settings(max_examples=200, deadline=None)
@given(conv_configs(), st.integers(1, 5), st.booleans())
def test_composed_conv_equals_a_linear_2plus1d_layer(config, m, naive) -> None:
    args, shape, seed = config
    torch.manual_seed(seed)
    kind = NaiveConv2Plus1d if naive else SpatioTemporalConv
    layer = kind(**args, intermediate_channels=m, middle_bn_relu=False).double()
    conv = compose(layer)
    assert isinstance(conv, nn.Conv3d)
    x = torch.randn(shape, dtype=torch.float64)
    assert _relative(conv(x), layer(x)) <= 1e-9
    assert torch.linalg.matrix_rank(unfold_kernel(conv.weight.detach())) <= m


def test_factorize_keeps_dtype_device_and_uses_the_papers_m_by_default() -> None:
    torch.manual_seed(0)
    conv = FullConv3d(8, 16, 3, stride=(1, 2, 2), padding=1, bias=False)
    layer = factorize(conv)
    assert layer.intermediate_channels == 28  # floor(27·8·16 / (9·8 + 3·16)) = floor(28.8)
    assert layer.spatial.weight.dtype == torch.float32 and layer.temporal.bias is None
    x = torch.randn(1, 8, 5, 9, 9)
    assert layer(x).shape == conv(x).shape == (1, 16, 5, 5, 5)


def test_unfold_puts_time_with_outputs_and_space_with_inputs() -> None:
    weight = torch.arange(2 * 3 * 4 * 5 * 6, dtype=torch.float64).reshape(2, 3, 4, 5, 6)
    matrix = unfold_kernel(weight)
    assert matrix.shape == (2 * 4, 3 * 5 * 6)
    o, i, tau, y, x = 1, 2, 3, 4, 5
    assert matrix[o * 4 + tau, i * 30 + y * 6 + x] == weight[o, i, tau, y, x]
    assert torch.equal(fold_kernel(matrix, 2, 3, (4, 5, 6)), weight)


def test_energy_profile_of_the_papers_64_to_64_layer() -> None:
    torch.manual_seed(0)
    profile = energy_profile(nn.Conv3d(64, 64, 3))
    assert profile.unfolded_shape == (192, 576)
    assert (profile.full_rank, profile.paper_rank) == (192, 144)
    assert profile.paper_energy == profile.energy_at(144)
    assert profile.energy_at(192) == pytest.approx(1.0)
    assert list(profile.energy) == sorted(profile.energy)
    assert profile.rank_for(profile.energy_at(72)) == 72
    assert profile.rank_for(1.0) <= 192
    assert "= 144 = 75.0% of full rank" in profile.explanation
    # A smooth kernel concentrates its energy: the paper's M keeps more of it.
    smooth = energy_profile(smooth_kernel(64, 64, 3))
    assert smooth.energy_at(144) > profile.energy_at(144)
    assert smooth.rank_for(0.9) < profile.rank_for(0.9)


def test_smooth_kernel_is_seeded_and_sized_like_conv3d() -> None:
    a = smooth_kernel(4, 3, (3, 5, 5), seed=1)
    assert a.shape == (4, 3, 3, 5, 5) and a.dtype == torch.float64
    assert torch.equal(a, smooth_kernel(4, 3, (3, 5, 5), seed=1))
    assert not torch.equal(a, smooth_kernel(4, 3, (3, 5, 5), seed=2))


def test_energy_figure_marks_the_papers_m() -> None:
    torch.manual_seed(0)
    fig = energy_figure({"random": energy_profile(nn.Conv3d(8, 8, 3))}, mark_ranks=[10])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["random", "paper's M = 18", "rank 10"]


# --------------------------------------------------------------------------
# Errors that teach
# --------------------------------------------------------------------------


def test_rank_out_of_range_is_refused() -> None:
    conv = nn.Conv3d(4, 4, 3)
    with pytest.raises(ValueError, match=r"at most the full rank .* = 12, got 13"):
        factorize(conv, 13)
    with pytest.raises(ValueError, match="rank must be an integer >= 1, got 0"):
        factorize(conv, 0)
    with pytest.raises(TypeError, match="rank must be an integer"):
        factorize(conv, 2.5)
    with pytest.raises(ValueError, match="paper's formula gives M = 0"):
        factorize(nn.Conv3d(1, 1, 1))
    profile = energy_profile(conv)
    with pytest.raises(ValueError, match="between 1 and the full rank 12"):
        profile.energy_at(13)
    with pytest.raises(ValueError, match=r"target must be an energy share in \(0, 1\]"):
        profile.rank_for(90)


def test_compose_refuses_a_layer_with_middle_bn_relu() -> None:
    with pytest.raises(ValueError, match="ReLU is not linear"):
        compose(SpatioTemporalConv(4, 4, 3))
    with pytest.raises(TypeError, match="got Conv3d"):
        compose(nn.Conv3d(4, 4, 3))


def test_dilated_and_string_padded_convs_are_refused_saying_why() -> None:
    # Grouped convs are factorized group by group (tests/test_factorize_groups.py).
    with pytest.raises(ValueError, match=r"dilation=\(1, 2, 2\)"):
        factorize(nn.Conv3d(4, 4, 3, dilation=(1, 2, 2)), 2)
    with pytest.raises(ValueError, match="numeric zero padding"):
        energy_profile(nn.Conv3d(4, 4, 3, padding="same"))
    with pytest.raises(ValueError, match="numeric zero padding.*zeros only.*at the borders"):
        factorize(nn.Conv3d(4, 4, 3, padding=1, padding_mode="circular"), 2)
    with pytest.raises(TypeError, match="expects an nn.Conv3d"):
        factorize(nn.Conv2d(4, 4, 3), 2)


def test_bad_kernels_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(C_out, C_in, t, d_h, d_w\).*got shape \(4, 4, 3, 3\)"):
        unfold_kernel(torch.zeros(4, 4, 3, 3))
    with pytest.raises(ValueError, match="all zeros"):
        energy_profile(torch.zeros(2, 2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"expected a \(2·3\) × \(2·3·3\)"):
        fold_kernel(torch.zeros(5, 18), 2, 2, 3)
