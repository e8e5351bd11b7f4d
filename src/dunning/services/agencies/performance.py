"""Per agency and period: recovery, contact compliance, opt-outs, complaints; the balanced scorecard beside the
tender's promises; next period's shares; commission statements; the yearly evaluation.

**Balanced score (0–100)**, each figure normalised by ratio to the best agency of the period
(:func:`dunning.strategy.tender_scoring.normalise`), weights in :data:`SCORE_WEIGHTS`: recovery rate by amount
40 (higher is better); complaints per 10,000 accounts 20, compliance findings per 10,000 messages 15, opt-outs per
10,000 accounts 15, attempts outside the send window per 10,000 messages 10 (all lower is better). Recovery is
never the only figure: an agency that recovers most by pressure loses on the other 60 points.

**Next shares** = :func:`dunning.strategy.allocation.shares_from_scores` of the scores: proportional to score, at
least :data:`SHARE_FLOOR`, at most :data:`SHARE_CAP`. The scorecard's measured recovery rate, complaints and
findings become the agency's past-performance figures in the next tender's score sheet.

**Cases against the agency** (``cases``, issue 20), counted once each and per 10,000 allocated accounts: the
complaints (type ``complaint``) opened in the period by a borrower whose account the agency worked in it (matched
by phone, as the disputes are), and every case opened in the period that names the agency
(``subject_type = 'agency'``, ``subject_id`` its id or short name). Shown beside the score; the yearly evaluation
carries it per period. Not a score weight of its own: a complaint already weighs through the complaints figure.

**Commission** = recovered amount × the awarded rate *of the account's bucket* (the winning bid's
``bucket_rates``; a bucket without one at the bid's headline rate), one statement line per agency and bucket.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select

from dunning.db.agency_models import Agency, AllocationPeriod, Award, Bid, Scorecard
from dunning.db.bulk import read_frame
from dunning.errors import StateError
from dunning.services import audit
from dunning.services.agencies.records import command, row
from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from dunning.strategy.allocation import shares_from_scores
from dunning.strategy.tender_scoring import Criterion, normalise

SCORE_WEIGHTS = (
    Criterion("recovery_rate", 40, "quantitative", False, "回收率（金额）"),
    Criterion("complaints_per_10k", 20, "quantitative", True, "投诉（每万户）"),
    Criterion("findings_per_10k", 15, "quantitative", True, "合规问题（每万条）"),
    Criterion("opt_outs_per_10k", 15, "quantitative", True, "退订（每万户）"),
    Criterion("outside_window_per_10k", 10, "quantitative", True, "时段外联系（每万条）"),
)
SHARE_FLOOR, SHARE_CAP = 0.10, 0.60
CLOSERS = (Role.ADMIN, Role.COMPLIANCE)


def _bounds(ctx: AppContext, p: AllocationPeriod) -> tuple[datetime, datetime]:
    start = datetime.combine(p.starts_on, time(0), ctx.tz).astimezone(UTC)
    end = datetime.combine(p.ends_on + timedelta(days=1), time(0), ctx.tz).astimezone(UTC)
    return start, end


def _ts(s: Any, value: datetime) -> Any:
    if s.connection().dialect.name == "sqlite":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


PAID_SQL = ("SELECT al.agency_id, al.bucket, COUNT(DISTINCT al.loan_id) AS payers, SUM(pm.amount_fen) AS fen "
            "FROM allocations al JOIN payments pm ON pm.loan_id = al.loan_id WHERE al.period_id = :p "
            "AND pm.paid_at >= :start AND pm.paid_at < :end GROUP BY al.agency_id, al.bucket")
PAID_SCHEMA = {"agency_id": pl.Int64, "bucket": pl.Utf8, "payers": pl.Int64, "fen": pl.Int64}
CASES_SQL = ("SELECT DISTINCT al.agency_id, c.id AS case_id FROM allocations al JOIN cases c ON c.phone = al.phone "
             "WHERE al.period_id = :p AND c.type = 'complaint' AND c.opened_at >= :start AND c.opened_at < :end "
             "UNION SELECT DISTINCT al.agency_id, c.id AS case_id FROM allocations al "
             "JOIN agencies ag ON ag.id = al.agency_id JOIN cases c ON c.subject_type = 'agency' "
             "AND (c.subject_id = ag.name OR c.subject_id = CAST(ag.id AS VARCHAR(20))) "
             "WHERE al.period_id = :p AND c.opened_at >= :start AND c.opened_at < :end")


def _period_paid(ctx: AppContext, s: Any, period_id: int) -> tuple[AllocationPeriod, dict[str, Any], pl.DataFrame]:
    """The period, its query parameters (id and local-day bounds) and its payments by agency and bucket."""
    p = row(s, AllocationPeriod, period_id)
    start, end = _bounds(ctx, p)
    prm = {"p": p.id, "start": _ts(s, start), "end": _ts(s, end)}
    return p, prm, read_frame(s, PAID_SQL, prm, schema=PAID_SCHEMA)


def figures(ctx: AppContext, period_id: int, *, agency_id: int | None = None) -> pl.DataFrame:
    """One row per agency of the period with every measured figure, the balanced score and the bid's promises."""
    with ctx.db.transaction() as s:
        p, prm, paid = _period_paid(ctx, s, period_id)
        base = read_frame(s, "SELECT agency_id, COUNT(*) AS accounts, SUM(amount_due_fen) AS allocated_fen "
                             "FROM allocations WHERE period_id = :p GROUP BY agency_id", prm,
                          schema={"agency_id": pl.Int64, "accounts": pl.Int64, "allocated_fen": pl.Int64})
        cases = read_frame(s, CASES_SQL, prm, schema={"agency_id": pl.Int64, "case_id": pl.Int64}).unique() \
            .group_by("agency_id").agg(pl.len().cast(pl.Int64).alias("cases"))
        msgs = read_frame(
            s, "SELECT ac.agency_id, COUNT(*) AS messages, "
               "SUM(CASE WHEN m.reason = 'lint_block' THEN 1 ELSE 0 END) AS findings, "
               "SUM(CASE WHEN m.submitting_at IS NOT NULL AND (m.submitting_at < m.send_after "
               "OR m.submitting_at >= m.send_before) THEN 1 ELSE 0 END) AS outside_window "
               "FROM messages m JOIN agency_campaigns ac ON ac.campaign_id = m.campaign_id "
               "WHERE ac.period_id = :p AND ac.kind = 'work' AND m.is_test = :no GROUP BY ac.agency_id",
            {**prm, "no": False}, schema={"agency_id": pl.Int64, "messages": pl.Int64, "findings": pl.Int64,
                                          "outside_window": pl.Int64})
        complaints = read_frame(
            s, "SELECT al.agency_id, COUNT(*) AS complaints FROM allocations al JOIN replies r ON r.phone = al.phone "
               "WHERE al.period_id = :p AND r.classification = 'dispute' AND r.received_at >= :start "
               "AND r.received_at < :end GROUP BY al.agency_id", prm,
            schema={"agency_id": pl.Int64, "complaints": pl.Int64})
        opt = read_frame(
            s, "SELECT al.agency_id, COUNT(*) AS opt_outs FROM allocations al JOIN phone_flags f ON f.phone = al.phone "
               "WHERE al.period_id = :p AND f.kind = 'opted_out' AND f.created_at >= :start AND f.created_at < :end "
               "GROUP BY al.agency_id", prm, schema={"agency_id": pl.Int64, "opt_outs": pl.Int64})
        names = read_frame(s, "SELECT id AS agency_id, name, legal_name FROM agencies",
                           schema={"agency_id": pl.Int64, "name": pl.Utf8, "legal_name": pl.Utf8})
        promises = read_frame(
            s, "SELECT aw.agency_id, aw.commission_rate, b.promised_recovery_rate, b.promised_complaints_per_10k "
               "FROM awards aw JOIN bids b ON b.id = aw.bid_id WHERE aw.lot_id = :lot", {"lot": p.lot_id},
            schema={"agency_id": pl.Int64, "commission_rate": pl.Float64, "promised_recovery_rate": pl.Float64,
                    "promised_complaints_per_10k": pl.Float64})
    rec = paid.group_by("agency_id").agg(pl.col("payers").sum().alias("recovered_count"),
                                         pl.col("fen").sum().alias("recovered_fen"))
    df = (base.join(names, on="agency_id", how="left").join(rec, on="agency_id", how="left")
          .join(msgs, on="agency_id", how="left").join(complaints, on="agency_id", how="left")
          .join(opt, on="agency_id", how="left").join(promises, on="agency_id", how="left")
          .join(cases, on="agency_id", how="left"))
    df = df.with_columns(pl.col(c).fill_null(0) for c in ("recovered_count", "recovered_fen", "messages", "findings",
                                                          "outside_window", "complaints", "opt_outs",
                                                          "cases"))
    per10k = 10_000.0
    df = df.with_columns(
        (pl.col("recovered_fen") / pl.col("allocated_fen")).fill_nan(0.0).alias("recovery_rate"),
        (pl.col("complaints") * per10k / pl.col("accounts")).alias("complaints_per_10k"),
        (pl.col("opt_outs") * per10k / pl.col("accounts")).alias("opt_outs_per_10k"),
        pl.when(pl.col("messages") > 0).then(pl.col("findings") * per10k / pl.col("messages")).otherwise(0.0)
        .alias("findings_per_10k"),
        pl.when(pl.col("messages") > 0).then(pl.col("outside_window") * per10k / pl.col("messages")).otherwise(0.0)
        .alias("outside_window_per_10k"),
        (pl.col("cases") * per10k / pl.col("accounts")).alias("cases_per_10k"),
    )
    weights = sum(c.weight for c in SCORE_WEIGHTS)
    scored = normalise(df.with_columns(pl.lit(0).alias("lot_id")), SCORE_WEIGHTS).drop("lot_id")
    scored = scored.with_columns(
        (pl.sum_horizontal([pl.col(f"n_{c.key}") * c.weight for c in SCORE_WEIGHTS]) / weights).round(2)
        .alias("score"))
    shares = shares_from_scores(scored.select("agency_id", "score"), floor=SHARE_FLOOR, cap=SHARE_CAP)
    scored = scored.join(shares.select("agency_id", pl.col("share").alias("next_share")), on="agency_id")
    if agency_id is not None:
        scored = scored.filter(pl.col("agency_id") == agency_id)
    return scored.sort("score", descending=True)


