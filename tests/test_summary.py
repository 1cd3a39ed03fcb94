"""The layer tables and the side-by-side: totals that add up and agree with FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from r21d_edu.models import mc3_18, r2plus1d_18, r3d_18, resnet18
from r21d_edu.summary import compare_networks, layer_table


def on_meta(builder, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return builder(*args, **kwargs)


@pytest.mark.parametrize("builder", [r3d_18, mc3_18, r2plus1d_18])
def test_totals_agree_with_flop_counter_mode(builder) -> None:
    model = on_meta(builder)
    table = layer_table(model)
    with FlopCounterMode(display=False) as counter:
        model.eval()(torch.empty(table.input_shape, device="meta"))
    assert table.flops == counter.get_total_flops()
    assert table.params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth", [1, 2, 3, None])
def test_rows_add_up_to_the_totals_at_every_depth(depth) -> None:
    table = layer_table(on_meta(r2plus1d_18), depth=depth)
    assert sum(r.params for r in table.rows) == table.params == 31_505_325
    assert sum(r.macs for r in table.rows) == table.macs
    assert round(table.macs / 1e9, 3) == 40.519


def test_stage_rows_show_the_clip_shrinking() -> None:
    table = layer_table(on_meta(r2plus1d_18), depth=1)
    shapes = {r.name: r.output_shape for r in table.rows}
    assert shapes == {
        "stem": (1, 64, 16, 56, 56),
        "layer1": (1, 64, 16, 56, 56),
        "layer2": (1, 128, 8, 28, 28),
        "layer3": (1, 256, 4, 14, 14),
        "layer4": (1, 512, 2, 7, 7),
        "avgpool": (1, 512, 1, 1, 1),
        "fc": (1, 400),
    }
    assert [r.kind for r in table.rows][:2] == ["R2Plus1dStem", "SpatioTemporalResLayer"]


def test_block_rows_and_leaf_rows() -> None:
    blocks = layer_table(on_meta(r3d_18))
    names = [r.name for r in blocks.rows]
    assert names[:3] == ["stem.0", "stem.1", "stem.2"] and "layer2.0" in names
    block = next(r for r in blocks.rows if r.name == "layer2.0")
    # conv 64->128 (3x3x3), conv 128->128, shortcut 1x1x1, three BNs of 128 channels.
    assert block.params == 27 * 64 * 128 + 27 * 128 * 128 + 64 * 128 + 3 * 2 * 128
    leaves = layer_table(on_meta(r3d_18), depth=None)
    assert "layer2.0.downsample.0" in [r.name for r in leaves.rows]


def test_the_table_displays_its_numbers() -> None:
    table = layer_table(on_meta(r2plus1d_18), depth=1, name="r2plus1d_18")
    page = table._repr_html_()
    assert "<table" in page and "r2plus1d_18" in page and "31,505,325" in page
    assert "40,519,080,960" in page
    text = str(table)
    assert text.splitlines()[0].startswith("r2plus1d_18 on (1, 3, 16, 112, 112)")
    assert text.splitlines()[-1].split()[-2:] == ["31,505,325", "40,519,080,960"]
    assert table.as_records()[0]["name"] == "stem"


def test_any_network_with_an_input_shape() -> None:
    model = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 4, 1))
    table = layer_table(model, (2, 3, 4, 8, 8), depth=None)
    assert table.macs == 2 * 8 * 4 * 8 * 8 * 27 * 3 + 2 * 4 * 4 * 8 * 8 * 8
    assert model[0].weight.device.type == "cpu"  # the caller's model is untouched
    with pytest.raises(ValueError, match="pass input_shape"):
        layer_table(model)


def test_side_by_side_of_resnet18_r3d18_r2plus1d18() -> None:
    comparison = compare_networks()
    assert comparison.networks == ("ResNet-18", "R3D-18", "R(2+1)D-18")
    assert comparison.stages == ("stem", "layer1", "layer2", "layer3", "layer4", "head")
    assert comparison.params == {"ResNet-18": 11_689_512, "R3D-18": 33_371_472,
                                 "R(2+1)D-18": 31_505_325}
    cells = comparison.cells
    assert cells["ResNet-18"]["layer2"].output_shape == (1, 128, 28, 28)
    assert cells["R3D-18"]["layer2"].output_shape == (1, 128, 8, 28, 28)
    # In layer1 (64 -> 64) M = 144 gives (2+1)D convs exactly the 3D convs' weights,
    # so the only extra parameters are the 4 inner BatchNorms (2 x 144 each) ...
    r3d, r21d = cells["R3D-18"]["layer1"], cells["R(2+1)D-18"]["layer1"]
    assert r21d.params - r3d.params == 4 * 2 * 144
    # ... and the MACs are equal, since no conv of layer1 strides.
    assert r21d.macs == r3d.macs
    page = comparison._repr_html_()
    assert "conv3_x" in page and "R(2+1)D-18" in page and "11,689,512" in page
    assert "R3D-18 on (1, 3, 16, 112, 112): 33,371,472 parameters" in str(comparison)


def test_side_by_side_errors() -> None:
    with pytest.raises(ValueError, match="not compared"):
        compare_networks({"a": on_meta(r3d_18)}, {"b": (1, 3, 16, 112, 112)})
    with pytest.raises(ValueError, match="at least one network"):
        compare_networks({})


def test_resnet18_table_uses_its_image_input() -> None:
    table = layer_table(on_meta(resnet18), depth=1)
    assert table.input_shape == (1, 3, 224, 224)
    shapes = {r.name: r.output_shape for r in table.rows}
    assert shapes["conv1"] == (1, 64, 112, 112) and shapes["maxpool"] == (1, 64, 56, 56)
    assert round(table.macs / 1e9, 3) == 1.814  # torchvision's published figure


def test_short_reprs_for_plain_text_displays() -> None:
    table = layer_table(on_meta(r3d_18), depth=1, name="r3d_18")
    assert repr(table) == ("LayerTable('r3d_18', input_shape=(1, 3, 16, 112, 112), rows=7, "
                           "params=33,371,472, macs=40,696,553,472)")
    assert "'R3D-18': 33,371,472 params" in repr(compare_networks())
