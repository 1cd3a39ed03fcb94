"""Counting the factorized layers (issue 18): parameters, MACs and bytes agree with
what torch does (FlopCounterMode, the parameters, every tensor a forward pass writes)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from r21d_edu.counting import (
    activation_memory,
    count_macs,
    count_parameters,
    layer_cost,
    receptive_field,
    stage_shapes,
    summarize_network,
)
from r21d_edu.factorized import (
    FACTORIZED_LAYERS,
    P3DA,
    P3DB,
    P3DC,
    DepthwiseConv2Plus1d,
    IpCSNConv,
    IrCSNConv,
    S3DGConv,
    TemporalShiftConv,
)


class Allocations(TorchDispatchMode):
    """Bytes of every new tensor the ops of a forward pass write (views and in-place ops
    write none); the same rule as tests/test_counting.py."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        shares = (func.is_view or func._schema.is_mutable
                  or func is torch.ops.aten._unsafe_view.default)
        first = out[0] if isinstance(out, (tuple, list)) else out
        if not shares and isinstance(first, torch.Tensor):
            self.bytes += first.numel() * first.element_size()
        return out


CONFIGS = [
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(3, 2, 5), stride=(2, 1, 2), padding=(0, 1, 2)),
    dict(kernel_size=(4, 3, 3), stride=1, padding=0),
    dict(kernel_size=(5, 1, 3), stride=(1, 2, 1), padding=(2, 0, 1)),
    dict(kernel_size=(3, 3, 1), stride=(3, 1, 1), padding=(1, 1, 0), bias=False),
]


def extra(key: str, middle: bool) -> dict:
    if key in ("ir_csn", "tsm"):
        return {}
    return {"middle_bn_relu": middle}


CASES = [(key, config, middle) for key, (config, middle) in itertools.product(
    FACTORIZED_LAYERS, itertools.product(CONFIGS, (True, False)))]


@pytest.mark.parametrize("key,config,middle", CASES,
                         ids=[f"{k}-{i % 10}" for i, (k, _, _) in enumerate(CASES)])
def test_counts_equal_flop_counter_parameters_shapes_and_bytes(key, config, middle) -> None:
    with torch.device("meta"):
        layer = FACTORIZED_LAYERS[key](4, 8, **config, **extra(key, middle)).eval()
    shape = (2, 4, 7, 9, 10)
    clip = torch.empty(shape, device="meta")
    with FlopCounterMode(display=False) as counter, Allocations() as allocations:
        out = layer(clip)
    cost = layer_cost(layer, shape)
    assert cost.flops == counter.get_total_flops() == 2 * cost.macs
    assert cost.macs * 2 == counter.get_total_flops()
    assert cost.params == sum(p.numel() for p in layer.parameters())
    assert cost.output_shape == tuple(out.shape)
    assert cost.total_bytes == allocations.bytes
    assert cost.method == layer.method
    for dtype in (torch.bfloat16, torch.float64):
        memory = activation_memory(layer, shape, dtype)
        assert memory.total_bytes == cost.total_bytes // 4 * dtype.itemsize


def test_the_flop_counter_agrees_on_real_weights_too() -> None:
    for key, cls in FACTORIZED_LAYERS.items():
        layer = cls(4, 8, 3, padding=1).eval()
        shape = (1, 4, 5, 6, 6)
        with FlopCounterMode(display=False) as counter:
            layer(torch.randn(shape))
        assert count_macs(layer, shape).flops == counter.get_total_flops(), key


WEIGHTS = {"p3d_a": 49_152, "p3d_b": 49_152, "p3d_c": 49_152, "s3d": 49_152,
           "s3d_g": 53_312, "ip_csn": 5_824, "ir_csn": 1_728, "dw_2plus1d": 768,
           "tsm": 36_864}


@pytest.mark.parametrize("key", list(WEIGHTS))
def test_counted_weights_of_a_64_to_64_3x3x3_conv_are_the_issues(key: str) -> None:
    for bias in (False, True):
        count = count_parameters(FACTORIZED_LAYERS[key](64, 64, 3, padding=1, bias=bias))
        assert count.weights == WEIGHTS[key]
        bn = 0 if key in ("ir_csn", "tsm", "ip_csn", "dw_2plus1d") else (
            4 * 64 if key in ("p3d_b", "p3d_c") else 2 * 64)
        assert count.total == WEIGHTS[key] + 64 * bias + bn
        assert f"{WEIGHTS[key]:,}" in count.explanation


