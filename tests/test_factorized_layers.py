"""The factorized layers (issue 18): nn.Conv3d's shapes, the weights of the family, and
the exact identities that make each linear one a 3D convolution, in float64."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from r21d_edu.factorized import (
    FACTORIZED_LAYERS,
    P3DA,
    P3DB,
    P3DC,
    CentreTaps,
    DepthwiseConv2Plus1d,
    IpCSNConv,
    IrCSNConv,
    S3DConv,
    S3DGConv,
    TemporalShiftConv,
)
from r21d_edu.layers import FullConv3d, SpatioTemporalConv

TOL = 1e-10
KERNELS = [1, 2, 3, (3, 1, 1), (1, 3, 3), (3, 2, 5), (5, 3, 3)]
STRIDES = [1, 2, (2, 1, 3)]
PADDINGS = [0, 1, (2, 0, 1)]
SWEEP = list(itertools.product(KERNELS, STRIDES, PADDINGS))


def weights_without_bn(layer: nn.Module) -> int:
    return sum(p.numel() for m in layer.modules() if not isinstance(m, nn.BatchNorm3d)
               for p in m.parameters(recurse=False))


def clip(c: int = 3, t: int = 7, h: int = 7, w: int = 8, n: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, t, h, w, generator=generator, dtype=torch.float64)


def build(cls, *args, **kwargs):
    torch.manual_seed(1)
    layer = cls(*args, **kwargs).double().eval()
    with torch.no_grad():  # nonzero biases, so the identities test them too
        for m in layer.modules():
            if isinstance(m, nn.Conv3d) and m.bias is not None:
                m.bias.normal_()
    return layer


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= TOL * max(1.0, b.abs().max().item())


def centre(k: int) -> int:
    return (k - 1) // 2


# --------------------------------------------------------------------------
# Weights of one 64 -> 64, 3x3x3 conv without bias (the issue's table)
# --------------------------------------------------------------------------

WEIGHTS = {
    FullConv3d: 110_592, SpatioTemporalConv: 110_592,
    P3DA: 49_152, P3DB: 49_152, P3DC: 49_152, S3DConv: 49_152, S3DGConv: 53_312,
    IpCSNConv: 5_824, IrCSNConv: 1_728, DepthwiseConv2Plus1d: 768,
    TemporalShiftConv: 36_864,  # the 2D conv's 9·64·64; the shift adds 0
}


@pytest.mark.parametrize("cls", list(WEIGHTS), ids=lambda c: c.__name__)
def test_the_weights_of_a_64_to_64_3x3x3_conv_are_the_issues(cls) -> None:
    layer = cls(64, 64, 3, padding=1, bias=False)
    assert weights_without_bn(layer) == WEIGHTS[cls]


def test_tsm_adds_no_weights_to_its_2d_conv() -> None:
    layer = TemporalShiftConv(64, 64, 3, padding=1, bias=False)
    assert list(layer.shift.parameters()) == []
    assert weights_without_bn(layer) == weights_without_bn(layer.spatial) == 9 * 64 * 64


def test_x3d_stem_weights() -> None:
    # X3D's stem: (1, 3, 3) 3 -> 24 mixing channels, then depthwise (5, 1, 1).
    stem = DepthwiseConv2Plus1d(3, 24, (5, 3, 3), (1, 2, 2), (2, 1, 1), bias=False,
                                depthwise_spatial=False)
    assert weights_without_bn(stem) == 9 * 3 * 24 + 5 * 24 == 768


# --------------------------------------------------------------------------
# The contract: nn.Conv3d's output shape over a sweep
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(FACTORIZED_LAYERS))
def test_output_shapes_equal_conv3d_over_a_sweep(key: str) -> None:
    cls = FACTORIZED_LAYERS[key]
    x = clip(c=3, n=1).float()
    checked = 0
    for kernel, stride, padding in SWEEP:
        t = kernel if isinstance(kernel, int) else kernel[0]
        if cls is TemporalShiftConv and t < 3:
            continue
        layer = cls(3, 6, kernel, stride, padding).eval()
        expected = nn.Conv3d(3, 6, kernel, stride, padding)(x).shape
        assert layer(x).shape == expected, (key, kernel, stride, padding)
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize("key", list(FACTORIZED_LAYERS))
def test_every_layer_trains_and_keeps_the_contract(key: str) -> None:
    cls = FACTORIZED_LAYERS[key]
    layer = cls(4, 8, 3, padding=1)
    x = clip(c=4).float().requires_grad_()
    layer(x).square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in layer.parameters())
    doc = cls.__doc__
    assert "Shape:" in doc and "(N, C_in, T, H, W)" in doc and cls.formula.split(",")[0] in doc
    rebuilt = cls(**layer.config)
    assert rebuilt.config == layer.config


# --------------------------------------------------------------------------
# Exact identities (float64)
# --------------------------------------------------------------------------


def composed(temporal: nn.Conv3d, spatial: nn.Conv3d) -> torch.Tensor:
    """K[o, i, τ, u, v] = Σ_m T[o, m, τ] S[m, i, u, v] (ungrouped S and T)."""
    return torch.einsum("omt,miuv->oituv", temporal.weight[:, :, :, 0, 0],
                        spatial.weight[:, :, 0])


def on_centre_frame(spatial: nn.Conv3d, t: int) -> torch.Tensor:
    c_out, c_in, _, d_h, d_w = spatial.weight.shape
    kernel = spatial.weight.new_zeros(c_out, c_in, t, d_h, d_w)
    kernel[:, :, centre(t)] = spatial.weight[:, :, 0]
    return kernel


def on_centre_pixel(temporal: nn.Conv3d, d_h: int, d_w: int) -> torch.Tensor:
    c_out, c_in, t = temporal.weight.shape[:3]
    kernel = temporal.weight.new_zeros(c_out, c_in, t, d_h, d_w)
    kernel[:, :, :, centre(d_h), centre(d_w)] = temporal.weight[:, :, :, 0, 0]
    return kernel


LINEAR_SWEEP = [(3, 1, 1), ((3, 2, 5), (2, 1, 3), (2, 0, 1)), ((4, 3, 3), 1, 0),
                ((2, 3, 1), 2, 1), ((5, 3, 3), (1, 2, 2), (2, 1, 1))]


@pytest.mark.parametrize("cls", [P3DA, S3DConv], ids=lambda c: c.__name__)
@pytest.mark.parametrize("kernel,stride,padding", LINEAR_SWEEP)
def test_p3d_a_and_s3d_without_bn_relu_are_the_conv3d_of_the_composed_kernel(
        cls, kernel, stride, padding) -> None:
    layer = build(cls, 3, 5, kernel, stride, padding, middle_bn_relu=False)
    assert layer.is_linear
    x = clip()
    kernel3d = composed(layer.temporal, layer.spatial)
    close(layer(x), F.conv3d(x, kernel3d, layer.temporal.bias, layer.stride, layer.padding))
    # unfolded as (C_out·t) x (C_in·d_h·d_w), the kernel has rank <= C_out (M = C_out)
    unfolded = kernel3d.permute(0, 2, 1, 3, 4).reshape(5 * layer.kernel_size[0], -1)
    assert torch.linalg.matrix_rank(unfolded).item() <= 5


@pytest.mark.parametrize("kernel,stride,padding", LINEAR_SWEEP)
def test_p3d_b_without_bn_relu_is_one_conv3d_with_a_centre_cross_kernel(
        kernel, stride, padding) -> None:
    layer = build(P3DB, 3, 5, kernel, stride, padding, middle_bn_relu=False)
    t, d_h, d_w = layer.kernel_size
    x = clip()
    # S on the centre frame + T on the centre pixel; zero everywhere else.
    cross = on_centre_frame(layer.spatial, t) + on_centre_pixel(layer.temporal, d_h, d_w)
    close(layer(x), F.conv3d(x, cross, layer.temporal.bias, layer.stride, layer.padding))
    # ... which is the sum of a 1 x d x d and a t x 1 x 1 conv, each on the window centre
    support = cross.abs().sum(dim=(0, 1)) > 0
    centre_cross = torch.zeros(t, d_h, d_w, dtype=torch.bool)
    centre_cross[centre(t)] = True
    centre_cross[:, centre(d_h), centre(d_w)] = True
    assert torch.equal(support, centre_cross)


@pytest.mark.parametrize("kernel,stride,padding", LINEAR_SWEEP)
def test_p3d_c_without_bn_relu_is_the_centre_frame_plus_the_composition(
        kernel, stride, padding) -> None:
    layer = build(P3DC, 3, 5, kernel, stride, padding, middle_bn_relu=False)
    x = clip()
    kernel3d = (on_centre_frame(layer.spatial, layer.kernel_size[0])
                + composed(layer.temporal, layer.spatial))
    close(layer(x), F.conv3d(x, kernel3d, layer.temporal.bias, layer.stride, layer.padding))


def test_p3d_with_bn_relu_follows_gluon_cv() -> None:
    # gluon-cv's P3DB / P3DC: BatchNorm + ReLU after each conv, then the sum.
    x = clip(c=4)
    b = build(P3DB, 4, 4, 3, padding=1)
    relu = torch.relu
    close(b(x), relu(b.bn_spatial(b.spatial(x))) + relu(b.bn_temporal(b.temporal(x))))
    c = build(P3DC, 4, 4, 3, padding=1)
    s = relu(c.bn_spatial(c.spatial(x)))
    close(c(x), s + relu(c.bn_temporal(c.temporal(s))))
    assert not b.is_linear and not c.is_linear


@pytest.mark.parametrize("kernel,stride,padding", LINEAR_SWEEP)
def test_ir_csn_is_a_grouped_conv3d_and_a_block_diagonal_dense_one(
        kernel, stride, padding) -> None:
    layer = build(IrCSNConv, 3, 6, kernel, stride, padding)
    x = clip()
    conv = layer.depthwise
    close(layer(x), F.conv3d(x, conv.weight, conv.bias, layer.stride, layer.padding, groups=3))
    dense = conv.weight.new_zeros(6, 3, *layer.kernel_size)
    for o in range(6):
        dense[o, o // 2] = conv.weight[o, 0]  # C_out / C_in = 2 outputs per input channel
    close(layer(x), F.conv3d(x, dense, conv.bias, layer.stride, layer.padding))


@pytest.mark.parametrize("kernel,stride,padding", LINEAR_SWEEP)
def test_ip_csn_is_one_conv3d_with_kernel_dw_times_p(kernel, stride, padding) -> None:
    layer = build(IpCSNConv, 3, 5, kernel, stride, padding)
    assert layer.is_linear  # MMAction2: nothing between the 1x1x1 and the depthwise conv
    x = clip()
    dw, p = layer.depthwise.weight[:, 0], layer.pointwise.weight[:, :, 0, 0, 0]
    kernel3d = torch.einsum("otuv,oi->oituv", dw, p)
    close(layer(x), F.conv3d(x, kernel3d, layer.depthwise.bias, layer.stride, layer.padding))
    close(layer(x), F.conv3d(F.conv3d(x, layer.pointwise.weight), layer.depthwise.weight,
                             layer.depthwise.bias, layer.stride, layer.padding, groups=5))


@pytest.mark.parametrize("depthwise_spatial", [True, False])
@pytest.mark.parametrize("kernel,stride,padding", LINEAR_SWEEP)
def test_depthwise_2plus1d_is_a_grouped_conv3d_of_outer_products(
        kernel, stride, padding, depthwise_spatial) -> None:
    layer = build(DepthwiseConv2Plus1d, 3, 6, kernel, stride, padding,
                  depthwise_spatial=depthwise_spatial)
    x = clip()
    t_w = layer.temporal.weight[:, 0, :, 0, 0]  # (C_out, t)
    s_w = layer.spatial.weight[:, :, 0]  # (C_out, C_in / groups, d_h, d_w)
    kernel3d = torch.einsum("ot,ojuv->ojtuv", t_w, s_w)
    groups = 3 if depthwise_spatial else 1
    close(layer(x), F.conv3d(x, kernel3d, layer.temporal.bias, layer.stride, layer.padding,
                             groups=groups))


def official_tsm_shift(x: torch.Tensor, fold_div: int = 8) -> torch.Tensor:
    """TSM's ops/temporal_shift.py shift, written for (N, C, T, H, W)."""
    fold = x.shape[1] // fold_div
    out = torch.zeros_like(x)
    out[:, :fold, :-1] = x[:, :fold, 1:]  # shift left: read the next frame
    out[:, fold:2 * fold, 1:] = x[:, fold:2 * fold, :-1]  # shift right: the previous frame
    out[:, 2 * fold:] = x[:, 2 * fold:]
    return out


