"""Checking code by its behaviour: run the learner's function on drawn cases, compare.

A coding exercise's check draws its cases from its own seeded generator (the
learner's RNG is left alone), runs the learner's code and a reference on each, and
stops at the first case that differs with a message that names the case and how it
differs — a shape, an axis, the largest difference and where — never the reference's
output itself.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import torch

from .answers import Incorrect, describe

__all__ = ["AXES", "call", "draws", "same_number", "same_tensor"]

#: Axis names of a clip, for messages.
AXES = ("N", "C", "T", "H", "W")


def draws(seed: int) -> random.Random:
    """A generator of its own for a check's cases: the global streams are not touched."""
    return random.Random(seed)


def call(function: Callable, *args: Any, case: str, what: str = "your function") -> Any:
    """``function(*args)``; an exception becomes an `Incorrect` naming the case."""
    try:
        return function(*args)
    except Incorrect:
        raise
    except NotImplementedError:
        raise Incorrect(f"{case}: {what} raised NotImplementedError — replace the "
                        "`raise NotImplementedError()` of the skeleton by your code") from None
    except Exception as error:  # the learner's code: any failure is feedback
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Incorrect(f"{case}: {what} raised {type(error).__name__}"
                        + (f": {message[:300]}" if message else "")) from None


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat % size)
        flat //= size
    return tuple(reversed(out))


def same_tensor(got: Any, want: torch.Tensor, *, case: str, what: str, reference: str,
                atol: float = 1e-9, rtol: float = 1e-7, axes: tuple[str, ...] | None = None,
                exact: bool = False) -> None:
    """Raise `Incorrect` unless `got` is a tensor of `want`'s shape and values.

    The message names the learner's shape and the axis that differs, or the largest
    difference and the first index where it is out of tolerance — not `want`'s values.
    """
    if not isinstance(got, torch.Tensor):
        raise Incorrect(f"{case}: {what} is {describe(got)}, not a tensor")
    names = axes if axes is not None and len(axes) == want.dim() else None
    if got.dim() != want.dim():
        raise Incorrect(f"{case}: {what} has {got.dim()} dimensions (shape {tuple(got.shape)}); "
                        f"{reference} has {want.dim()}"
                        + (f", ({', '.join(names)})" if names else ""))
    if got.shape != want.shape:
        axis = next(i for i, (a, b) in enumerate(zip(got.shape, want.shape)) if a != b)
        label = f"axis {axis}" + (f" ({names[axis]})" if names else "")
        raise Incorrect(f"{case}: {what} has shape {tuple(got.shape)}, which differs from "
                        f"{reference}'s on {label}")
    if not got.is_floating_point() and want.is_floating_point():
        raise Incorrect(f"{case}: {what} holds {got.dtype} values; a float tensor is needed")
    got64, want64 = got.detach().to(torch.float64), want.detach().to(torch.float64)
    if not bool(torch.isfinite(got64).all()):
        bad = _index(int((~torch.isfinite(got64)).flatten().nonzero()[0]), tuple(got.shape))
        raise Incorrect(f"{case}: {what} holds NaN or inf, first at index {bad}")
    gap = (got64 - want64).abs()
    limit = 0.0 if exact else atol + rtol * want64.abs()
    wrong = gap > limit
    if bool(wrong.any()):
        first = _index(int(wrong.flatten().nonzero()[0]), tuple(got.shape))
        where = f"index {first}" + (f" ({', '.join(names)})" if names else "")
        share = float(wrong.float().mean())
        raise Incorrect(f"{case}: {what} differs from {reference}'s by up to "
                        f"{float(gap.max()):.3g}, first at {where}; {share:.0%} of the values "
                        "differ")


def same_number(got: Any, want: float, *, case: str, what: str, reference: str,
                rel: float = 1e-9, absolute: float = 1e-12) -> float:
    """Raise `Incorrect` unless `got` is a number within tolerance of `want`; the message
    says whether it is too large or too small, not what `want` is."""
    plain = got.item() if isinstance(got, torch.Tensor) and got.dim() == 0 else got
    if isinstance(plain, bool) or not isinstance(plain, (int, float)) and not hasattr(
            plain, "__float__"):
        raise Incorrect(f"{case}: {what} is {describe(got)}, not a number")
    value = float(plain)
    if not math.isfinite(value):
        raise Incorrect(f"{case}: {what} is {value!r}, not a finite number")
    if abs(value - want) > absolute + rel * abs(want):
        side = "larger" if value > want else "smaller"
        raise Incorrect(f"{case}: {what} is {value:.6g}, {side} than {reference}")
    return value
