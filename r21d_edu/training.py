"""Train one model on one split, in plain PyTorch: the loop, checkpoints, and scaling out.

Read top to bottom:

1. `TrainConfig` — every setting of a run (optimizer, schedule, batch, device).
2. `Distributed` — who this process is under ``torchrun`` (rank, world size);
   one process is the world of size 1, so the same code runs both ways.
3. `evaluate` — accuracy and loss on a split, in eval mode.
4. `save_checkpoint` / `load_checkpoint` — atomic writes, a SHA-256 digest
   checked on every read (``torch.load`` itself does not notice a flipped byte).
5. `train` — the loop: AdamW, a linear warm-up then cosine decay, a tqdm bar
   with the running loss and error, an evaluation every epoch, and an atomic
   checkpoint after every epoch from which ``resume`` continues exactly — and
   only a run of the same settings, seed and clips.

Under DistributedDataParallel each of the W processes takes every W-th clip of
the same shuffled order (`DistributedSampler`), so the W local batches of a
step together are exactly the global batch one process would take, and DDP
averages the gradients. What still differs is BatchNorm: each process
normalizes with its own half of the batch (``bn="batch"``, PyTorch's
default). ``bn="sync"`` shares the statistics (`nn.SyncBatchNorm`, CUDA
only), and ``bn="frozen"`` keeps every BN in eval mode so no statistic depends
on the batch — the setting in which W processes compute what one computes,
up to the order of floating-point sums (the tests check this).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DistributedSampler

from ._checks import check_bool, check_int
from .results_folder import differences
from .tasks import MotionDirections

__all__ = [
    "BN_MODES",
    "CheckpointError",
    "Distributed",
    "EpochRecord",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_checkpoint",
    "epoch_batches",
    "save_checkpoint",
    "split_fingerprint",
    "train",
]

BN_MODES = ("batch", "sync", "frozen")


# --------------------------------------------------------------------------
# 1. Settings
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one training run; the defaults are the experiment's protocol.

    Fields:
        epochs: passes over the training split.
        batch_size: the *global* batch: split evenly over the processes.
        lr: peak learning rate of AdamW, reached after the warm-up.
        weight_decay: AdamW's decoupled weight decay.
        warmup_epochs: linear warm-up from lr/100 to lr, then cosine decay to 0.
        device: ``"cpu"`` or ``"cuda"`` (then with bf16 autocast).
        bn: ``"batch"`` (statistics of each process's batch), ``"sync"``
            (shared across processes; CUDA only) or ``"frozen"`` (eval mode).
        deterministic: ask PyTorch for deterministic algorithms (CPU runs are
            then bitwise repeatable for a fixed number of threads).
    """

    epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    device: str = "cpu"
    bn: str = "batch"
    deterministic: bool = True

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=1)
        for name in ("lr", "weight_decay", "warmup_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.lr == 0:
            raise ValueError("lr must be > 0, got 0: nothing would train")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for, but torch.cuda.is_available() is "
                             "False on this machine; use device='cpu'")
        if self.bn not in BN_MODES:
            raise ValueError(f"bn must be one of {BN_MODES}, got {self.bn!r}")
        check_bool(self.deterministic, "deterministic")
        if self.bn == "sync" and self.device != "cuda":
            raise ValueError("bn='sync' needs CUDA: PyTorch's SyncBatchNorm runs on GPUs only. "
                             "On CPU use bn='batch' (per-process statistics) or 'frozen'")

    def to_dict(self) -> dict:
        """Plain values, for results files."""
        return asdict(self)


# --------------------------------------------------------------------------
# 2. Who am I? One process, or one of many under torchrun
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Distributed:
    """This process's place in a (possibly one-process) distributed run.

    ``torchrun`` sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is
    rank 0 of 1 and nothing distributed is started.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """True when more than one process trains together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that prints, writes results and checkpoints."""
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: str = "cpu") -> Distributed:
        """Join the process group torchrun prepared (gloo on CPU, NCCL on CUDA)."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            torch.cuda.set_device(local_rank)
        return cls(rank, world_size, local_rank)

    def sum(self, *values: float) -> list[float]:
        """Add numbers over all processes (counts of correct clips, losses)."""
        if not self.active:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group; without it gloo's threads can abort the process at exit."""
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


