"""scripts/gpu_check.sh: its plan parses on a CPU, and its plumbing works end to end.

The GPU run itself cannot happen in CI, so three things are checked here instead:

- the dry run (what CI can run of it): the steps in order, and every command it would run
  accepted by that entry point's own argument parser — checked again here, independently of
  the script's own check, with a verifier that is shown to refuse bad arguments;
- a rehearsal on the CPU (every step for real, at a tiny size) with one step made to fail on
  purpose: the run goes on, records the failure, and writes the folder the GPU run would write
  (at most 8 files, no subfolders, no paths of this machine, the README sections tutorial 03
  reads);
- a budget too small for any step: each is skipped, saying why, and the report still comes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
STEPS = ["pytest-gpu", "bench-target", "bench-sweep-inference", "train-smoke",
         "bench-sweep-training", "ddp-smoke"]


def run_script(*args: str, python: str | None = None, timeout: float = 300):
    env = dict(os.environ, PYTHON=python or sys.executable)
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)


def verify(words: list[str]) -> str:
    """Parse one planned command with its entry point's own parser; raise on a bad argument."""
    from r21d_edu import bench, experiment

    assert words[1] == "-m", words
    module, args = words[2], words[3:]
    if module == "r21d_edu.bench":
        parser = bench._parser()
        options = parser.parse_args(args)
        for key, value in bench.GPU_DEFAULTS.items():
            if getattr(options, key) is None:
                setattr(options, key, value)
        bench._check_figures(parser, options)
        return module
    if module == "r21d_edu.experiment":
        experiment.parse_args(args)
        return module
    if module == "torch.distributed.run":
        from torch.distributed.run import get_args_parser

        options = get_args_parser().parse_args(args)
        assert options.module and options.training_script == "r21d_edu.experiment", options
        experiment.parse_args(options.training_script_args)
        return module
    if module == "pytest":
        return module  # the dry run collected with these arguments (see its output)
    raise AssertionError(f"no verifier for {module}")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dry")
    result = run_script("--dry-run", "--out", str(out))
    return result, out


def planned(output: str) -> dict[str, list[str]]:
    """Step name -> the command the dry run printed for it."""
    commands, name = {}, None
    for line in output.splitlines():
        step = re.match(r"\s+\[\d+\] ([a-z-]+) \(limit", line)
        if step:
            name = step.group(1)
        elif line.startswith("      $ ") and name:
            commands[name] = shlex.split(line[len("      $ "):])
    return commands


def test_the_script_parses():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_dry_run_plans_every_step_and_checks_each_command(dry_run):
    result, out = dry_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dry run: every step planned, every command parsed" in result.stdout
    assert list(out.iterdir()) == []  # it writes nothing
    commands = planned(result.stdout)
    assert list(commands) == STEPS
    for name in STEPS:
        assert re.search(rf"^  ok    {name}: ", result.stdout, re.M), result.stdout
    collected = re.search(r"ok    pytest-gpu: pytest arguments accepted: (\d+)/\d+ tests collected",
                          result.stdout)
    gpu_files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                       if "@pytest.mark.gpu" in p.read_text(encoding="utf-8"))
    assert collected and int(collected.group(1)) >= len(gpu_files) >= 1
    assert commands["pytest-gpu"][-len(gpu_files):] == gpu_files
    assert "-m" in commands["pytest-gpu"] and "gpu" in commands["pytest-gpu"]


def test_every_planned_command_is_accepted_by_its_parser(dry_run):
    commands = planned(dry_run[0].stdout)
    assert {verify(words) for words in commands.values()} == {
        "pytest", "r21d_edu.bench", "r21d_edu.experiment", "torch.distributed.run"}


def test_the_plan_is_the_issue_s(dry_run):
    commands = {name: " ".join(words[1:]) for name, words in planned(dry_run[0].stdout).items()}
    assert ("-m r21d_edu.bench --device cuda --layers 1 --frames 16 --batch 8 --dtype bfloat16 "
            "--mode inference") in commands["bench-target"]
    for mode in ("inference", "training"):
        sweep = commands[f"bench-sweep-{mode}"]
        assert ("--device cuda --frames 8 16 --batch 1 8 --dtype float32 bfloat16 "
                f"--mode {mode}") in sweep
        assert "--layers" not in sweep  # all four layers
        assert f"--figures f16_b8_bfloat16_{mode}" in sweep
    assert "-m r21d_edu.experiment --smoke --device cuda" in commands["train-smoke"]
    assert ("-m torch.distributed.run --standalone --nproc_per_node=2 -m r21d_edu.experiment "
            "--smoke --device cuda") in commands["ddp-smoke"]


