"""The fast path computes what the plain (2+1)D layer computes in eval mode."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from r21d_edu.factorized import FACTORIZED_LAYERS, P3DA, P3DB, IrCSNConv, S3DConv, S3DGConv
from r21d_edu.fast import FastSpatioTemporalConv, make_fast
from r21d_edu.layers import NaiveConv2Plus1d, SpatioTemporalConv

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _trained_like(layer: SpatioTemporalConv, seed: int = 0) -> SpatioTemporalConv:
    """Give BN non-trivial statistics and affine parameters, as training would."""
    generator = torch.Generator().manual_seed(seed)
    if layer.middle_bn_relu:
        m = layer.intermediate_channels
        with torch.no_grad():
            layer.bn.running_mean.copy_(torch.randn(m, generator=generator))
            layer.bn.running_var.copy_(torch.rand(m, generator=generator) + 0.5)
            layer.bn.weight.copy_(torch.randn(m, generator=generator))
            layer.bn.bias.copy_(torch.randn(m, generator=generator))
    return layer.eval()


@settings(max_examples=20, deadline=None)
@given(
    c_in=st.integers(1, 6), c_out=st.integers(1, 6), m=st.integers(1, 13),
    t=st.integers(1, 3), d=st.integers(1, 3), stride=st.integers(1, 2),
    bias=st.booleans(), middle=st.booleans(), pad_to=st.sampled_from([1, 8]),
    channels_last=st.booleans(),
)
def test_fast_path_equals_the_plain_layer_in_eval_mode(
    c_in, c_out, m, t, d, stride, bias, middle, pad_to, channels_last
):
    torch.manual_seed(0)
    layer = _trained_like(SpatioTemporalConv(
        c_in, c_out, (t, d, d), stride=stride, padding=(t // 2, d // 2, d // 2), bias=bias,
        intermediate_channels=m, middle_bn_relu=middle))
    fast = FastSpatioTemporalConv.from_layer(layer, pad_to=pad_to, channels_last=channels_last)
    assert fast.padded_channels % pad_to == 0 and fast.padded_channels >= m
    x = torch.randn(2, c_in, 5, 7, 7)
    with torch.inference_mode():
        expected, got = layer(x), fast(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def _integer_valued(layer: SpatioTemporalConv) -> SpatioTemporalConv:
    """Small-integer weights and an identity BN: every float sum is exact in any order."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for conv in (layer.spatial, layer.temporal):
            conv.weight.copy_(torch.randint(-2, 3, conv.weight.shape, generator=generator))
            if conv.bias is not None:
                conv.bias.copy_(torch.randint(-2, 3, conv.bias.shape, generator=generator))
        if layer.middle_bn_relu:
            layer.bn.running_mean.zero_()
            layer.bn.running_var.fill_(1.0 - layer.bn.eps)  # scale 1/sqrt(1) = 1 exactly
    return layer.eval()


@pytest.mark.parametrize("m", [83, 144, 5])
def test_zero_padded_filters_change_nothing_exactly(m):
    torch.manual_seed(0)
    layer = _integer_valued(SpatioTemporalConv(
        3, 4, 3, padding=1, intermediate_channels=m).double())
    x = torch.randint(-3, 4, (2, 3, 4, 6, 6)).double()
    padded = FastSpatioTemporalConv.from_layer(layer, pad_to=8)
    unpadded = FastSpatioTemporalConv.from_layer(layer, pad_to=1)
    assert padded.padded_channels == -(-m // 8) * 8 and unpadded.padded_channels == m
    # The extra filters are zero, in and out.
    assert not padded.spatial.weight[m:].any() and not padded.temporal.weight[:, m:].any()
    with torch.inference_mode():
        assert torch.equal(padded(x), unpadded(x))
        assert torch.equal(padded(x), layer(x))


def test_batchnorm_is_folded_into_the_spatial_conv():
    layer = _trained_like(SpatioTemporalConv(4, 4, 3, padding=1, intermediate_channels=6))
    fast = make_fast(layer, pad_to=1)
    bn = layer.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    torch.testing.assert_close(fast.spatial.weight,
                               layer.spatial.weight * scale.reshape(-1, 1, 1, 1, 1))
    torch.testing.assert_close(fast.spatial.bias, bn.bias - bn.running_mean * scale)
    assert not hasattr(fast, "bn")


def test_from_layer_leaves_the_layer_alone_and_keeps_device_dtype_and_mode():
    layer = _trained_like(SpatioTemporalConv(4, 5, 3, padding=1)).double()
    before = copy.deepcopy(layer.state_dict())
    fast = FastSpatioTemporalConv.from_layer(layer)
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())
    assert fast.spatial.weight.dtype == torch.float64 and not fast.training
    assert fast.inference_only