# --------------------------------------------------------------------------
# 3. Evaluation
# --------------------------------------------------------------------------


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def evaluate(model: nn.Module, split: MotionDirections, batch_size: int = 256,
             world: Distributed | None = None) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of `model` on `split`, in eval mode.

    Under torchrun each process scores every W-th clip and the counts are
    added, so the result is the whole split's. The model's training mode is
    restored afterwards.

    Shape:
        - the split's clips: (N, C, T, H, W)

    Returns:
        ``(accuracy, loss)``, accuracy in [0, 1].
    """
    world = world or Distributed()
    module = model.module if isinstance(model, DistributedDataParallel) else model
    device = _device_of(module)
    was_training = module.training
    module.eval()
    correct = loss_sum = 0.0
    indices = torch.arange(world.rank, len(split), world.world_size)
    for chunk in indices.split(batch_size):
        clips, labels = split.batch(chunk)
        clips, labels = clips.to(device), labels.to(device)
        with _autocast(device.type):
            logits = module(clips)
        loss_sum += float(nn.functional.cross_entropy(logits.float(), labels, reduction="sum"))
        correct += float((logits.argmax(1) == labels).sum())
    module.train(was_training)
    correct, loss_sum = world.sum(correct, loss_sum)
    return correct / len(split), loss_sum / len(split)


def _autocast(device_type: str):
    # bf16 on CUDA: tensor cores, and no loss scaling needed (bf16 keeps fp32's range).
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=device_type == "cuda")


# --------------------------------------------------------------------------
# 4. Checkpoints: written atomically, verified by a digest, read with weights_only=True
# --------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not belong to this run."""


