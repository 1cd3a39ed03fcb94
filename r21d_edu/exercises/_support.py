"""Small helpers the checks of `t01` … `t09` share."""

from __future__ import annotations

from typing import Any

from .answers import Incorrect

__all__ = ["as_int_tuple", "expect", "side"]


def expect(condition: bool, message: str) -> None:
    """Raise `Incorrect` with `message` unless `condition` holds."""
    if not condition:
        raise Incorrect(message)


def as_int_tuple(answer: Any, length: int, what: str) -> tuple[int, ...]:
    """`answer` as a tuple of `length` ints (a list, tuple or torch.Size of ints)."""
    try:
        values = tuple(int(v) for v in answer)
    except (TypeError, ValueError):
        raise Incorrect(f"hand in {what} as a tuple of {length} ints, got {answer!r}") from None
    expect(len(values) == length and all(int(v) == v for v in answer),
           f"hand in {what} as a tuple of {length} ints, got {answer!r}")
    return values


def side(got: float, want: float) -> str:
    """"too large" or "too small": which way a wrong number is off, without the right one."""
    return "too large" if got > want else "too small"
