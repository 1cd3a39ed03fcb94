"""The experiment's entry point: smoke run, results files, resume, and every refusal."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

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
    assert [r for r in rows if r["seed"] != "2"] == first  # finished runs untouched
    # One order whatever ran first: the family's (r2d before f-r2d), then the seed.
    assert [(r["model"], r["seed"]) for r in rows] == [
        ("r2d", "0"), ("r2d", "1"), ("r2d", "2"), ("f-r2d", "0"), ("f-r2d", "1"), ("f-r2d", "2")]


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


# -- many runs at once, and runs that do not depend on one another -----------------------------

SHUFFLED = [*TINY, "--view", "shuffled", "--epochs", "2", "--threads", "1"]
NUMBERS = ("model", "seed", "params", "macs", "train_error", "train_loss", "val_accuracy",
           "test_accuracy")


def _numbers(out):
    runs = [[r[k] for k in NUMBERS] for r in _rows(out / "results.csv")]
    curves = [[r[k] for k in ("model", "seed", "epoch", "train_loss", "val_accuracy")]
              for r in _rows(out / "history.csv")]
    return runs, curves


@pytest.fixture(scope="module")
def shuffled_reference(tmp_path_factory):
    """The shuffled control of TINY, uninterrupted, one run after another in this process."""
    out = tmp_path_factory.mktemp("reference")
    assert main([*SHUFFLED, "--out", str(out)]) == 0
    return _numbers(out)


def test_two_workers_give_bitwise_the_numbers_of_one_process(shuffled_reference, tmp_path):
    assert main([*SHUFFLED, "--workers", "2", "--out", str(tmp_path / "w2")]) == 0
    assert _numbers(tmp_path / "w2") == shuffled_reference


def test_a_run_gives_the_same_numbers_alone_as_inside_a_study(shuffled_reference, tmp_path):
    alone = [*SHUFFLED]
    alone[alone.index("--seeds") + 1:alone.index("--seeds") + 3] = ["1"]
    assert main([*alone, "--out", str(tmp_path / "alone")]) == 0
    runs, _ = _numbers(tmp_path / "alone")
    assert runs == [r for r in shuffled_reference[0] if r[1] == "1"]


def test_interrupts_within_and_between_runs_resume_to_the_uninterrupted_numbers(
        shuffled_reference, tmp_path, monkeypatch):
    out, real_train, calls = tmp_path / "interrupted", experiment.train, []

    def train_with_interrupts(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # within the second run, after its first epoch was saved
            def stop(record):
                if record.epoch == 1:
                    raise KeyboardInterrupt
            kwargs["on_epoch"] = stop
        if len(calls) == 4:  # between runs: before the third run starts
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(experiment, "train", train_with_interrupts)
    assert main([*SHUFFLED, "--out", str(out)]) == 130
    assert len(_rows(out / "results.csv")) == 1
    assert main([*SHUFFLED, "--out", str(out), "--resume"]) == 130  # the second run finishes
    assert len(_rows(out / "results.csv")) == 2
    monkeypatch.undo()
    assert main([*SHUFFLED, "--out", str(out), "--resume"]) == 0
    assert _numbers(out) == shuffled_reference
    assert not list(out.glob("**/*.tmp"))


def _spawned_workers(parent: int) -> list[int]:
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"spawn_main" in cmdline \
                and b"resource_tracker" not in cmdline:
            workers.append(int(stat.parent.name))
    return workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds workers through /proc")
def test_a_killed_worker_stops_the_study_and_resume_gives_the_same_numbers(
        shuffled_reference, tmp_path):
    out = tmp_path / "killed"
    study = subprocess.Popen([sys.executable, "-m", "r21d_edu.experiment", *SHUFFLED,
                              "--workers", "2", "--out", str(out)],
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list((out / "checkpoints").glob("*.pt")) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _spawned_workers(study.pid)
    assert workers, "the study should run in worker processes"
    os.kill(workers[0], signal.SIGKILL)
    _, err = study.communicate(timeout=240)
    assert study.returncode == 2
    assert "a worker process died (exit code -9)" in err
    assert main([*SHUFFLED, "--workers", "2", "--out", str(out), "--resume"]) == 0
    assert _numbers(out) == shuffled_reference


def test_resume_rewrites_derived_files_that_lag_results_json(tmp_path):
    out = tmp_path / "out"
    assert main([*TINY, "--out", str(out)]) == 0
    full = (out / "results.csv").read_text()
    (out / "results.csv").write_text(full.splitlines()[0] + "\n")  # as if killed mid-write
    (out / "summary.md").unlink()
    assert main([*TINY, "--out", str(out), "--resume"]) == 0
    assert (out / "results.csv").read_text() == full and (out / "summary.md").exists()


@pytest.mark.parametrize("content, message", [
    ("[]", "does not hold results (expected an object with a 'runs' list, got a list)"),
    ("null", "does not hold results (expected an object with a 'runs' list, got null)"),
    ('{"protocol": {}}', "does not hold results"),
    ("{not json", "cannot read"),
])
def test_a_damaged_results_file_gets_one_line_not_a_traceback(tmp_path, capsys, content,
                                                                message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(content)
    assert main([*TINY, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resume_names_the_settings_that_differ(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*TINY, "--out", str(out)]) == 0
    assert main([*TINY, "--lr", "0.01", "--out", str(out), "--resume"]) == 2
    assert "train.lr: 0.002 there, 0.01 now" in capsys.readouterr().err


def test_an_unfinished_checkpoint_of_other_settings_is_refused_on_resume(tmp_path, capsys,
                                                                          monkeypatch):
    out, real_train = tmp_path / "out", experiment.train

    def stop_after_one_epoch(*args, **kwargs):
        def stop(record):
            raise KeyboardInterrupt
        return real_train(*args, **{**kwargs, "on_epoch": stop})

    monkeypatch.setattr(experiment, "train", stop_after_one_epoch)
    args = [*TINY, "--epochs", "2"]
    assert main([*args, "--out", str(out)]) == 130
    monkeypatch.undo()
    assert not (out / "results.json").exists()  # only a checkpoint: no protocol to compare
    assert main([*args, "--lr", "0.01", "--out", str(out), "--resume"]) == 2
    assert "config.lr: 0.002 there, 0.01 now" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--plan", "confirmatory", "--models", "r3d"], "--plan confirmatory fixes the models"),
    (["--lr", "nan"], "expected a finite number, got 'nan'"),
    (["--weight-decay", "inf"], "expected a finite number, got 'inf'"),
    (["--workers", "0"], "expected a number >= 1, got 0"),
])
def test_flags_that_cannot_work_together_or_are_not_numbers(flags, message, capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), *flags])
    assert message in capsys.readouterr().err


def test_help_shows_no_default_for_a_required_flag():
    text = build_parser().format_help()
    assert "(default: None)" not in text
    assert "(default: 8)" in text  # the epochs' default is still shown


def test_a_smoke_run_says_that_chance_level_accuracy_is_expected(tmp_path, capsys):
    assert main(["--smoke", "--out", str(tmp_path / "smoke"), "--no-figure"]) == 0
    assert "accuracy near chance, 12.5 %, is what it should show" in capsys.readouterr().out


def test_a_study_too_large_for_memory_is_refused_before_training(tmp_path, capsys):
    assert main([*TINY, "--train", "1000000000", "--out", str(tmp_path / "big")]) == 2
    assert "GiB, but this machine has" in capsys.readouterr().err


def test_saved_weights_load_back_checked_and_a_damaged_file_is_refused(tmp_path):
    from r21d_edu.trained import TrainedWeightsError, load_trained, trained_entries

    out = tmp_path / "out"
    assert main([*TINY, "--save-weights", "--out", str(out)]) == 0
    entries = trained_entries(out / "weights")
    assert [(e.model, e.seed) for e in entries] == [("r2d", 0), ("r2d", 1), ("f-r2d", 0),
                                                    ("f-r2d", 1)]
    model = load_trained("r2d", 1, folder=out / "weights")
    assert not model.training and next(model.parameters()).dtype == torch.float32
    path = out / "weights" / "r2d-seed1.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TrainedWeightsError, match="SHA-256 differs"):
        load_trained("r2d", 1, folder=out / "weights")
    with pytest.raises(TrainedWeightsError, match="has no weights of r3d seed 0"):
        load_trained("r3d", 0, folder=out / "weights")


def test_run_experiment_leaves_the_random_state_and_threads_as_it_found_them(tmp_path):
    from r21d_edu.experiment import parse_args, run_experiment

    threads, state = torch.get_num_threads(), torch.get_rng_state()
    run_experiment(parse_args([*TINY, "--threads", "1", "--out", str(tmp_path / "out")]))
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.get_rng_state(), state)
