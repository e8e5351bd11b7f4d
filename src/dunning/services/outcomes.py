"""Outcomes of a campaign: read its messages, the loans' payments and replies as frames, compute everything.

Reads only (no transaction writes, no audit). The computation is :mod:`dunning.reporting.outcomes`; this module
turns rows into frames with UTC times. On SQLite the times come back as the text they were stored as (naive UTC
from the ORM and the dispatcher, or with an offset from bulk inserts of zoned values), so they are parsed in one
vectorised pass; on PostgreSQL they are ``timestamptz`` already.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.orm import Session

from dunning.db.models import Campaign
from dunning.errors import NotFoundError
from dunning.reporting.outcomes import (
    MESSAGES_SCHEMA,
    PAYMENTS_SCHEMA,
    REPLIES_SCHEMA,
    TOUCHES_SCHEMA,
    UTC_US,
    CampaignOutcomes,
    OutcomeFrames,
    OutcomeSettings,
    compute_outcomes,
)
from dunning.services.context import AppContext

_OFFSET = r"([+-]\d\d):?(\d\d)$"


def utc_times(col: str) -> pl.Expr:
    """A column of stored times as ``Datetime("us", "UTC")``: text with or without an offset (naive = UTC), or
    datetimes with or without a zone."""
    return pl.col(col).map_batches(_to_utc, return_dtype=UTC_US)


def _to_utc(s: pl.Series) -> pl.Series:
    if s.dtype == pl.Null:
        return s.cast(UTC_US)
    if isinstance(s.dtype, pl.Datetime):
        zoned = s if s.dtype.time_zone is not None else s.dt.replace_time_zone("UTC")
        return zoned.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if s.dtype != pl.String:
        raise TypeError(f"cannot read times from a {s.dtype} column")
    frame = s.to_frame("t").select(
        pl.col("t").str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00").alias("t"))
    c = pl.col("t")
    hours = c.str.extract(_OFFSET, 1).cast(pl.Int32)
    minutes = c.str.extract(_OFFSET, 2).cast(pl.Int32)
    offset = (hours * 60 + hours.sign() * minutes).fill_null(0)
    base = c.str.replace(_OFFSET, "").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
    return frame.select((base - pl.duration(minutes=offset)).alias(s.name)).to_series()


def _frame(session: Session, sql: str, params: dict[str, Any], schema: dict[str, pl.DataType],
           times: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rows of ``sql`` as a frame typed by ``schema``; ``times`` columns are parsed by :func:`utc_times`."""
    stmt = text(sql)
    if "since" in params:
        stmt = stmt.bindparams(bindparam("since", type_=DateTime(timezone=True)))
    result = session.connection().execute(stmt, params)
    names = list(result.keys())
    rows = result.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data = {}
    for name, values in zip(names, columns, strict=True):
        if name in times:
            data[name] = pl.Series(name, values, strict=False)
        else:
            data[name] = pl.Series(name, values, dtype=schema.get(name), strict=False)
    frame = pl.DataFrame(data) if names else pl.DataFrame()
    return frame.with_columns(*(utc_times(t) for t in times))


