"""Who gets which step today: segment, cadence (with payday alignment and holiday deferral), champion/challenger
split and hold-out — all vectorised over the day's accounts.

The accounts frame needs ``loan_id``, ``dpd`` (days past due on the planning day; negative before the due date),
``bucket``, ``amount_due_fen``, ``overdue_count``, ``product``, ``region`` and, for payday alignment, ``payday``
(day of month 1–31 or null).

Cadence as sets of DPD values: ``pre_due_days: [3]`` is DPD −3, ``dpd: [7]`` is DPD 7, ``every: 3`` from 31 to 60
is 31, 34, … 58. A step fires on the planning day T when one of its nominal days D (the day the account's DPD
was a cadence value) maps to T: D itself, or — for a step with ``payday_offset: N`` and an account with a
payday — the day N days before the first payday on or after D + N (when that is at most
``payday_max_shift_days`` after D); and under ``holidays: defer`` a rest day's steps fire on the next working
day (``fire_days``). Several nominal days mapping to the same day make one message, not several.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

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
        first = first_time_overdue_expr()
        e = e & (first if cond.first_time_overdue else ~first)
    if cond.product is not None:
        e = e & pl.col("product").is_in(cond.product)
    if cond.region is not None:
        e = e & pl.col("region").is_in(cond.region)
    return e.fill_null(False)


def first_time_overdue_expr() -> pl.Expr:
    """Overdue now, and never overdue before (the loan system's ``overdue_count`` excludes the current one)."""
    return (pl.col("overdue_count").fill_null(0) == 0) & (pl.col("dpd") > 0)


# ------------------------------------------------------------------------------------------------ cadence


def cadence_hit(step: Step, lo: pl.Expr, hi: pl.Expr | None = None) -> pl.Expr:
    """Whether one of the step's cadence DPD values lies in ``[lo, hi]`` (``hi`` None: equals ``lo``)."""
    values = step.cadence_values()
    parts: list[pl.Expr] = []
    if hi is None:
        if values:
            parts.append(lo.is_in(values))
        if step.every is not None:
            assert step.dpd_from is not None and step.dpd_to is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
            parts.append((lo >= step.dpd_from) & (lo <= step.dpd_to) & ((lo - step.dpd_from) % step.every == 0))
    else:
        parts.extend((lo <= v) & (hi >= v) for v in values)
        if step.every is not None:
            assert step.dpd_from is not None and step.dpd_to is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
            a = pl.max_horizontal(lo, pl.lit(step.dpd_from))
            b = pl.min_horizontal(hi, pl.lit(step.dpd_to))
            # The first progression value at or after a: a + ((from − a) mod every) (floor modulo).
            parts.append((a + (pl.lit(step.dpd_from) - a) % step.every) <= b)
    if not parts:
        return pl.lit(False)
    out = parts[0]
    for p in parts[1:]:
        out = out | p
    return out


def _days_in_month(d: date) -> int:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def _month_start(d: date, delta: int) -> date:
    m = d.year * 12 + d.month - 1 + delta
    return date(m // 12, m % 12 + 1, 1)


def payday_fire_expr(step: Step, fire_day: date, dpd_on_fire_day: pl.Expr) -> pl.Expr:
    """Whether a step with ``payday_offset`` fires on ``fire_day`` for each account (see the module docstring).

    X = fire_day + N must be the account's payday (its day of month, or the month's last day when the payday
    is past it), and a cadence day must lie in (previous aligned day, fire_day] and within the maximum shift; or
    the account's aligned day is too far away and the cadence day is fire_day itself.
    """
    assert step.payday_offset is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
    n, max_shift = step.payday_offset, step.payday_max_shift_days
    x = fire_day + timedelta(days=n)
    p = pl.col("payday").cast(pl.Int32)
    eff_x = pl.min_horizontal(p, pl.lit(_days_in_month(x)))
    aligned = eff_x == x.day
    # Previous payday (in the month before X), as days relative to X; D may go back to the day after it − N.
    prev_m = _month_start(x, -1)
    prev_rel = (prev_m - x).days + pl.min_horizontal(p, pl.lit(_days_in_month(prev_m))) - 1
    lo_rel = pl.max_horizontal(prev_rel + 1, pl.lit(-max_shift))
    shifted = aligned & cadence_hit(step, dpd_on_fire_day + lo_rel, dpd_on_fire_day)
    # Days from X to the first payday on or after X: when more than the maximum shift, the step keeps its day.
    next_m = _month_start(x, 1)
    to_next = pl.when(eff_x >= x.day).then(eff_x - x.day).otherwise(
        (next_m - x).days + pl.min_horizontal(p, pl.lit(_days_in_month(next_m))) - 1
    )
    stays = (to_next > max_shift) & cadence_hit(step, dpd_on_fire_day)
    plain = cadence_hit(step, dpd_on_fire_day)
    return pl.when(p.is_null()).then(plain).otherwise(shifted | stays)


def step_fires_expr(step: Step, as_of: date | None = None, fire_days: Sequence[date] | None = None) -> pl.Expr:
    """Whether ``step`` fires on the planning day for each account (``dpd`` is the planning day's DPD)."""
    if as_of is None:
        return cadence_hit(step, pl.col("dpd"))
    days = (as_of,) if fire_days is None else tuple(fire_days)
    parts: list[pl.Expr] = []
    for day in days:
        k = (as_of - day).days
        dpd_then = pl.col("dpd") - k if k else pl.col("dpd")
        if step.payday_offset is None:
            parts.append(cadence_hit(step, dpd_then))
        else:
            parts.append(payday_fire_expr(step, day, dpd_then))
    if not parts:
        return pl.lit(False)
    out = parts[0]
    for e in parts[1:]:
        out = out | e
    return out.fill_null(False)


def step_due_expr(step: Step) -> pl.Expr:
    """Whether the step is due on its own day (no payday alignment, no holiday deferral)."""
    return cadence_hit(step, pl.col("dpd"))


def step_key(segment: str, index: int, step: Step) -> str:
    return step.name or f"{segment}#{index + 1}"


def step_map(spec: StrategySpec) -> dict[str, tuple[str, Step]]:
    """Step key → (segment name, step), in strategy order."""
    return {step_key(seg.name, i, st): (seg.name, st) for seg in spec.segments for i, st in enumerate(seg.steps)}


# ------------------------------------------------------------------------------------------------ assignment


def assign_steps(accounts: pl.DataFrame, spec: StrategySpec, seed: int, *, as_of: date | None = None,
                 fire_days: Sequence[date] | None = None) -> pl.DataFrame:
    """Add ``segment``, ``step``, ``template``, ``variant`` and ``holdout`` to every account.

    ``segment`` is null for accounts no segment matches (first match wins); ``step`` is null when the account's
    segment has no step firing today (the first firing step of the segment wins). Without ``as_of`` a step fires
    on its own cadence day only. Variants and the hold-out are split per (segment, step) by rank of a seeded hash
    of the loan id, so the split is deterministic and exactly proportional within each stratum; ``variant`` is
    ``"holdout"`` (and ``template`` null) for the hold-out.
    """
    seg_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    for seg in reversed(spec.segments):
        seg_expr = pl.when(condition_expr(seg.when)).then(pl.lit(seg.name)).otherwise(seg_expr)
    df = accounts.with_columns(seg_expr.alias("segment"))

    steps = step_map(spec)
    step_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    for key, (seg_name, st) in reversed(list(steps.items())):
        fires = step_fires_expr(st, as_of, fire_days)
        step_expr = pl.when((pl.col("segment") == seg_name) & fires).then(pl.lit(key)).otherwise(step_expr)
    df = df.with_columns(step_expr.alias("step"))

    # The split only concerns accounts with a step today; ranking the rest would be wasted work.
    df = df.with_row_index("_pos")
    due = df.filter(pl.col("step").is_not_null())
    rest = df.filter(pl.col("step").is_null()).with_columns(
        pl.lit(None, pl.Utf8).alias("template"), pl.lit(None, pl.Utf8).alias("variant"),
        pl.lit(False).alias("holdout"))
    due = split_variants(due, steps, seed)
    return pl.concat([due, rest], how="vertical_relaxed").sort("_pos").drop("_pos")


def split_variants(due: pl.DataFrame, steps: dict[str, tuple[str, Step]], seed: int) -> pl.DataFrame:
    """``template``, ``variant``, ``holdout`` for rows that have a ``step`` (see :func:`assign_steps`)."""
    h = pl.concat_str([pl.col("loan_id"), pl.lit(f"|{seed}")]).hash(_HASH_SEED)
    grp = ["segment", "step"]
    due = due.with_columns(h.alias("_h")).with_columns(
        ((pl.col("_h").rank("ordinal").over(grp) - 1) / pl.len().over(grp)).alias("_r")
    )
    template_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    variant_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    holdout_expr: pl.Expr = pl.lit(False)
    for key, (_seg, st) in steps.items():
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
    due = due.with_columns(
        template_expr.alias("template"), variant_expr.alias("variant"), holdout_expr.fill_null(False).alias("holdout")
    )
    return due.drop("_h", "_r")


def as_of_date(value: date | None, today: date) -> date:
    return value or today