def test_a_naive_layer_becomes_the_same_fast_layer():
    layer = _trained_like(SpatioTemporalConv(3, 4, 3, padding=1))
    naive = NaiveConv2Plus1d.from_factorized(layer).eval()
    x = torch.randn(1, 3, 4, 6, 6)
    with torch.inference_mode():
        torch.testing.assert_close(make_fast(naive)(x), layer(x), rtol=1e-4, atol=1e-5)


def test_make_fast_replaces_every_2plus1d_layer_in_a_network():
    torch.manual_seed(0)
    net = nn.Sequential(
        _trained_like(SpatioTemporalConv(3, 8, 3, padding=1)), nn.BatchNorm3d(8), nn.ReLU(),
        nn.Sequential(_trained_like(SpatioTemporalConv(8, 8, 3, padding=1), seed=1)),
    ).eval()
    fast = make_fast(net)
    assert isinstance(fast[0], FastSpatioTemporalConv)
    assert isinstance(fast[3][0], FastSpatioTemporalConv)
    assert isinstance(net[0], SpatioTemporalConv)  # the original is untouched
    x = torch.randn(2, 3, 4, 8, 8)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-4, atol=1e-4)


def test_channels_last_output_holds_the_same_values():
    layer = _trained_like(SpatioTemporalConv(4, 4, 3, padding=1))
    fast = make_fast(layer, channels_last=True)
    assert fast.spatial.weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert make_fast(layer).spatial.weight.is_contiguous()  # CPU default: standard layout
    x = torch.randn(2, 4, 4, 6, 6)
    with torch.inference_mode():
        out = fast(x)
        assert out.is_contiguous(memory_format=torch.channels_last_3d)
        torch.testing.assert_close(out, layer(x), rtol=1e-4, atol=1e-5)
    # On CPU the default leaves the layout alone (oneDNN is not reliably faster with it).
    with torch.inference_mode():
        assert make_fast(layer)(x).is_contiguous()


def test_copies_and_state_dicts_round_trip():
    fast = make_fast(_trained_like(SpatioTemporalConv(3, 3, 3, padding=1)), compile="eager")
    clone = copy.deepcopy(fast)
    fresh = FastSpatioTemporalConv(3, 3, (3, 3, 3), (1, 1, 1), (1, 1, 1),
                                   fast.intermediate_channels)
    fresh.load_state_dict(fast.state_dict())
    x = torch.randn(1, 3, 4, 5, 5)
    with torch.inference_mode():
        assert torch.equal(clone(x), fresh(x))


def test_compiled_forward_gives_the_same_outputs():
    # "eager" traces with TorchDynamo without generating code: quick, yet it
    # checks that the forward pass compiles as one graph with equal results.
    layer = _trained_like(SpatioTemporalConv(2, 3, 3, padding=1, intermediate_channels=5))
    fast = make_fast(layer, compile="eager")
    x = torch.randn(1, 2, 3, 5, 5)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), layer(x), rtol=1e-4, atol=1e-5)
    assert fast._compiled is not None


def test_counting_work_on_the_meta_device_does_not_compile():
    from r21d_edu.timing import count_work

    fast = make_fast(_trained_like(SpatioTemporalConv(2, 3, 3, padding=1)), compile=True)
    assert count_work(fast, (1, 2, 3, 5, 5)).flops > 0
    assert fast._compiled is None  # compiling happens on the first real call only


def test_bad_input_gets_clear_errors():
    with pytest.raises(TypeError, match="already a single kernel"):
        FastSpatioTemporalConv.from_layer(nn.Conv3d(2, 2, 3))
    layer = SpatioTemporalConv(2, 2, 3, padding=1, intermediate_channels=4)
    layer.bn.track_running_stats = False
    layer.bn.running_mean = layer.bn.running_var = None
    with pytest.raises(ValueError, match="running statistics"):
        make_fast(layer)
    with pytest.raises(ValueError, match="pad_to must be an integer >= 1"):
        make_fast(SpatioTemporalConv(2, 2, 3), pad_to=0)
    with pytest.raises(TypeError, match="compile must be"):
        make_fast(SpatioTemporalConv(2, 2, 3), compile=1)
    fast = make_fast(SpatioTemporalConv(2, 2, 3, padding=1).eval())
    with pytest.raises(ValueError, match="it looks like \\(N, T, C, H, W\\)"):
        fast(torch.randn(1, 4, 2, 6, 6))


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fast_path_on_cuda_equals_the_plain_layer(dtype):
    layer = _trained_like(SpatioTemporalConv(16, 16, 3, padding=1)).to("cuda", dtype)
    fast = make_fast(layer)
    assert fast.temporal.weight.is_contiguous(memory_format=torch.channels_last_3d)
    x = torch.randn(2, 16, 4, 14, 14, device="cuda", dtype=dtype)
    with torch.inference_mode():
        out = fast(x)
        expected = layer(x)
    assert out.is_contiguous(memory_format=torch.channels_last_3d)
    tolerance = {"rtol": 2e-2, "atol": 2e-2} if dtype == torch.bfloat16 else {
        "rtol": 1e-3, "atol": 1e-3}  # TF32 convs round to 10 mantissa bits
    torch.testing.assert_close(out.float(), expected.float(), **tolerance)
    assert fast._cudnn_relu is not None  # the fused cuDNN op was tried


