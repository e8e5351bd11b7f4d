"""Promises to pay taken in the field, as the planner sees them: before the promised date the planner sends no
reminder (reason ``promise``, in planning); on the promised date the borrower gets the promise reminder, the
approved template ``promise_reminder`` (bundled in ``data/templates.yaml``, edited and approved like any other),
through the normal planning, lint, schedule and send pipeline. Planning calls :func:`promise_templates` (which
template versions it must load) and :func:`promise_steps` (which accounts take the promise step today)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from dunning.db.bulk import read_frame

PROMISE_TEMPLATE = "promise_reminder"
PROMISE_STEP = "promise"


def _due(s: Any, as_of: date) -> pl.DataFrame:
    return read_frame(s, "SELECT DISTINCT loan_id FROM promises_to_pay WHERE promised_on = :d", {"d": as_of},
                      schema={"loan_id": pl.Utf8})


def promise_templates(s: Any, as_of: date) -> set[str]:
    """``{"promise_reminder"}`` when some promise falls due on ``as_of`` (its approved version is then required,
    like any template a strategy names), else nothing."""
    return {PROMISE_TEMPLATE} if _due(s, as_of).height else set()


def promise_steps(s: Any, df: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Accounts (in a segment, not held out) whose promise falls due on ``as_of`` take the promise step instead of
    whatever step their cadence has today (at most one reminder a day): step ``promise``, template
    ``promise_reminder``. Vectorised: one join over the day's frame."""
    due = _due(s, as_of)
    if due.is_empty():
        return df
    hit = (pl.col("loan_id").is_in(due["loan_id"].implode()) & pl.col("segment").is_not_null()
           & ~pl.col("holdout").fill_null(False))
    return df.with_columns(
        pl.when(hit).then(pl.lit(PROMISE_STEP)).otherwise(pl.col("step")).alias("step"),
        pl.when(hit).then(pl.lit(PROMISE_TEMPLATE)).otherwise(pl.col("template")).alias("template"),
        pl.when(hit).then(pl.lit(PROMISE_STEP)).otherwise(pl.col("variant")).alias("variant"),
    )
