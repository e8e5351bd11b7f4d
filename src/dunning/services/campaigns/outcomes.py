"""Outcomes of a campaign: read its messages, the loans' payments and replies as frames, compute everything.

Reads only (no transaction writes, no audit). The computation is :mod:`dunning.reporting.outcomes`; this module
turns rows into frames with UTC times (:func:`dunning.db.frames.utc_times`: on SQLite the times come back as the
text they were stored as, on PostgreSQL as ``timestamptz``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from dunning.db.frames import utc_times
from dunning.db.models import Campaign
from dunning.errors import NotFoundError
from dunning.reporting.frames import (
    MESSAGES_SCHEMA,
    PAYMENTS_SCHEMA,
    REPLIES_SCHEMA,
    TOUCHES_SCHEMA,
    OutcomeFrames,
)
from dunning.reporting.outcomes import CampaignOutcomes, compute_outcomes
from dunning.reporting.settings import OutcomeSettings
from dunning.services.context import AppContext


def _fetch(session: Session, sql: str, params: dict[str, Any], schema: dict[str, pl.DataType],
           times: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rows of ``sql`` (``:name`` parameters) as a frame typed by ``schema``; ``times`` columns become UTC.

    Straight through the DB-API cursor of the session's connection (same transaction): building a SQLAlchemy
    row object per row costs more than the query itself at a million rows."""
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    values = {k: _db_param(v, pg) for k, v in params.items()}
    # SQLAlchemy compiles the ``:name`` placeholders to the driver's style (never a text rewrite of the SQL).
    compiled = text(sql).compile(dialect=conn.dialect)
    dbapi: Any = conn.connection.dbapi_connection
    cur = dbapi.cursor()
    try:
        bound = compiled.construct_params(values)
        cur.execute(str(compiled), [bound[k] for k in compiled.positiontup or ()] if compiled.positional else bound)
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
