"""Outcomes of a campaign: read its messages, the loans' payments and replies as frames, compute everything.

Reads only (no transaction writes, no audit). The computation is :mod:`dunning.reporting.outcomes`; this module
turns rows into frames with UTC times. On SQLite the times come back as the text they were stored as (naive UTC
from the ORM and the dispatcher, or with an offset from bulk inserts of zoned values), so they are parsed in one
vectorised pass; on PostgreSQL they are ``timestamptz`` already.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import polars as pl
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


def _fetch(session: Session, sql: str, params: dict[str, Any], schema: dict[str, pl.DataType],
           times: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rows of ``sql`` (``:name`` parameters) as a frame typed by ``schema``; ``times`` columns become UTC.

    Straight through the DB-API cursor of the session's connection (same transaction): building a SQLAlchemy
    row object per row costs more than the query itself at a million rows."""
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    if pg:
        sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
    values = {k: _db_param(v, pg) for k, v in params.items()}
    dbapi: Any = conn.connection.dbapi_connection
    cur = dbapi.cursor()
    try:
        cur.execute(sql, values)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        cur.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data = {name: pl.Series(name, col, dtype=None if name in times else schema.get(name), strict=False)
            for name, col in zip(names, columns, strict=True)}
    return pl.DataFrame(data).with_columns(*(utc_times(t) for t in times))


def _db_param(value: Any, pg: bool) -> Any:
    # SQLite holds times as naive UTC text (what the ORM and the dispatcher write): compare like with like.
    if isinstance(value, datetime) and not pg:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _planned_start(session: Session, campaign_id: int, fallback: datetime) -> datetime:
    """The earliest ``send_after`` of the campaign's messages, else the earliest ``scheduled_at``, else
    ``fallback``. Read as distinct values and compared as times: stored text may mix offsets."""
    for col in ("send_after", "scheduled_at"):
        got = _fetch(session, f"SELECT DISTINCT {col} AS t FROM messages WHERE campaign_id = :c AND {col} IS NOT NULL",  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                     {"c": campaign_id}, {}, times=("t",))
        first = got.select(pl.col("t").min()).item() if got.height else None
        if isinstance(first, datetime):
            return first
    return fallback


def load_outcome_frames(ctx: AppContext, campaign_id: int, settings: OutcomeSettings | None = None
                        ) -> OutcomeFrames:
    """The campaign's messages to borrowers (with the account's amount due and bucket, the template label and the
    last DLR error code), other campaigns' deliveries to its loans, their payments and the replies to its
    messages, and its planned start.

    Raises :class:`NotFoundError` for an unknown campaign."""
    settings = settings or OutcomeSettings()
    with ctx.db.transaction() as s:
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFoundError(f"批次 #{campaign_id} 不存在", f"campaign #{campaign_id} does not exist",
                                code="not_found.campaign")
        midnight = datetime.combine(campaign.as_of, time(0), ctx.tz).astimezone(UTC)
        start = _planned_start(s, campaign_id, midnight)
        c = {"c": campaign_id}
        messages = _fetch(
            s,
            "SELECT m.id AS message_id, m.loan_id, m.phone, m.segment, m.step, m.variant, m.template_version_id, "
            "m.state, m.reason, m.channel, COALESCE(m.submitted_at, m.final_at) AS sent_at, a.amount_due_fen, "
            "a.bucket FROM messages m JOIN accounts a ON a.id = m.account_id "
            "WHERE m.campaign_id = :c AND m.is_test = :no",
            {**c, "no": False}, MESSAGES_SCHEMA, times=("sent_at",),
        )
        labels = _fetch(
            s,
            "SELECT v.id AS template_version_id, t.code AS code, v.version AS version FROM template_versions v "
            "JOIN templates t ON t.id = v.template_id WHERE v.id IN "
            "(SELECT DISTINCT template_version_id FROM messages WHERE campaign_id = :c)",
            c, {"template_version_id": pl.Int64(), "code": pl.String(), "version": pl.Int64()},
        )
        codes = _fetch(
            s,
            "SELECT d.message_id, d.error_code FROM delivery_reports d JOIN messages m ON m.id = d.message_id "
            "WHERE m.campaign_id = :c AND d.error_code IS NOT NULL ORDER BY d.id",
            c, {"message_id": pl.Int64(), "error_code": pl.String()},
        )
        replies = _fetch(
            s,
            "SELECT r.message_id, r.classification FROM replies r JOIN messages m ON m.id = r.message_id "
            "WHERE m.campaign_id = :c",
            c, REPLIES_SCHEMA,
        )
        since = min(start, midnight) - settings.window - timedelta(days=1)
        loans = "SELECT loan_id FROM messages WHERE campaign_id = :c"
        touches = _fetch(
            s,
            "SELECT m.id AS message_id, m.loan_id, COALESCE(m.submitted_at, m.final_at) AS sent_at FROM messages m "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            f"WHERE m.state = 'delivered' AND m.campaign_id <> :c AND m.loan_id IN ({loans}) "
            "AND (m.submitted_at >= :since OR (m.submitted_at IS NULL AND m.final_at >= :since))",
            {**c, "since": since}, TOUCHES_SCHEMA, times=("sent_at",),
        )
        payments = _fetch(
            s,
            f"SELECT p.loan_id, p.amount_fen, p.paid_at FROM payments p WHERE p.loan_id IN ({loans}) "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            "AND p.paid_at >= :since",
            {**c, "since": since}, PAYMENTS_SCHEMA, times=("paid_at",),
        )
    return OutcomeFrames(
        messages=_shape_messages(messages, labels, codes), touches=touches.cast(TOUCHES_SCHEMA),  # type: ignore[arg-type]
        payments=payments.cast(PAYMENTS_SCHEMA), replies=replies.cast(REPLIES_SCHEMA),  # type: ignore[arg-type]
        observed_at=ctx.now().astimezone(UTC), planned_start=start,
    )


def _shape_messages(raw: pl.DataFrame, labels: pl.DataFrame, codes: pl.DataFrame) -> pl.DataFrame:
    last_code = codes.unique("message_id", keep="last", maintain_order=True)
    label = labels.select("template_version_id", pl.concat_str([pl.col("code"), pl.lit(" v"),
                                                               pl.col("version").cast(pl.String)]).alias("template"))
    return (
        raw.join(last_code, on="message_id", how="left")
        .join(label, on="template_version_id", how="left")
        .select(list(MESSAGES_SCHEMA))
        .cast(MESSAGES_SCHEMA)  # type: ignore[arg-type]
    )


def campaign_outcomes(ctx: AppContext, campaign_id: int, settings: OutcomeSettings | None = None
                      ) -> CampaignOutcomes:
    """Everything about what campaign ``campaign_id`` collected and caused (see :mod:`dunning.reporting.outcomes`)."""
    settings = settings or OutcomeSettings()
    return compute_outcomes(load_outcome_frames(ctx, campaign_id, settings), settings)
