"""Trends across campaigns: delivery, opt-out, dispute and repayment rates over the last 30 or 90 days, by business
day, segment or template — one vectorised pass over the window's messages, replies and payments.

Rates: delivery = delivered ÷ sent (submitted, delivered, failed, expired, held); opt-out, dispute and repayment are
per delivered message (a reply of that class to it; a payment on its loan within ``REPAID_WITHIN`` after it was
submitted). Each rate is a ratio of the totals shown beside it, never an average of daily rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select

from dunning.db.bulk import read_frame
from dunning.db.models import Account, Campaign, Message, Payment, Reply, TemplateRecord, TemplateVersion
from dunning.errors import InputError
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.queries.campaigns import SENT_STATES
from dunning.services.queries.scope import agency_of

WINDOWS = (30, 90)
GROUPINGS = {"day": "as_of", "segment": "segment", "template": "template"}
REPAID_WITHIN = timedelta(days=7)


class Ratio:
    """A read-only attribute: one count field over another (``part / whole``), None when ``whole`` is 0."""

    def __init__(self, part: str, whole: str) -> None:
        self.part, self.whole = part, whole

    def __get__(self, row: object, owner: type | None = None) -> float | None:
        whole = getattr(row, self.whole)
        return getattr(row, self.part) / whole if whole else None


@dataclass
class TrendRow:
    key: str
    sent: int
    delivered: int
    opt_outs: int
    disputes: int
    repaid: int

    delivery_rate = Ratio("delivered", "sent")
    opt_out_rate = Ratio("opt_outs", "delivered")
    dispute_rate = Ratio("disputes", "delivered")
    repayment_rate = Ratio("repaid", "delivered")


def _naive_utc(frame: pl.DataFrame, col: str) -> pl.Expr:
    dtype = frame.schema[col]
    if dtype == pl.Utf8:
        return pl.col(col).str.slice(0, 19).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return pl.col(col).dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(pl.Datetime("us"))
    return pl.col(col).cast(pl.Datetime("us"))


def trends(ctx: AppContext, viewer: Principal, *, days: int = 30, by: str = "day") -> list[TrendRow]:
    """One row per business day (oldest first), segment or template of the campaigns of the last ``days`` days."""
    if days not in WINDOWS or by not in GROUPINGS:
        raise InputError(f"趋势可选最近 {'/'.join(map(str, WINDOWS))} 天，按 日期/分群/模板", "trends: 30 or 90 days, "
                         "by day, segment or template", code="input.trend")
    start = ctx.today() - timedelta(days=days - 1)
    q = (select(Message.id.label("message_id"), Message.loan_id, Campaign.as_of, Message.segment,
                TemplateRecord.code.label("template"), Message.state, Message.submitted_at)
         .join(Campaign, Campaign.id == Message.campaign_id)
         .outerjoin(TemplateVersion, TemplateVersion.id == Message.template_version_id)
         .outerjoin(TemplateRecord, TemplateRecord.id == TemplateVersion.template_id)
         .where(Campaign.as_of >= start, Message.state.in_(SENT_STATES), Message.is_test.is_(False)))
    agency = agency_of(viewer)
    if agency is not None:
        q = q.join(Account, Account.id == Message.account_id).where(Account.agency == agency)
    ids = q.with_only_columns(Message.id).scalar_subquery()
    with ctx.db.transaction() as s:
        msgs = read_frame(s, q)
        if msgs.is_empty():
            return []
        replies = read_frame(s, select(Reply.message_id, Reply.classification).where(Reply.message_id.in_(ids)),
                             schema={"message_id": pl.Int64, "classification": pl.Utf8})
        since = datetime.combine(start, datetime.min.time(), ctx.tz).astimezone(UTC)
        pays = read_frame(s, select(Payment.loan_id, Payment.paid_at).where(Payment.paid_at >= since))
    msgs = msgs.with_columns(_naive_utc(msgs, "submitted_at").alias("submitted_at"),
                             pl.col("as_of").cast(pl.Utf8).str.slice(0, 10).alias("as_of"),
                             (pl.col("state") == "delivered").alias("delivered"))
    flags = replies.group_by("message_id").agg((pl.col("classification") == "opt_out").any().alias("opt_out"),
                                               (pl.col("classification") == "dispute").any().alias("dispute"))
    delivered = msgs.filter(pl.col("delivered")).select("message_id", "loan_id", "submitted_at")
    repaid = pl.DataFrame(schema={"message_id": pl.Int64, "repaid": pl.Boolean})
    if pays.height and delivered.height:
        pays = pays.with_columns(_naive_utc(pays, "paid_at").alias("paid_at"))
        repaid = (delivered.join(pays, on="loan_id")
                  .filter((pl.col("paid_at") >= pl.col("submitted_at"))
                          & (pl.col("paid_at") < pl.col("submitted_at") + REPAID_WITHIN))
                  .select(pl.col("message_id").unique(), pl.lit(True).alias("repaid")))
    key = GROUPINGS[by]
    out = (msgs.join(flags, on="message_id", how="left").join(repaid, on="message_id", how="left")
           .with_columns(pl.col(key).fill_null("—").cast(pl.Utf8).alias("key"),
                         (pl.col("delivered") & pl.col("opt_out").fill_null(False)).alias("opt_out"),
                         (pl.col("delivered") & pl.col("dispute").fill_null(False)).alias("dispute"),
                         pl.col("repaid").fill_null(False))
           .group_by("key").agg(pl.len().alias("sent"), pl.col("delivered").sum(), pl.col("opt_out").sum(),
                                pl.col("dispute").sum(), pl.col("repaid").sum())
           .sort("key" if by == "day" else "sent", descending=by != "day"))
    return [TrendRow(str(k), int(n), int(d), int(o), int(di), int(r)) for k, n, d, o, di, r in
            out.select("key", "sent", "delivered", "opt_out", "dispute", "repaid").iter_rows()]


def as_dicts(rows: list[TrendRow]) -> list[dict[str, Any]]:
    return [{"key": r.key, "sent": r.sent, "delivered": r.delivered, "opt_outs": r.opt_outs, "disputes": r.disputes,
             "repaid": r.repaid, "delivery_rate": r.delivery_rate, "opt_out_rate": r.opt_out_rate,
             "dispute_rate": r.dispute_rate, "repayment_rate": r.repayment_rate} for r in rows]


def window_start(today: date, days: int) -> date:
    return today - timedelta(days=days - 1)