def test_macs_in_closed_form() -> None:
    # 64 -> 64, 3x3x3, padding 1, on (1, 64, 8, 56, 56): every output value costs
    out_values = 1 * 64 * 8 * 56 * 56
    shape = (1, 64, 8, 56, 56)
    expected = {
        P3DA(64, 64, 3, padding=1): out_values * (9 * 64 + 3 * 64),
        IrCSNConv(64, 64, 3, padding=1): out_values * 27,
        DepthwiseConv2Plus1d(64, 64, 3, padding=1): out_values * (9 + 3),
        TemporalShiftConv(64, 64, 3, padding=1): out_values * 9 * 64,  # the shift: 0
        S3DGConv(64, 64, 3, padding=1): out_values * (9 * 64 + 3 * 64) + 64 * 64,
    }
    for layer, macs in expected.items():
        compute = count_macs(layer, shape)
        assert compute.macs == macs, layer.label
        assert f"FLOPs = 2 × MACs = 2 × {macs:,}" in compute.explanation


def test_tsm_counts_its_shifted_copy_as_bytes_and_nothing_else() -> None:
    layer = TemporalShiftConv(64, 64, 3, padding=1)
    shape = (1, 64, 8, 56, 56)
    memory = activation_memory(layer, shape)
    shift = next(s for s in memory.stages if s.name == "shift")
    assert (shift.params, shift.macs) == (0, 0)
    assert shift.output_bytes == memory.middle_bytes == math.prod(shape) * 4
    assert memory.total_bytes == 2 * math.prod(shape) * 4  # the shifted copy + the output


def test_middle_bytes_are_the_first_tensor_before_the_output() -> None:
    layer = P3DA(64, 64, 3, padding=1)
    shape = (1, 64, 8, 56, 56)
    memory = activation_memory(layer, shape)
    assert memory.middle_bytes == math.prod(shape) * 4 and memory.middle_to_input == 1.0
    assert activation_memory(IrCSNConv(8, 8, 3), (1, 8, 5, 5, 5)).middle_bytes == 0


def test_stage_shapes_and_results_display() -> None:
    layer = S3DGConv(4, 8, 3, padding=1)
    trace = stage_shapes(layer, (1, 4, 6, 8, 8))
    assert trace.output_shape == (1, 8, 6, 8, 8)
    assert [s.name for s in trace.stages] == ["spatial", "bn", "relu", "temporal", "gate"]
    cost = layer_cost(layer, (1, 4, 6, 8, 8))
    assert "S3D-G" in cost.explanation and "σ(W·pool(z) + b)" in cost.explanation
    assert "<table" in cost._repr_html_() and "gate" in cost._repr_markdown_()
    assert "params=" in repr(cost)


def test_summarize_network_counts_the_gate_like_the_flop_counter() -> None:
    model = nn.Sequential(S3DGConv(3, 8, 3, padding=1), nn.ReLU(),
                          TemporalShiftConv(8, 8, 3, padding=1), IrCSNConv(8, 16, 3))
    shape = (2, 3, 6, 10, 10)
    summary = summarize_network(model, shape)
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(shape))
    assert summary.flops == counter.get_total_flops()
    assert summary.params == sum(p.numel() for p in model.parameters())


def test_counting_bad_input_gets_the_layers_errors() -> None:
    layer = P3DA(4, 8, 3, padding=1)
    with pytest.raises(ValueError, match="expects 4 input channels"):
        count_macs(layer, (1, 3, 8, 8, 8))
    with pytest.raises(ValueError, match="5D clip"):
        layer_cost(layer, (3, 8, 8, 8))
    with pytest.raises(TypeError, match="integer sizes"):
        count_macs(layer, (1, 4, 8.5, 8, 8))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        stage_shapes(P3DA(4, 8, 3), (1, 4, 2, 8, 8))


# --------------------------------------------------------------------------
# Receptive fields: the computed one is the one autograd finds
# --------------------------------------------------------------------------

FIELD_CONFIGS = [
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(3, 5, 3), stride=(2, 2, 1), padding=(1, 0, 1)),
    dict(kernel_size=(5, 3, 1), stride=(1, 1, 2), padding=(2, 1, 0)),
    dict(kernel_size=(4, 2, 3), stride=(2, 1, 1), padding=0),
]


