"""The port (irhum/R2Plus1D-PyTorch) side by side, and the converter to torchvision's names.

The port's modules are re-created in `r21d_edu.port` with the port's module names,
so their state_dicts have the keys and shapes a port checkpoint has. The converter
must account for every port entry (carried over, or refused with a reason), and
what it carries over must compute what the port computes.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from r21d_edu import convert_port_state_dict
from r21d_edu.port import PortClassifier, PortResBlock, PortSpatioTemporalConv


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random biases and BatchNorm statistics, as after training, so folding is tested."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.num_batches_tracked.fill_(7)
            elif isinstance(module, nn.Conv3d) and module.bias is not None:
                module.bias.normal_(0, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def port() -> PortClassifier:
    torch.manual_seed(0)
    return trained_like(PortClassifier(num_classes=10))


@pytest.fixture(scope="module")
def conversion(port):
    return convert_port_state_dict(port.state_dict())


def test_the_recreation_has_the_ports_keys_and_shapes(port) -> None:
    state = port.state_dict()
    assert state["res2plus1d.conv1.spatial_conv.weight"].shape == (83, 3, 1, 7, 7)
    assert state["res2plus1d.conv1.temporal_conv.bias"].shape == (64,)
    assert state["res2plus1d.conv2.block1.conv1.bn.running_mean"].shape == (144,)
    assert state["res2plus1d.conv2.blocks.0.bn2.weight"].shape == (64,)
    assert state["res2plus1d.conv3.block1.conv2.spatial_conv.weight"].shape == (288, 128, 1, 3, 3)
    assert state["res2plus1d.conv3.block1.downsampleconv.spatial_conv.weight"].shape == (42, 64, 1, 1, 1)
    assert state["res2plus1d.conv3.block1.downsamplebn.running_var"].shape == (128,)
    assert state["linear.weight"].shape == (10, 512)
    assert not any(".downsample." in k or "stem" in k for k in state)


def test_the_ports_shortcut_counted_like_with_like() -> None:
    block = PortResBlock(64, 128, 3, downsample=True)
    assert n_params(block.downsampleconv) == (64 * 42 + 42) + 2 * 42 + (42 * 128 + 128) == 8_318
    assert n_params(block.downsampleconv) + n_params(block.downsamplebn) == 8_318 + 256
    ours = nn.Sequential(nn.Conv3d(64, 128, 1, 2, bias=False), nn.BatchNorm3d(128))
    assert n_params(ours) == 8_192 + 256


def test_every_port_entry_is_mapped_or_refused_with_a_reason(port, conversion) -> None:
    state = port.state_dict()
    assert len(conversion.mapped) + len(conversion.unmapped) == len(state)
    assert {k for k, _, _ in conversion.mapped} | {k for k, _ in conversion.unmapped} == set(state)
    refused = dict(conversion.unmapped)
    # Per downsampling block: the (2+1)D shortcut (2 convs x 2 + 5 BN) and its BatchNorm (5).
    assert len(refused) == 3 * 14 + 1
    assert "rank <= M < C_in" in refused["res2plus1d.conv3.block1.downsampleconv.temporal_conv.weight"]
    assert "statistics belong to its input" in refused["res2plus1d.conv5.block1.downsamplebn.weight"]
    assert "straight into layer1" in refused["res2plus1d.conv1.temporal_conv.bias"]
    unfilled = dict(conversion.unfilled)
    assert set(unfilled) == {f"stem.4.{e}" for e in ("weight", "bias", "running_mean",
                                                      "running_var", "num_batches_tracked")} | {
        f"layer{i}.0.downsample.{p}" for i in (2, 3, 4)
        for p in ("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                  "1.num_batches_tracked")}


def test_names_follow_the_mapping_table(conversion) -> None:
    pairs = {port: ours for port, ours, how in conversion.mapped if how == "copied"}
    assert pairs["res2plus1d.conv1.spatial_conv.weight"] == "stem.0.weight"
    assert pairs["res2plus1d.conv1.temporal_conv.weight"] == "stem.3.weight"
    assert pairs["res2plus1d.conv2.block1.conv1.spatial_conv.weight"] == "layer1.0.conv1.0.0.weight"
    assert pairs["res2plus1d.conv2.blocks.0.conv2.bn.running_var"] == "layer1.1.conv2.0.1.running_var"
    assert pairs["res2plus1d.conv5.block1.bn1.weight"] == "layer4.0.conv1.1.weight"
    assert pairs["res2plus1d.conv4.blocks.0.conv2.temporal_conv.weight"] == "layer3.1.conv2.0.3.weight"
    assert pairs["linear.bias"] == "fc.bias"


def test_what_maps_computes_what_the_port_computes(port, conversion) -> None:
    model = conversion.model.eval()
    torch.manual_seed(1)
    with torch.no_grad():
        x = torch.randn(2, 64, 4, 10, 10)
        # layer1 has no shortcut conv: the whole stage must agree, biases folded into BN.
        torch.testing.assert_close(model.layer1(x), port.res2plus1d.conv2(x), atol=1e-5, rtol=1e-5)
        # Stage 2 without its shortcut: the residual branch agrees.
        y = torch.randn(2, 64, 4, 10, 10)
        block, ours = port.res2plus1d.conv3.block1, model.layer2[0]
        torch.testing.assert_close(ours.conv2(ours.conv1(y)),
                                   block.bn2(block.conv2(block.relu1(block.bn1(block.conv1(y))))),
                                   atol=1e-5, rtol=1e-5)
        # The stem up to its temporal conv (the port adds its bias; here BN + ReLU follow).
        clip = torch.randn(1, 3, 4, 16, 16)
        stem = port.res2plus1d.conv1
        expected = stem(clip) - stem.temporal_conv.bias.view(1, -1, 1, 1, 1)
        ours_stem = nn.Sequential(*list(model.stem)[:4])  # up to the temporal conv
        torch.testing.assert_close(ours_stem(clip), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.fc(x.new_ones(1, 512)), port.linear(x.new_ones(1, 512)))


def test_checkpoint_files_dataparallel_prefixes_and_depth_34(tmp_path) -> None:
    torch.manual_seed(0)
    port34 = PortClassifier(num_classes=5, layer_sizes=(3, 4, 6, 3))
    checkpoint = {"epoch": 3, "acc": 0.5, "opt_dict": {},
                  "state_dict": {"module." + k: v for k, v in port34.state_dict().items()}}
    path = tmp_path / "model_data.pth.tar"
    torch.save(checkpoint, path)
    conversion = convert_port_state_dict(path)
    assert conversion.model.fc.out_features == 5
    assert len(conversion.model.layer3) == 6
    assert "cannot map" in str(conversion) and "no source" in str(conversion)


def test_not_a_port_checkpoint_is_refused_with_what_to_do() -> None:
    from r21d_edu import r2plus1d_18

    with torch.device("meta"):
        torchvision_format = r2plus1d_18().state_dict()
    with pytest.raises(ValueError, match="does not look like a port checkpoint.*load_weights"):
        convert_port_state_dict(torchvision_format)
    with pytest.raises(ValueError, match=r"layer_sizes \(1, 1, 1, 1\)"):
        convert_port_state_dict(PortClassifier(3, (1, 1, 1, 1)).state_dict())


def test_the_ports_conv_has_the_paper_m_and_a_bias_on_both_convs() -> None:
    conv = PortSpatioTemporalConv(64, 128, 3, padding=1)
    assert conv.spatial_conv.out_channels == 230 and conv.spatial_conv.bias is not None
    assert conv.temporal_conv.bias is not None
