"""The statistics of the outcome report, as Polars expressions (one row per group, no Python loop): the normal
CDF and two-sided p-values, Wilson score intervals (the one implementation: :func:`wilson_bounds` is the formula,
:func:`wilson` the column form, :func:`wilson_interval` the scalar form), Newcombe's interval for a difference of
two proportions, the pooled two-proportion z statistic and the sample size per arm. See ADR 0007."""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import TypeVar

import polars as pl


def normal_cdf(x: pl.Expr) -> pl.Expr:
    """Φ(x), vectorised."""
    return 0.5 * (1.0 + (x / math.sqrt(2.0)).erf())


def two_sided_p(z: pl.Expr) -> pl.Expr:
    return 2.0 * (1.0 - normal_cdf(z.abs()))


_N = TypeVar("_N", float, pl.Expr)


def wilson_bounds(x: _N, n: _N, z: float, sqrt: Callable[[_N], _N]) -> tuple[_N, _N]:
    """THE Wilson score interval formula for ``x`` successes out of ``n`` (``n`` > 0), on floats or on columns:
    ``(x + z²/2) / (n + z²) ∓ z / (n + z²) · √(x (n − x) / n + z²/4)``. Use :func:`wilson` or
    :func:`wilson_interval`."""
    denom = n + z * z
    centre = (x + z * z / 2) / denom
    half = z / denom * sqrt(x * (n - x) / n + z * z / 4)
    return centre - half, centre + half


def wilson(x: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval of ``x`` successes out of ``n`` as column expressions (null when ``n`` is 0)."""
    low, high = wilson_bounds(x.cast(pl.Float64), n.cast(pl.Float64), z, pl.Expr.sqrt)
    ok = n > 0
    return pl.when(ok).then(low), pl.when(ok).then(high)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of ``successes`` out of ``n`` as two floats within [0, 1]; (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    low, high = wilson_bounds(float(successes), float(n), z, math.sqrt)
    return max(0.0, low), min(1.0, high)


def newcombe_diff(x1: pl.Expr, n1: pl.Expr, x0: pl.Expr, n0: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Newcombe's hybrid score interval (method 10) for ``x1/n1 - x0/n0``."""
    p1 = x1.cast(pl.Float64) / n1
    p0 = x0.cast(pl.Float64) / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    return d - ((p1 - l1) ** 2 + (u0 - p0) ** 2).sqrt(), d + ((u1 - p1) ** 2 + (p0 - l0) ** 2).sqrt()


def pooled_z(x1: pl.Expr, n1: pl.Expr, x0: pl.Expr, n0: pl.Expr) -> pl.Expr:
    """The two-proportion z statistic with the pooled variance (0 when both arms are all-or-nothing alike)."""
    p1 = x1.cast(pl.Float64) / n1
    p0 = x0.cast(pl.Float64) / n0
    pp = (x1 + x0).cast(pl.Float64) / (n1 + n0)
    se = (pp * (1 - pp) * (1.0 / n1 + 1.0 / n0)).sqrt()
    return pl.when(se > 0).then((p1 - p0) / se).otherwise(0.0)


def sample_size_per_arm(p_base: pl.Expr, effect: pl.Expr, confidence: float, power: float) -> pl.Expr:
    """Accounts per arm for a two-sided two-proportion test to detect ``p_base`` vs ``p_base + effect``."""
    nd = NormalDist()
    za = nd.inv_cdf(0.5 + confidence / 2)
    zb = nd.inv_cdf(power)
    p0 = p_base.clip(1e-4, 1 - 1e-4)
    p1 = (p_base + effect).clip(1e-4, 1 - 1e-4)
    pbar = (p0 + p1) / 2
    num = (za * (2 * pbar * (1 - pbar)).sqrt() + zb * (p0 * (1 - p0) + p1 * (1 - p1)).sqrt()) ** 2
    return (num / (p1 - p0) ** 2).ceil().cast(pl.Int64)

