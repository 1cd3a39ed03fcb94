"""Block diagrams of the family drawn from the modules themselves (issue 18, tutorial 10).

A diagram is only worth its place if it shows the module it claims to: every box's kernel
and channels must be those of the module it was read from, the branches those of the
forward pass, and a layer built differently (no middle BN + ReLU, other channels) must give
a different picture.
"""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from r21d_edu.factorized import (
    P3DA,
    P3DB,
    P3DC,
    DepthwiseConv2Plus1d,
    IpCSNConv,
    IrCSNConv,
    S3DConv,
    S3DGConv,
    TemporalShiftConv,
)
from r21d_edu.layers import FullConv3d, SpatioTemporalConv
from r21d_edu.viz import FamilyPlane, block_diagram, family_legend, layer_structure
from r21d_edu.viz._common import figure_to_png

MEMBERS = {
    "3d": lambda: FullConv3d(8, 16, 3, padding=1),
    "2plus1d": lambda: SpatioTemporalConv(8, 16, 3, padding=1),
    "p3d_a": lambda: P3DA(8, 16, 3, padding=1),
    "p3d_b": lambda: P3DB(8, 16, 3, padding=1),
    "p3d_c": lambda: P3DC(8, 16, 3, padding=1),
    "s3d": lambda: S3DConv(8, 16, 3, padding=1),
    "s3d_g": lambda: S3DGConv(8, 16, 3, padding=1),
    "ip_csn": lambda: IpCSNConv(8, 16, 3, padding=1),
    "ir_csn": lambda: IrCSNConv(8, 16, 3, padding=1),
    "dw_2plus1d": lambda: DepthwiseConv2Plus1d(8, 16, 3, padding=1),
    "x3d_stem": lambda: DepthwiseConv2Plus1d(3, 24, (5, 3, 3), padding=(2, 1, 1),
                                             depthwise_spatial=False),
    "tsm": lambda: TemporalShiftConv(8, 16, 3, padding=1),
}


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("key", sorted(MEMBERS))
def test_every_member_gets_a_figure_whose_convs_are_its_convs(key: str) -> None:
    layer = MEMBERS[key]()
    fig = block_diagram(layer)
    assert isinstance(fig, Figure) and figure_to_png(block_diagram(layer))[:4] == b"\x89PNG"
    convs = [m for m in layer.modules() if isinstance(m, nn.Conv3d)]
    blocks = [b for b in layer_structure(layer) if b.kernel is not None]
    # One box per conv, in the order the forward pass runs them, with that conv's kernel.
    assert [b.kernel for b in blocks] == [tuple(c.kernel_size) for c in convs]
    shown = "\n".join(texts(fig))
    for conv in convs:
        assert f"{conv.in_channels}→{conv.out_channels}" in shown
        assert "×".join(map(str, conv.kernel_size)) in shown
        if conv.groups > 1:
            assert f"groups {conv.groups}" in shown
    label = getattr(layer, "label", None)
    if label:
        assert fig.axes[0].get_title(loc="left").startswith(f"{label}: {layer.formula}")


def test_the_branches_are_the_forward_pass_s() -> None:
    a, b, c = (layer_structure(MEMBERS[k]()) for k in ("p3d_a", "p3d_b", "p3d_c"))
    assert all(len(block.inputs) == 1 for block in a)       # one chain: S, BN, ReLU, T
    join = b[-1]
    assert join.kind == "+" and len(join.inputs) == 2
    assert [b[i].kind for i in join.inputs] == ["ReLU", "ReLU"]
    # Both of P3D-B's paths start at x; P3D-C's skip starts after the spatial ReLU.
    assert sum(block.inputs == (-1,) for block in b) == 2
    first, second = (c[i] for i in c[-1].inputs)
    assert c.index(first) == 2 and first.kind == "ReLU" and second.kind == "ReLU"
    gated = layer_structure(MEMBERS["s3d_g"]())
    assert [blk.kind for blk in gated[-2:]] == ["gate", "⊙"]
    assert gated[-1].inputs == (len(gated) - 3, len(gated) - 2)  # z and its gate


