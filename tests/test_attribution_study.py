"""The attribution study: its views, its comparisons, its smoke run and its resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from r21d_edu import attribution_study as study
from r21d_edu.tasks import DirectionTask, make_splits, object_masks

SMALL = DirectionTask(train=8, val=8, test=8, seed=0)


@pytest.fixture(scope="module")
def split():
    return make_splits(SMALL)["test"]


def test_the_clip_view_gives_the_clips_and_their_masks(split) -> None:
    clips, masks, labels = study.view_clips(split, "clip", 5, SMALL)
    expected, expected_labels = split.batch(torch.arange(5))
    assert torch.equal(clips, expected) and torch.equal(labels, expected_labels)
    truth = {k: v[:5] for k, v in split.truth.items()}
    assert torch.equal(masks, object_masks(truth, SMALL))


def test_the_single_frame_view_shows_the_middle_mask_in_every_frame(split) -> None:
    clips, masks, _ = study.view_clips(split, "single_frame", 4, SMALL)
    ordered, ordered_masks, _ = study.view_clips(split, "clip", 4, SMALL)
    for t in range(SMALL.frames):
        assert torch.equal(clips[:, :, t], ordered[:, :, SMALL.frames // 2])
        assert torch.equal(masks[:, t], ordered_masks[:, SMALL.frames // 2])


def test_the_shuffled_view_shuffles_the_masks_with_the_frames(split) -> None:
    clips, masks, _ = study.view_clips(split, "shuffled", 6, SMALL)
    ordered, ordered_masks, _ = study.view_clips(split, "clip", 6, SMALL)
    orders = split.with_view("shuffled", seed=study.ORDER_SEED,
                             fresh_each_visit=False).frame_orders(torch.arange(6))
    assert any(not torch.equal(o, torch.arange(SMALL.frames)) for o in orders)
    for i, order in enumerate(orders):
        assert torch.equal(clips[i], ordered[i][:, order])
        assert torch.equal(masks[i], ordered_masks[i][order])
    # the same order every time: a model is scored on the clip it is shown
    again, _, _ = study.view_clips(split, "shuffled", 6, SMALL)
    assert torch.equal(again, clips)


def test_frame_orders_refuses_a_split_that_draws_fresh_orders(split) -> None:
    with pytest.raises(ValueError, match="fresh_each_visit=False"):
        split.with_view("shuffled").frame_orders([0])


def _rows(values: dict[str, list[float]], method: str = "integrated_gradients") -> list[dict]:
    return [{"group": "primary", "model": model, "seed": 1000 + i, "method": method,
             "energy": v, "effective_frames": 8 * v}
            for model, vs in values.items() for i, v in enumerate(vs)]


def test_comparisons_are_paired_by_seed_with_holm_per_role() -> None:
    rows = _rows({"r2plus1d": [0.50, 0.61, 0.72], "r3d": [0.40, 0.50, 0.60]})
    rows += _rows({"r2plus1d": [0.3, 0.2, 0.4], "r3d": [0.3, 0.3, 0.3]}, "grad_cam")
    found = {(c["method"], c["score"]): c for c in study.comparisons(rows)}
    primary = found[("integrated_gradients", "energy")]
    assert primary["role"] == "primary" and primary["seeds"] == 3
    assert primary["mean"] == pytest.approx(0.11)  # (0.10 + 0.11 + 0.12) / 3
    assert primary["ahead"] == 3 and primary["exceeds_noise"]
    assert primary["half_width"] == pytest.approx(4.302653 * 0.01 / 3 ** 0.5, rel=1e-3)
    assert found[("grad_cam", "energy")]["role"] == "secondary"
    assert found[("grad_cam", "energy")]["mean"] == pytest.approx(0.0, abs=1e-12)
    assert not found[("grad_cam", "energy")]["holm_rejects"]
    assert {c["role"] for c in found.values()} == {"primary", "secondary"}


def test_the_study_covers_every_group_and_runs_the_primary_pairs_first() -> None:
    units = study.study_units()
    assert [u.group for u in units[:6]] == ["primary"] * 6
    assert {u.group for u in units} == {"primary", "family", "control", "untrained"}
    assert len({u.key for u in units}) == len(units) == 34
    assert study.study_units(smoke=True) == units[:6]


def test_an_untrained_unit_is_the_initialization_of_its_seed_and_keeps_the_rng() -> None:
    state = torch.random.get_rng_state()
    a = study.Unit("untrained", "r3d", 1000).build()
    b = study.Unit("untrained", "r3d", 1000).build()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not a.training


def test_smoke_run_writes_every_file_and_resumes_without_recomputing(tmp_path: Path,
                                                                     capsys) -> None:
    out = tmp_path / "smoke"
    assert study.main(["--smoke", "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 6 * 4
    assert {row["method"] for row in results["runs"]} == set(study.METHODS)
    for row in results["runs"]:
        assert 0 <= row["energy"] <= 1 and 1 <= row["effective_frames"] <= 8
    assert len(results["comparisons"]) == 8
    for name in ("scores.csv", "comparisons.csv", "summary.md"):
        assert (out / name).stat().st_size > 0
    assert "Planned comparisons" in (out / "summary.md").read_text()
    # a second run without --resume refuses; with it, nothing is recomputed
    assert study.main(["--smoke", "--out", str(out), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    before = (out / "results.json").read_text()
    assert study.main(["--smoke", "--out", str(out), "--no-progress", "--resume"]) == 0
    assert json.loads((out / "results.json").read_text())["runs"] == json.loads(before)["runs"]


def test_resume_refuses_results_of_other_settings(tmp_path: Path, capsys) -> None:
    out = tmp_path / "other"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"protocol": {"clips": 3}, "runs": []}))
    assert study.main(["--smoke", "--out", str(out), "--resume", "--no-progress"]) == 2
    assert "another protocol" in capsys.readouterr().err
