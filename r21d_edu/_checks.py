"""Argument and input checks whose error messages teach.

Every check raises with a message that says what was expected, what came, and,
where there is one, what to do instead — so a learner who passes a stack of
frames or a (N, T, C, H, W) clip is told how to fix it instead of reading a
deep torch traceback. All modules of the package use these checks, so the same
mistake always gets the same message.
"""

from __future__ import annotations

import math
import numbers
import os
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

Triple = tuple[int, int, int]


def _zero_dim(value: object, kinds: str) -> bool:
    """Whether `value` is a 0-d torch tensor or NumPy array whose dtype kind is in `kinds`
    (``"iu"`` integers, ``"f"`` floats, ``"b"`` booleans): ``x.sum()``, ``t.shape[0]`` under
    tracing and ``np.argmax`` give such values where a plain number is meant."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 0 or value.is_complex():
            return False
        kind = ("b" if value.dtype == torch.bool else "f" if value.is_floating_point() else "i")
        return kind in kinds
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in kinds
    return False


def is_int(value: object) -> bool:
    """Whether `value` is integer-like: an int, a NumPy integer, or a 0-d integer tensor/array.

    bool is an int subclass, but ``kernel_size=True`` is a mistake, not a 1. Every
    integer argument of the package goes through here, so they all take the same things.
    """
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, numbers.Integral) or _zero_dim(value, "iu")


def _shown(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(value: object, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """Return `value` as an int, or raise if it is not an integer in [`minimum`, `maximum`]."""
    if not is_int(value):
        hint = ""
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            hint = f"; write {int(value)} (an int), not {value!r}"
        elif isinstance(value, str):
            hint = "; pass a number, not text"
        raise TypeError(f"{name} must be an integer, got {_shown(value)}{hint}")
    number = int(value)  # type: ignore[call-overload]
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum:,}, got {number:,}")
    return number


def check_bool(value: object, name: str) -> bool:
    """Return `value` if it is a bool, or raise: a string like ``"no"`` or ``"False"`` is truthy."""
    if isinstance(value, bool):
        return value
    # NumPy's bool (e.g. from a comparison) is not a bool subclass, but means one; so does
    # a 0-d bool tensor such as (x > 0).all().
    if isinstance(value, np.bool_) or _zero_dim(value, "b"):
        return bool(value)
    raise TypeError(
        f"{name} must be True or False, got {_shown(value)}; "
        f"a string such as {value!r} would count as True"
        if isinstance(value, str) else
        f"{name} must be True or False, got {_shown(value)}"
    )


def check_optional_bool(value: object, name: str) -> bool | None:
    """None (meaning "the default"), or a bool as `check_bool` takes it."""
    return None if value is None else check_bool(value, name)


def check_choice(value: object, name: str, allowed: Sequence[str], what: str = "") -> str:
    """Return `value` if it is one of the strings `allowed`, else say which ones are."""
    if not isinstance(value, str) or value not in allowed:
        near = ([a for a in allowed if a.lower() == value.lower()]
                if isinstance(value, str) else [])
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}{what}, got "
                         f"{value!r}{hint}")
    return value


#: The seeds torch's generators take: any integer in [-2**63, 2**64).
SEED_RANGE = (-(2**63), 2**64 - 1)


def check_seed(value: object, name: str = "seed") -> int:
    """Return `value` as an int seed for a `torch.Generator`, or raise plainly."""
    return check_int(value, name, minimum=SEED_RANGE[0], maximum=SEED_RANGE[1])


def check_index(value: object, size: int, what: str, owner: str) -> int:
    """Return `value` if it indexes one of `size` things, else raise a clear error."""
    # A very low minimum lets a negative index reach the clearer range message below.
    index = check_int(value, what, minimum=-(10**9))
    if not 0 <= index < size:
        raise IndexError(
            f"{what} {index} is out of range: {owner} has {size} "
            f"(valid: 0 to {size - 1})"
        )
    return index


def check_formula_m(
    m: int, in_channels: int, out_channels: int, kernel: Sequence[int], *, fix: str,
    who: str = "",
) -> int:
    """Return the paper's M for these sizes, or refuse M < 1 with the sizes and a way out.

    Small layers (few channels, a kernel of a few weights) can round the formula
    down to 0 intermediate channels, and a (2+1)D layer needs at least one.
    ``fix`` says what to do instead, e.g. ``"pass intermediate_channels=1 or more"``.
    """
    if m < 1:
        prefix = f"{who}: " if who else ""
        raise ValueError(
            f"{prefix}the paper's formula gives M = {m} intermediate channels for "
            f"{in_channels} -> {out_channels} channels with kernel {tuple(kernel)}; a (2+1)D "
            f"layer needs M >= 1, so {fix}"
        )
    return m


def check_stage_blocks(blocks: object) -> tuple[int, int, int, int]:
    """Blocks per stage of a 4-stage ResNet (2D or video), each a count >= 1."""
    if not isinstance(blocks, Sequence) or len(blocks) != 4:
        raise ValueError(f"blocks must list the number of blocks of the 4 stages, e.g. "
                         f"(2, 2, 2, 2), got {blocks!r}")
    return tuple(check_int(b, "blocks per stage", minimum=1) for b in blocks)  # type: ignore


def is_number(value: object) -> bool:
    """Whether `value` is a real number: int, float, a NumPy number or a 0-d real tensor/array
    (not a bool: ``margin=True`` is a mistake, not 1.0)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, numbers.Real) or _zero_dim(value, "iuf")


