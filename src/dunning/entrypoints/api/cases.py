"""REST API for borrower cases (``/api/v1/cases``): the queue, one case with its timeline, and the commands.

Same roles and scoping as the console: operators every case, compliance complaints, agency users their accounts'
cases; opening and assigning by operators and compliance.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.security import allow
from dunning.services.cases import commands, queries
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
VIEW = (Role.OPERATOR, Role.COMPLIANCE, Role.AGENCY)
OPEN = (Role.OPERATOR, Role.COMPLIANCE)


class OpenIn(BaseModel):
    type: str = Field(max_length=24, description="dispute | wrong_person | already_paid | hardship | complaint | callback")
    phone: str = Field(max_length=32)
    source: str = Field("manual", max_length=16, description="manual | hotline")
    summary: str = Field("", max_length=2000)
    loan_ids: list[str] = Field(default_factory=list, max_length=10)
    subject_type: str | None = Field(None, max_length=32, description="e.g. visit: what the case is about")
    subject_id: str | None = Field(None, max_length=64)


class NoteIn(BaseModel):
    text: str = Field(max_length=2000)


class TransitionIn(BaseModel):
    to: str = Field(max_length=24, description="in_progress | waiting")
    note: str = Field("", max_length=2000)


class AssignIn(BaseModel):
    case_ids: list[int] = Field(max_length=500)
    owner: str | None = Field(None, max_length=64)
    team: str | None = Field(None, max_length=32)


class ResolveIn(BaseModel):
    outcome: str = Field(max_length=32)
    data: dict[str, str] = Field(default_factory=dict, description="the outcome's terms, e.g. instalments")
    reject: bool = False
    note: str = Field("", max_length=2000)


def _iso(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}


@router.get("", summary="案件队列 / the cases queue")
def list_cases(request: Request, type: str | None = Query(None, max_length=24), state: str | None = Query(None, max_length=24),
               due: str | None = Query(None, max_length=8), overdue: bool = False, cursor: int | None = Query(None, ge=1),
               limit: int = Query(50, ge=1, le=200), principal: Principal = allow(*VIEW)) -> dict[str, Any]:
    page = queries.list_cases(request.app.state.ctx, principal, type=type, state=state, due=due, overdue=overdue,
                              cursor=cursor, limit=limit)
    return {"items": [_iso(asdict(r)) for r in page.items], "next_cursor": page.next_cursor, "sla": page.counts}


@router.post("", status_code=201, summary="开立案件 / open a case")
def open_case(request: Request, body: OpenIn, principal: Principal = allow(*OPEN)) -> dict[str, Any]:
    ref = commands.open_case(request.app.state.ctx, principal, commands.OpenRequest(
        body.type, commands.normalise_phone(body.phone), body.source if body.source in ("manual", "hotline") else "manual",
        body.summary, loan_ids=tuple(body.loan_ids), subject_type=body.subject_type, subject_id=body.subject_id))
    return _iso(asdict(ref))


@router.post("/assign", summary="批量分派 / assign cases")
def assign(request: Request, body: AssignIn, principal: Principal = allow(*OPEN)) -> dict[str, int]:
    return {"changed": commands.assign(request.app.state.ctx, principal, body.case_ids, body.owner, body.team)}


@router.get("/{case_id}", summary="案件详情与时间线 / one case with its timeline")
def get_case(request: Request, case_id: DbId, principal: Principal = allow(*VIEW)) -> dict[str, Any]:
    v = queries.case_view(request.app.state.ctx, principal, case_id)
    out = asdict(v)
    out["case"] = _iso(out["case"])
    out["timeline"] = [_iso(t) for t in out["timeline"]]
    return _iso(out)


@router.post("/{case_id}/notes", status_code=201, summary="添加备注 / add a note")
def note(request: Request, case_id: DbId, body: NoteIn, principal: Principal = allow(*VIEW)) -> dict[str, bool]:
    commands.add_note(request.app.state.ctx, principal, case_id, body.text)
    return {"ok": True}


@router.post("/{case_id}/transition", summary="更新状态 / move a case")
def transition(request: Request, case_id: DbId, body: TransitionIn, principal: Principal = allow(*VIEW)) -> dict[str, str]:
    return {"state": commands.transition(request.app.state.ctx, principal, case_id, body.to, body.note)}


@router.post("/{case_id}/resolve", summary="结案（处理结果） / close with an outcome")
def resolve(request: Request, case_id: DbId, body: ResolveIn, principal: Principal = allow(*VIEW)) -> dict[str, bool]:
    commands.resolve(request.app.state.ctx, principal, case_id, body.outcome, dict(body.data), reject=body.reject,
                     note=body.note)
    return {"ok": True}
