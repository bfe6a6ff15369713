"""Summary statistics over seeds: mean ± sample std, and paired differences with a t confidence interval.

Why our own Student-t quantile: scipy is not a dependency of the project, and the interval must be exact for
the small seed counts we have (n = 2..5, where the normal approximation is badly optimistic). The quantile is
the inverse of the exact t CDF, written with the regularized incomplete beta function (continued fraction,
Lentz's method) and inverted by bisection; both converge to double precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (ddof = 1; None for a single value) of ``n`` values."""

    mean: float
    std: float | None
    n: int


@dataclass(frozen=True)
class PairedDiff:
    """Mean of paired differences and its two-sided confidence interval (None when n < 2)."""

    mean: float
    lo: float | None
    hi: float | None
    n: int
    level: float = 0.95


def summarize(values: Sequence[float]) -> Summary | None:
    """None for no values: an empty cell is "—", never 0."""
    xs = [float(v) for v in values]
    if not xs:
        return None
    n = len(xs)
    mean = math.fsum(xs) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return Summary(mean, std, n)


def paired_ci(diffs: Sequence[float], level: float = 0.95) -> PairedDiff | None:
    """Mean difference ± t_{(1+level)/2, n-1} · s / sqrt(n): the paired t interval over seeds."""
    s = summarize(diffs)
    if s is None:
        return None
    if s.n < 2:
        return PairedDiff(s.mean, None, None, s.n, level)
    half = t_quantile((1 + level) / 2, s.n - 1) * s.std / math.sqrt(s.n)
    return PairedDiff(s.mean, s.mean - half, s.mean + half, s.n, level)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value with P(T <= t) = p, by bisection on the exact CDF (monotone, so it cannot miss)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)