#: The envelope's format tag: a checkpoint is the state's bytes and their SHA-256.
CHECKPOINT_FORMAT = "r21d_edu.training.checkpoint/2"


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` to `path` atomically: a crash mid-write leaves the old file intact.

    The state is serialized with `torch.save`, and the file holds those bytes
    with their SHA-256 (`load_checkpoint` checks it: ``torch.load`` reads a file
    with a flipped byte in a tensor without complaint). The bytes go to a
    temporary file beside `path`, which then replaces it in one `os.replace`
    (atomic on POSIX and Windows).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    envelope = {"format": CHECKPOINT_FORMAT, "sha256": hashlib.sha256(payload).hexdigest(),
                "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8)}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(envelope, temporary)
    os.replace(temporary, path)


def _unreadable(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(
        f"the checkpoint {path} cannot be read ({reason}); it is damaged or not a checkpoint "
        "of r21d_edu.training. Delete it to restart that run from its first epoch")


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint written by `save_checkpoint`, or say clearly why it can't be.

    Raises:
        CheckpointError: the file is truncated, corrupt (its digest does not
            match), or not a checkpoint.
    """
    path = Path(path)
    try:
        envelope = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for damaged files
        detail = str(error).splitlines()[0] if str(error) else "no detail"
        raise _unreadable(path, f"{type(error).__name__}: {detail}") from error
    if not isinstance(envelope, dict) or envelope.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a training checkpoint of this version (expected "
                              f"the format {CHECKPOINT_FORMAT!r}); delete it to restart the run")
    payload = envelope.get("payload")
    if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8:
        raise _unreadable(path, "no payload")
    data = payload.numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != envelope.get("sha256"):
        raise _unreadable(path, "its SHA-256 digest does not match its contents")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:
        raise _unreadable(path, f"{type(error).__name__}") from error
    if not isinstance(state, dict) or not {"model", "optimizer", "epoch"} <= set(state):
        raise CheckpointError(f"{path} is not a training checkpoint (expected a dict with "
                              "'model', 'optimizer' and 'epoch'); delete it to restart the run")
    return state


def split_fingerprint(split: MotionDirections) -> dict:
    """What identifies a training split for resume: its size, view and a digest of its clips."""
    clips = getattr(split, "clips", None)
    labels = getattr(split, "labels", None)
    digest = hashlib.sha256()
    for tensor in (clips, labels):
        if isinstance(tensor, torch.Tensor):
            digest.update(tensor.contiguous().numpy().tobytes())
    return {"clips": len(split), "view": getattr(split, "view", None),
            "view_seed": getattr(split, "seed", None), "sha256": digest.hexdigest()[:16]}


def _check_same_run(path: Path, state: dict, expected: dict) -> None:
    """Refuse to continue a checkpoint written under other settings, naming each difference."""
    saved = state.get("run")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} does not say which settings it was written with; delete "
                              "it to restart the run")
    changed = differences(saved, expected)
    if changed:
        raise CheckpointError(
            f"{path} was written by a run with other settings ({'; '.join(changed)}); "
            "resume only continues the same run. Restore those settings, or delete the "
            "checkpoint (or use another --out) to start afresh")


# --------------------------------------------------------------------------
# 5. The loop
# --------------------------------------------------------------------------


@dataclass
class EpochRecord:
    """What one epoch did: the numbers a training curve plots."""

    epoch: int
    train_loss: float
    train_error: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float

    @property
    def val_error(self) -> float:
        return 1.0 - self.val_accuracy


@dataclass
class TrainResult:
    """A finished run: the model and its per-epoch history."""

    model: nn.Module
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0
    clips_per_second: float = 0.0


def _schedule(optimizer: torch.optim.Optimizer, config: TrainConfig,
              steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    total = config.epochs * steps_per_epoch
    warmup = min(round(config.warmup_epochs * steps_per_epoch), total - 1)

    def factor(step: int) -> float:
        if step < warmup:
            return 0.01 + 0.99 * step / warmup
        progress = (step - warmup) / max(total - warmup, 1)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def epoch_batches(size: int, batch_size: int, seed: int, epoch: int,
                  world: Distributed | None = None) -> list[list[int]]:
    """This process's batches of one epoch: indices into a split of `size` clips.

    The order is one seeded shuffle per epoch, the same on every process;
    process r of W takes every W-th index from position r, so step i's W local
    batches of ``batch_size / W`` together hold exactly the indices that one
    process's step i holds with ``batch_size``.
    """
    world = world or Distributed()
    sampler = DistributedSampler(range(size), num_replicas=world.world_size, rank=world.rank,
                                 shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(BatchSampler(sampler, batch_size // world.world_size, drop_last=False))


def _freeze_batch_norm(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _progress(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm  # in Jupyter an ipywidgets bar, in a terminal text

    return tqdm(total=total, desc=description, unit="clip", disable=not enabled, leave=True,
                dynamic_ncols=True)


def train(
    model: nn.Module,
    train_split: MotionDirections,
    val_split: MotionDirections,
    config: TrainConfig | None = None,
    *,
    seed: int = 0,
    world: Distributed | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    description: str = "training",
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train `model` on `train_split`, evaluating on `val_split` after every epoch.

    Args:
        model: any classifier of clips, e.g. `r21d_edu.family.family_model`.
        train_split, val_split: `MotionDirections` (or anything with ``batch``
            and ``len``).
        config: the settings; default `TrainConfig()`.
        seed: the batch order's seed (set the initialization's seed with
            `torch.manual_seed` before building the model).
        world: this process's place under torchrun; default: from the
            environment (one process when torchrun is not used).
        checkpoint: where to write the state after every epoch (rank 0 only).
        resume: continue from `checkpoint` if it exists: the batch order, the
            shuffled view's stream, the schedule and the optimizer continue
            exactly where they stopped. A checkpoint of other settings, another
            seed or other clips is refused, naming what differs.
        progress: show a tqdm bar (rank 0 only).
        description: the bar's label.
        on_epoch: called with each epoch's `EpochRecord` (rank 0 only).
        on_progress: called with the number of clips each step trained on
            (all processes together), and once with the clips of the epochs a
            resumed checkpoint had finished: one bar over many runs.

    Shape:
        - clips: (N, C, T, H, W), labels: (N,)

    Returns:
        `TrainResult` with the trained model (unwrapped from DDP) and its history.

    PyTorch's deterministic-algorithms mode is switched on for the run (CPU,
    ``config.deterministic``) and set back to what it was afterwards.
    """
    config = config or TrainConfig()
    world = world or Distributed.from_environment(config.device)
    if config.batch_size % world.world_size:
        raise ValueError(f"batch_size {config.batch_size} must divide evenly over "
                         f"{world.world_size} processes (the global batch is split)")
    if len(train_split) < config.batch_size:
        raise ValueError(f"the training split has {len(train_split)} clips, fewer than one "
                         f"batch of {config.batch_size}; use more clips or a smaller batch")
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    warn_only_before = torch.is_deterministic_algorithms_warn_only_enabled()
    if config.deterministic and config.device == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        return _train(model, train_split, val_split, config, seed, world, checkpoint, resume,
                      progress, description, on_epoch, on_progress)
    finally:
        torch.use_deterministic_algorithms(deterministic_before, warn_only=warn_only_before)


def _train(model, train_split, val_split, config, seed, world, checkpoint, resume, progress,
           description, on_epoch, on_progress) -> TrainResult:
    device = torch.device(config.device, world.local_rank if config.device == "cuda" else None)
    model = model.to(device)
    if config.bn == "sync":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    network = DistributedDataParallel(model) if world.active else model

    steps_per_epoch = len(epoch_batches(len(train_split), config.batch_size, seed, 0, world))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = _schedule(optimizer, config, steps_per_epoch)
    # What a checkpoint must match to be continued by this call.
    run = {"config": config.to_dict(), "seed": seed, "processes": world.world_size,
           "train": split_fingerprint(train_split), "val": split_fingerprint(val_split)}

    result = TrainResult(model)
    first_epoch = 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint)
        _check_same_run(Path(checkpoint), state, run)
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(f"{checkpoint} holds another model or optimizer than this "
                                  f"run's ({error}); delete it or use another --out") from error
        first_epoch = int(state["epoch"])
        result.history = [EpochRecord(**record) for record in state.get("history", [])]
        result.train_seconds = float(state.get("train_seconds", 0.0))
        if "shuffler" in state and hasattr(train_split, "_shuffler"):
            train_split._shuffler.set_state(state["shuffler"])
        if on_progress is not None and first_epoch:
            on_progress(first_epoch * len(train_split))

    for epoch in range(first_epoch, config.epochs):
        network.train()
        if config.bn == "frozen":
            _freeze_batch_norm(model)
        start = time.perf_counter()
        loss_sum = wrong = seen = 0.0
        bar = _progress(len(train_split), f"{description} · epoch {epoch + 1}/{config.epochs}",
                        progress and world.is_main)
        for indices in epoch_batches(len(train_split), config.batch_size, seed, epoch, world):
            clips, labels = train_split.batch(indices)
            clips, labels = clips.to(device), labels.to(device)
            with _autocast(device.type):
                logits = network(clips)
            loss = nn.functional.cross_entropy(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach()) * len(labels)
            wrong += float((logits.argmax(1) != labels).sum())
            seen += len(labels)
            bar.update(len(labels) * world.world_size)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", error=f"{wrong / seen:.1%}",
                            refresh=False)
            if on_progress is not None:
                on_progress(len(labels) * world.world_size)
        loss_sum, wrong, seen = world.sum(loss_sum, wrong, seen)
        seconds = time.perf_counter() - start
        result.train_seconds += seconds
        val_accuracy, val_loss = evaluate(model, val_split, world=world)
        record = EpochRecord(epoch + 1, loss_sum / seen, wrong / seen, val_loss, val_accuracy,
                             scheduler.get_last_lr()[0], seconds)
        result.history.append(record)
        bar.set_postfix(loss=f"{record.train_loss:.3f}", error=f"{record.train_error:.1%}",
                        val_acc=f"{val_accuracy:.1%}")
        bar.close()
        if world.is_main:
            if checkpoint is not None:
                save_checkpoint(checkpoint, {
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": epoch + 1,
                    "history": [asdict(r) for r in result.history],
                    "train_seconds": result.train_seconds,
                    "shuffler": getattr(train_split, "_shuffler", torch.Generator()).get_state(),
                    "run": run,
                })
            if on_epoch is not None:
                on_epoch(record)
        world.barrier()
    # Over every epoch of the run, the resumed ones included.
    epoch_seconds = sum(r.seconds for r in result.history)
    result.clips_per_second = len(train_split) * len(result.history) / max(epoch_seconds, 1e-9)
    return result
