"""Counting: analytic parameters, MACs, memory and shapes agree with what torch does."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from r21d_edu.counting import (
    ConvSpec,
    activation_memory,
    compare_costs,
    count_macs,
    count_parameters,
    intermediate_channels_table,
    layer_cost,
    receptive_field,
    spec_of,
    stage_shapes,
    summarize_network,
)
from r21d_edu.layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv
from r21d_edu.models import mc3_18, r2plus1d_18, r3d_18
from r21d_edu.viz import cost_sweep_figure

LAYERS = {"3d": FullConv3d, "naive": NaiveConv2Plus1d, "2plus1d": SpatioTemporalConv}


@st.composite
def configs(draw: st.DrawFn, kind: str) -> tuple[dict, tuple[int, ...]]:
    """A small random layer configuration and an input shape it accepts."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(3))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(3))
    # Every axis at least as large as the kernel after padding, plus a little.
    sizes = tuple(
        max(1, k - 2 * p) + draw(st.integers(0, 3)) for k, p in zip(kernel, padding, strict=True)
    )
    c_in, c_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    args = dict(in_channels=c_in, out_channels=c_out, kernel_size=kernel, stride=stride,
                padding=padding, bias=draw(st.booleans()))
    if kind != "3d":
        args["intermediate_channels"] = draw(st.integers(1, 5))
        args["middle_bn_relu"] = draw(st.booleans())
    return args, (draw(st.integers(1, 2)), c_in, *sizes)


