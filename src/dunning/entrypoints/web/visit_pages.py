"""Field-visit pages: requests and approvals (报备), the live safety board (server-sent events), route sheets,
visit history per account, the mobile field page, and the public check of a registration number.

Routes (roles in brackets; admin always): ``GET/POST /visits`` [list: supervisor, team lead, collector,
compliance; request: team lead, collector], ``GET /visits/{id}`` [same as list], ``POST /visits/{id}/approve|reject``
[supervisor], ``POST /visits/{id}/notice`` [supervisor: plan the visit-notice SMS campaign], ``POST /visits/{id}/complaint`` [compliance], ``GET /visits/board`` and ``/visits/board/events`` [supervisor, team lead], ``POST
/visits/alarms/{id}/ack`` [supervisor], ``GET /visits/routes`` [supervisor, team lead, collector],
``GET /visits/accounts/{loan_id}`` [as list], ``GET /field`` and ``/field/visits/{id}`` and the field POSTs
(check-in, outcome, check-out, SOS; JSON) [team lead, collector], ``GET /visit-check`` [public].
Entry points parse, call ``dunning.services.visits`` and format; an agency's people see only its visits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from dunning.domain.visits import VisitState
from dunning.entrypoints.http.i18n import EN, pick
from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import allow, public
from dunning.entrypoints.web.common import done, sse_response
from dunning.errors import ComplianceBlocked, InputError, StateError
from dunning.services.campaigns.planning import SUPPRESSION_ZH
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits import complaints, field, queries, safety
from dunning.services.visits.notice import plan_visit_notices, visit_notice
from dunning.services.visits.outcomes import visit_outcomes
from dunning.services.visits.policy import load_policy
from dunning.services.visits.requests import (
    STATE_ZH,
    VisitRequest,
    decide,
    request_visit,
    scope_agency,
    verify_registration,
)
from dunning.services.visits.sheets import day_sheets

router = APIRouter(include_in_schema=False)

SUP, TL, COL = Role.SUPERVISOR, Role.TEAM_LEAD, Role.COLLECTOR
READERS = (SUP, TL, COL, Role.COMPLIANCE)
FIELD = (TL, COL)


def _local(request: Request, day: date, hm: str) -> datetime:
    try:
        t = datetime.strptime(hm.strip(), "%H:%M").time()
    except ValueError:
        raise InputError(f"时间格式应为 HH:MM：{hm}", f"time must be HH:MM: {hm!r}", code="visits.input") from None
    return datetime.combine(day, t, request.app.state.ctx.tz)


def _float(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        raise InputError(f"坐标无效：{value}", f"invalid coordinate {value!r}", code="visits.input") from None


@router.get("/visits")
def visits_page(request: Request, state: str = "", loan_id: str = "", p: Principal = allow(*READERS)) -> Response:
    ctx = request.app.state.ctx
    rows = queries.list_visits(ctx, p, state=state or None, loan_id=loan_id or None)
    return renderer(request).page(request, "visits.html", rows=rows, state=state, loan_id=loan_id,
                                  can_request=p.has(*FIELD), today=ctx.today().isoformat(), title_loan=None,
                                  results=_results(ctx, p))


@router.post("/visits")
def visits_request(request: Request, loan_id: str = Form(..., max_length=64), address: str = Form("", max_length=500),
                   purpose: str = Form(..., max_length=500), day: date = Form(...), start: str = Form(...),
                   end: str = Form(...), members: str = Form(..., max_length=300), risk_notes: str = Form(""),
                   lat: str = Form(""), lon: str = Form(""), p: Principal = allow(*FIELD)) -> Response:
    req = VisitRequest(loan_id=loan_id.strip(), address=address, purpose=purpose,
                       window_start=_local(request, day, start), window_end=_local(request, day, end),
                       members=tuple(m for m in members.replace("，", ",").replace(" ", ",").split(",") if m),
                       risk_notes=risk_notes, lat=_float(lat), lon=_float(lon))
    v = request_visit(request.app.state.ctx, p, req)
    return done(request, f"/visits/{v.id}", f"已提交外访申请 #{v.id}，等待主管审批。",
                f"Visit request #{v.id} submitted; waiting for a supervisor.")


def _results(ctx: Any, p: Principal) -> list[dict[str, Any]]:
    return visit_outcomes(ctx, agency=scope_agency(p)).to_dicts()


def _labelled(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The board's labels in the viewer's language (the page and every server-sent refresh of it)."""

    def tr(zh: str) -> str:
        return pick(request, zh, EN.get(zh, zh)) if zh else ""

    for a in data["alarms"]:
        a["kind_label"], a["level_label"] = tr(a["kind_zh"]), tr(a["level_zh"])
        for x in a["alerts"]:
            x["state_label"] = tr(x["state_zh"])
    for v in data["visits"]:
        v["state_label"], v["outcome_label"] = tr(v["state_zh"]), tr(v["outcome_zh"])
    return data


