"""torchrun with 2 CPU processes computes what one process computes on the same global batch.

Each of the 2 processes takes every other clip of the same shuffled order, so
the two local batches of 8 of a step are exactly the global batch of 16 one
process takes, and DDP averages the gradients. BatchNorm is the one place the
two differ: each process normalizes its own half of the batch, and PyTorch's
SyncBatchNorm runs only on GPUs. The equivalence is therefore tested with
BN in eval mode (``--bn frozen`` for the entry point), so no statistic depends
on the batch: then the averaged gradients agree to float64 rounding. After a
few AdamW steps the parameters agree only to about one learning rate: Adam
divides each gradient by its own running size, so a near-zero gradient whose
last bits differ with the order of the sums can step the other way.
The default ``--bn batch`` is run too, to show it trains and writes once.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from r21d_edu.training import load_checkpoint

HELPER = Path(__file__).parent / "helpers" / "ddp_gradients.py"

RUN = ["--models", "r3d", "--seeds", "0", "--epochs", "1", "--train", "64", "--val", "16",
       "--test", "16", "--batch-size", "16", "--threads", "1", "--no-progress", "--no-figure"]


def _run(out, processes, *extra):
    command = [*_launch(processes), "-m", "r21d_edu.experiment"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*command, *RUN, *extra, "--out", str(out)], capture_output=True,
                          text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def _launch(processes):
    if processes == 1:
        return [sys.executable]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}"]


def test_two_processes_average_the_same_gradients_as_one_on_the_same_global_batch(tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    for processes in (1, 2):
        done = subprocess.run([*_launch(processes), str(HELPER), str(tmp_path / f"{processes}.pt")],
                              capture_output=True, text=True, timeout=300, env=environment)
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = (torch.load(tmp_path / f"{n}.pt", weights_only=True) for n in (1, 2))
    assert len(one) == len(two) == 3
    for step_one, step_two in zip(one, two):
        for name in step_one:
            torch.testing.assert_close(step_two[name], step_one[name], rtol=1e-10, atol=1e-12,
                                       msg=name)


@pytest.fixture(scope="module")
def frozen_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    return {n: (root / f"p{n}", _run(root / f"p{n}", n, "--bn", "frozen")) for n in (1, 2)}


def test_after_a_few_adamw_steps_parameters_agree_to_a_few_percent(frozen_runs):
    states = [load_checkpoint(out / "checkpoints" / "r3d-seed0.pt")["model"]
              for out, _ in frozen_runs.values()]
    one, two = states
    assert one.keys() == two.keys()
    worst = max(float((two[k] - one[k]).norm() / one[k].norm())
                for k in one if one[k].is_floating_point() and one[k].norm() > 0)
    # Adam's sign-like first steps turn last-bit differences into a few tenths
    # of a percent; another split of the same clips into batches (batch 32
    # instead of 16) moves some tensors by more than 100 %.
    assert worst < 0.05, worst


def test_two_processes_report_the_same_losses_and_scores(frozen_runs):
    (_, one), (_, two) = frozen_runs.values()
    assert two["environment"]["processes"] == 2 and one["environment"]["processes"] == 1
    assert two["history"][0]["train_loss"] == pytest.approx(one["history"][0]["train_loss"],
                                                            rel=1e-4)
    for key in ("val_accuracy", "test_accuracy", "train_error"):
        assert two["runs"][0][key] == pytest.approx(one["runs"][0][key], abs=1 / 64), key


def test_per_process_batchnorm_trains_and_rank_zero_alone_writes(tmp_path):
    out = tmp_path / "batch"
    results = _run(out, 2)
    assert len(results["runs"]) == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints", "history.csv", "results.csv", "results.json", "summary.md"]
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["r3d-seed0.pt"]
