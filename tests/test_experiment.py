"""The experiment's entry point: smoke run, results files, resume, and every refusal."""

import csv
import json
import subprocess
import sys

import pytest

from r21d_edu import experiment
from r21d_edu.experiment import build_parser, main, summarize

TINY = ["--models", "f-r2d", "r2d", "--seeds", "0", "1", "--epochs", "1", "--train", "32",
        "--val", "16", "--test", "16", "--batch-size", "16", "--no-progress", "--no-figure"]


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_smoke_runs_end_to_end_and_writes_every_result_file(tmp_path):
    out = tmp_path / "smoke"
    assert main(["--smoke", "--out", str(out), "--no-progress"]) == 0
    for name in ("results.csv", "results.json", "history.csv", "summary.md", "figure.png"):
        assert (out / name).stat().st_size > 0, name
    rows = _rows(out / "results.csv")
    assert [(r["model"], r["seed"]) for r in rows] == [
        ("r3d", "0"), ("r3d", "1"), ("r2plus1d", "0"), ("r2plus1d", "1")]
    assert {"model", "seed", "params", "train_error", "val_accuracy",
            "test_accuracy"} <= set(rows[0])
    results = json.loads((out / "results.json").read_text())
    assert results["environment"]["torch"]
    assert results["protocol"]["task"]["train"] == 128
    assert [d["a"] for d in results["summary"]["differences"]] == ["r2plus1d", "r2plus1d"]
    assert not list(out.glob("**/*.tmp"))


def test_help_documents_every_flag():
    text = subprocess.run([sys.executable, "-m", "r21d_edu.experiment", "--help"],
                          capture_output=True, text=True, check=True).stdout
    for action in build_parser()._actions:
        for flag in action.option_strings:
            assert flag in text
        assert action.help, action.option_strings


def test_resume_skips_finished_runs_and_adds_new_seeds(tmp_path):
    out = tmp_path / "out"
    assert main([*TINY, "--out", str(out)]) == 0
    first = _rows(out / "results.csv")
    more = [*TINY[:TINY.index("--seeds")], "--seeds", "0", "1", "2",
            *TINY[TINY.index("--epochs"):]]
    assert main([*more, "--out", str(out), "--resume"]) == 0
    rows = _rows(out / "results.csv")
    assert rows[:4] == first  # finished runs untouched
    assert [(r["model"], r["seed"]) for r in rows[4:]] == [("f-r2d", "2"), ("r2d", "2")]


def test_an_interrupted_experiment_keeps_finished_runs_and_resumes_to_the_same_numbers(
        tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    assert main([*TINY, "--out", str(reference)]) == 0

    out = tmp_path / "interrupted"
    real_train, calls = experiment.train, []

    def train_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(experiment, "train", train_then_interrupt)
    assert main([*TINY, "--out", str(out)]) == 130
    assert len(_rows(out / "results.csv")) == 2
    monkeypatch.undo()
    assert main([*TINY, "--out", str(out), "--resume"]) == 0
    keys = ("model", "seed", "params", "train_error", "val_accuracy", "test_accuracy")
    assert [[r[k] for k in keys] for r in _rows(out / "results.csv")] == \
        [[r[k] for k in keys] for r in _rows(reference / "results.csv")]


def test_existing_results_are_never_overwritten_without_resume(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*TINY, "--out", str(out)]) == 0
    before = (out / "results.csv").read_text()
    assert main([*TINY, "--out", str(out)]) == 2
    assert "already holds results (results.json); pass --resume" in capsys.readouterr().err
    assert (out / "results.csv").read_text() == before


def test_resume_refuses_results_of_another_protocol(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*TINY, "--out", str(out)]) == 0
    assert main([*TINY, "--lr", "0.01", "--out", str(out), "--resume"]) == 2
    assert "written with another protocol" in capsys.readouterr().err


def test_a_corrupt_checkpoint_stops_resume_with_a_clear_message(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "f-r2d-seed0.pt").write_bytes(b"garbage")
    assert main([*TINY, "--out", str(out)]) == 2
    assert "holds checkpoints of unfinished runs" in capsys.readouterr().err
    assert main([*TINY, "--out", str(out), "--resume"]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_an_unwritable_out_is_reported_before_any_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main([*TINY, "--out", str(blocker / "results")]) == 2
    assert "is not a writable folder" in capsys.readouterr().err


def test_a_dataset_smaller_than_the_batch_is_explained(tmp_path, capsys):
    args = [*TINY, "--out", str(tmp_path / "out")]
    args[args.index("--batch-size") + 1] = "64"
    assert main(args) == 2
    assert "fewer than one batch of 64" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--models", "r4d"], "unknown model 'r4d'; choose from r2d, f-r2d"),
    (["--seeds"], "expected at least one argument"),
    (["--seeds", "-1"], "a seed is a whole number >= 0, got -1"),
    (["--epochs", "0"], "expected a number >= 1, got 0"),
    (["--train", "many"], "expected a whole number, got 'many'"),
])
def test_bad_flags_are_refused_by_the_parser_with_a_reason(flags, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["--out", str(tmp_path), *flags])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_summary_pairs_by_seed_and_needs_two_shared_seeds():
    runs = [{"model": m, "seed": s, "params": 1, "train_error": e, "val_accuracy": a,
             "test_accuracy": a} for m, s, e, a in
            [("r3d", 0, 0.2, 0.8), ("r3d", 1, 0.3, 0.7), ("r3d", 2, 0.25, 0.75),
             ("r2plus1d", 0, 0.1, 0.9), ("r2plus1d", 1, 0.2, 0.8), ("r2plus1d", 2, 0.15, 0.85),
             ("r2plus1d-linear", 0, 0.1, 0.9)]]
    summary = summarize(runs)
    assert list(summary["models"]) == ["r3d", "r2plus1d", "r2plus1d-linear"]
    (accuracy, error), = [tuple(d for d in summary["differences"] if d["a"] == "r2plus1d")]
    assert accuracy["mean"] == pytest.approx(0.1) and accuracy["low"] == pytest.approx(0.1)
    assert accuracy["exceeds_noise"]
    assert error["mean"] == pytest.approx(-0.1)
    assert not [d for d in summary["differences"] if d["a"] == "r2plus1d-linear"]
