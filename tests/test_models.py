"""Facts about the networks that users rely on: torchvision's counts, keys and MACs.

Whole networks are built on the meta device (no memory, no arithmetic) except
for a few forward passes on tiny clips.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from r21d_edu import layers, models
from r21d_edu.models import (
    BasicBlock2d,
    SpatioTemporalResBlock,
    SpatioTemporalResLayer,
    mc3_18,
    r2plus1d_18,
    r2plus1d_34,
    r3d_18,
    r3d_34,
    resnet18,
    resnet34,
    video_resnet,
)

BUILDERS = {
    "r3d_18": r3d_18,
    "mc3_18": mc3_18,
    "r2plus1d_18": r2plus1d_18,
    "resnet18": resnet18,
    "resnet34": resnet34,
}


def on_meta(builder, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return builder(*args, **kwargs)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gmacs(model: nn.Module, shape: tuple[int, ...]) -> float:
    """Multiply-accumulates in G at `shape`, as torchvision publishes them (FLOPs / 2)."""
    model.eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(shape, device="meta"))
    return round(counter.get_total_flops() / 2 / 1e9, 3)


# --------------------------------------------------------------------------
# torchvision's published numbers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("r3d_18", 33_371_472),
        ("mc3_18", 11_695_440),
        ("r2plus1d_18", 31_505_325),
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
    ],
)
def test_parameter_counts_equal_torchvision(name: str, expected: int) -> None:
    assert parameter_count(on_meta(BUILDERS[name])) == expected


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        ("r3d_18", (1, 3, 16, 112, 112), 40.697),
        ("mc3_18", (1, 3, 16, 112, 112), 43.343),
        ("r2plus1d_18", (1, 3, 16, 112, 112), 40.519),
        ("resnet18", (1, 3, 224, 224), 1.814),
    ],
)
def test_macs_equal_torchvision_published_gflops(name: str, shape, expected: float) -> None:
    assert gmacs(on_meta(BUILDERS[name]), shape) == expected


@pytest.mark.parametrize(("name", "entries"), [("r3d_18", 122), ("mc3_18", 122),
                                               ("r2plus1d_18", 224), ("resnet18", 122)])
def test_state_dict_entry_counts(name: str, entries: int) -> None:
    assert len(on_meta(BUILDERS[name]).state_dict()) == entries


def test_r2plus1d_18_keys_and_shapes_follow_torchvision() -> None:
    state = on_meta(r2plus1d_18).state_dict()
    expected = {
        "stem.0.weight": (45, 3, 1, 7, 7),  # spatial half of the stem, M = 45
        "stem.1.running_var": (45,),
        "stem.3.weight": (64, 45, 3, 1, 1),  # temporal half
        "stem.4.weight": (64,),
        "layer1.0.conv1.0.0.weight": (144, 64, 1, 3, 3),  # M = 144 for 64 -> 64
        "layer1.0.conv1.0.1.weight": (144,),  # BN inside the (2+1)D conv
        "layer1.0.conv1.0.3.weight": (64, 144, 3, 1, 1),
        "layer1.0.conv1.1.weight": (64,),  # BN after the conv
        "layer2.0.conv1.0.0.weight": (230, 64, 1, 3, 3),
        "layer2.0.conv2.0.0.weight": (230, 128, 1, 3, 3),  # torchvision: M once per block
        "layer2.0.downsample.0.weight": (128, 64, 1, 1, 1),
        "layer2.0.downsample.1.num_batches_tracked": (),
        "layer4.1.conv2.1.bias": (512,),
        "fc.weight": (400, 512),
        "fc.bias": (400,),
    }
    assert {key: tuple(state[key].shape) for key in expected} == expected
    assert "layer1.0.downsample.0.weight" not in state  # identity shortcut in layer1


def test_r3d_and_mc3_keys_and_shapes_follow_torchvision() -> None:
    r3d = on_meta(r3d_18).state_dict()
    mc3 = on_meta(mc3_18).state_dict()
    assert tuple(r3d["stem.0.weight"].shape) == (64, 3, 3, 7, 7)
    assert tuple(r3d["layer1.0.conv1.0.weight"].shape) == (64, 64, 3, 3, 3)
    assert tuple(r3d["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1, 1)
    assert tuple(mc3["layer1.0.conv1.0.weight"].shape) == (64, 64, 3, 3, 3)
    assert tuple(mc3["layer2.0.conv1.0.weight"].shape) == (128, 64, 1, 3, 3)
    assert r3d.keys() == mc3.keys()  # same names, only the kernels differ


def test_resnet18_keys_follow_torchvision() -> None:
    state = on_meta(resnet18).state_dict()
    assert tuple(state["conv1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(state["layer1.0.conv1.weight"].shape) == (64, 64, 3, 3)
    assert tuple(state["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert tuple(state["fc.weight"].shape) == (1000, 512)


def test_shortcuts_are_one_strided_1x1x1_conv_and_bn() -> None:
    for builder, stride in ((r3d_18, (2, 2, 2)), (r2plus1d_18, (2, 2, 2)), (mc3_18, (1, 2, 2))):
        model = on_meta(builder)
        for index in (2, 3, 4):
            shortcut = model.get_submodule(f"layer{index}.0.downsample")
            assert [type(m) for m in shortcut] == [nn.Conv3d, nn.BatchNorm3d]
            assert shortcut[0].kernel_size == (1, 1, 1)
            assert shortcut[0].stride == stride


def test_34_layer_networks_have_3_4_6_3_blocks() -> None:
    for builder in (r3d_34, r2plus1d_34):
        model = on_meta(builder)
        assert [len(model.get_submodule(f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert len(on_meta(r2plus1d_34).state_dict()) == 224 + 8 * 24  # 8 more blocks of 24 entries


# --------------------------------------------------------------------------
# The paper-faithful variant
# --------------------------------------------------------------------------


def test_paper_variant_computes_m_per_conv_and_stem_m_from_the_formula() -> None:
    paper = on_meta(r2plus1d_18, convention="paper")
    assert paper.stem.intermediate_channels == layers.intermediate_channels(3, 64, (3, 7, 7)) == 83
    for module in paper.modules():
        if isinstance(module, layers.SpatioTemporalConv):
            own = layers.intermediate_channels(module.in_channels, module.out_channels, 3)
            assert module.intermediate_channels == own
            # The paper's promise: never more weights than the 3x3x3 conv it replaces.
            weights = module.spatial.weight.numel() + module.temporal.weight.numel()
            assert weights <= 27 * module.in_channels * module.out_channels
    assert paper.layer2[0].conv2[0].intermediate_channels == 288


def test_paper_variant_differs_from_torchvision_only_where_m_does() -> None:
    paper = on_meta(r2plus1d_18, convention="paper").state_dict()
    vision = on_meta(r2plus1d_18).state_dict()
    assert paper.keys() == vision.keys()  # same names: only shapes can differ
    differing = {k for k in paper if paper[k].shape != vision[k].shape}
    prefixes = {k.rsplit(".", 2)[0] if k.startswith("stem") else k.split(".conv2")[0]
                for k in differing}
    assert prefixes == {"stem", "layer2.0", "layer3.0", "layer4.0"}


def test_paper_variant_keeps_r3d_parameter_budget() -> None:
    paper = parameter_count(on_meta(r2plus1d_18, convention="paper"))
    r3d = parameter_count(on_meta(r3d_18))
    vision = parameter_count(on_meta(r2plus1d_18))
    assert paper == 33_383_797
    assert abs(paper - r3d) / r3d < 0.001  # Sec. 3.5: the same budget as R3D
    assert (r3d - vision) / r3d > 0.05  # torchvision's per-block M spends 5.6 % less
    assert gmacs(on_meta(r2plus1d_18, convention="paper"), (1, 3, 16, 112, 112)) == 42.143


# --------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    conv_type=st.sampled_from(models.CONV_TYPES),
    downsample=st.booleans(),
    in_channels=st.integers(1, 4),
    out_channels=st.integers(1, 4),
    size=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
)
def test_block_output_shape(conv_type, downsample, in_channels, out_channels, size) -> None:
    block = SpatioTemporalResBlock(in_channels, out_channels, 3, downsample,
                                   conv_type=conv_type).eval()
    out = block(torch.randn(2, in_channels, *size))
    s = 2 if downsample else 1
    stride = (1, s, s) if conv_type == "2d" else (s, s, s)
    expected = tuple(-(-n // k) for n, k in zip(size, stride, strict=True))
    assert tuple(out.shape) == (2, out_channels, *expected)
    assert (block.downsample is None) == (s == 1 and in_channels == out_channels)


def test_block_with_silenced_residual_branch_passes_the_shortcut() -> None:
    torch.manual_seed(0)
    block = SpatioTemporalResBlock(4, 4, 3).eval()
    nn.init.zeros_(block.conv2[1].weight)  # the last BN outputs its bias, zero
    x = torch.randn(1, 4, 3, 5, 5)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_2d_in_time_block_never_mixes_frames_and_3d_block_does() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 3, 6, 8, 8)
    bumped = x.clone()
    bumped[:, :, 0] += 1.0
    for conv_type, frames_touched in (("2d", [0]), ("3d", [0, 1, 2]), ("2plus1d", [0, 1, 2])):
        block = SpatioTemporalResBlock(3, 3, 3, conv_type=conv_type).eval()
        with torch.no_grad():
            change = (block(bumped) - block(x)).abs().amax(dim=(0, 1, 3, 4))
        assert (change > 1e-6).nonzero().flatten().tolist() == frames_touched, conv_type


def test_2plus1d_block_uses_spatiotemporal_convs_without_bias() -> None:
    block = SpatioTemporalResBlock(64, 128, 3, downsample=True)
    for conv in (block.conv1[0], block.conv2[0]):
        assert isinstance(conv, layers.SpatioTemporalConv)
        assert conv.temporal.bias is None  # BN follows: a bias would be cancelled
    assert (block.conv1[0].intermediate_channels, block.conv2[0].intermediate_channels) == (
        230, 230)
    paper = SpatioTemporalResBlock(64, 128, 3, downsample=True, convention="paper")
    assert (paper.conv1[0].intermediate_channels, paper.conv2[0].intermediate_channels) == (
        230, 288)


def test_res_layer_stacks_blocks_and_accepts_a_block_type() -> None:
    layer = SpatioTemporalResLayer(8, 16, 3, layer_size=3, downsample=True, conv_type="3d")
    assert len(layer) == 3
    assert layer[0].downsample is not None and layer[1].downsample is None
    assert layer(torch.randn(1, 8, 4, 6, 6)).shape == (1, 16, 2, 3, 3)

    class Recording(SpatioTemporalResBlock):
        pass

    custom = SpatioTemporalResLayer(8, 8, 3, 2, block_type=Recording)
    assert all(type(block) is Recording for block in custom)


def test_basic_block_2d_shapes() -> None:
    block = BasicBlock2d(8, 16, stride=2).eval()
    assert block(torch.randn(1, 8, 9, 9)).shape == (1, 16, 5, 5)
    assert BasicBlock2d(8, 8).downsample is None


# --------------------------------------------------------------------------
# Forward passes on tiny clips
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("builder", "last_stage"), [
    (r2plus1d_18, (1, 512, 1, 2, 2)),
    (r3d_18, (1, 512, 1, 2, 2)),
    (mc3_18, (1, 512, 8, 2, 2)),  # MC3 never strides over time
])
def test_forward_on_a_tiny_clip(builder, last_stage) -> None:
    torch.manual_seed(0)
    model = builder(num_classes=5).eval()
    seen = {}
    model.layer4.register_forward_hook(lambda m, i, o: seen.update(shape=tuple(o.shape)))
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 8, 32, 32))
    assert logits.shape == (1, 5)
    assert torch.isfinite(logits).all()
    assert seen["shape"] == last_stage


def test_resnet18_forward_on_a_small_image() -> None:
    model = resnet18(num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 3)


def test_clip_stride() -> None:
    assert on_meta(r2plus1d_18).clip_stride == (8, 16, 16)
    assert on_meta(r3d_18).clip_stride == (8, 16, 16)
    assert on_meta(mc3_18).clip_stride == (1, 16, 16)


# --------------------------------------------------------------------------
# Errors that teach
# --------------------------------------------------------------------------


# Short and small clips (the frame rule) are tested in test_frame_rule.py.


def test_wrong_channel_count_and_layout() -> None:
    model = on_meta(r3d_18).eval()
    with pytest.raises(ValueError, match="expects 3 input channels.*1 channels"):
        model(torch.empty(1, 1, 16, 112, 112, device="meta"))
    with pytest.raises(ValueError, match=r"permute\(0, 2, 1, 3, 4\)"):
        model(torch.empty(1, 16, 3, 112, 112, device="meta"))
    with pytest.raises(ValueError, match="5D clip"):
        model(torch.empty(16, 3, 112, 112, device="meta"))


def test_single_value_per_channel_in_training_mode() -> None:
    model = on_meta(r2plus1d_18).train()
    with pytest.raises(ValueError, match=r"one value.*model\.eval\(\)"):
        model(torch.empty(1, 3, 8, 16, 16, device="meta"))
    model(torch.empty(2, 3, 8, 16, 16, device="meta"))  # two clips are enough


def test_resnet2d_refuses_a_clip_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"2D network.*transpose\(1, 2\)\.flatten\(0, 1\)"):
        on_meta(resnet18)(torch.empty(1, 3, 8, 64, 64, device="meta"))


def test_unknown_depth_arch_and_convention() -> None:
    with pytest.raises(ValueError, match=r"unknown depth 50.*18.*34.*bottleneck"):
        video_resnet("r2plus1d", 50)
    with pytest.raises(ValueError, match="arch must be one of"):
        video_resnet("i3d")
    with pytest.raises(ValueError, match="only changes \\(2\\+1\\)D convs"):
        video_resnet("r3d", convention="paper")
    with pytest.raises(ValueError, match="convention must be"):
        r2plus1d_18(convention="caffe2")


def test_block_argument_errors() -> None:
    with pytest.raises(ValueError, match="conv_type must be one of"):
        SpatioTemporalResBlock(4, 4, 3, conv_type="3D")
    with pytest.raises(ValueError, match="t = 1"):
        SpatioTemporalResBlock(4, 4, (3, 3, 3), conv_type="2d")
    with pytest.raises(ValueError, match="odd kernel sizes"):
        SpatioTemporalResBlock(4, 4, 2)
    with pytest.raises(TypeError, match="downsample must be True or False"):
        SpatioTemporalResBlock(4, 4, 3, downsample=2)
    with pytest.raises(ValueError, match="layer_size must be an integer >= 1"):
        SpatioTemporalResLayer(4, 4, 3, 0)


def test_video_resnet_makes_its_conv_builders_once_and_hands_only_builders_down() -> None:
    def builders(model: nn.Module) -> list[models.ConvBuilder]:
        return [m.conv_builder for m in model.modules()
                if isinstance(m, models.SpatioTemporalResBlock)]

    with torch.device("meta"):
        paper, mc3 = r2plus1d_18(convention="paper"), mc3_18()
    assert len({id(b) for b in builders(paper)}) == 1
    assert builders(paper)[0] == models.ConvBuilder("2plus1d", "paper")
    assert [b.conv_type for b in dict.fromkeys(builders(mc3))] == ["3d", "2d"]
    with pytest.raises(ValueError, match="convention must be 'torchvision'"):
        video_resnet("r2plus1d", convention="tensorflow")