def close_period(ctx: AppContext, period_id: int, *, actor: str) -> dict[int, float]:
    """Record the period's scorecards (figures, score, next share); they feed the next period's shares and the
    next tender's past-performance criterion. Returns agency id → next share."""
    frame = figures(ctx, period_id)
    keep = ("accounts", "allocated_fen", "recovered_fen", "recovered_count", "recovery_rate", "messages", "findings",
            "outside_window", "complaints", "opt_outs", "complaints_per_10k", "opt_outs_per_10k", "findings_per_10k",
            "outside_window_per_10k", "cases", "cases_per_10k")
    with command(ctx, actor, *CLOSERS) as (s, now):
        if s.scalars(select(Scorecard.id).where(Scorecard.period_id == period_id)).first() is not None:
            raise StateError("本周期的考核已记录", "this period's scorecards are already recorded",
                             code="state.scorecard_done")
        out: dict[int, float] = {}
        for row in frame.to_dicts():
            figs = {k: row[k] for k in keep}
            figs["findings"] = row["findings_per_10k"]  # per 10,000 messages: comparable between agencies
            s.add(Scorecard(period_id=period_id, agency_id=row["agency_id"], figures=figs, score=row["score"],
                            next_share=row["next_share"], created_by=actor, created_at=now))
            out[int(row["agency_id"])] = float(row["next_share"])
        audit.record(s, at=now, actor=actor, action="scorecard.close", entity="allocation_period",
                     entity_id=period_id, after={"scores": {str(r["name"]): r["score"] for r in frame.to_dicts()},
                                                 "next_shares": {str(k): v for k, v in out.items()}})
        return out


