"""The reshape trace follows what NaiveConv2Plus1d really does, and its pictures show it.

The trace applies the layer's own reshapes to tensors of indices. Here the layer itself
runs on a clip whose every value is a code of its site (n, t, h, w) and channel; its two
convs are replaced by stand-ins that record what they are handed and pass each site's code
on, so the positions can be compared with the trace's, step by step.
"""

from __future__ import annotations

import matplotlib
import pytest
import torch
from torch import nn

from r21d_edu.layers import NaiveConv2Plus1d
from r21d_edu.reshape_trace import reshape_trace
from r21d_edu.viz.reshape import reshape_figure
from r21d_edu.widgets.reshape import reshape_explorer, where_text

N, C, T, H, W, M, C_OUT = 2, 2, 3, 3, 4, 3, 2


class SiteRelay(nn.Module):
    """Records its input and outputs each position's site code on `channels` channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        # The layer reads its convs' weight dtype to check the clip's.
        self.register_buffer("weight", torch.zeros(1, dtype=torch.float64))
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x.detach().clone()
        site = torch.div(x[:, :1], C, rounding_mode="floor")  # drop the channel part
        return site.expand(-1, self.channels, *x.shape[2:]) * C


def site_code(n, t, h, w):
    return ((n * T + t) * H + h) * W + w


def sites_of(step) -> torch.Tensor:
    return site_code(step.clip, step.frame, step.row, step.column)


@pytest.fixture(scope="module")
def run():
    layer = NaiveConv2Plus1d(C, C_OUT, 3, padding=1, intermediate_channels=M).double().eval()
    layer.spatial, layer.temporal = SiteRelay(M), SiteRelay(C_OUT)
    layer.bn, layer.relu = nn.Identity(), nn.Identity()
    n, c, t, h, w = torch.meshgrid(*(torch.arange(s) for s in (N, C, T, H, W)), indexing="ij")
    clip = (site_code(n, t, h, w) * C + c).double()
    out = layer(clip)
    trace = reshape_trace("naive", clips=N, channels=C, frames=T, height=H, width=W,
                          intermediate=M, out_channels=C_OUT)
    return layer, out, trace


def before_conv(trace, which: int):
    convs = [k for k, step in enumerate(trace.steps) if step.kind == "conv"]
    return trace[convs[which] - 1]


def test_the_2d_conv_gets_the_frames_where_the_trace_puts_them(run) -> None:
    layer, _, trace = run
    step = before_conv(trace, 0)
    assert step.shape == tuple(layer.spatial.seen.shape) == (N * T, C, H, W)
    assert torch.equal(layer.spatial.seen.long(), sites_of(step) * C + step.channel)


def test_the_1d_conv_gets_the_pixels_where_the_trace_puts_them(run) -> None:
    layer, _, trace = run
    step = before_conv(trace, 1)
    assert step.shape == tuple(layer.temporal.seen.shape) == (N * H * W, M, T)
    assert torch.equal(layer.temporal.seen.long(), sites_of(step) * C)


def test_every_value_comes_back_to_its_own_site(run) -> None:
    _, out, trace = run
    last = trace[len(trace) - 1]
    assert last.shape == tuple(out.shape) == (N, C_OUT, T, H, W)
    assert torch.equal(out.long(), sites_of(last) * C)
    assert not bool(trace.misplaced.any())


def test_the_questions_view_scrambles_most_values() -> None:
    trace = reshape_trace("seed", frames=4, height=3, width=3)
    last = trace[len(trace) - 1]
    assert last.shape == (4, 2, 3, 3) and last.axes == ("T", "C_out", "H", "W")
    assert trace.misplaced.float().mean() > 0.5
    with pytest.raises(ValueError, match="one clip"):
        reshape_trace("seed", clips=2)


def test_following_an_element_counts_its_values() -> None:
    trace = reshape_trace("naive", clips=2, frames=3)
    assert where_text(trace[1], "frame", 1) == "frame 1: 36 of 108 values, at N·T 1, 4; C 0, 1"
    assert "mixed into every M channel" in where_text(trace[2], "channel", 0)
    for step in trace.steps:
        assert int(step.holds("frame", 0).sum()) > 0


def test_the_figure_draws_every_step() -> None:
    trace = reshape_trace("naive", clips=2, frames=3)
    for k in range(len(trace)):
        fig = reshape_figure(trace, k, "pixel", (1, 2))
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    with pytest.raises(IndexError, match="step 9 is out of range"):
        trace[9]


def test_the_explorer_steps_and_follows_without_a_traceback() -> None:
    explorer = reshape_explorer()
    first = explorer.image.value
    explorer.controls["step"].value = 3
    assert explorer.image.value != first and explorer.message.value == ""
    assert "<code>" in explorer.where.value
    explorer.controls["path"].value = "seed"
    explorer.controls["step"].value = explorer.controls["step"].max
    assert "sit where another" in explorer.where.value
    assert explorer.controls["clips"].disabled
