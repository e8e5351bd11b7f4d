"""Days past due and DPD buckets: C (not yet due, DPD ≤ 0), M1 1–30, M2 31–60, M3 61–90, M4+ > 90."""

from __future__ import annotations

from datetime import date

import polars as pl

BUCKETS: tuple[str, ...] = ("C", "M1", "M2", "M3", "M4+")


def bucket_of(dpd: int) -> str:
    if dpd <= 0:
        return "C"
    if dpd <= 30:
        return "M1"
    if dpd <= 60:
        return "M2"
    if dpd <= 90:
        return "M3"
    return "M4+"


def dpd_expr(due_date_col: str, as_of: date) -> pl.Expr:
    """DPD = as-of − due date, in days (negative before the due date)."""
    return (pl.lit(as_of) - pl.col(due_date_col)).dt.total_days().cast(pl.Int32)


def bucket_expr(dpd_col: str) -> pl.Expr:
    d = pl.col(dpd_col)
    return (
        pl.when(d <= 0)
        .then(pl.lit("C"))
        .when(d <= 30)
        .then(pl.lit("M1"))
        .when(d <= 60)
        .then(pl.lit("M2"))
        .when(d <= 90)
        .then(pl.lit("M3"))
        .otherwise(pl.lit("M4+"))
    )