def next_shares(ctx: AppContext, period_id: int) -> dict[int, float]:
    with ctx.db.transaction() as s:
        return {int(a): float(sh) for a, sh in s.execute(
            select(Scorecard.agency_id, Scorecard.next_share).where(Scorecard.period_id == period_id)).all()}


def commission(ctx: AppContext, period_id: int, *, agency_id: int | None = None) -> pl.DataFrame:
    """Commission statement: one line per agency and bucket, recovered amount × the awarded rate of that bucket
    (the bid's per-bucket rate, else its headline rate), in fen rounded half up."""
    with ctx.db.transaction() as s:
        p, _prm, paid = _period_paid(ctx, s, period_id)
        awards = s.execute(select(Award.agency_id, Award.commission_rate, Award.bucket_rates, Agency.name)
                           .join(Agency, Agency.id == Award.agency_id).where(Award.lot_id == p.lot_id)).all()
    base = pl.DataFrame([(a, r, n) for a, r, _b, n in awards],
                        schema={"agency_id": pl.Int64, "default_rate": pl.Float64, "agency": pl.Utf8}, orient="row")
    by_bucket = pl.DataFrame([(a, str(k), float(v)) for a, _r, b, _n in awards for k, v in (b or {}).items()],
                             schema={"agency_id": pl.Int64, "bucket": pl.Utf8, "rate": pl.Float64}, orient="row")
    out = (paid.join(base, on="agency_id", how="left").join(by_bucket, on=["agency_id", "bucket"], how="left")
           .with_columns(pl.coalesce("rate", "default_rate").alias("rate"))
           .with_columns((pl.col("fen") * pl.col("rate") + 0.5).floor().cast(pl.Int64).alias("commission_fen")))
    if agency_id is not None:
        out = out.filter(pl.col("agency_id") == agency_id)
    return out.select("agency", "bucket", "payers", pl.col("fen").alias("recovered_fen"), "rate",
                      "commission_fen").sort("agency", "bucket")