class _Allocations(TorchDispatchMode):
    """Bytes of every new tensor the ops of a forward pass write (views and in-place ops write none)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        # _unsafe_view shares the storage of the copy made just before it.
        shares = func.is_view or func._schema.is_mutable or func is torch.ops.aten._unsafe_view.default
        first = out[0] if isinstance(out, (tuple, list)) else out
        if not shares and isinstance(first, torch.Tensor):
            self.bytes += first.numel() * first.element_size()
        return out


def _check_against_torch(kind: str, args: dict, shape: tuple[int, ...]) -> None:
    with torch.device("meta"):
        # eval(): BatchNorm in training mode refuses one value per channel.
        layer = LAYERS[kind](**args).eval()
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
        for name, module in layer.named_children()
    ]
    clip = torch.empty(shape, device="meta")
    with FlopCounterMode(display=False) as counter, _Allocations() as allocations:
        out = layer(clip)
    for hook in hooks:
        hook.remove()
    cost = layer_cost(layer, shape)
    assert cost.flops == counter.get_total_flops()
    assert cost.flops == 2 * cost.macs
    assert cost.params == sum(p.numel() for p in layer.parameters())
    assert cost.output_shape == tuple(out.shape)
    if kind != "3d":
        middle = outputs["0" if kind == "2plus1d" else "spatial"]
        assert cost.memory.middle_bytes == middle.numel() * 4
        assert cost.shapes.stages[0 if kind == "2plus1d" else 1].output_shape == middle.shape
    # Bytes written: every new tensor (BN writes one; Identity, in-place ReLU and
    # reshapes that torch can do as views write none).
    assert cost.memory.total_bytes == allocations.bytes


@settings(max_examples=200, deadline=None)
@given(configs("3d"))
def test_full_conv3d_flops_shapes_params_match_torch(config) -> None:
    _check_against_torch("3d", *config)


@settings(max_examples=200, deadline=None)
@given(configs("naive"))
def test_naive_flops_shapes_params_match_torch(config) -> None:
    _check_against_torch("naive", *config)


@settings(max_examples=200, deadline=None)
@given(configs("2plus1d"))
def test_factorized_flops_shapes_params_match_torch(config) -> None:
    _check_against_torch("2plus1d", *config)


def test_plain_nn_conv3d_counts_like_full_conv3d() -> None:
    conv = nn.Conv3d(3, 5, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
    assert spec_of(conv) == ConvSpec("3d", 3, 5, (3, 5, 5), (1, 2, 2), (1, 2, 2))
    shape = (2, 3, 4, 9, 9)
    with FlopCounterMode(display=False) as counter:
        conv(torch.zeros(shape))
    assert count_macs(conv, shape).flops == counter.get_total_flops()


def test_paper_example_64_to_64_keeps_the_weight_budget() -> None:
    three_d = count_parameters(ConvSpec("3d", 64, 64, 3, bias=False))
    factorized = count_parameters(ConvSpec("2plus1d", 64, 64, 3, bias=False))
    assert three_d.weights == factorized.weights == 110_592
    # BatchNorm adds its scale and shift on top: 2 * 144.
    assert factorized.total == 110_592 + 288
    assert "d_h·d_w·C_in·M = 3·3·64·144 = 82,944" in factorized.explanation
    assert "t·M·C_out = 3·144·64 = 27,648" in factorized.explanation


def test_middle_tensor_is_m_over_c_in_times_the_input() -> None:
    memory = activation_memory(ConvSpec("2plus1d", 64, 64, 3, padding=1), (1, 64, 8, 56, 56))
    assert memory.middle_to_input == 144 / 64 == 2.25
    assert memory.middle_bytes == 144 * 8 * 56 * 56 * 4
    assert memory.output_bytes == memory.input_bytes
    # spatial output + BN output + temporal output; the in-place ReLU writes nothing.
    assert memory.total_bytes == 2 * memory.middle_bytes + memory.output_bytes
    assert activation_memory(ConvSpec("3d", 64, 64, 3, padding=1), (1, 64, 8, 56, 56),
                             torch.bfloat16).total_bytes == 64 * 8 * 56 * 56 * 2


def test_naive_layer_memory_counts_its_reshape_copies() -> None:
    spec = ConvSpec("naive", 4, 6, 3, middle_bn_relu=False, intermediate_channels=5)
    memory = activation_memory(spec, (2, 4, 5, 7, 7))
    names = [s.name for s in memory.stages]
    assert names == ["frames -> batch", "spatial", "pixels -> batch", "temporal", "back to clip"]
    frames = 2 * 5 * 4 * 7 * 7
    middle = 2 * 5 * 5 * 5 * 5
    out = 2 * 6 * 3 * 5 * 5
    assert memory.total_bytes == 4 * (frames + 2 * middle + 2 * out)
    # With one clip both reshapes are views: only the final .contiguous() copies.
    single = activation_memory(spec, (1, 4, 5, 7, 7))
    assert [s.output_bytes > 0 for s in single.stages] == [False, True, False, True, True]
    assert "a view: no copy" in single.stages[0].operation


def test_flops_are_twice_the_macs_and_explained_with_numbers() -> None:
    compute = count_macs(ConvSpec("3d", 64, 64, 3, padding=1), (1, 64, 8, 56, 56))
    assert compute.macs == 64 * 8 * 56 * 56 * 64 * 27
    assert compute.flops == 2 * compute.macs
    assert f"FLOPs = 2 × MACs = 2 × {compute.macs:,} = {compute.flops:,}" in compute.explanation


def test_stage_shapes_follow_the_conv3d_formula() -> None:
    # The seed code's stem: a (2+1)D 3 -> 64 conv with the formula's M = 83.
    trace = stage_shapes(ConvSpec("2plus1d", 3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3)),
                         (1, 3, 16, 112, 112))
    assert trace.output_shape == (1, 64, 16, 56, 56)
    assert [s.output_shape for s in trace.stages][0] == (1, 83, 16, 56, 56)
    assert "H' = floor((112 + 2·3 - 7) / 2) + 1 = 56" in trace.explanation


def test_results_have_rich_displays() -> None:
    cost = layer_cost(ConvSpec("2plus1d", 8, 8, 3), (1, 8, 4, 6, 6))
    html_text = cost._repr_html_()
    assert "<table>" in html_text and "temporal" in html_text and "<pre>" in html_text
    assert cost._repr_markdown_().startswith("| stage |")
    assert str(cost) == cost.explanation
    assert repr(cost).startswith("LayerCost(kind='2plus1d'")


def _empirical_field(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Extent of the input that one central output value depends on (via autograd)."""
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    out = model(x)
    centre = tuple(s // 2 for s in out.shape[2:])
    out[(0, 0, *centre)].backward()
    touched = x.grad[0, 0].abs() > 0
    extents = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = touched.any(dim=other[1]).any(dim=other[0]).nonzero()
        extents.append(int(hit.max() - hit.min() + 1))
    return tuple(extents)


def test_receptive_field_matches_autograd_on_a_stack() -> None:
    torch.manual_seed(0)
    stack = nn.Sequential(
        FullConv3d(1, 2, (3, 5, 5), stride=(1, 2, 2)),
        nn.ReLU(),
        SpatioTemporalConv(2, 2, 3, stride=2, middle_bn_relu=False),
        nn.AvgPool3d((1, 2, 2)),
        NaiveConv2Plus1d(2, 1, (3, 3, 3), middle_bn_relu=False),
    ).double()
    for p in stack.parameters():
        # Positive weights: no cancellation can hide a dependency.
        nn.init.constant_(p, 0.1)
    field = receptive_field(stack)
    empirical = _empirical_field(stack, (1, 1, 16, 64, 64))
    assert (field.temporal, field.height, field.width) == empirical
    assert field.jump == (2, 8, 8)


def test_receptive_field_of_stacked_2plus1d_layers_equals_3d() -> None:
    spec = ConvSpec("2plus1d", 3, 8, 3)
    field = receptive_field([spec] * 4)
    assert (field.temporal, field.height, field.width) == (9, 9, 9)
    assert receptive_field([nn.Conv3d(1, 1, 3, dilation=2)]).temporal == 5


def test_summarize_network_matches_flop_counter_and_parameter_count() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        SpatioTemporalConv(3, 8, 3, padding=1),
        nn.Conv3d(8, 8, 3, padding=2, dilation=2, groups=2),
        NaiveConv2Plus1d(8, 8, 3, stride=(1, 2, 2)),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )
    before = model[0].spatial.weight.clone()
    shape = (2, 3, 6, 16, 16)
    summary = summarize_network(model, shape)
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(shape))
    assert summary.flops == counter.get_total_flops() == 2 * summary.macs
    assert summary.params == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in summary.rows) == summary.params
    # The meta copy leaves the caller's model and weights where they were.
    assert torch.equal(model[0].spatial.weight, before)
    assert summary.rows[-1].name == "5" and summary.rows[-1].output_shape == (2, 10)
    assert summary.rows[-1].macs == 2 * 10 * 8
    bn = next(r for r in summary.rows if r.kind == "BatchNorm3d")
    assert bn.macs == 0
    assert "MACs" in summary.explanation and len(summary.as_records()) == len(summary.rows)


