"""Seed-to-seed statistics: means with their spread, and an interval for each difference.

A training result is one draw from a distribution over seeds. Three seeds
give a mean and a sample standard deviation, and the difference between two
models run with the same seeds is judged *paired*: the two runs of a seed
share the batch order, so differing per seed removes part of the noise. The
95 % interval of the mean difference uses Student's t with n - 1 degrees of
freedom; a difference "exceeds seed-to-seed noise" only when that interval
excludes 0. Pure Python, no SciPy: the 95 % t quantiles are tabulated below,
and `t_cdf` (through the regularized incomplete beta function) gives p-values
and quantiles at any level, for a study that tests several comparisons at once
(`holm` keeps the chance of any false "exceeds the noise" at 5 %).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Difference",
    "Spread",
    "holm",
    "paired_difference",
    "required_seeds",
    "sign_test_p",
    "spread",
    "t_cdf",
    "t_quantile",
    "t_quantile_975",
]

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
    df = _check_df(df)
    return _T975[df - 1] if df <= len(_T975) else round(t_quantile(0.975, df), 3)


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    # The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a


def _check_df(df: object) -> int:
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df!r}")
    return df


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom.

    Example::

        >>> round(t_cdf(4.303, 2), 4)
        0.975
    """
    df = _check_df(df)
    if not math.isfinite(t):
        raise ValueError(f"t must be a finite number, got {t!r}")
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The `p` quantile of Student's t with `df` degrees of freedom (bisection on `t_cdf`).

    Example::

        >>> round(t_quantile(0.975, 2), 3)
        4.303
    """
    df = _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return (low + high) / 2


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
    #: Sample standard deviation of the per-seed differences.
    std: float = float("nan")

    @property
    def half_width(self) -> float:
        """Half the width of the 95 % interval: how precisely the mean difference is known."""
        return (self.high - self.low) / 2

    @property
    def p_value(self) -> float:
        """Two-sided p-value of the paired t test of "no difference" (1 when every
        difference is 0; 0 when they are all equal and non-zero)."""
        if self.std == 0 or not math.isfinite(self.std):
            return 1.0 if self.mean == 0 else 0.0
        t = self.mean / (self.std / math.sqrt(self.n))
        return 2 * (1 - t_cdf(abs(t), self.n - 1))

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
        (0.1267, False)
    """
    a, b = _values(a, "paired_difference"), _values(b, "paired_difference")
    if len(a) != len(b):
        raise ValueError(f"paired values need one per seed on both sides, got {len(a)} "
                         f"and {len(b)}")
    if len(a) < 2:
        raise ValueError("an interval needs at least 2 seeds; 3 or more are better")
    differences = spread([x - y for x, y in zip(a, b)])
    half = t_quantile_975(len(a) - 1) * differences.std / math.sqrt(len(a))
    return Difference(differences.mean, differences.mean - half, differences.mean + half, len(a),
                      differences.std)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down test: which of several hypotheses to reject at family-wise `alpha`.

    Sort the p-values; reject the k-th smallest (k = 0, 1, ...) while it is at
    most alpha / (m - k), and stop at the first that is not. The chance of
    rejecting any true "no difference" stays at most `alpha`, however the
    tests depend on each other.

    Example::

        >>> holm([0.01, 0.04, 0.03])
        [True, False, False]
    """
    p_values = _values(p_values, "holm")
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    rejected = [False] * len(p_values)
    for k, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - k):
            break
        rejected[index] = True
    return rejected


def required_seeds(sd: float, half_width: float, assurance: float | None = None,
                   maximum: int = 1000) -> int:
    """Seeds needed for a paired 95 % interval of half-width <= `half_width`.

    With the per-seed differences' standard deviation `sd` taken as known, the
    half-width after n seeds is ``t(0.975, n - 1) * sd / sqrt(n)``; the answer
    is the smallest n that meets the target. With `assurance` (e.g. 0.8) the
    sample sd is treated as random instead — (n - 1) s² / sd² is chi-squared
    with n - 1 degrees of freedom — and n is the smallest for which the
    half-width meets the target with that probability.

    Example::

        >>> required_seeds(19.8, 10.0)
        18
    """
    for name, value in (("sd", sd), ("half_width", half_width)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if assurance is not None and not 0 < assurance < 1:
        raise ValueError(f"assurance must lie strictly between 0 and 1, got {assurance!r}")
    for n in range(2, maximum + 1):
        limit = half_width * math.sqrt(n) / t_quantile_975(n - 1)  # the largest s that meets it
        if assurance is None:
            if sd <= limit:
                return n
        elif _chi2_cdf((n - 1) * (limit / sd) ** 2, n - 1) >= assurance:
            return n
    raise ValueError(f"more than {maximum} seeds would be needed")


def _chi2_cdf(x: float, df: int) -> float:
    """P(X <= x) for chi-squared with `df` degrees of freedom (the regularized gamma P)."""
    if x <= 0:
        return 0.0
    a, total, term = df / 2, 0.0, 0.0
    # Series for the lower incomplete gamma: converges for all x (fast for x < a + 1).
    term = 1.0 / a
    total = term
    for k in range(1, 10_000):
        term *= (x / 2) / (a + k)
        total += term
        if term < total * 1e-16:
            break
    return math.exp(-x / 2 + a * math.log(x / 2) - math.lgamma(a)) * total


def sign_test_p(wins: int, n: int) -> float:
    """Two-sided p-value of a sign test: `wins` of `n` paired differences on one side.

    The smallest it can be is 2 / 2**n: with 3 seeds, 3 wins out of 3 give
    0.25 (and 1/8 one-sided), so a 3-seed sign test can never reach 5 %.

    Example::

        >>> sign_test_p(3, 3)
        0.25
    """
    for name, value in (("wins", wins), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if wins > n or n == 0:
        raise ValueError(f"wins must be between 0 and n >= 1, got {wins} of {n}")
    extreme = max(wins, n - wins)
    tail = sum(math.comb(n, k) for k in range(extreme, n + 1)) / 2 ** n
    return min(1.0, 2 * tail)