def test_tsm_shift_is_the_official_shift() -> None:
    x = clip(c=16)
    layer = build(TemporalShiftConv, 16, 4, 3, padding=1)
    assert layer.shift.fold == 2
    assert torch.equal(layer.shift(x), official_tsm_shift(x))
    quarter = build(TemporalShiftConv, 16, 4, 3, padding=1, shift_fraction=0.25)
    assert torch.equal(quarter.shift(x), official_tsm_shift(x, fold_div=4))


@pytest.mark.parametrize("kernel,stride,padding",
                         [(3, 1, 1), ((3, 2, 5), (2, 1, 3), (2, 0, 1)), ((4, 3, 3), 1, 0),
                          ((5, 3, 3), (3, 2, 2), (1, 1, 1)), ((3, 1, 1), 1, 0)])
def test_tsm_is_a_fixed_0_1_depthwise_temporal_conv_then_a_2d_conv(
        kernel, stride, padding) -> None:
    layer = build(TemporalShiftConv, 16, 4, kernel, stride, padding, shift_fraction=0.25)
    x = clip(c=16)
    weight = layer.shift.kernel_weight()
    assert set(weight.unique().tolist()) == {0.0, 1.0} and weight.sum() == 16
    shifted = F.conv3d(x, weight, None, (layer.stride[0], 1, 1), (layer.padding[0], 0, 0),
                       groups=16)
    assert torch.equal(layer.shift(x), shifted)
    close(layer(x), layer.spatial(shifted))


