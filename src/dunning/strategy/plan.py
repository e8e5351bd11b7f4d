"""Who gets which step today: segment assignment, cadence and champion/challenger split, all vectorised."""

from __future__ import annotations

from datetime import date

import polars as pl

from dunning.strategy.model import Condition, Step, StrategySpec

# Fixed seeds make Polars' hash reproducible for a given Polars version; the assignment is persisted on each
# message when planned, so a later library upgrade cannot change a campaign's recorded split.
_HASH_SEED = 0x5EED


def condition_expr(cond: Condition) -> pl.Expr:
    e = pl.lit(True)
    if cond.bucket is not None:
        e = e & pl.col("bucket").is_in(cond.bucket)
    if cond.dpd_min is not None:
        e = e & (pl.col("dpd") >= cond.dpd_min)
    if cond.dpd_max is not None:
        e = e & (pl.col("dpd") <= cond.dpd_max)
    if cond.amount_min is not None:
        e = e & (pl.col("amount_due_fen") >= round(cond.amount_min * 100))
    if cond.amount_max is not None:
        e = e & (pl.col("amount_due_fen") <= round(cond.amount_max * 100))
    if cond.first_time_overdue is not None:
        first = (pl.col("overdue_count") == 0) & (pl.col("dpd") > 0)
        e = e & (first if cond.first_time_overdue else ~first)
    if cond.product is not None:
        e = e & pl.col("product").is_in(cond.product)
    if cond.region is not None:
        e = e & pl.col("region").is_in(cond.region)
    return e.fill_null(False)


def step_due_expr(step: Step) -> pl.Expr:
    dpd = pl.col("dpd")
    e = pl.lit(False)
    if step.pre_due_days is not None:
        e = e | (-dpd).is_in(step.pre_due_days) & (dpd <= 0)
    if step.dpd is not None:
        e = e | dpd.is_in(step.dpd)
    if step.every is not None:
        assert step.dpd_from is not None and step.dpd_to is not None
        e = e | ((dpd >= step.dpd_from) & (dpd <= step.dpd_to) & ((dpd - step.dpd_from) % step.every == 0))
    return e


def step_key(segment: str, index: int, step: Step) -> str:
    return step.name or f"{segment}#{index + 1}"


def assign_steps(accounts: pl.DataFrame, spec: StrategySpec, seed: int) -> pl.DataFrame:
    """Add ``segment``, ``step``, ``template``, ``variant`` and ``holdout`` to every account.

    ``segment`` is null for accounts no segment matches (first match wins); ``step`` is null when the account's
    segment has no step due today. Variants and the hold-out are split per (segment, step) by rank of a seeded
    hash of the loan id, so the split is deterministic and exactly proportional within each stratum.
    """
    seg_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    for seg in reversed(spec.segments):
        seg_expr = pl.when(condition_expr(seg.when)).then(pl.lit(seg.name)).otherwise(seg_expr)
    df = accounts.with_columns(seg_expr.alias("segment"))

    step_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    steps: dict[str, Step] = {}
    for seg in reversed(spec.segments):
        for i, st in reversed(list(enumerate(seg.steps))):
            key = step_key(seg.name, i, st)
            steps[key] = st
            step_expr = pl.when((pl.col("segment") == seg.name) & step_due_expr(st)).then(pl.lit(key)).otherwise(
                step_expr
            )
    df = df.with_columns(step_expr.alias("step"))

    h = pl.concat_str([pl.col("loan_id"), pl.lit(f"|{seed}")]).hash(_HASH_SEED)
    df = df.with_columns(h.alias("_h"))
    grp = ["segment", "step"]
    df = df.with_columns(
        ((pl.col("_h").rank("ordinal").over(grp) - 1) / pl.len().over(grp)).alias("_r")
    )

    template_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    variant_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    holdout_expr: pl.Expr = pl.lit(False)
    for key, st in steps.items():
        is_step = pl.col("step") == key
        variants = st.variant_list()
        total = sum(v.weight for v in variants)
        # Rank position r in [0, 1): the first `holdout` share is held out, the rest split by cumulative weight.
        bounds: list[tuple[float, str, str]] = []
        acc = st.holdout
        for v in variants:
            acc += (1 - st.holdout) * v.weight / total
            bounds.append((acc, v.name, v.template))
        t_e: pl.Expr = pl.lit(bounds[-1][2])
        v_e: pl.Expr = pl.lit(bounds[-1][1])
        for upper, vname, tcode in reversed(bounds[:-1]):
            t_e = pl.when(pl.col("_r") < upper).then(pl.lit(tcode)).otherwise(t_e)
            v_e = pl.when(pl.col("_r") < upper).then(pl.lit(vname)).otherwise(v_e)
        held = pl.col("_r") < st.holdout
        template_expr = pl.when(is_step).then(pl.when(held).then(pl.lit(None, pl.Utf8)).otherwise(t_e)).otherwise(
            template_expr
        )
        variant_expr = pl.when(is_step).then(pl.when(held).then(pl.lit("holdout")).otherwise(v_e)).otherwise(
            variant_expr
        )
        holdout_expr = pl.when(is_step).then(held).otherwise(holdout_expr)
    df = df.with_columns(
        template_expr.alias("template"), variant_expr.alias("variant"), holdout_expr.fill_null(False).alias("holdout")
    )
    return df.drop("_h", "_r")


def first_time_overdue_expr() -> pl.Expr:
    return (pl.col("overdue_count") == 0) & (pl.col("dpd") > 0)


def as_of_date(value: date | None, today: date) -> date:
    return value or today