def yearly_evaluation(ctx: AppContext, agency_id: int, *, actor: str) -> dict[str, Any]:
    """The yearly evaluation: every scorecard of the agency over the past year, with its status and documents;
    recording it moves the next due date a year on (the registry reminds before it is due)."""
    with command(ctx, actor, *CLOSERS) as (s, now):
        a = row(s, Agency, agency_id)
        since = ctx.today() - timedelta(days=365)
        cards = [{"period_id": c.period_id, "score": c.score, "next_share": c.next_share, **c.figures}
                 for c, starts in s.execute(select(Scorecard, AllocationPeriod.starts_on)
                                            .join(AllocationPeriod, AllocationPeriod.id == Scorecard.period_id)
                                            .where(Scorecard.agency_id == a.id)) if starts >= since]
        bids = s.scalars(select(Bid).where(Bid.agency_id == a.id)).all()
        due_before = a.next_evaluation_due
        a.next_evaluation_due = ctx.today() + timedelta(days=365)
        audit.record(s, at=now, actor=actor, action="agency.evaluate", entity="agency", entity_id=a.id,
                     before={"next_evaluation_due": str(due_before)},
                     after={"next_evaluation_due": str(a.next_evaluation_due), "scorecards": len(cards)})
        return {"agency": a.name, "legal_name": a.legal_name, "status": a.status, "evaluated_on": str(ctx.today()),
                "next_due": str(a.next_evaluation_due), "scorecards": cards,
                "mean_score": round(sum(c["score"] for c in cards) / len(cards), 2) if cards else None,
                "cases": sum(int(c.get("cases") or 0) for c in cards),
                "bids": len(bids), "pipl_contract_end": str(a.pipl_contract_end)}