@router.get("/visits/board")
def board_page(request: Request, p: Principal = allow(SUP, TL)) -> Response:
    ctx = request.app.state.ctx
    data = _labelled(request, queries.board(ctx, p))
    return renderer(request).page(request, "visit_board.html", board=data, can_ack=p.has(SUP),
                                  results=_results(ctx, p))


@router.get("/visits/board/events")
def board_events(request: Request, once: bool = False, p: Principal = allow(SUP, TL)) -> Response:
    ctx = request.app.state.ctx
    return sse_response(request, lambda: _labelled(request, queries.board(ctx, p)), interval=1.0, once=once)


@router.post("/visits/alarms/{alarm_id}/ack")
def alarm_ack(request: Request, alarm_id: int, note: str = Form(""), p: Principal = allow(SUP)) -> Response:
    a = safety.acknowledge(request.app.state.ctx, p, alarm_id, note)
    return done(request, "/visits/board", f"已确认警报 #{a.id}。", f"Alarm #{a.id} acknowledged.")


@router.get("/visits/routes")
def routes_page(request: Request, day: date | None = None, p: Principal = allow(SUP, TL, COL)) -> Response:
    ctx = request.app.state.ctx
    sheets = day_sheets(ctx, p, day or ctx.today())
    return renderer(request).page(request, "visit_routes.html", d=sheets)


@router.get("/visits/accounts/{loan_id}")
def account_visits(request: Request, loan_id: str, p: Principal = allow(*READERS)) -> Response:
    rows = queries.list_visits(request.app.state.ctx, p, loan_id=loan_id)
    return renderer(request).page(request, "visits.html", rows=rows, state="", loan_id=loan_id, can_request=False,
                                  today="", title_loan=loan_id, results=[])


@router.get("/visits/{visit_id}")
def visit_page(request: Request, visit_id: DbId, p: Principal = allow(*READERS)) -> Response:
    ctx = request.app.state.ctx
    d = queries.visit_detail(ctx, p, visit_id)
    notice, notice_problem = None, None
    try:
        notice = visit_notice(ctx, p, visit_id).text if d.visit.state == VisitState.APPROVED else None
    except (InputError, StateError, ComplianceBlocked) as exc:  # no approved template, or its text fails the lint
        notice_problem = pick(request, exc.message_zh, exc.message_en)
    can_decide = p.has(SUP) and d.visit.state == VisitState.REQUESTED and d.visit.requested_by != p.username
    return renderer(request).page(request, "visit.html", d=d, can_decide=can_decide, policy=load_policy(), notice=notice,
                                  notice_problem=notice_problem,
                                  can_notify=p.has(SUP) and notice is not None and d.visit.notice_campaign_id is None,
                                  complaints=complaints.visit_complaints(ctx, p, visit_id),
                                  conduct=complaints.conduct_record(ctx, p, visit_id),
                                  can_complain=p.has(Role.COMPLIANCE))


@router.post("/visits/{visit_id}/complaint")
def visit_complaint(request: Request, visit_id: DbId, summary: str = Form(..., max_length=1500),
                    p: Principal = allow(Role.COMPLIANCE)) -> Response:
    ref = complaints.open_visit_complaint(request.app.state.ctx, p, visit_id, summary)
    return done(request, f"/visits/{visit_id}", f"已开立投诉案件 {ref.number}，与本次外访关联。",
                f"Complaint case {ref.number} opened and linked to this visit.")


@router.post("/visits/{visit_id}/approve")
def visit_approve(request: Request, visit_id: DbId, p: Principal = allow(SUP)) -> Response:
    v = decide(request.app.state.ctx, p, visit_id, approve=True)
    return done(request, f"/visits/{visit_id}", f"已批准并登记，登记号 {v.reg_no}。", f"Approved: registration {v.reg_no}.")


@router.post("/visits/{visit_id}/notice")
def visit_notify(request: Request, visit_id: DbId, p: Principal = allow(SUP)) -> Response:
    r = plan_visit_notices(request.app.state.ctx, p, [visit_id])
    if r.notified:
        return done(request, f"/campaigns/{r.campaign_id}",
                    f"已计划外访通知短信：批次 #{r.campaign_id}（按常规流程试发、审批、发送）。",
                    f"Visit notice planned: campaign #{r.campaign_id} (pilot, approve and send it as usual).")
    reason = next(iter(r.not_sent.values()), "")
    return done(request, f"/visits/{visit_id}",
                f"外访通知未能计划（批次 #{r.campaign_id}，原因：{SUPPRESSION_ZH.get(reason, reason)}），可稍后再试。",
                f"The visit notice could not be planned (campaign #{r.campaign_id}, reason: {reason}); "
                "try again later.", kind="error")


