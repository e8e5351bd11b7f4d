"""Attribution (credit to a message) and the per-message outcome units every table is summed from.

A payment is credited to the latest *delivered* message to the same loan sent at or before it and at most
``window_days`` earlier (inclusive); the intention-to-treat outcomes are measured from the campaign's planned
start. See :mod:`dunning.reporting.outcomes` for the definitions."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from dunning.db.frames import UTC_US
from dunning.domain.carriers import carrier_expr
from dunning.reporting.frames import OutcomeFrames
from dunning.reporting.settings import ATTEMPTED, HOLDOUT, OutcomeSettings


def attribute_payments(payments: pl.DataFrame, touches: pl.DataFrame, window: timedelta) -> pl.DataFrame:
    """Every payment (in input order) with ``message_id`` and ``sent_at`` of the latest delivered message to its
    loan sent at or before it and no more than ``window`` earlier (both bounds inclusive); null when there is none.
    Of two messages sent at the same instant, the higher id wins. Adds ``days_after`` (fractional days since
    sending).

    An equi-join on the loan then a filter on time, not an as-of join: a loan has a handful of deliveries in a
    window (the contact budget caps them), so the pairs stay few, and the hash join is twice as fast as the
    as-of join's sort by time over a string key."""
    pay = payments.select("loan_id", "amount_fen", "paid_at").with_row_index("_r")
    t = touches.select("message_id", "loan_id", "sent_at").drop_nulls("sent_at")
    best = (
        pay.select("_r", "loan_id", "paid_at")
        .join(t, on="loan_id", how="inner")
        .filter((pl.col("sent_at") <= pl.col("paid_at")) & (pl.col("paid_at") <= pl.col("sent_at") + window))
        .group_by("_r")
        .agg(pl.col("message_id", "sent_at").sort_by("sent_at", "message_id").last())
    )
    return pay.join(best, on="_r", how="left", maintain_order="left").with_columns(
        ((pl.col("paid_at") - pl.col("sent_at")).dt.total_seconds(fractional=True) / 86400).alias("days_after")
    ).drop("_r")


def account_units(frames: OutcomeFrames, settings: OutcomeSettings,
                  attributed: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per message of the campaign with its attributed and intention-to-treat outcomes.

    Attributed: ``attributed_fen``, ``attributed_payments``, ``attr_repaid``, ``attr_full``, ``attr_days``
    (days from sending to the first credited payment). Intention to treat (from ``anchor``, the campaign's
    planned start, :meth:`OutcomeFrames.anchor`):
    ``paid_fen`` within the window, ``repaid``, ``full`` (≥ amount due), ``partial``, ``days_to_pay``, and
    ``first_paid_days`` within the curve's horizon. Plus ``arm`` (variant, or "holdout"), ``assigned`` (the row
    took part in a variant split), ``attempted``, ``delivered`` and ``carrier``. ``attributed``: the result of
    :func:`attribute_payments` when the caller has it already."""
    msgs = frames.messages
    if attributed is None:
        attributed = attribute_payments(frames.payments, frames.all_touches(), settings.window)
    credit = (
        attributed.filter(pl.col("message_id").is_not_null())
        .group_by("message_id")
        .agg(pl.col("amount_fen").sum().alias("attributed_fen"), pl.len().alias("attributed_payments"),
             pl.col("days_after").min().alias("attr_days"))
    )
    start = frames.anchor()
    anchor = pl.lit(start, UTC_US) if start is not None else pl.lit(None, UTC_US)
    horizon = timedelta(days=max(settings.window_days, settings.curve_days))
    base = msgs.with_columns(anchor.alias("anchor"))
    # One anchor for the whole campaign: the payments that can count are cut to its horizon before the join.
    pays = frames.payments.select("loan_id", "amount_fen", "paid_at")
    pays = pays.clear() if start is None else pays.filter(pl.col("paid_at").is_between(start, start + horizon))
    itt = (
        base.select("message_id", "loan_id", "anchor")
        .join(pays, on="loan_id", how="inner")
        .with_columns(((pl.col("paid_at") - pl.col("anchor")).dt.total_seconds(fractional=True) / 86400)
                      .alias("_d"))
        .group_by("message_id")
        .agg(pl.col("amount_fen").filter(pl.col("_d") <= settings.window_days).sum().alias("paid_fen"),
             pl.col("_d").min().alias("first_paid_days"))
    )
    return (
        base.join(credit, on="message_id", how="left")
        .join(itt, on="message_id", how="left")
        .with_columns(
            pl.col("attributed_fen").fill_null(0), pl.col("attributed_payments").fill_null(0),
            pl.col("paid_fen").fill_null(0),
            pl.col("variant").alias("arm"),
            pl.col("variant").is_not_null().alias("assigned"),
            pl.when(pl.col("variant") == HOLDOUT).then(pl.lit(HOLDOUT)).otherwise(pl.lit("reminded")).alias("group"),
            (pl.col("state").is_in(ATTEMPTED) | ((pl.col("state") == "expired") & (pl.col("reason") != "window")))
            .alias("attempted"),
            (pl.col("state") == "delivered").alias("delivered"),
            carrier_expr("phone").alias("carrier"),
        )
        .with_columns(
            (pl.col("attributed_fen") > 0).alias("attr_repaid"),
            ((pl.col("attributed_fen") > 0) & (pl.col("attributed_fen") >= pl.col("amount_due_fen")))
            .alias("attr_full"),
            (pl.col("paid_fen") > 0).alias("repaid"),
            ((pl.col("paid_fen") > 0) & (pl.col("paid_fen") >= pl.col("amount_due_fen"))).alias("full"),
            pl.when(pl.col("first_paid_days") <= settings.window_days).then(pl.col("first_paid_days"))
            .alias("days_to_pay"),
        )
        .with_columns((pl.col("repaid") & ~pl.col("full")).alias("partial"),
                      (pl.col("attr_repaid") & ~pl.col("attr_full")).alias("attr_partial"))
    )


def attribution_summary(attributed: pl.DataFrame, units: pl.DataFrame) -> pl.DataFrame:
    """Where the loans' payments since the campaign began went (``attributed`` from :func:`attribute_payments`):
    credited to this campaign's messages (full or partial repayment of the amount due), to another campaign's, or
    to none (no delivered message in the window). One row per bucket of that split, with payments and amount."""
    start = units["anchor"].min() if units.height else None
    pays = attributed
    if start is not None:
        pays = pays.filter(pl.col("paid_at") >= start)
    own = units.select("message_id", "attr_full")
    pays = pays.join(own, on="message_id", how="left")
    kind = (
        pl.when(pl.col("message_id").is_null()).then(pl.lit("unattributed"))
        .when(pl.col("attr_full").is_null()).then(pl.lit("other_campaign"))
        .when(pl.col("attr_full")).then(pl.lit("this_campaign_full"))
        .otherwise(pl.lit("this_campaign_partial"))
    )
    order = {"this_campaign_full": 0, "this_campaign_partial": 1, "other_campaign": 2, "unattributed": 3}
    return (
        pays.with_columns(kind.alias("attribution"))
        .group_by("attribution").agg(pl.len().alias("payments"), pl.col("amount_fen").sum().alias("amount_fen"))
        .with_columns(pl.col("attribution").replace_strict(order, return_dtype=pl.Int32).alias("_o"))
        .sort("_o").drop("_o")
    )

