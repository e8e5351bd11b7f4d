"""REST API of the outsourced-agency capability under ``/api/v1/agencies`` (same services and roles as the
console pages; an agency's token sees only its own agency, bids, allocation and scorecard)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.security import STAFF, allow
from dunning.services.agencies import queries, registry, tenders
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role

router = APIRouter(prefix="/api/v1/agencies", tags=["agencies"])


class BidIn(BaseModel):
    """委外机构投标 / an agency's bid for one lot (documents are uploaded in the console)."""

    lot_id: int
    commission_rate: float = Field(gt=0, lt=1, description="佣金费率，如 0.12 / commission rate, e.g. 0.12")
    capacity: int = Field(gt=0, description="可承接户数 / accounts the agency can work")
    promised_recovery_rate: float = Field(0.0, ge=0, le=1)
    promised_complaints_per_10k: float = Field(0.0, ge=0)
    statement: str = Field("", max_length=4000)


@router.get("", summary="合作机构名单 / agencies (an agency sees only itself)")
def agencies(request: Request, principal: Principal = allow(*STAFF, Role.AGENCY)) -> list[dict[str, Any]]:
    return [asdict(a) for a in registry.list_agencies(request.app.state.ctx, principal)]


@router.get("/tenders/{tender_id}/sheet", summary="招标评分表 / a tender's score sheet")
def tender_sheet(request: Request, tender_id: DbId, principal: Principal = allow(*STAFF)) -> dict[str, Any]:
    view = queries.tender_view(request.app.state.ctx, tender_id, principal)
    assert view.sheet is not None  # staff always get the sheet  # nosec B101  # narrows a type for mypy; the invariant holds by construction
    return {"tender_id": view.id, "title": view.title, "state": view.state, "criteria": view.criteria,
            "bids": view.sheet.sheet.drop("submitted_at").to_dicts(), "awards": view.sheet.awards,
            "flags": {int(b): f for b, f in zip(view.sheet.sheet["bid_id"].to_list(),
                                                view.sheet.sheet["flags"].to_list(), strict=True)
                      if f} if view.sheet.sheet.height else {}}


@router.post("/tenders/{tender_id}/bids", status_code=201, summary="提交投标 / submit a bid (agency users)")
def submit_bid(request: Request, tender_id: DbId, body: BidIn, principal: Principal = allow(Role.AGENCY)) -> dict[str, int]:
    bid_id = tenders.submit_bid(request.app.state.ctx, tender_id, body.lot_id, actor=principal.username,
                                commission_rate=body.commission_rate, capacity=body.capacity,
                                promised_recovery_rate=body.promised_recovery_rate,
                                promised_complaints_per_10k=body.promised_complaints_per_10k,
                                statement=body.statement)
    return {"bid_id": bid_id}


@router.get("/periods/{period_id}", summary="分案周期、考核与佣金 / allocation period, scorecard and commission")
def period(request: Request, period_id: DbId, principal: Principal = allow(*STAFF, Role.AGENCY)) -> dict[str, Any]:
    info = queries.period_view(request.app.state.ctx, period_id, principal)
    return {k: (str(v) if k in ("starts_on", "ends_on") else v) for k, v in info.items()}