def positive(layer: nn.Module, seed: int = 0) -> nn.Module:
    """Float64, eval mode, every parameter in [0.1, 0.2]: with a positive input every value
    is positive, so no ReLU cuts a path and no sum cancels one; a zero gradient then means
    "not read"."""
    generator = torch.Generator().manual_seed(seed)
    layer = layer.double().eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(0.1 + 0.1 * torch.rand(p.shape, generator=generator, dtype=torch.float64))
    return layer


def read_support(model: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """Which input values (T, H, W; any channel) one central output value depends on."""
    x = torch.full(shape, 0.5, dtype=torch.float64, requires_grad=True)
    out = model(x)
    centre = tuple(s // 2 for s in out.shape[2:])
    out[(0, 0, *centre)].backward()
    # Summed over channels: TSM's output channel reads every input channel, each shifted
    # its own way, so no single channel shows the 3 frames.
    return x.grad[0].abs().sum(dim=0) > 0


def extents(touched: torch.Tensor) -> tuple[int, int, int]:
    found = []
    for axis in range(3):
        hit = touched.any(dim=tuple(a for a in range(3) if a != axis)).nonzero()
        found.append(int(hit.max() - hit.min() + 1))
    return tuple(found)


FIELD_CASES = [(key, config) for key in FACTORIZED_LAYERS for config in FIELD_CONFIGS]


@pytest.mark.parametrize("key,config", FIELD_CASES,
                         ids=[f"{k}-{i}" for k in FACTORIZED_LAYERS for i in range(4)])
def test_receptive_field_of_each_member_is_what_autograd_reads(key, config) -> None:
    options = {"middle_bn_relu": True} if key not in ("ir_csn", "tsm") else {}
    layer = positive(FACTORIZED_LAYERS[key](8, 8, **config, **options))
    if key == "s3d_g":
        with torch.no_grad():
            layer.gate.weight.zero_()  # a constant gate: what is left is the conv path
    field = receptive_field([layer])
    touched = read_support(layer, (1, 8, 15, 15, 15))
    assert (field.temporal, field.height, field.width) == extents(touched)
    assert field.jump == layer.stride
    if key == "tsm":
        # The shift's 3 frames, whatever t is: its conv is 2D.
        assert field.temporal == 3
    elif key != "p3d_b":
        # Everything but P3D-B's centre cross reads the whole t x d_h x d_w block.
        assert int(touched.sum()) == math.prod(layer.kernel_size)
    assert field.global_context == (("0",) if key == "s3d_g" else ())


def test_s3d_g_reads_the_whole_clip_through_its_gate_and_says_so() -> None:
    layer = positive(S3DGConv(8, 8, 3, padding=1))
    touched = read_support(layer, (1, 8, 9, 9, 9))
    assert bool(touched.all())  # the gate pools every frame and pixel
    field = receptive_field(nn.Sequential(nn.Conv3d(8, 8, 1), layer))
    assert field.global_context == ("1",) and (field.temporal, field.height) == (3, 3)
    assert "whole clip" in field.explanation and "global_context=('1',)" in repr(field)


def test_tsm_reads_three_frames_or_one_when_nothing_is_shifted() -> None:
    assert receptive_field([TemporalShiftConv(8, 8, 5, padding=2)]).temporal == 3
    unshifted = TemporalShiftConv(8, 8, 3, padding=1, shift_fraction=0.0)
    assert receptive_field([unshifted]).temporal == 1
    assert receptive_field([unshifted.shift, nn.Conv3d(8, 8, 3)]).temporal == 3


def test_receptive_field_of_a_chain_of_members_is_what_autograd_reads() -> None:
    chain = positive(nn.Sequential(
        P3DB(8, 8, 3, padding=1),
        nn.Sequential(TemporalShiftConv(8, 8, 3, stride=(1, 2, 2), padding=1), nn.ReLU()),
        IpCSNConv(8, 8, 3, stride=2, padding=1, middle_bn_relu=True),
        DepthwiseConv2Plus1d(8, 8, (3, 1, 3), padding=(1, 0, 1)),
        nn.AvgPool3d((1, 2, 2)),  # max pooling's gradient reaches one input of its window
        P3DC(8, 8, (3, 3, 1), padding=(0, 1, 0)),
    ))
    field = receptive_field(chain)
    assert (field.temporal, field.height, field.width) == extents(
        read_support(chain, (1, 8, 24, 48, 48)))
    assert field.jump == (2, 8, 8) and field.global_context == ()