@router.post("/visits/{visit_id}/reject")
def visit_reject(request: Request, visit_id: DbId, reason: str = Form("", max_length=500),
                 p: Principal = allow(SUP)) -> Response:
    decide(request.app.state.ctx, p, visit_id, approve=False, reason=reason)
    return done(request, f"/visits/{visit_id}", "已驳回外访申请。", "Visit request rejected.")


# ------------------------------------------------------------------------------------------ the field


@router.get("/field")
def field_home(request: Request, p: Principal = allow(*FIELD)) -> Response:
    ctx = request.app.state.ctx
    rows = [v for v in queries.list_visits(ctx, p, day=ctx.today())
            if p.username in v.members or p.role is Role.ADMIN]
    return renderer(request).page(request, "field.html", rows=rows)


@router.get("/field/visits/{visit_id}")
def field_page(request: Request, visit_id: DbId, p: Principal = allow(*FIELD)) -> Response:
    d = queries.visit_detail(request.app.state.ctx, p, visit_id)
    return renderer(request).page(request, "field_visit.html", d=d, policy=load_policy(), VisitState=VisitState)


class Where(BaseModel):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    accuracy: float | None = None

    def position(self) -> field.Position | None:
        return None if self.lat is None or self.lon is None else field.Position(self.lat, self.lon, self.accuracy)


class CheckIn(Where):
    checklist: list[str] = Field(default_factory=list, max_length=20)
    recording: bool = False


class Outcome(Where):
    outcome: str = Field(max_length=24)
    notes: str = Field("", max_length=2000)
    promise_on: date | None = None
    promise_amount: float | None = Field(None, ge=0, le=1e9)


def _ok(request: Request, state: str, zh: str, en: str, **extra: Any) -> JSONResponse:
    label = STATE_ZH.get(state, state)
    return JSONResponse({"state": state, "state_label": pick(request, label, EN.get(label, label)),
                         "message": pick(request, zh, en), **extra})


@router.post("/field/visits/{visit_id}/checkin")
def field_checkin(request: Request, visit_id: DbId, body: CheckIn, p: Principal = allow(*FIELD)) -> Response:
    pos = body.position()
    if pos is None:
        raise InputError("无法获取定位，请开启定位后重试", "no position: allow location access and retry",
                         code="visits.position")
    v = field.check_in(request.app.state.ctx, p, visit_id, pos, checklist=body.checklist, recording=body.recording)
    return _ok(request, v.state, "已签到，请按时报平安。", "Checked in; keep checking in on time.",
               next_due=v.next_checkin_due.isoformat() if v.next_checkin_due else None)


@router.post("/field/visits/{visit_id}/outcome")
def field_outcome(request: Request, visit_id: DbId, body: Outcome, p: Principal = allow(*FIELD)) -> Response:
    fen = round(body.promise_amount * 100) if body.promise_amount else None
    v = field.record_outcome(request.app.state.ctx, p, visit_id, body.outcome, notes=body.notes,
                             promise_on=body.promise_on, promise_fen=fen, pos=body.position())
    return _ok(request, v.state, "已记录外访结果。", "Outcome recorded.")


@router.post("/field/visits/{visit_id}/checkout")
def field_checkout(request: Request, visit_id: DbId, body: Where, p: Principal = allow(*FIELD)) -> Response:
    v = field.check_out(request.app.state.ctx, p, visit_id, body.position())
    return _ok(request, v.state, "已签退，外访结束。", "Checked out; the visit is closed.")


@router.post("/field/visits/{visit_id}/sos")
def field_sos(request: Request, visit_id: DbId, body: Where, p: Principal = allow(*FIELD)) -> Response:
    a = field.sos(request.app.state.ctx, p, visit_id, body.position())
    return _ok(request, "sos", "求助已发出，主管已收到警报。如有危险请立即拨打 110。",
               "Help requested: the supervisors have the alarm. In danger call 110 now.", alarm=a.id)


# ---------------------------------------------------------------------------------------- public page


@router.get("/visit-check")
def visit_check(request: Request, reg: str = Query("", max_length=40), _p: Principal | None = public()) -> Response:
    answer = verify_registration(request.app.state.ctx, reg) if reg.strip() else None
    return renderer(request).page(request, "visit_check.html", answer=answer, reg=reg.strip().upper())
