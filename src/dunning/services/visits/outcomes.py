"""Visit outcomes for the reports: repayment within N days after a visit, by team, against the accounts of the
same portfolio snapshot that had no visit (repayment within N days of that snapshot). One Polars table, built
vectorised; the visits page, the live board and the campaign outcome report show it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import polars as pl
from sqlalchemy import func, select

from dunning.db.bulk import read_frame
from dunning.db.models import Campaign, Import
from dunning.domain.visits import VisitState
from dunning.services.context import AppContext

UTC_US = pl.Datetime("us", "UTC")
NO_VISIT = "未外访"
SCHEMA = {"team": pl.Utf8, "visited": pl.Boolean, "accounts": pl.Int64, "repaid": pl.Int64, "recovered_fen": pl.Int64,
          "repayment_rate": pl.Float64}


def _utc(frame: pl.DataFrame, col: str) -> pl.Expr:
    """A time column as UTC microseconds: SQLite hands back text, PostgreSQL aware datetimes."""
    if isinstance(frame.schema[col], pl.Datetime):
        return pl.col(col).dt.convert_time_zone("UTC").cast(UTC_US)
    return pl.col(col).cast(pl.Utf8).str.to_datetime(time_zone="UTC", strict=False).cast(UTC_US)


def visit_outcomes(ctx: AppContext, *, agency: str | None = None, campaign_id: int | None = None,
                   days: int = 30) -> pl.DataFrame:
    """Columns ``team`` ("a+b", or 未外访 for the comparison row, last), ``visited``, ``accounts``, ``repaid``
    (accounts with a payment in the window), ``recovered_fen`` and ``repayment_rate``. The portfolio is the campaign's
    snapshot (``campaign_id``) or the latest one; ``agency`` keeps an agency's own visits and accounts."""
    with ctx.db.transaction() as s:
        ts = pl.Utf8 if s.connection().dialect.name == "sqlite" else UTC_US
        if campaign_id is not None:
            import_id = s.scalar(select(Campaign.import_id).where(Campaign.id == campaign_id))
        else:
            import_id = s.scalar(select(func.max(Import.id)).where(Import.kind == "portfolio"))
        as_of = s.scalar(select(Import.as_of).where(Import.id == import_id)) if import_id else None
        accts = read_frame(s, "SELECT loan_id, agency FROM accounts WHERE import_id = :i", {"i": import_id or -1},
                           schema={"loan_id": pl.Utf8, "agency": pl.Utf8})
        # members as JSON text on every database (PostgreSQL's driver would hand back a list)
        visits = read_frame(s, "SELECT loan_id, CAST(members AS TEXT) AS members, closed_at, agency FROM visits "
                               "WHERE state = :closed", {"closed": VisitState.CLOSED.value},
                            schema={"loan_id": pl.Utf8, "members": pl.Utf8, "closed_at": ts,
                                    "agency": pl.Utf8})
        pays = read_frame(s, "SELECT loan_id, amount_fen, paid_at FROM payments",
                          schema={"loan_id": pl.Utf8, "amount_fen": pl.Int64, "paid_at": ts})
    if agency is not None:
        visits = visits.filter(pl.col("agency") == agency)
        accts = accts.filter(pl.col("agency") == agency)
    if campaign_id is not None:  # the campaign's portfolio only
        visits = visits.join(accts.select("loan_id").unique(), on="loan_id", how="semi")
    pays = pays.with_columns(_utc(pays, "paid_at").alias("paid_at"))
    window = pl.duration(days=days)
    visited = (
        visits.with_columns(_utc(visits, "closed_at").alias("at"),
                            pl.col("members").str.replace_all(r'[\[\]" ]', "").str.replace_all(",", "+").alias("team"))
        .join(pays, on="loan_id", how="left")
        .with_columns(((pl.col("paid_at") >= pl.col("at")) & (pl.col("paid_at") < pl.col("at") + window))
                      .fill_null(False).alias("hit"))
        .group_by("team", "loan_id")
        .agg(pl.col("hit").any(), pl.col("amount_fen").filter(pl.col("hit")).sum().alias("fen"))
        .group_by("team")
        .agg(pl.len().cast(pl.Int64).alias("accounts"), pl.col("hit").sum().cast(pl.Int64).alias("repaid"),
             pl.col("fen").sum().cast(pl.Int64).alias("recovered_fen"))
        .with_columns(pl.lit(True).alias("visited")).sort("team")
    )
    frames = [visited]
    if as_of is not None:
        start = datetime.combine(as_of, time(0), ctx.tz).astimezone(UTC)
        end = start + timedelta(days=days)
        paid = (pays.filter((pl.col("paid_at") >= start) & (pl.col("paid_at") < end))
                .group_by("loan_id").agg(pl.col("amount_fen").sum().alias("fen")))
        base = accts.select("loan_id").unique().join(visits.select("loan_id").unique(), on="loan_id", how="anti")
        hits = base.join(paid, on="loan_id", how="inner")
        frames.append(pl.DataFrame({"team": [NO_VISIT], "accounts": [base.height], "repaid": [hits.height],
                                    "recovered_fen": [int(hits["fen"].sum() or 0)], "visited": [False]}))
    out = pl.concat([f.select("team", "visited", "accounts", "repaid", "recovered_fen").cast(
        {"accounts": pl.Int64, "repaid": pl.Int64, "recovered_fen": pl.Int64}) for f in frames], how="vertical")
    return out.with_columns(
        pl.when(pl.col("accounts") > 0).then(pl.col("repaid") / pl.col("accounts")).otherwise(None)
        .alias("repayment_rate")).select(list(SCHEMA))