# ---- the factorized family: where the fast path applies -------------------------

FAMILY_CONFIGS = [
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(3, 5, 3), stride=(2, 2, 1), padding=(1, 2, 0), bias=False),
    dict(kernel_size=(5, 1, 3), stride=(1, 1, 2), padding=(2, 0, 1)),
]


def _trained_member(layer: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, float64, eval mode."""
    generator = torch.Generator().manual_seed(seed)
    layer = layer.double()
    for bn in [m for m in layer.modules() if isinstance(m, nn.BatchNorm3d)]:
        c = bn.num_features
        with torch.no_grad():
            bn.running_mean.copy_(torch.randn(c, generator=generator))
            bn.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            bn.weight.copy_(torch.randn(c, generator=generator))
            bn.bias.copy_(torch.randn(c, generator=generator))
    return layer.eval()


@pytest.mark.parametrize("cls", [P3DA, S3DConv, S3DGConv], ids=lambda c: c.method)
@pytest.mark.parametrize("config", FAMILY_CONFIGS)
@pytest.mark.parametrize("middle", [True, False])
def test_p3d_a_s3d_and_s3d_g_have_the_fast_path_exactly_in_float64(cls, config, middle):
    torch.manual_seed(0)
    layer = _trained_member(cls(3, 5, **config, middle_bn_relu=middle))
    fast = make_fast(layer)
    conv = fast.conv if cls is S3DGConv else fast
    assert isinstance(conv, FastSpatioTemporalConv) and conv.intermediate_channels == 5
    assert getattr(fast, "inference_only", False) and not fast.training
    x = torch.randn(2, 3, 7, 9, 9, dtype=torch.float64)
    with torch.inference_mode():
        expected, got = layer(x), fast(x)
    assert got.shape == expected.shape
    # Folding rounds once in float64: equal to a few units in the last place.
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_p3d_a_with_integer_weights_is_bitwise_its_fast_path():
    layer = P3DA(3, 4, 3, padding=1).double()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for conv in (layer.spatial, layer.temporal):
            conv.weight.copy_(torch.randint(-2, 3, conv.weight.shape, generator=generator))
        layer.temporal.bias.copy_(torch.randint(-2, 3, (4,), generator=generator))
        layer.bn.running_var.fill_(1.0 - layer.bn.eps)  # scale 1 exactly
    layer.eval()
    x = torch.randint(-3, 4, (2, 3, 4, 6, 6)).double()
    with torch.inference_mode():
        assert torch.equal(FastSpatioTemporalConv.from_layer(layer, pad_to=8)(x), layer(x))


def test_make_fast_rewrites_the_members_it_applies_to_inside_a_network():
    torch.manual_seed(0)
    net = nn.Sequential(
        _trained_member(P3DA(3, 8, 3, padding=1)), nn.ReLU(),
        _trained_member(P3DB(8, 8, 3, padding=1)),
        nn.Sequential(_trained_member(S3DGConv(8, 8, 3, padding=1), seed=1)),
        IrCSNConv(8, 8, 3, padding=1).double(),
    ).eval()
    fast = make_fast(net)
    assert isinstance(fast[0], FastSpatioTemporalConv)
    assert isinstance(fast[2], P3DB) and isinstance(fast[4], IrCSNConv)  # no fast path: kept
    assert isinstance(fast[3][0].conv, FastSpatioTemporalConv)
    assert isinstance(net[0], P3DA)  # the original is untouched
    x = torch.randn(2, 3, 5, 8, 8, dtype=torch.float64)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key", ["p3d_b", "p3d_c", "ip_csn", "ir_csn", "dw_2plus1d", "tsm"])
def test_members_without_a_fast_path_are_refused_with_the_reason(key):
    layer = FACTORIZED_LAYERS[key](8, 8, 3, padding=1)
    with pytest.raises(TypeError, match=f"no fast path for {re.escape(layer.label)}: .+"):
        make_fast(layer)
    with pytest.raises(TypeError, match="P3DA or S3DConv"):
        FastSpatioTemporalConv.from_layer(layer)
    with pytest.raises(TypeError, match="use make_fast"):
        FastSpatioTemporalConv.from_layer(S3DGConv(8, 8, 3, padding=1))
    with pytest.raises(ValueError, match="found no \\(2\\+1\\)D layer"):
        make_fast(nn.Sequential(layer))