def test_summarize_network_on_a_real_device_leaves_batchnorm_statistics_alone() -> None:
    model = nn.Sequential(nn.Conv3d(2, 3, 1), nn.BatchNorm3d(3)).train()
    summary = summarize_network(model, (1, 2, 1, 1, 1), device="cpu")
    assert summary.rows[1].output_shape == (1, 3, 1, 1, 1)
    assert model[1].training and int(model[1].num_batches_tracked) == 0


def test_summarize_network_counts_a_shared_module_once_for_params() -> None:
    conv = nn.Conv3d(2, 2, 1)
    summary = summarize_network(nn.Sequential(conv, conv), (1, 2, 2, 2, 2), device="cpu")
    assert [r.params for r in summary.rows] == [6, 0]
    assert [r.macs for r in summary.rows] == [2 * 8 * 2] * 2


# --------------------------------------------------------------------------
# Errors that teach
# --------------------------------------------------------------------------


def test_unknown_layer_type_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match="for a whole network use summarize_network"):
        count_parameters(nn.Linear(3, 4))


def test_grouped_or_dilated_conv_is_refused_per_layer() -> None:
    with pytest.raises(ValueError, match="ungrouped, undilated.*groups=2"):
        count_macs(nn.Conv3d(4, 4, 3, groups=2), (1, 4, 5, 5, 5))
    with pytest.raises(ValueError, match=r"dilation=\(2, 2, 2\)"):
        spec_of(nn.Conv3d(4, 4, 3, dilation=2))
    with pytest.raises(ValueError, match="numeric padding"):
        spec_of(nn.Conv3d(4, 4, 3, padding="same"))


