"""The analysis of a planned study: the planned differences, their roles, Holm and the target."""

import pytest

from r21d_edu.analysis import summarize, summary_markdown
from r21d_edu.plans import CONFIRMATORY, EXPLORATORY_COMPARISONS, Comparison, StudyPlan
from r21d_edu.stats import required_seeds


def _runs(effects: dict[str, float], seeds=range(12)) -> list[dict]:
    """Rows in which model m's test accuracy is 0.5 + effects[m] + a per-seed wobble."""
    rows = []
    for model, effect in effects.items():
        for seed in seeds:
            wobble = 0.01 * ((seed * 7 + len(model)) % 5 - 2)
            rows.append({"model": model, "seed": seed, "params": 1, "macs": 2,
                         "train_error": 0.5 - effect - wobble, "val_accuracy": 0.5 + effect,
                         "test_accuracy": 0.5 + effect + wobble})
    return rows


def test_the_confirmatory_plan_is_the_protocol_committed_before_its_runs():
    # PROTOCOL.md of experiments/confirmatory fixes these; a change here changes the protocol.
    assert CONFIRMATORY.primary == Comparison(
        "r2plus1d", "r3d", "test_accuracy", "primary",
        "does (2+1)D reach a higher test accuracy than 3D at matched parameters?")
    seeds = dict(CONFIRMATORY.runs)
    assert seeds["r3d"] == seeds["r2plus1d"] == tuple(range(1000, 1022))
    for name in ("r2plus1d-no-relu", "r2plus1d-no-bn", "r2plus1d-linear"):
        assert seeds[name] == tuple(range(1000, 1012))
    assert len(seeds["r3d"]) == required_seeds(19.8, 10.0, assurance=0.8)
    secondary = [c for c in CONFIRMATORY.comparisons if c.role == "secondary"]
    assert len(secondary) == 7 and CONFIRMATORY.target_half_width == 0.10


def test_planned_differences_carry_their_role_and_holm_decides_the_secondary_ones():
    runs = _runs({"r3d": 0.0, "r2plus1d": 0.2, "r2plus1d-no-relu": 0.19,
                  "r2plus1d-no-bn": 0.0, "r2plus1d-linear": 0.0})
    summary = summarize(runs, CONFIRMATORY.comparisons, CONFIRMATORY.target_half_width)
    primary = summary["primary"]
    assert (primary["a"], primary["b"], primary["role"]) == ("r2plus1d", "r3d", "primary")
    assert primary["mean"] == pytest.approx(0.2, abs=0.02) and primary["exceeds_noise"]
    assert primary["target_met"] and primary["n"] == 12
    by = {(d["a"], d["b"], d["metric"]): d for d in summary["differences"]}
    assert by["r2plus1d-no-bn", "r2plus1d", "test_accuracy"]["holm_rejects"]
    assert not by["r2plus1d-no-relu", "r2plus1d", "test_accuracy"].get("holm_rejects")
    assert "holm_rejects" not in by["r2plus1d-no-bn", "r2plus1d", "train_error"]  # exploratory
    assert summary["models"]["r3d"]["macs"] == 2
    text = summary_markdown(summary)
    assert "| primary | r2plus1d − r3d | test_accuracy | 12 |" in text
    assert "Primary interval half-width" in text and "met)" in text


def test_a_comparison_needs_two_shared_seeds_and_a_known_model():
    runs = _runs({"r3d": 0.0, "r2plus1d": 0.1}, seeds=[0])
    assert summarize(runs, CONFIRMATORY.comparisons)["differences"] == []
    with pytest.raises(ValueError, match="unknown model 'r4d'"):
        Comparison("r4d", "r3d", "test_accuracy", "primary", "?")
    with pytest.raises(ValueError, match="role must be one of"):
        Comparison("r3d", "r3d", "test_accuracy", "headline", "?")


def test_the_exploratory_table_keeps_its_columns():
    summary = summarize(_runs({"r3d": 0.0, "r2plus1d": 0.1}, seeds=range(3)),
                        EXPLORATORY_COMPARISONS)
    text = summary_markdown(summary)
    assert "| difference (paired by seed) | metric | mean (points) |" in text
    assert StudyPlan("x", (("r3d", (0, 1)),), ()).pairs == [("r3d", 0), ("r3d", 1)]
