"""The direction task needs time: the same model and budget learn it from clips, not from one
frame, and from shuffled frames only as far as the axis of motion allows.

R2D (its stem sees all 8 frames at once) is trained with the experiment's
protocol — the default `DirectionTask` and `TrainConfig`, seed 0, one thread —
on three views of the same clips. Validation accuracy on 1,000 clips has a
standard error of at most 1.6 points, so each bound sits 4 standard errors
beyond what the view allows:

- the middle frame repeated: chance, 12.5 % (the shape's position on the torus
  is independent of the class), whatever the model memorizes;
- frames shuffled on every visit: at most 50 % — the set of positions lies on
  the axis of motion, which leaves 2 of the 8 directions, but not the sign
  (this machine: 22 % after the protocol's 8 epochs, still climbing);
- the clips themselves: the experiment's R2D runs reach 55-97 % depending on
  the seed (this machine, seed 0: 89 %); at least 40 % and 15 points above the
  shuffled view are asserted, since how soon a run leaves its plateau depends
  on the machine's float rounding.
"""

import pytest
import torch

from r21d_edu.family import family_model
from r21d_edu.tasks import DirectionTask, make_splits
from r21d_edu.training import TrainConfig, train


@pytest.fixture(scope="module")
def splits():
    return make_splits(DirectionTask(test=8))


def _val_accuracy(splits, view):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = family_model("r2d")
        result = train(model, splits["train"].with_view(view, seed=1),
                       splits["val"].with_view(view, seed=2), TrainConfig(), seed=0,
                       progress=False)
    finally:
        torch.set_num_threads(threads)
    return result.history[-1].val_accuracy


@pytest.fixture(scope="module")
def accuracy(splits):
    return {view: _val_accuracy(splits, view) for view in ("clip", "single_frame", "shuffled")}


def test_a_model_that_sees_one_frame_stays_at_chance(accuracy):
    assert accuracy["single_frame"] <= 0.125 + 4 * 0.0105


def test_a_model_that_sees_shuffled_frames_cannot_tell_a_direction_from_its_opposite(accuracy):
    assert accuracy["shuffled"] <= 0.5 + 4 * 0.0158


def test_a_model_that_sees_the_clips_in_order_learns_the_direction_beyond_both(accuracy):
    assert accuracy["clip"] >= 0.40
    assert accuracy["clip"] >= accuracy["shuffled"] + 0.15
