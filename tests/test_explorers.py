"""What every explorer shares (`widgets._base.Explorer`): honest controls and views.

- a control that the current setting ignores is disabled, and a note says why;
- after an impossible setting the last good view stays, framed and flagged stale,
  until a setting works again;
- moving a control never touches the notebook's global random stream.
"""

from __future__ import annotations

import pytest
import torch

from r21d_edu.widgets import BudgetExplorer, FeatureExplorer, LayerExplorer, RankExplorer
from r21d_edu.widgets._base import STALE_BORDER
from r21d_edu.widgets.timing import TimingExplorer


def test_budget_explorer_disables_c_in_where_it_does_not_enter() -> None:
    explorer = BudgetExplorer()  # paper convention, conv2: M from conv2's own channels
    assert explorer.controls["in_channels"].disabled
    assert "not used" in explorer.controls_note.value
    explorer.controls["convention"].value = "torchvision"  # M per block: C_in counts
    assert not explorer.controls["in_channels"].disabled and explorer.controls_note.value == ""
    explorer.controls["convention"].value = "paper"
    explorer.controls["position"].value = "conv1"
    assert not explorer.controls["in_channels"].disabled


def test_feature_explorer_disables_motion_on_still_clips_and_rank_on_the_3d_conv() -> None:
    explorer = FeatureExplorer()
    assert explorer.controls["rank"].disabled  # starts on the 3D conv
    assert not explorer.controls["direction"].disabled
    explorer.controls["kind"].value = "static"
    assert explorer.controls["direction"].disabled and explorer.controls["speed"].disabled
    assert "nothing moves" in explorer.controls_note.value
    explorer.controls["method"].value = "2plus1d"
    assert not explorer.controls["rank"].disabled


@pytest.mark.parametrize(("make", "impossible", "fix"), [
    (LayerExplorer, {"padding": 0, "frames": 2}, {"frames": 8}),
    (BudgetExplorer, {"position": "conv1", "in_channels": 1, "out_channels": 1, "t": 1},
     {"t": 3}),
    (FeatureExplorer, {"method": "2plus1d", "view": "middle", "method_": "3d"},
     {"view": "output"}),
])
def test_the_last_good_view_is_marked_stale_until_a_setting_works(make, impossible, fix):
    explorer = make()
    assert not explorer.stale and explorer.message.value == ""
    for name, value in impossible.items():
        explorer.controls[name.rstrip("_")].value = value
    assert explorer.stale and "Not possible" in explorer.message.value
    assert "last setting that worked" in explorer.message.value
    assert explorer._view.layout.border == STALE_BORDER
    for name, value in fix.items():
        explorer.controls[name].value = value
    assert not explorer.stale and explorer.message.value == ""
    assert not explorer._view.layout.border


@pytest.mark.parametrize("move", [
    lambda: RankExplorer().controls["channels"].__setattr__("value", 16),
    lambda: TimingExplorer(repeats=1).controls["channels"].__setattr__("value", 8),
])
def test_moving_a_control_leaves_the_global_random_stream_alone(move) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    move()
    assert torch.equal(torch.rand(3), expected)


def test_the_timing_explorers_layers_are_the_same_on_every_build() -> None:
    from r21d_edu.widgets.timing import _variants

    first, second = _variants(8, seed=0), _variants(8, seed=0)
    for a, b in zip(first, second, strict=True):
        for p, q in zip(a.module.parameters(), b.module.parameters(), strict=True):
            assert torch.equal(p, q)


def test_even_a_bug_shows_as_a_message_not_a_traceback(monkeypatch) -> None:
    explorer = LayerExplorer()

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(explorer, "_update", broken)
    explorer.controls["t"].value = 5
    assert explorer.stale and "unexpected RuntimeError: boom" in explorer.message.value