@pytest.mark.parametrize("words", [
    ["python", "-m", "r21d_edu.bench", "--device", "cuda", "--frames", "7"],
    ["python", "-m", "r21d_edu.bench", "--device", "cuda", "--figures", "f99_b1_float32_inference"],
    ["python", "-m", "r21d_edu.experiment", "--smoke", "--device", "tpu", "--out", "x"],
    ["python", "-m", "r21d_edu.experiment", "--smoke", "--device", "cuda"],  # no --out
    ["python", "-m", "torch.distributed.run", "--nproc_per_node=2", "r21d_edu/experiment.py"],
])
def test_the_verifier_refuses_bad_arguments(words, capsys):
    with pytest.raises((SystemExit, AssertionError)):
        verify(words)


def test_a_rehearsal_goes_past_a_failing_step_and_writes_the_folder(tmp_path):
    # The interpreter the script is given fails the target-row step on purpose.
    python = tmp_path / "python"
    python.write_text("#!/usr/bin/env bash\n"
                      'for a in "$@"; do [ "$a" = target ] && { echo "planted failure" >&2; '
                      "exit 3; }; done\n"
                      f'exec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    result = run_script("--rehearse-on-cpu", "--out", str(tmp_path / "out"), python=str(python))
    assert result.returncode == 1, result.stdout + result.stderr
    folder = tmp_path / "out" / "gpu-rehearsal-cpu"
    files = sorted(p.name for p in folder.iterdir())
    assert all((folder / f).is_file() for f in files) and len(files) <= 8, files
    assert {"README.md", "gpu_check.log", "gpu_check.json", "results.csv",
            "results.json"} <= set(files)

    record = json.loads((folder / "gpu_check.json").read_text(encoding="utf-8"))
    status = {step["name"]: step["status"] for step in record["steps"]}
    assert status == {"environment": "ok", "setup": "ok", "pytest-gpu": "ok",
                      "bench-target": "failed (exit 3)", "bench-sweep-inference": "ok",
                      "train-smoke": "ok", "bench-sweep-training": "ok", "ddp-smoke": "ok"}
    assert record["target"] is None and record["pytest"]["tests"] >= 1
    assert [r["seed"] for r in record["training_smoke"]["runs"]] == [0, 0]
    assert record["ddp_smoke"]["environment"]["processes"] == 2

    sweep = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert {r["mode"] for r in sweep["rows"]} == {"inference", "training"}
    assert all(check["ok"] for check in sweep["checks"])

    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "| bench-target | failed (exit 3) |" in readme
    # Tutorial 03 shows what lies between these two headings of a results folder's README.
    headline = readme.split("## Headline ratios")[1].split("## Files")[0]
    assert "naive Conv2d + Conv1d takes" in headline and "| layer4 | 8 | 1 |" in headline
    log = (folder / "gpu_check.log").read_text(encoding="utf-8")
    assert "planted failure" in log
    for name in STEPS:
        assert f"] {name}: " in log
    for name in files:  # nothing names this machine's folders
        if name.endswith((".md", ".log", ".json", ".csv")):
            text = (folder / name).read_text(encoding="utf-8")
            assert str(ROOT) not in text, name
            assert not re.search(r"/gpu_check\.[A-Za-z0-9]{6}", text), name  # the work folder

    # Where plotly was missing the figures are drawn later, from results.json alone.
    for png in folder.glob("timings_*.png"):
        png.unlink()
    redrawn = run_script("--redraw", str(folder))
    assert redrawn.returncode == 0, redrawn.stdout + redrawn.stderr
    assert sorted(p.name for p in folder.glob("timings_*.png")) == [
        "timings_f8_b1_float32_inference.png", "timings_f8_b1_float32_training.png"]
    assert "- `timings_f8_b1_float32_training.png`" in (folder / "README.md").read_text()


def test_a_budget_too_small_skips_each_step_saying_why(tmp_path):
    result = run_script("--rehearse-on-cpu", "--budget", "30", "--out", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    record = json.loads((tmp_path / "gpu-rehearsal-cpu" / "gpu_check.json").read_text())
    skipped = {s["name"]: s["note"] for s in record["steps"] if s["status"] == "skipped"}
    assert list(skipped) == STEPS
    assert all(re.fullmatch(r"skipped: -?\d+ s left of the budget, needs \d+ s", note)
               for note in skipped.values()), skipped
    assert record["elapsed_s"] <= 30


def test_bad_options_are_refused_plainly():
    for args, message in ((["--budget", "soon"], "--budget must be whole seconds"),
                          (["--slug", "a/b"], "--slug may hold letters"),
                          (["--frobnicate"], "unknown argument '--frobnicate'")):
        result = run_script(*args)
        assert result.returncode == 2 and message in result.stderr, result.stderr
