"""Read models for the console and the API, scoped by viewer: an agency user sees only its own agency, its own
bids, its own allocation and scorecard rows — nothing of other agencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import polars as pl
from sqlalchemy import func, select

from dunning.db.agency_models import Agency, AllocationPeriod, Bid, Tender, TenderLot
from dunning.domain.agencies import AllocationPeriodState, TenderState
from dunning.errors import PermissionDenied
from dunning.services.agencies.evaluation import ScoreSheet, TenderHead, score_sheet
from dunning.services.agencies.gate import allocated
from dunning.services.agencies.performance import commission, figures
from dunning.services.agencies.records import row
from dunning.services.agencies.registry import own_agency_id
from dunning.services.agencies.tenders import STATE_ZH, conflicted, get_tender
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal


@dataclass
class TenderView(TenderHead):
    is_open: bool
    lots: list[dict[str, Any]]
    evaluators: list[str]
    criteria: list[dict[str, Any]]
    my_bids: list[dict[str, Any]]
    bids: int
    conflicts: set[int]  # agency ids the viewer declared a conflict with
    sheet: ScoreSheet | None  # staff only


def tenders(ctx: AppContext) -> list[dict[str, Any]]:
    with ctx.db.transaction() as s:
        counts = dict(s.execute(select(Bid.tender_id, func.count()).group_by(Bid.tender_id)).all())
        return [{"id": t.id, "title": t.title, "state": t.state, "state_zh": STATE_ZH.get(t.state, t.state),
                 "opens_at": t.opens_at, "closes_at": t.closes_at, "bids": counts.get(t.id, 0),
                 "evaluators": t.evaluators} for t in s.scalars(select(Tender).order_by(Tender.id.desc()))]


def tender_view(ctx: AppContext, tender_id: int, viewer: Principal) -> TenderView:
    mine = own_agency_id(ctx, viewer)
    now = ctx.now().astimezone(UTC)
    with ctx.db.transaction() as s:
        t = get_tender(s, tender_id)
        lots = [{"id": lot.id, "name": lot.name, "buckets": lot.buckets, "regions": lot.regions}
                for lot in s.scalars(select(TenderLot).where(TenderLot.tender_id == t.id).order_by(TenderLot.id))]
        my_bids = [{"lot_id": b.lot_id, "commission_rate": b.commission_rate, "bucket_rates": b.bucket_rates or {},
                    "capacity": b.capacity,
                    "submitted_at": b.submitted_at, "documents": len(b.documents or [])}
                   for b in s.scalars(select(Bid).where(Bid.tender_id == t.id, Bid.agency_id == mine))] \
            if mine is not None else []
        n_bids = s.scalar(select(func.count()).select_from(Bid).where(Bid.tender_id == t.id)) or 0
        closes, opens = t.closes_at, t.opens_at
        view = TenderView(t.id, t.title, t.requirements, t.state, STATE_ZH.get(t.state, t.state), t.opens_at,
                          t.closes_at, t.state == TenderState.OPEN and opens <= now < closes, lots,
                          list(t.evaluators or []), list(t.criteria), my_bids, n_bids, conflicted(s, t.id, viewer.username), None)
    if mine is None:
        view.sheet = score_sheet(ctx, tender_id)
    return view


PERIOD_ZH: dict[str, str] = {AllocationPeriodState.ACTIVE: "执行中", AllocationPeriodState.ENDED: "已结束",
                             AllocationPeriodState.RECALLED: "已全部收回"}


def periods(ctx: AppContext, viewer: Principal) -> list[dict[str, Any]]:
    mine = own_agency_id(ctx, viewer)
    with ctx.db.transaction() as s:
        rows = s.execute(select(AllocationPeriod, TenderLot.name, Tender.title)
                         .join(TenderLot, TenderLot.id == AllocationPeriod.lot_id)
                         .join(Tender, Tender.id == TenderLot.tender_id).order_by(AllocationPeriod.id.desc())).all()
        out = []
        for p, lot, title in rows:
            live = allocated(s, p.id, mine)
            if mine is not None and live.is_empty():
                continue
            out.append({"id": p.id, "lot": lot, "tender": title, "starts_on": p.starts_on, "ends_on": p.ends_on,
                        "state": p.state, "state_zh": PERIOD_ZH.get(p.state, p.state), "accounts": live.height,
                        "noticed": int(live["notice_delivered"].sum()) if live.height else 0,
                        "notice_campaign_id": p.notice_campaign_id})
        return out


def period_view(ctx: AppContext, period_id: int, viewer: Principal) -> dict[str, Any]:
    mine = own_agency_id(ctx, viewer)
    with ctx.db.transaction() as s:
        p = row(s, AllocationPeriod, period_id)
        live = allocated(s, p.id, mine)
        if mine is not None and live.is_empty():
            raise PermissionDenied("本机构在该周期没有分案", "your agency has no accounts in this period")
        names = {int(i): str(n) for i, n in s.execute(select(Agency.id, Agency.name)).all()}
        lot = s.get(TenderLot, p.lot_id)
        info = {"id": p.id, "lot": lot.name if lot else "", "lot_id": p.lot_id, "import_id": p.import_id,
                "starts_on": p.starts_on, "ends_on": p.ends_on, "state": p.state,
                "state_zh": PERIOD_ZH.get(p.state, p.state),
                "notice_campaign_id": p.notice_campaign_id, "shares": {names.get(int(k), k): v
                                                                       for k, v in (p.shares or {}).items()}}
    by_agency = live.group_by("agency_id").agg(pl.len().alias("accounts"),
                                                pl.col("notice_delivered").sum().alias("noticed"),
                                                (pl.col("amount_due_fen").sum()).alias("amount_fen")).sort("agency_id")
    info["by_agency"] = [{"agency": names.get(int(r["agency_id"]), "?"), **r} for r in by_agency.to_dicts()]
    info["scorecard"] = figures(ctx, period_id, agency_id=mine).to_dicts()
    info["commission"] = commission(ctx, period_id, agency_id=mine).to_dicts()
    return info