def test_bad_input_shapes_get_the_layers_messages() -> None:
    spec = ConvSpec("2plus1d", 3, 8, 3)
    with pytest.raises(ValueError, match=r"looks like \(N, T, C, H, W\)"):
        count_macs(spec, (1, 8, 3, 16, 16))
    with pytest.raises(ValueError, match="smaller than the kernel along T"):
        count_macs(spec, (1, 3, 2, 16, 16))
    with pytest.raises(ValueError, match="4D shape"):
        stage_shapes(spec, (3, 8, 16, 16))
    with pytest.raises(TypeError, match="torch.dtype"):
        activation_memory(spec, (1, 3, 4, 8, 8), dtype="float32")


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        ConvSpec("2d", 3, 8, 3)
    with pytest.raises(ValueError, match="M = 0 .* pass intermediate_channels=1"):
        ConvSpec("2plus1d", 1, 1, 1)
    with pytest.raises(ValueError, match="at least one conv or pool"):
        receptive_field([nn.ReLU()])
    with pytest.raises(TypeError, match="pass its main path"):
        receptive_field([nn.Linear(2, 2)])


# --------------------------------------------------------------------------
# Comparisons across sizes and conventions
# --------------------------------------------------------------------------


def test_compare_costs_keeps_weights_and_macs_but_not_memory() -> None:
    costs = compare_costs(64, 64, 3, (1, 64, 16, 56, 56))
    three, two = costs["3d"], costs["2plus1d"]
    assert three.weights == two.weights == 110_592
    # With stride 1, MACs are output positions × weights for both layers.
    assert three.macs == two.macs == 16 * 56 * 56 * 110_592
    assert two.total_bytes == three.total_bytes * (2 * 144 + 64) // 64
    # A temporal stride shrinks the 3D conv's work; the spatial conv still sees every frame.
    strided = compare_costs(64, 64, 3, (1, 64, 16, 56, 56), stride=(2, 1, 1))
    assert strided["3d"].macs * 2 == three.macs
    assert strided["2plus1d"].macs > strided["3d"].macs


def test_cost_sweep_figure_draws_one_line_per_method_and_panel() -> None:
    widths = [8, 16]
    fig = cost_sweep_figure(widths, [compare_costs(c, c, 3, (1, c, 4, 8, 8)) for c in widths],
                            x_label="channels")
    assert len(fig.axes) == 3 and all(len(ax.lines) == 2 for ax in fig.axes)
    with pytest.raises(ValueError, match="equally long"):
        cost_sweep_figure([1, 2], [], x_label="x")


def test_conventions_differ_only_on_the_second_conv_of_widening_blocks() -> None:
    with torch.device("meta"):
        nets = {"torchvision": r2plus1d_18(), "paper": r2plus1d_18(convention="paper")}
    table = intermediate_channels_table(nets)
    assert table.differing == ("layer2.0.conv2.0", "layer3.0.conv2.0", "layer4.0.conv2.0")
    row = next(r for r in table.rows if r.name == "layer2.0.conv2.0")
    assert row.m == {"torchvision": 230, "paper": 288}
    assert row.weights["paper"] == row.weights_3d == 442_368
    # The whole difference in parameters: conv weights, 2 BN numbers per extra channel,
    # and the stem (not a SpatioTemporalConv, so not in the table).
    extra_m = sum(r.m["paper"] - r.m["torchvision"] for r in table.rows)
    params = {k: sum(p.numel() for p in n.parameters()) for k, n in nets.items()}
    stem = count_parameters(ConvSpec("2plus1d", 3, 64, (3, 7, 7), bias=False)).total - (
        count_parameters(ConvSpec("2plus1d", 3, 64, (3, 7, 7), bias=False,
                                  intermediate_channels=45)).total)
    weights = table.total_weights
    assert params["paper"] - params["torchvision"] == (
        weights["paper"] - weights["torchvision"] + 2 * extra_m + stem)
    assert "layer2.0.conv2.0 (128 -> 128)" in table.explanation