def load_outcome_frames(ctx: AppContext, campaign_id: int, settings: OutcomeSettings | None = None
                        ) -> OutcomeFrames:
    """The campaign's messages (with the account's amount due and bucket, the template label and the last DLR
    error code), delivered messages of any campaign to its loans, their payments and the replies to its messages.

    Raises :class:`NotFoundError` for an unknown campaign."""
    settings = settings or OutcomeSettings()
    with ctx.db.transaction() as s:
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFoundError(f"批次 #{campaign_id} 不存在", f"campaign #{campaign_id} does not exist",
                                code="not_found.campaign")
        midnight = datetime.combine(campaign.as_of, time(0), ctx.tz).astimezone(UTC)
        c = {"c": campaign_id}
        msg_schema = {**MESSAGES_SCHEMA, "template_code": pl.String(), "template_no": pl.Int64(),
                      "is_pilot": pl.Int64()}
        messages = _frame(
            s,
            "SELECT m.id AS message_id, m.account_id, m.loan_id, m.phone, m.segment, m.step, m.variant, "
            "m.template_version_id, t.code AS template_code, v.version AS template_no, m.state, m.reason, "
            "m.channel, m.is_pilot, m.send_after, m.scheduled_at, m.submitted_at, m.final_at, a.amount_due_fen, "
            "a.bucket FROM messages m JOIN accounts a ON a.id = m.account_id "
            "LEFT JOIN template_versions v ON v.id = m.template_version_id "
            "LEFT JOIN templates t ON t.id = v.template_id WHERE m.campaign_id = :c AND m.is_test = :no",
            {**c, "no": False}, msg_schema, times=("send_after", "scheduled_at", "submitted_at", "final_at"),
        )
        codes = _frame(
            s,
            "SELECT d.message_id, d.error_code FROM delivery_reports d JOIN messages m ON m.id = d.message_id "
            "WHERE m.campaign_id = :c AND d.error_code IS NOT NULL ORDER BY d.id",
            c, {"message_id": pl.Int64(), "error_code": pl.String()},
        )
        replies = _frame(
            s,
            "SELECT r.message_id, r.classification FROM replies r JOIN messages m ON m.id = r.message_id "
            "WHERE m.campaign_id = :c",
            c, REPLIES_SCHEMA,
        )
        messages = _shape_messages(messages, codes)
        first = messages.select(pl.min_horizontal(pl.col("send_after").min(), pl.col("scheduled_at").min(),
                                                  pl.col("submitted_at").min())).item()
        since = min(first if isinstance(first, datetime) else midnight, midnight) - settings.window - timedelta(days=1)
        loans = "SELECT loan_id FROM messages WHERE campaign_id = :c"
        touches = _frame(
            s,
            f"SELECT m.id AS message_id, m.loan_id, m.submitted_at, m.final_at FROM messages m "
            f"WHERE m.state = 'delivered' AND m.loan_id IN ({loans}) "
            "AND (m.submitted_at >= :since OR (m.submitted_at IS NULL AND m.final_at >= :since))",
            {**c, "since": since}, {"message_id": pl.Int64(), "loan_id": pl.String()},
            times=("submitted_at", "final_at"),
        ).select("message_id", "loan_id", pl.coalesce("submitted_at", "final_at").alias("sent_at"))
        payments = _frame(
            s,
            f"SELECT p.loan_id, p.amount_fen, p.paid_at FROM payments p WHERE p.loan_id IN ({loans}) "
            "AND p.paid_at >= :since",
            {**c, "since": since}, PAYMENTS_SCHEMA, times=("paid_at",),
        )
    return OutcomeFrames(messages=messages, touches=touches.cast(TOUCHES_SCHEMA),  # type: ignore[arg-type]
                         payments=payments.cast(PAYMENTS_SCHEMA),  # type: ignore[arg-type]
                         replies=replies.cast(REPLIES_SCHEMA),  # type: ignore[arg-type]
                         observed_at=ctx.now().astimezone(UTC), planned_start=midnight)


def _shape_messages(raw: pl.DataFrame, codes: pl.DataFrame) -> pl.DataFrame:
    last_code = codes.unique("message_id", keep="last", maintain_order=True)
    label = pl.when(pl.col("template_code").is_not_null()).then(
        pl.concat_str([pl.col("template_code"), pl.lit(" v"), pl.col("template_no").cast(pl.String)]))
    return (
        raw.join(last_code, on="message_id", how="left")
        .with_columns(label.alias("template"), pl.col("is_pilot").cast(pl.Boolean))
        .select(list(MESSAGES_SCHEMA))
        .cast(MESSAGES_SCHEMA)  # type: ignore[arg-type]
    )


def campaign_outcomes(ctx: AppContext, campaign_id: int, settings: OutcomeSettings | None = None
                      ) -> CampaignOutcomes:
    """Everything about what campaign ``campaign_id`` collected and caused (see :mod:`dunning.reporting.outcomes`)."""
    settings = settings or OutcomeSettings()
    return compute_outcomes(load_outcome_frames(ctx, campaign_id, settings), settings)