def check_number(
    value: object, name: str, *, minimum: float | None = None, maximum: float | None = None,
    above: float | None = None,
) -> float:
    """Return `value` as a float if it is a finite real number in range, else raise.

    ``minimum``/``maximum`` are inclusive bounds, ``above`` an exclusive lower bound
    (a period or a peak must be > 0). NaN and inf are refused: they pass every
    ``value < 0`` test and then spread through the arithmetic without a word.
    """
    if not is_number(value):
        hint = "; pass a number, not text" if isinstance(value, str) else ""
        raise TypeError(f"{name} must be a finite number, got {_shown(value)}{hint}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {number:g}")
    if above is not None and number <= above:
        raise ValueError(f"{name} must be > {above:g}, got {number:g}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}, got {number:g}")
    return number


def check_optional_number(value: object, name: str, **bounds: float) -> float | None:
    """None, or a finite number as `check_number` takes it."""
    return None if value is None else check_number(value, name, **bounds)


def check_finite(tensor: torch.Tensor, what: str, fix: str = "") -> torch.Tensor:
    """Refuse a floating-point tensor holding NaN or inf, saying how many and where from.

    A NaN in a clip or a batch of activations turns every statistic computed from it
    into NaN, and the result looks like a number until someone plots it.
    """
    if tensor.is_floating_point() and tensor.device.type != "meta":
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            kinds = " and ".join(k for k, m in (("NaN", tensor.isnan()), ("inf", tensor.isinf()))
                                 if bool(m.any()))
            raise ValueError(
                f"{what} holds {bad:,} of {tensor.numel():,} values that are {kinds}"
                + (f"; {fix}" if fix else "")
            )
    return tensor