@pytest.mark.parametrize("s_t,spatial_stride,p", [(1, 1, 1), (2, 2, 0), (1, 3, 2)])
def test_a_t3_conv3d_is_the_sum_of_three_conv2ds_over_shifted_frames(
        s_t, spatial_stride, p) -> None:
    # y[:, :, τ] = b + Σ_{j=0,1,2} Conv2d(W[:, :, j])(x_pad[:, :, τ·s_t + j]), frames padded
    # by one zero frame at each end: not a low-rank statement, an exact rewriting.
    torch.manual_seed(2)
    conv = nn.Conv3d(3, 4, (3, 3, 3), (s_t, spatial_stride, spatial_stride),
                     (1, p, p)).double()
    x = clip()
    frames = F.pad(x, (0, 0, 0, 0, 1, 1))
    expected = conv(x)
    outputs = []
    for tau in range(expected.shape[2]):
        total = conv.bias[None, :, None, None]
        for j in range(3):
            total = total + F.conv2d(frames[:, :, tau * s_t + j], conv.weight[:, :, j],
                                     stride=spatial_stride, padding=p)
        outputs.append(total)
    close(torch.stack(outputs, dim=2), expected)


def test_s3d_g_gates_each_channel_by_its_pooled_mean() -> None:
    layer = build(S3DGConv, 3, 5, 3, padding=1)
    assert not layer.is_linear
    x = clip()
    z = layer.temporal(layer.relu(layer.bn(layer.spatial(x))))
    gate = torch.sigmoid(z.mean(dim=(2, 3, 4)) @ layer.gate.weight.T + layer.gate.bias)
    close(layer(x), z * gate[:, :, None, None, None])
    assert ((gate > 0) & (gate < 1)).all()


