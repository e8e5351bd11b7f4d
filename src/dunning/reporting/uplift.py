"""The outcome cube (units summed over their keys), counts of accounts, and the repayment-rate uplift of the
reminded arms over the hold-out of the same strata (Newcombe for one stratum, stratified Wald for several)."""

from __future__ import annotations

import polars as pl

from dunning.reporting.settings import HOLDOUT, STRATUM, OutcomeSettings
from dunning.reporting.stats import newcombe_diff, pooled_z, two_sided_p

# The additive columns of the units: what a cube keeps per key.
SUMS = ("attempted", "delivered", "repaid", "full", "partial", "amount_due_fen", "paid_fen", "attr_repaid",
        "attr_full", "attributed_fen")
CUBE_KEYS = ("segment", "step", "arm", "template", "bucket", "group", "assigned")


def outcome_cube(units: pl.DataFrame) -> pl.DataFrame:
    """``units`` summed over :data:`CUBE_KEYS` (``accounts`` = rows): a few hundred rows from which every
    metric but the median and every uplift is a cheap regrouping. :func:`metrics`, :func:`uplift` and
    :func:`verdicts` accept it wherever they accept units."""
    return units.group_by(list(CUBE_KEYS)).agg(pl.len().alias("accounts"), *(pl.col(c).sum() for c in SUMS))


def count_rows(frame: pl.DataFrame) -> pl.Expr:
    """Accounts in a group: rows of units, or the sum of a cube's ``accounts``."""
    return pl.col("accounts").sum() if "accounts" in frame.columns else pl.len()


def uplift(units: pl.DataFrame, by: list[str], settings: OutcomeSettings) -> pl.DataFrame:
    """Repayment-rate uplift of the assigned, non-hold-out accounts of each ``by`` group over the hold-out of the
    same strata (segment × step). Strata without a hold-out are left out; groups resting on none get no row.

    Columns: ``n_arm``, ``x_arm``, ``n_holdout``, ``x_holdout``, ``strata``, ``rate_arm``, ``rate_holdout``,
    ``uplift``, ``ci_low``, ``ci_high``, ``p_value``, ``method`` ("newcombe" for one stratum, "stratified-wald"
    for several) and ``significant`` (the interval excludes 0). ``units`` may be their :func:`outcome_cube`."""
    z = settings.z
    assigned = units.filter(pl.col("assigned"))
    n = count_rows(units)
    hold = (
        assigned.filter(pl.col("arm") == HOLDOUT).group_by(list(STRATUM))
        .agg(n.alias("n0"), pl.col("repaid").sum().alias("x0"))
    )
    keys = list(dict.fromkeys([*by, *STRATUM]))
    arms = (
        assigned.filter(pl.col("arm") != HOLDOUT).group_by(keys)
        .agg(n.alias("n1"), pl.col("repaid").sum().alias("x1"))
        .join(hold, on=list(STRATUM), how="inner")
        .with_columns((pl.col("x1") / pl.col("n1")).alias("p1"), (pl.col("x0") / pl.col("n0")).alias("p0"))
        .with_columns((pl.col("p1") * (1 - pl.col("p1")) / pl.col("n1")
                       + pl.col("p0") * (1 - pl.col("p0")) / pl.col("n0")).alias("var"))
        .with_columns((pl.col("n1") / pl.col("n1").sum().over(by)).alias("w"))
    )
    g = arms.group_by(by).agg(
        pl.col("n1").sum().alias("n_arm"), pl.col("x1").sum().alias("x_arm"),
        pl.col("n0").sum().alias("n_holdout"), pl.col("x0").sum().alias("x_holdout"),
        pl.len().alias("strata"),
        (pl.col("w") * (pl.col("p1") - pl.col("p0"))).sum().alias("_d"),
        (pl.col("w") ** 2 * pl.col("var")).sum().alias("_var"),
        (pl.col("w") * pl.col("p1")).sum().alias("rate_arm"),
        (pl.col("w") * pl.col("p0")).sum().alias("rate_holdout"),
    )
    nl, nh = newcombe_diff(pl.col("x_arm"), pl.col("n_arm"), pl.col("x_holdout"), pl.col("n_holdout"), z)
    one = pl.col("strata") == 1
    se = pl.col("_var").sqrt()
    wald_p = pl.when(se > 0).then(two_sided_p(pl.col("_d") / se)).otherwise(
        pl.when(pl.col("_d") == 0).then(1.0).otherwise(0.0))
    return (
        g.with_columns(
            pl.col("_d").alias("uplift"),
            pl.when(one).then(nl).otherwise(pl.col("_d") - z * se).alias("ci_low"),
            pl.when(one).then(nh).otherwise(pl.col("_d") + z * se).alias("ci_high"),
            pl.when(one).then(two_sided_p(pooled_z(pl.col("x_arm"), pl.col("n_arm"), pl.col("x_holdout"),
                                                   pl.col("n_holdout")))).otherwise(wald_p).alias("p_value"),
            pl.when(one).then(pl.lit("newcombe")).otherwise(pl.lit("stratified-wald")).alias("method"),
        )
        .with_columns(((pl.col("ci_low") > 0) | (pl.col("ci_high") < 0)).alias("significant"))
        .drop("_d", "_var")
        .sort(by, nulls_last=True)
    )

