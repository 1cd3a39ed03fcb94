"""Seed-to-seed statistics: means with their spread, and an interval for each difference.

A training result is one draw from a distribution over seeds. Three seeds
give a mean and a sample standard deviation, and the difference between two
models run with the same seeds is judged *paired*: the two runs of a seed
share the batch order, so differing per seed removes part of the noise. The
95 % interval of the mean difference uses Student's t with n - 1 degrees of
freedom; a difference "exceeds seed-to-seed noise" only when that interval
excludes 0. Pure Python, no SciPy: the t quantiles are tabulated below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Difference", "Spread", "paired_difference", "spread", "t_quantile_975"]

# Two-sided 95 % quantiles of Student's t (the 0.975 quantile), df = 1 … 30.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (1.960 as df → ∞).

    Example::

        >>> t_quantile_975(2)
        4.303
    """
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df!r}")
    return _T975[df - 1] if df <= len(_T975) else 1.960


def _values(values: Sequence[float], name: str) -> list[float]:
    values = [float(v) for v in values]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} needs one or more finite numbers, got {values!r}")
    return values


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation of a metric over seeds."""

    mean: float
    std: float
    n: int

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"mean ± std"`` — percentages by default."""
        return f"{self.mean * scale:.{digits}f} ± {self.std * scale:.{digits}f}"


def spread(values: Sequence[float]) -> Spread:
    """Mean and sample standard deviation (n - 1 in the denominator; 0 for one value)."""
    values = _values(values, "spread")
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return Spread(mean, std, n)


@dataclass(frozen=True)
class Difference:
    """A paired difference a - b over seeds, with its 95 % t interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def exceeds_noise(self) -> bool:
        """True when the 95 % interval excludes 0."""
        return self.low > 0 or self.high < 0

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        return (f"{self.mean * scale:+.{digits}f} "
                f"[{self.low * scale:+.{digits}f}, {self.high * scale:+.{digits}f}]")


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Mean of ``a[i] - b[i]`` and its 95 % Student-t interval (df = n - 1).

    Args:
        a, b: one value per seed, in the same seed order.

    Example::

        >>> d = paired_difference([0.9, 0.8, 0.85], [0.7, 0.75, 0.72])
        >>> round(d.mean, 4), d.exceeds_noise
        (0.1267, True)
    """
    a, b = _values(a, "paired_difference"), _values(b, "paired_difference")
    if len(a) != len(b):
        raise ValueError(f"paired values need one per seed on both sides, got {len(a)} "
                         f"and {len(b)}")
    if len(a) < 2:
        raise ValueError("an interval needs at least 2 seeds; 3 or more are better")
    differences = spread([x - y for x, y in zip(a, b)])
    half = t_quantile_975(len(a) - 1) * differences.std / math.sqrt(len(a))
    return Difference(differences.mean, differences.mean - half, differences.mean + half, len(a))