def test_centre_taps_are_a_view_in_the_same_setting_and_a_copy_otherwise() -> None:
    x = clip()
    same = CentreTaps((3, 1, 1), (1, 1, 1), (1, 0, 0))
    assert same.is_identity and same(x) is x and not same.copies()
    strided = CentreTaps((3, 1, 1), (2, 1, 1), (0, 0, 0))
    assert not strided.copies() and torch.equal(strided(x), x[:, :, 1:6:2])


# --------------------------------------------------------------------------
# Clear errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(FACTORIZED_LAYERS))
def test_bad_clips_get_clear_errors(key: str) -> None:
    layer = FACTORIZED_LAYERS[key](4, 8, 3, padding=1)
    with pytest.raises(ValueError, match="5D clip"):
        layer(torch.randn(4, 5, 8, 8))
    with pytest.raises(ValueError, match="expects 4 input channels"):
        layer(torch.randn(1, 3, 5, 8, 8))
    with pytest.raises(ValueError, match=r"looks like \(N, T, C, H, W\)"):
        layer(torch.randn(1, 5, 4, 8, 8))
    with pytest.raises(TypeError, match="float32 weights"):
        layer(torch.randn(1, 4, 5, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        FACTORIZED_LAYERS[key](4, 8, 3)(torch.randn(1, 4, 2, 8, 8))
    with pytest.raises(ValueError, match="3-tuple"):
        FACTORIZED_LAYERS[key](4, 8, (3, 3))
    with pytest.raises(TypeError, match="bias"):
        FACTORIZED_LAYERS[key](4, 8, 3, bias="yes")
    with pytest.raises(ValueError, match="in_channels"):
        FACTORIZED_LAYERS[key](0, 8, 3)


@pytest.mark.parametrize("fraction", [-0.125, 0.51, 1.0])
def test_a_shift_fraction_out_of_range_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"shift_fraction .*\[0, 0.5\]"):
        TemporalShiftConv(8, 8, 3, padding=1, shift_fraction=fraction)


@pytest.mark.parametrize("fraction", ["1/8", True, float("nan")])
def test_a_shift_fraction_that_is_not_a_number_is_refused(fraction: object) -> None:
    with pytest.raises((TypeError, ValueError), match="shift_fraction"):
        TemporalShiftConv(8, 8, 3, padding=1, shift_fraction=fraction)


def test_tsm_needs_a_temporal_kernel_of_three() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        TemporalShiftConv(8, 8, (1, 3, 3))


@pytest.mark.parametrize("build_it", [
    lambda: IrCSNConv(4, 6, 3),
    lambda: DepthwiseConv2Plus1d(4, 6, 3),
], ids=["ir-CSN", "depthwise (2+1)D"])
def test_channels_not_divisible_for_groups_are_refused(build_it) -> None:
    with pytest.raises(ValueError, match="multiple of in_channels; got 4 -> 6"):
        build_it()


def test_x3d_stem_mixes_channels_so_any_widths_work() -> None:
    layer = DepthwiseConv2Plus1d(3, 24, (5, 3, 3), depthwise_spatial=False)
    assert layer(torch.randn(1, 3, 6, 8, 8)).shape == (1, 24, 2, 6, 6)
    with pytest.raises(TypeError, match="depthwise_spatial"):
        DepthwiseConv2Plus1d(3, 24, 3, depthwise_spatial="no")


@pytest.mark.parametrize("kernel,stride,padding", LINEAR_SWEEP)
def test_p3d_a_is_the_2plus1d_layer_with_m_equal_to_c_out(kernel, stride, padding) -> None:
    p3d = build(P3DA, 3, 5, kernel, stride, padding)
    r21d = SpatioTemporalConv(3, 5, kernel, stride, padding, intermediate_channels=5).double()
    r21d.load_state_dict({"0.weight": p3d.spatial.weight, "1.weight": p3d.bn.weight,
                          "1.bias": p3d.bn.bias, "1.running_mean": p3d.bn.running_mean,
                          "1.running_var": p3d.bn.running_var,
                          "1.num_batches_tracked": p3d.bn.num_batches_tracked,
                          "3.weight": p3d.temporal.weight, "3.bias": p3d.temporal.bias})
    x = clip()
    close(p3d(x), r21d.eval()(x))
