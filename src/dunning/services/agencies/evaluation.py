"""The tender's score sheet: bids joined with each agency's measured history, scored by
:func:`dunning.strategy.tender_scoring.score_bids` (ratio to the best, weighted totals, ranks, tie-breaks).

Past performance comes from the agency's latest scorecard when it has one (the loop from measured performance
back into the next tender); an agency without history is scored on what it declared in its bid, and the sheet
says which source each figure came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import select

from dunning.db.agency_models import Agency, Award, Bid, BidScore, EvaluatorConflict, Scorecard, TenderLot
from dunning.services.agencies.tenders import STATE_ZH, criteria_of, get_tender
from dunning.services.context import AppContext
from dunning.strategy.allocation import shares_from_scores
from dunning.strategy.tender_scoring import Criterion, evaluator_matrix, score_bids

METHOD_ZH = ("定量指标按「与最优值之比」归一到 0–100：越高越好者 = 100 × 本值 / 最高值；越低越好者 = 100 × 最低值 / 本值"
             "（0 为最优，得 100）。定性指标由各评委独立打分（0–100），取均值；评委间差异超过 20 分标记复核。"
             "加权总分 = Σ 权重 × 得分 / Σ 权重。同分依次按佣金费率低者、定性均分高者、投标时间早者排序。")
METHOD_EN = ("Quantitative criteria are normalised to 0–100 by ratio to the best: higher-is-better 100 × value / max; "
             "lower-is-better 100 × min / value (0 is best and scores 100). Qualitative criteria are scored 0–100 "
             "by each evaluator independently and averaged; a spread over 20 points between evaluators is flagged. "
             "Weighted total = Σ weight × score / Σ weights. Ties: lower commission, then higher qualitative mean, "
             "then the earlier bid.")


@dataclass
class TenderHead:
    """What every view of a tender starts with."""

    id: int
    title: str
    requirements: str
    state: str
    state_zh: str
    opens_at: Any
    closes_at: Any


@dataclass
class ScoreSheet(TenderHead):
    evaluators: list[str]
    created_by: str
    proposed_by: str | None
    approved_by: str | None
    criteria: tuple[Criterion, ...]
    lots: list[dict[str, Any]]
    sheet: pl.DataFrame  # one row per bid, ranked within its lot
    matrix: pl.DataFrame  # bid × criterion × evaluator
    conflicts: list[dict[str, Any]]
    awards: list[dict[str, Any]]
    suggestion: dict[int, list[tuple[int, str, float]]] = field(default_factory=dict)

    @property
    def tender_id(self) -> int:
        return self.id


def history(s: Any) -> pl.DataFrame:
    """Each agency's latest scorecard figures: recovery rate, complaints per 10,000, compliance findings."""
    rows = s.execute(select(Scorecard.agency_id, Scorecard.figures, Scorecard.id).order_by(Scorecard.id)).all()
    latest: dict[int, dict[str, Any]] = {}
    for agency_id, figures, _id in rows:
        latest[agency_id] = figures
    return pl.DataFrame({
        "agency_id": list(latest), "h_recovery": [f.get("recovery_rate") for f in latest.values()],
        "h_complaints": [f.get("complaints_per_10k") for f in latest.values()],
        "h_findings": [f.get("findings") for f in latest.values()]},
        schema={"agency_id": pl.Int64, "h_recovery": pl.Float64, "h_complaints": pl.Float64, "h_findings": pl.Float64})


def score_sheet(ctx: AppContext, tender_id: int) -> ScoreSheet:
    with ctx.db.transaction() as s:
        t = get_tender(s, tender_id)
        crit = criteria_of(t)
        lots = [{"id": lot.id, "name": lot.name, "buckets": lot.buckets, "regions": lot.regions}
                for lot in s.scalars(select(TenderLot).where(TenderLot.tender_id == t.id).order_by(TenderLot.id))]
        bids = s.execute(select(Bid, Agency.name).join(Agency, Agency.id == Bid.agency_id)
                         .where(Bid.tender_id == t.id).order_by(Bid.id)).all()
        frame = pl.DataFrame(
            [{"bid_id": b.id, "lot_id": b.lot_id, "agency_id": b.agency_id, "agency": name,
              "commission_rate": b.commission_rate, "capacity": b.capacity,
              "promised_recovery_rate": b.promised_recovery_rate,
              "promised_complaints": b.promised_complaints_per_10k, "submitted_at": b.submitted_at,
              "submitted_by": b.submitted_by, "documents": len(b.documents or [])} for b, name in bids],
            schema={"bid_id": pl.Int64, "lot_id": pl.Int64, "agency_id": pl.Int64, "agency": pl.Utf8,
                    "commission_rate": pl.Float64, "capacity": pl.Int64, "promised_recovery_rate": pl.Float64,
                    "promised_complaints": pl.Float64, "submitted_at": pl.Datetime("us", "UTC"),
                    "submitted_by": pl.Utf8, "documents": pl.Int64})
        frame = frame.join(history(s), on="agency_id", how="left").with_columns(
            pl.coalesce("h_recovery", "promised_recovery_rate").alias("past_recovery_rate"),
            pl.coalesce("h_complaints", "promised_complaints").alias("complaint_rate"),
            pl.col("h_findings").fill_null(0.0).alias("compliance_findings"),
            pl.when(pl.col("h_recovery").is_null()).then(pl.lit("declared")).otherwise(pl.lit("measured"))
            .alias("history_source"),
        )
        scores = pl.DataFrame(
            [{"bid_id": r.bid_id, "evaluator": r.evaluator, "criterion": r.criterion, "score": r.score}
             for r in s.scalars(select(BidScore).join(Bid, Bid.id == BidScore.bid_id).where(Bid.tender_id == t.id))],
            schema={"bid_id": pl.Int64, "evaluator": pl.Utf8, "criterion": pl.Utf8, "score": pl.Float64})
        conflicts = [{"evaluator": c.evaluator, "agency": name, "note": c.note, "declared_at": c.declared_at}
                     for c, name in s.execute(select(EvaluatorConflict, Agency.name)
                                              .join(Agency, Agency.id == EvaluatorConflict.agency_id)
                                              .where(EvaluatorConflict.tender_id == t.id))]
        awards = [{"lot_id": a.lot_id, "agency": name, "agency_id": a.agency_id, "share": a.share,
                   "commission_rate": a.commission_rate, "bucket_rates": a.bucket_rates or {}}
                  for a, name in s.execute(select(Award, Agency.name).join(Agency, Agency.id == Award.agency_id)
                                           .where(Award.tender_id == t.id).order_by(Award.lot_id, Award.id))]
        sheet = score_bids(frame, scores, crit) if frame.height else frame
        suggestion: dict[int, list[tuple[int, str, float]]] = {}
        for lot in lots:
            top = sheet.filter(pl.col("lot_id") == lot["id"]).head(2) if sheet.height else sheet
            if top.height:
                shares = shares_from_scores(top.select("agency_id", pl.col("total").alias("score")),
                                            floor=0.2, cap=0.8)
                suggestion[int(str(lot["id"]))] = [(int(a), str(n), round(float(sh), 2)) for a, n, sh in zip(
                    top["agency_id"], top["agency"], shares["share"], strict=True)]
        return ScoreSheet(t.id, t.title, t.requirements, t.state, STATE_ZH.get(t.state, t.state), t.opens_at,
                          t.closes_at, list(t.evaluators or []), t.created_by, t.proposed_by, t.approved_by, crit,
                          lots, sheet, evaluator_matrix(scores), conflicts, awards, suggestion)
