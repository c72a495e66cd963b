"""Confidence intervals of a mean: Wilson score for 0/1 values, Student t otherwise (no scipy)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from evals.stats._common import _clean

__all__ = ["Estimate", "mean_ci", "t_quantile"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean with its confidence interval; fields are ``None`` where ``n`` is too small."""

    mean: float | None
    """The sample mean (``None`` when ``n`` is 0)."""
    low: float | None
    """Lower bound of the interval (``None`` when ``n`` < 2)."""
    high: float | None
    """Upper bound of the interval (``None`` when ``n`` < 2)."""
    n: int
    """Number of non-missing values."""
    method: str | None = None
    """``"wilson"`` or ``"t"``: how the interval was computed."""


def _t_central(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer ``df`` (A&S 26.7.3 and 26.7.4, exact)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        if df == 1:
            return 2 * theta / math.pi
        term = total = math.cos(theta)
        for k in range(3, df - 1, 2):
            term *= c2 * (k - 1) / k
            total += term
        return 2 / math.pi * (theta + math.sin(theta) * total)
    term = total = 1.0
    for k in range(2, df - 1, 2):
        term *= c2 * (k - 1) / k
        total += term
    return math.sin(theta) * total


@functools.lru_cache(maxsize=512)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (no scipy).

    Exact (bisection on the closed-form distribution function, to ~1e-12) up to 200 degrees of
    freedom; above that, the Cornish-Fisher expansion around the normal quantile.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df > 200:
        z = NormalDist().inv_cdf(p)
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
        g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
        return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
    target = 2.0 * p - 1.0
    low, high = 0.0, 1.0
    while _t_central(high, df) < target:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if _t_central(mid, df) < target:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, high):
            break
    return (low + high) / 2.0


def mean_ci(values: Iterable[float | None] | Any, confidence: float = 0.95) -> Estimate:
    """Mean of ``values`` with a two-sided ``confidence`` interval; None/NaN values are dropped.

    Wilson score interval when every value is 0 or 1, else a t interval (clipped to [0, 1] when
    every value lies in [0, 1]). ``n == 0`` gives all ``None``; ``n == 1`` no interval.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arr = _clean(values)
    n = int(arr.size)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = float(arr.mean())
    if n == 1:
        return Estimate(mean, None, None, 1)
    if bool(np.all((arr == 0.0) | (arr == 1.0))):
        z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        denom = 1.0 + z * z / n
        center = (mean + z * z / (2 * n)) / denom
        half = z / denom * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n))
        return Estimate(mean, max(0.0, center - half), min(1.0, center + half), n, "wilson")
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    low, high = mean - half, mean + half
    if bool(np.all((arr >= 0.0) & (arr <= 1.0))):
        low, high = max(0.0, low), min(1.0, high)
    return Estimate(mean, low, high, n, "t")
