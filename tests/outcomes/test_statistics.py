"""The statistics against published figures, and the carrier table against known number segments."""

from __future__ import annotations

import polars as pl
import pytest

from dunning.domain.carriers import carrier_expr
from dunning.reporting.stats import (
    newcombe_diff,
    pooled_z,
    sample_size_per_arm,
    two_sided_p,
    wilson,
    wilson_interval,
)

Z95 = 1.959963984540054


# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score).
@pytest.mark.parametrize(("x1", "n1", "x0", "n0", "low", "high"), [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
])
def test_newcombe_interval_matches_the_published_table(x1: int, n1: int, x0: int, n0: int, low: float,
                                                       high: float) -> None:
    lo, hi = newcombe_diff(pl.lit(x1), pl.lit(n1), pl.lit(x0), pl.lit(n0), Z95)
    got = pl.select(lo.alias("lo"), hi.alias("hi")).row(0)
    assert got == pytest.approx((low, high), abs=6e-5)


def test_pooled_z_test_p_value() -> None:
    # 60/200 vs 40/200: pooled p = 0.25, se = sqrt(.25*.75*(2/200)) = 0.0433, z = 2.309, p = 0.0209.
    p = pl.select(two_sided_p(pooled_z(pl.lit(60), pl.lit(200), pl.lit(40), pl.lit(200)))).item()
    assert p == pytest.approx(0.0209, abs=2e-4)


@pytest.mark.parametrize(("base", "effect", "n"), [(0.5, 0.1, 388), (0.06, 0.06, 356), (0.2, 0.05, 1094)])
def test_sample_size_per_arm_matches_the_textbook_formula(base: float, effect: float, n: int) -> None:
    assert pl.select(sample_size_per_arm(pl.lit(base), pl.lit(effect), 0.95, 0.8)).item() == n


def test_carrier_from_the_number_segment() -> None:
    phones = {
        "+8613812345678": "china_mobile", "+8619812345678": "china_mobile", "+8617051234567": "china_mobile",
        "+8618612345678": "china_unicom", "+8616612345678": "china_unicom", "+8617091234567": "china_unicom",
        "+8618912345678": "china_telecom", "+8613491234567": "china_telecom", "+8617001234567": "china_telecom",
        "+8619212345678": "china_broadnet", "+8612012345678": "unknown_cn", "+861381234567": "unknown_cn",
        "+14155550100": "international", None: "none",
    }
    got = pl.DataFrame({"phone": list(phones)}, schema={"phone": pl.String}).select(carrier_expr("phone"))
    assert got.to_series().to_list() == list(phones.values())


# Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score, no continuity correction).
@pytest.mark.parametrize(("x", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_the_published_table_in_both_forms(x: int, n: int, low: float,
                                                                  high: float) -> None:
    scalar = wilson_interval(x, n, Z95)
    lo, hi = wilson(pl.lit(x), pl.lit(n), Z95)
    column = pl.select(lo.alias("lo"), hi.alias("hi")).row(0)
    assert scalar == pytest.approx((low, high), abs=6e-5)
    assert column == pytest.approx(scalar, abs=1e-12)  # one formula: the two forms agree to rounding
    assert 0.0 <= scalar[0] <= scalar[1] <= 1.0


def test_wilson_without_trials_is_uninformative_not_an_error() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson(pl.lit(0), pl.lit(0), Z95)
    assert pl.select(lo.alias("lo"), hi.alias("hi")).row(0) == (None, None)
    # every success: the upper bound is exactly 1 (the pilot's delivery check compares against it)
    assert wilson_interval(50, 50)[1] == 1.0