def test_the_picture_changes_with_the_module() -> None:
    linear = layer_structure(P3DB(8, 16, 3, middle_bn_relu=False))
    # No middle BN + ReLU: none drawn; no padding: the centre taps become boxes.
    assert [b.kind for b in linear] == ["taps", "S", "taps", "T", "+"]
    wide = layer_structure(P3DA(4, 32, (5, 3, 3), padding=(2, 1, 1)))
    assert wide[0].label.splitlines() == ["S", "1×3×3", "4→32"]
    assert wide[-1].label.splitlines() == ["T", "5×1×1", "32→32"]
    shift = layer_structure(TemporalShiftConv(64, 64, 3, padding=1, shift_fraction=1 / 4))
    assert shift[0].kind == "shift" and "16 of 64" in shift[0].label
    dw = layer_structure(DepthwiseConv2Plus1d(8, 16, 3, padding=1))
    assert [b.kind for b in dw] == ["DW", "DW"] and "groups 8" in dw[0].label
    strided = layer_structure(IrCSNConv(8, 8, 3, stride=2, padding=1))
    assert "stride 2×2×2" in strided[0].label


def test_the_diagram_leaves_the_layer_and_the_rng_alone() -> None:
    layer = MEMBERS["p3d_c"]()
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    state = torch.get_rng_state()
    block_diagram(layer)
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())
    assert next(layer.parameters()).device.type == "cpu"


def test_bad_input_is_told_what_was_expected() -> None:
    with pytest.raises(TypeError, match="needs a layer"):
        block_diagram("p3d_a")
    with pytest.raises(TypeError, match="3D kernel_size"):
        layer_structure(nn.Linear(3, 4))


def test_the_plane_moves_points_and_hides_unavailable_members() -> None:
    rows = [{"key": "3d", "label": "3D conv", "weights": 110_592, "macs": 10**9,
             "latency_ms": 2.0, "available": True},
            {"key": "ir_csn", "label": "ir-CSN", "weights": 1_728, "macs": 10**7,
             "latency_ms": None, "available": True}]
    plane = FamilyPlane(rows)
    left, right = plane.points["3d"]
    assert list(left.get_xdata()) == [110_592] and list(right.get_ydata()) == [2.0]
    assert list(plane.points["ir_csn"][1].get_xdata()) == []   # no measurement: no point
    plane.update([{**rows[0], "available": False}, rows[1]])
    assert list(left.get_xdata()) == []
    low, high = plane.axes[0].get_xlim()
    assert low < 1_728 < high
    with pytest.raises(ValueError, match="not on the figure"):
        plane.update([{**rows[0], "key": "tsm"}])
    assert isinstance(family_legend(rows), Figure)


def test_timing_bars_take_the_family_with_their_colours_and_labels() -> None:
    """plot_timings draws a family member's timing like the three layers': its colour and
    its label in the legend (a method it does not know is still refused by name)."""
    from types import SimpleNamespace

    import pytest

    from r21d_edu.viz import plot_timings
    from r21d_edu.viz.factorizations import FAMILY_COLORS

    def result(method, label):
        return SimpleNamespace(label=label, method=method, median_ms=2.0, q25_ms=1.5,
                               q75_ms=2.5)

    fig = plot_timings([result("3d", "3D"), result("p3d_a", "P3D-A"), result("tsm", "TSM")])
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert legend[1:] == ["P3D-A", "TSM (shift + 2D)"]
    bars = fig.axes[0].patches
    assert bars[1].get_facecolor()[:3] == pytest.approx(
        tuple(int(FAMILY_COLORS["p3d_a"][i:i + 2], 16) / 255 for i in (1, 3, 5)))
    with pytest.raises(ValueError, match="FACTORIZED_LAYERS"):
        plot_timings([result("p4d", "?")])
