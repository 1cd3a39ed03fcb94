"""The training loop: repeatable, resumable exactly, atomic checkpoints, clear errors."""

from pathlib import Path

import pytest
import torch

from r21d_edu.family import family_model
from r21d_edu.tasks import DirectionTask, make_splits
from r21d_edu.training import (
    CheckpointError,
    TrainConfig,
    evaluate,
    load_checkpoint,
    save_checkpoint,
    train,
)

TINY = {"widths": (4, 8, 8, 8)}
CONFIG = TrainConfig(epochs=2, batch_size=16)


@pytest.fixture(scope="module")
def splits():
    return make_splits(DirectionTask(train=64, val=32, test=32))


def _train(splits, seed=0, config=CONFIG, name="r3d", **kwargs):
    torch.manual_seed(seed)
    model = family_model(name, **TINY)
    return train(model, splits["train"], splits["val"], config, seed=seed, progress=False,
                 **kwargs)


def _same_parameters(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values()))


def test_the_same_seed_trains_the_same_model_bit_for_bit(splits):
    first, second = _train(splits), _train(splits)
    assert _same_parameters(first.model, second.model)
    assert [r.train_loss for r in first.history] == [r.train_loss for r in second.history]


def test_another_seed_trains_another_model(splits):
    assert not _same_parameters(_train(splits, seed=0).model, _train(splits, seed=1).model)


def test_history_has_one_record_per_epoch_and_the_schedule_ends_at_zero(splits):
    result = _train(splits)
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.history[-1].lr == pytest.approx(0.0, abs=1e-12)
    assert 0 <= result.history[-1].val_accuracy <= 1
    assert result.clips_per_second > 0


def test_resume_after_an_interrupt_continues_exactly(splits, tmp_path):
    straight = _train(splits, checkpoint=tmp_path / "straight.pt")
    checkpoint = tmp_path / "interrupted.pt"
    # Train one epoch of a two-epoch run, as if interrupted, then resume.
    with pytest.raises(KeyboardInterrupt):
        _train(splits, checkpoint=checkpoint, on_epoch=_stop_after_first_epoch)
    assert load_checkpoint(checkpoint)["epoch"] == 1
    resumed = _train(splits, checkpoint=checkpoint, resume=True)
    assert _same_parameters(straight.model, resumed.model)
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in straight.history]


def _stop_after_first_epoch(record):
    if record.epoch == 1:
        raise KeyboardInterrupt


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    save_checkpoint(path, {"model": {}, "optimizer": {}, "epoch": 1})

    real_save = torch.save

    def broken_save(obj, f):
        if not isinstance(f, (str, Path)):  # the state's bytes, in memory
            return real_save(obj, f)
        Path(f).write_bytes(b"half a checkpoint")  # the file on disk: the disk fills up
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {}, "optimizer": {}, "epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1


def test_a_corrupt_checkpoint_gets_a_clear_error_on_resume(splits, tmp_path):
    checkpoint = tmp_path / "run.pt"
    checkpoint.write_bytes(b"\x00not a checkpoint at all")
    with pytest.raises(CheckpointError, match="cannot be read .* Delete it to restart"):
        _train(splits, checkpoint=checkpoint, resume=True)
    torch.save({"something": "else"}, checkpoint)
    with pytest.raises(CheckpointError, match="is not a training checkpoint"):
        _train(splits, checkpoint=checkpoint, resume=True)


def test_a_flipped_byte_in_a_checkpoint_is_caught_by_its_digest(splits, tmp_path):
    # torch.load reads such a file without complaint; the envelope's SHA-256 does not.
    path = tmp_path / "run.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(4096)}, "optimizer": {}, "epoch": 1})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 digest does not match|cannot be read"):
        load_checkpoint(path)


def test_resume_refuses_a_checkpoint_of_other_settings_and_names_them(splits, tmp_path):
    checkpoint = tmp_path / "run.pt"
    _train(splits, checkpoint=checkpoint)
    other = TrainConfig(epochs=2, batch_size=16, lr=0.01)
    with pytest.raises(CheckpointError, match=r"other settings \(config.lr: 0.002 there, 0.01 "
                                              r"now; seed: 0 there, 1 now\)"):
        _train(splits, seed=1, config=other, checkpoint=checkpoint, resume=True)
    torch.manual_seed(0)
    with pytest.raises(CheckpointError, match=r"train.view: 'clip' there, 'single_frame' now"):
        train(family_model("r3d", **TINY), splits["train"].with_view("single_frame"),
              splits["val"], CONFIG, checkpoint=checkpoint, resume=True, progress=False)
    assert load_checkpoint(checkpoint)["epoch"] == 2  # refused, not overwritten


def test_train_leaves_the_deterministic_mode_as_it_found_it(splits):
    before = torch.are_deterministic_algorithms_enabled()
    _train(splits)
    assert torch.are_deterministic_algorithms_enabled() == before


def test_a_checkpoint_of_another_model_is_refused_on_resume(splits, tmp_path):
    checkpoint = tmp_path / "run.pt"
    # The same settings, seed and clips, so only the model differs.
    _train(splits, name="f-r2d", checkpoint=checkpoint)
    with pytest.raises(CheckpointError, match="holds another model or optimizer"):
        _train(splits, name="r3d", checkpoint=checkpoint, resume=True)


def test_evaluate_scores_the_whole_split_and_restores_training_mode(splits):
    torch.manual_seed(0)
    model = family_model("r3d", **TINY).train()
    accuracy, loss = evaluate(model, splits["val"])
    assert model.training
    assert accuracy * len(splits["val"]) == pytest.approx(round(accuracy * 32))
    assert loss > 0


def test_a_split_smaller_than_a_batch_is_refused(splits):
    with pytest.raises(ValueError, match="the training split has 64 clips, fewer than one "
                                         "batch of 128"):
        _train(splits, config=TrainConfig(epochs=1, batch_size=128))


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"lr": 0}, "lr must be > 0"),
    ({"lr": float("nan")}, "lr must be a finite number >= 0"),
    ({"bn": "group"}, "bn must be one of ('batch', 'sync', 'frozen')"),
    ({"bn": "sync"}, "bn='sync' needs CUDA"),
    ({"device": "tpu"}, "device must be 'cpu' or 'cuda'"),
])
def test_bad_settings_say_what_was_expected(kwargs, message):
    with pytest.raises(ValueError) as error:
        TrainConfig(**kwargs)
    assert message in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine "
                                                      "without CUDA")
def test_asking_for_cuda_without_a_gpu_says_so():
    with pytest.raises(ValueError, match="torch.cuda.is_available\\(\\) is False"):
        TrainConfig(device="cuda")