@contextmanager
def rng_kept() -> Iterator[None]:
    """Leave the global random streams as they were: torch's (CPU and initialised CUDA
    devices), Python's `random` and NumPy's.

    For functions whose result does not depend on those streams but which draw from
    them along the way (building a layer initialises weights that are then overwritten;
    a training step draws output gradients): a notebook's seeded cells must give the
    same numbers whether or not such a function ran in between.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def check_shape(value: object, name: str = "input_shape", *, dims: int | None = None,
                example: str = "(1, 3, 16, 112, 112)") -> tuple[int, ...]:
    """Return a tensor shape (a sequence of integer sizes >= 1) as a tuple of ints, or raise.

    Takes tuples, lists, ``torch.Size``, NumPy arrays and entries that are NumPy ints or
    0-d tensors; a tensor itself is refused with the hint to pass ``x.shape``.
    """
    if isinstance(value, torch.Tensor) and value.dim() != 1:
        raise TypeError(f"{name} must be a shape such as {example}, got a tensor of shape "
                        f"{tuple(value.shape)}; pass x.shape, not the tensor itself")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, torch.Tensor)):
        raise TypeError(f"{name} must be a shape such as {example}, got {_shown(value)}")
    entries = tuple(value)
    if dims is not None and len(entries) != dims:
        raise ValueError(f"{name} must have {dims} entries such as {example}, got "
                         f"{len(entries)}: {entries!r}")
    return tuple(check_int(v, f"{name} entries", minimum=1) for v in entries)


def check_dtype(value: object, name: str = "dtype") -> torch.dtype:
    """Return `value` if it is a `torch.dtype`, or say how to write one."""
    if not isinstance(value, torch.dtype):
        hint = (f"; write torch.{value}" if isinstance(value, str)
                and isinstance(getattr(torch, value, None), torch.dtype) else "")
        raise TypeError(f"{name} must be a torch.dtype such as torch.float32, got "
                        f"{_shown(value)}{hint}")
    return value


def check_torch_device(value: object, name: str = "device") -> torch.device:
    """Return `value` as a `torch.device`, or raise plainly (torch lists 20 device types)."""
    try:
        return torch.device(value)  # type: ignore[arg-type]
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} must be a device such as 'cpu', 'cuda' or 'meta', got "
                         f"{_shown(value)}") from None


def as_triple(value: int | Sequence[int], name: str, *, minimum: int) -> Triple:
    """Expand an int or a 3-sequence into a (time, height, width) triple.

    Follows `nn.Conv3d`: an int means the same size along T, H and W.

    >>> as_triple(3, "kernel_size", minimum=1)
    (3, 3, 3)
    >>> as_triple((3, 1, 1), "kernel_size", minimum=1)
    (3, 1, 1)
    """
    if is_int(value):
        values = (value, value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 3:
            raise ValueError(
                f"{name} must be an int or a 3-tuple (t, h, w), got {tuple(value)!r} "
                f"with {len(value)} entries; a 2D size (h, w) becomes (1, h, w)"
            )
        values = tuple(value)
    else:
        raise TypeError(
            f"{name} must be an int or a 3-tuple (t, h, w) of ints, got {value!r} "
            f"({type(value).__name__})"
        )
    for axis, entry in zip(("t", "h", "w"), values):
        if not is_int(entry):
            raise TypeError(
                f"{name} must hold integers, got {entry!r} ({type(entry).__name__}) "
                f"for {axis} in {values!r}"
            )
        if entry < minimum:
            raise ValueError(
                f"{name} must be >= {minimum} along every axis, got {entry} for "
                f"{axis} in {tuple(values)!r}"
            )
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def check_clip(
    x: object,
    in_channels: int,
    kernel_size: Triple,
    padding: Triple,
    layer_name: str,
    dtype: torch.dtype | None = None,
) -> None:
    """Check that `x` is a float (N, C, T, H, W) clip a layer can convolve.

    Raises with a hint for the common mix-ups: a 4D stack of frames, a clip in
    (N, T, C, H, W) order, an integer tensor, a clip whose dtype differs from
    the layer's weights (`dtype`, when given), or an input smaller than the
    kernel after padding.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{layer_name} expects a torch.Tensor clip of shape (N, C, T, H, W), "
            f"got {type(x).__name__}"
        )
    shape = tuple(x.shape)
    if x.dim() == 4:
        raise ValueError(
            f"{layer_name} expects a 5D clip (N, C, T, H, W), got the 4D shape {shape}; "
            "for one clip stored as a stack of frames (T, C, H, W) use "
            "x.permute(1, 0, 2, 3).unsqueeze(0)"
        )
    if x.dim() != 5:
        raise ValueError(
            f"{layer_name} expects a 5D clip (N, C, T, H, W), got {x.dim()}D shape {shape}"
        )
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(
            f"{layer_name} expects a floating-point clip, got dtype {x.dtype}; "
            "convert video frames with x.float() / 255"
        )
    if dtype is not None and x.dtype != dtype and not _autocasting(x):
        weights, clip = (str(d).removeprefix("torch.") for d in (dtype, x.dtype))
        convert = "x.float()" if dtype == torch.float32 else f"x.to({dtype})"
        if x.is_complex():
            raise TypeError(
                f"{layer_name} holds {weights} weights but got a {clip} clip; a video clip is "
                f"real: take x.real or x.abs() (then {convert})"
            )
        raise TypeError(
            f"{layer_name} holds {weights} weights but got a {clip} clip; convert the clip "
            f"with {convert}, or the layer with layer.to({x.dtype})"
        )
    channels = shape[1]
    if channels != in_channels:
        if shape[2] == in_channels:
            raise ValueError(
                f"{layer_name} expects {in_channels} channels in dim 1 of (N, C, T, H, W), "
                f"got shape {shape}: it looks like (N, T, C, H, W); use "
                "x.permute(0, 2, 1, 3, 4)"
            )
        raise ValueError(
            f"{layer_name} expects {in_channels} input channels, got a clip with "
            f"{channels} channels (shape {shape})"
        )
    for axis, size, k, p in zip(("T", "H", "W"), shape[2:], kernel_size, padding):
        if size + 2 * p < k:
            raise ValueError(
                f"{layer_name}: the input is smaller than the kernel along {axis}: "
                f"{size} + 2*{p} padding = {size + 2 * p} < kernel {k} "
                f"(clip shape {shape}); use a larger input or more padding"
            )


def _autocasting(x: torch.Tensor) -> bool:
    """Whether torch.autocast is on for `x`'s device: it casts clip and weights itself."""
    try:
        return torch.is_autocast_enabled(x.device.type)
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_enabled()


def available_memory() -> int | None:
    """Bytes of memory this machine can still hand out (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def check_fits_in_memory(needed: int, what: str, fix: str) -> None:
    """Refuse, before allocating, a request whose size is known and cannot fit.

    Args:
        needed: bytes the request will allocate.
        what: what is being allocated, for the message (``"the task's 3 splits"``).
        fix: what to do instead.
    """
    available = available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"{what} would need {needed / 2**30:,.1f} GiB, but this machine has "
            f"{available / 2**30:,.1f} GiB available; {fix}"
        )
