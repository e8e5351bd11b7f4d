"""The contact budget per phone, across all campaigns and products: at most N a day and M in 7 days.

Counted from what was actually sent (``sent_day``, ``sent_7d`` come from stored messages in a contact state);
within one campaign a phone's messages are taken most-overdue first until the allowance is used up. The
minimum interval is a matter of *when*, so it lives in :mod:`dunning.strategy.schedule`.
"""

from __future__ import annotations

import polars as pl

from dunning.strategy.model import Budget


def apply_caps(df: pl.DataFrame, budget: Budget, *, reason: str = "reason") -> pl.DataFrame:
    """Add ``_order`` (1-based rank of each still-eligible message within its phone, most overdue first, ties by
    loan id) and set ``reason`` to ``budget`` where the day or 7-day allowance is used up.

    Needs ``phone``, ``dpd``, ``loan_id``, ``sent_day``, ``sent_7d`` and ``reason`` (null = eligible).
    """
    eligible = pl.col(reason).is_null()
    df = df.with_columns(
        pl.when(eligible).then(
            pl.struct((-pl.col("dpd")).alias("d"), pl.col("loan_id").alias("l")).rank("ordinal")
            .over("phone", pl.col(reason).is_null())
        ).otherwise(None).cast(pl.Int64).alias("_order")
    )
    over = eligible & (
        (pl.col("sent_day").fill_null(0) + pl.col("_order") > budget.max_per_day)
        | (pl.col("sent_7d").fill_null(0) + pl.col("_order") > budget.max_per_7d)
    )
    return df.with_columns(pl.when(over).then(pl.lit("budget")).otherwise(pl.col(reason)).alias(reason))