def test_intermediate_channels_table_needs_shared_2plus1d_convs() -> None:
    with pytest.raises(ValueError, match="no \\(2\\+1\\)D conv"):
        intermediate_channels_table({"a": nn.Conv3d(1, 1, 1)})


@pytest.mark.parametrize(
    ("builder", "params", "gmacs"),
    [(r3d_18, 33_371_472, 40.697), (mc3_18, 11_695_440, 43.343),
     (r2plus1d_18, 31_505_325, 40.519)],
)
def test_network_macs_are_torchvisions_published_gflops(builder, params, gmacs) -> None:
    # torchvision's "GFLOPS" are conv + fc multiply-accumulates at 1 x 3 x 16 x 112 x 112.
    with torch.device("meta"):
        model = builder()
    summary = summarize_network(model, (1, 3, 16, 112, 112))
    assert summary.params == params
    assert round(summary.macs / 1e9, 3) == gmacs


def test_the_old_kind_name_of_a_spec_still_works_with_a_deprecation_warning() -> None:
    spec = ConvSpec(method="2plus1d", in_channels=3, out_channels=8, kernel_size=3)
    with pytest.warns(DeprecationWarning, match="ConvSpec.method"):
        assert spec.kind == "2plus1d"
    with pytest.warns(DeprecationWarning, match="method="):
        old = ConvSpec(kind="2plus1d", in_channels=3, out_channels=8, kernel_size=3)
    assert old == spec and layer_cost(spec, (1, 3, 4, 8, 8)).method == "2plus1d"
    cost = layer_cost(spec, (1, 3, 4, 8, 8))
    assert {part.method for part in (cost.parameters, cost.compute, cost.memory,
                                     cost.shapes)} == {"2plus1d"}
    with pytest.raises(TypeError, match="twice"):
        ConvSpec("3d", kind="3d", in_channels=3, out_channels=8, kernel_size=3)


def test_receptive_field_walks_residual_blocks_and_matches_autograd() -> None:
    from r21d_edu.family import family_model

    torch.manual_seed(0)
    model = family_model("r3d", in_channels=1).double().eval()
    for p in model.parameters():
        nn.init.constant_(p, 0.1)  # positive: no cancellation hides a dependency
    # Stem and two stages: layer2's first block strides and has a 1x1x1 shortcut,
    # which sees less than the main path and so must not change the field.
    trunk = nn.Sequential(model.stem, model.layer1, model.layer2)
    field = receptive_field(trunk)
    assert (field.temporal, field.height, field.width) == _empirical_field(trunk, (1, 1, 32, 72, 72))
    assert not field.global_context
    assert [row.name for row in field.rows][-1] == "2.0.conv2.0"


def test_receptive_field_of_a_whole_network_ends_at_its_global_pool() -> None:
    from r21d_edu.models import r2plus1d_18, r3d_18

    r3d, r21d = receptive_field(r3d_18()), receptive_field(r2plus1d_18())
    # (2+1)D sees exactly the 3D conv's block, layer for layer.
    assert (r3d.temporal, r3d.height, r3d.width) == (r21d.temporal, r21d.height, r21d.width)
    assert (r3d.temporal, r3d.height, r3d.width) == (109, 219, 219)
    assert r3d.global_context == ("avgpool",) and "pools the whole clip" in r3d.explanation
    with pytest.raises(TypeError, match="after the global pool 'avgpool' only a flatten"):
        receptive_field(nn.Sequential(OrderedDict(
            conv=nn.Conv3d(1, 1, 3), avgpool=nn.AdaptiveAvgPool3d(1), late=nn.Conv3d(1, 1, 1))))
