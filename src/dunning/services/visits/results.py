"""Results flowing back: repayment within N days after a visit, by team, against the accounts of the latest
portfolio that had no visit (repayment within N days of that snapshot). Vectorised with Polars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import polars as pl
from sqlalchemy import func, select

from dunning.db.bulk import read_frame
from dunning.db.models import Import
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.visits.requests import scope_agency

UTC_US = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class TeamResult:
    team: str  # "a+b", or "未外访" for the comparison group
    accounts: int
    repaid: int

    @property
    def rate(self) -> float | None:
        return self.repaid / self.accounts if self.accounts else None


def _ts(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Utf8).str.to_datetime(time_zone="UTC", strict=False).cast(UTC_US)


def repayment_after_visits(ctx: AppContext, p: Principal, *, days: int = 30) -> list[TeamResult]:
    agency = scope_agency(p)
    with ctx.db.transaction() as s:
        import_id = s.scalar(select(func.max(Import.id)).where(Import.kind == "portfolio"))
        as_of = s.scalar(select(Import.as_of).where(Import.id == import_id)) if import_id else None
        visits = read_frame(s, "SELECT loan_id, members, closed_at, agency FROM visits WHERE state = 'closed'",
                            schema={"loan_id": pl.Utf8, "members": pl.Utf8, "closed_at": pl.Utf8,
                                    "agency": pl.Utf8})
        pays = read_frame(s, "SELECT loan_id, paid_at FROM payments", schema={"loan_id": pl.Utf8, "paid_at": pl.Utf8})
        accts = read_frame(s, "SELECT loan_id, agency FROM accounts WHERE import_id = :i", {"i": import_id or -1},
                           schema={"loan_id": pl.Utf8, "agency": pl.Utf8})
    if agency is not None:
        visits = visits.filter(pl.col("agency") == agency)
        accts = accts.filter(pl.col("agency") == agency)
    pays = pays.with_columns(_ts("paid_at").alias("paid_at"))
    window = pl.duration(days=days)
    v = (visits.with_columns(_ts("closed_at").alias("at"),
                             pl.col("members").str.replace_all(r'[\[\]" ]', "").str.replace_all(",", "+").alias("team"))
         .join(pays, on="loan_id", how="left")
         .with_columns(((pl.col("paid_at") >= pl.col("at")) & (pl.col("paid_at") < pl.col("at") + window))
                       .fill_null(False).alias("hit"))
         .group_by("team", "loan_id").agg(pl.col("hit").any())
         .group_by("team").agg(pl.len().alias("accounts"), pl.col("hit").sum().alias("repaid")).sort("team"))
    out = [TeamResult(r["team"], int(r["accounts"]), int(r["repaid"])) for r in v.iter_rows(named=True)]
    if as_of is not None:
        start = datetime.combine(as_of, time(0), ctx.tz).astimezone(UTC)
        end = start + timedelta(days=days)
        paid = pays.filter((pl.col("paid_at") >= start) & (pl.col("paid_at") < end)).select("loan_id").unique()
        base = accts.join(visits.select("loan_id").unique(), on="loan_id", how="anti")
        hit = base.join(paid, on="loan_id", how="semi").height
        out.append(TeamResult("未外访", base.height, hit))
    return out
