"""Tutorial 03's timing explorer asks for a prediction before it shows the measurement."""

from __future__ import annotations

from r21d_edu.viz.style import METHOD_LABELS
from r21d_edu.widgets.timing import timing_explorer


def test_the_verdict_compares_the_prediction_with_the_measured_fastest() -> None:
    explorer = timing_explorer(repeats=1)
    fastest = min(explorer.comparison.results, key=lambda r: r.median_ms).method
    wrong = next(m for m in ("3d", "naive", "2plus1d", "fast") if m != fastest)
    timed = explorer.comparison
    explorer.guess.value = wrong
    assert explorer.comparison is timed  # a new prediction re-times nothing
    assert f"You predicted <b>{METHOD_LABELS[wrong]}</b>; the fastest this time was " \
           f"<b>{METHOD_LABELS[fastest]}</b>" in explorer.verdict.value
    explorer.guess.value = fastest
    assert "and it was the fastest this time" in explorer.verdict.value


def test_the_sliders_reach_a_real_layer1() -> None:
    explorer = timing_explorer(repeats=1)
    assert explorer.controls["channels"].max == 64 and explorer.controls["size"].max == 56
    assert explorer.controls["frames"].max == 8
