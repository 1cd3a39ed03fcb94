"""Leaving the process as we found it: threads, cuDNN, TF32, a module's BatchNorm
statistics and gradients restored after a run; free memory, and out-of-memory errors.

Part of `r21d_edu.timing`; import the public names from there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .device import Mode

# --------------------------------------------------------------------------
# Leaving the process as we found it
# --------------------------------------------------------------------------


@contextmanager
def module_state_kept(module: nn.Module, mode: Mode) -> Iterator[None]:
    """Put the module in eval/train mode and restore modes, BN stats and grads after."""
    modes = [(m, m.training) for m in module.modules()]
    buffers = [(b, b.detach().clone()) for b in module.buffers()]
    grads = [(p, p.grad) for p in module.parameters()]
    module.train(mode == "training")
    try:
        yield
    finally:
        for m, was_training in modes:
            m.training = was_training
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for p, g in grads:
            p.grad = g


@contextmanager
def global_state_kept(
    dev: torch.device, threads: int | None, cudnn_benchmark: bool, tf32: bool | None
) -> Iterator[None]:
    """Set threads and cuDNN flags for a run; restore them whatever happens."""
    saved = (torch.get_num_threads(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        if dev.type == "cuda":
            # Autotuning picks the fastest cuDNN algorithm per shape; the warm-up pays for it.
            torch.backends.cudnn.benchmark = cudnn_benchmark
            if tf32 is not None:
                torch.backends.cudnn.allow_tf32 = tf32
                torch.backends.cuda.matmul.allow_tf32 = tf32
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.backends.cudnn.benchmark = saved[1]
        torch.backends.cudnn.allow_tf32 = saved[2]
        torch.backends.cuda.matmul.allow_tf32 = saved[3]


def available_bytes(dev: torch.device) -> int | None:
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        # Blocks PyTorch has cached but not handed out are free for us too.
        return free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


