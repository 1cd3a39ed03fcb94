"""The factorization study's plan (experiments/factorizations/PROTOCOL.md) and its smoke run."""

from __future__ import annotations

import json

import pytest

from r21d_edu.experiment import main, parse_args
from r21d_edu.factorized_family import MATCHINGS
from r21d_edu.plans import (
    FACTORIZATION_SEEDS,
    FACTORIZATIONS,
    FACTORIZATIONS_DEPTHWISE,
    PLANS,
    Comparison,
)


@pytest.mark.parametrize("plan", [FACTORIZATIONS, FACTORIZATIONS_DEPTHWISE])
def test_every_model_has_at_least_3_seeds_and_both_matchings(plan) -> None:
    assert plan.name in PLANS
    assert all(len(seeds) >= 3 for _, seeds in plan.runs)
    assert plan.models[:2] == ["r3d", "r2plus1d"]
    members = [m for m in plan.models if "@" in m]
    assert {m.split("@")[1] for m in members} == set(MATCHINGS)
    assert len(members) == 2 * len({m.split("@")[0] for m in members})


def test_runs_are_seed_major_so_an_interrupted_study_is_balanced() -> None:
    pairs = FACTORIZATIONS.pairs
    n = len(FACTORIZATIONS.models)
    for i, seed in enumerate(FACTORIZATION_SEEDS):
        block = pairs[i * n:(i + 1) * n]
        assert [m for m, _ in block] == FACTORIZATIONS.models
        assert {s for _, s in block} == {seed}


def test_each_member_is_compared_with_r3d_and_r2plus1d_under_holm_within_its_matching() -> None:
    for matching in MATCHINGS:
        secondary = [c for c in FACTORIZATIONS.comparisons
                     if c.role == "secondary" and c.group == matching]
        members = [m for m in FACTORIZATIONS.models if m.endswith("@" + matching)]
        assert {(c.a, c.b) for c in secondary} == {
            (m, ref) for m in members for ref in ("r3d", "r2plus1d")}
        assert all(c.metric == "test_accuracy" for c in secondary)
    # Nothing is primary; comparisons between members are exploratory.
    assert not [c for c in FACTORIZATIONS.comparisons if c.role == "primary"]
    between = [c for c in FACTORIZATIONS.comparisons if "@" in c.a and "@" in c.b]
    assert between and all(c.role == "exploratory" for c in between)


def test_a_comparison_of_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model 'csn@params'"):
        Comparison("csn@params", "r3d", "test_accuracy", "secondary", "?")


def test_a_plan_without_a_smoke_run_refuses_smoke(capsys, tmp_path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--plan", "confirmatory", "--smoke", "--out", str(tmp_path)])
    assert "has no smoke run" in capsys.readouterr().err


def test_the_smoke_run_of_the_plan_holms_within_each_matching_and_resumes(tmp_path) -> None:
    out = tmp_path / "smoke"
    flags = ["--plan", "factorizations", "--smoke", "--no-figure", "--no-progress",
             "--out", str(out)]
    assert main(flags) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"]["plan"] == "factorizations-smoke"
    runs = [(r["model"], r["seed"]) for r in results["runs"]]
    assert runs == [(m, s) for m in ("r3d", "p3d-a@params", "tsm@macs") for s in (0, 1)]
    summary = results["summary"]
    assert list(summary["models"]) == ["r3d", "p3d-a@params", "tsm@macs"]
    groups = {(d["a"], d["group"]) for d in summary["differences"] if d["role"] == "secondary"}
    assert groups == {("p3d-a@params", "params"), ("tsm@macs", "macs")}
    assert all("holm_rejects" in d for d in summary["differences"] if d["role"] == "secondary")
    before = (out / "results.csv").read_text()
    assert main([*flags, "--resume"]) == 0          # nothing left to train: nothing changes
    assert (out / "results.csv").read_text() == before
