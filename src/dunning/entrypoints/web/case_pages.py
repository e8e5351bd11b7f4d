"""The cases console: the queue (filters, SLA colours, bulk assignment, opening a case by hand or from a hotline
call) and the case page (timeline, notes, state, outcome).

Roles: the queue and case pages [operator, compliance, agency, admin] — compliance sees complaints, agency users
their accounts' cases (the service scopes, anything else is "not found"); open and assign [operator, compliance,
admin]; note, move and resolve [operator, compliance, agency, admin] on the cases the user can see. The routes
parse, call :mod:`dunning.services.cases` and format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dunning.domain.cases import CASE_STATE_ZH, CASE_TYPE_ZH, CaseState
from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import allow
from dunning.entrypoints.web.common import done, query_base
from dunning.errors import DunningError
from dunning.services.cases import commands, queries
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role

router = APIRouter(include_in_schema=False)

VIEW_ROLES = (Role.OPERATOR, Role.COMPLIANCE, Role.AGENCY)
OPEN_ROLES = (Role.OPERATOR, Role.COMPLIANCE)
WORK_ROLES = VIEW_ROLES
SLA_ZH = {"overdue": "已超时", "due_soon": "24小时内到期", "ok": "正常", "closed": "已结案"}
OUTCOME_ZH = {
    "upheld": "投诉成立", "partly_upheld": "部分成立", "not_upheld": "投诉不成立", "corrected": "已更正",
    "debt_confirmed": "欠款属实", "wrong_number": "确认非本人号码", "is_borrower": "确为本人",
    "payment_found": "已查到还款", "no_payment": "未查到还款", "instalment_plan": "达成分期方案",
    "payment_holiday": "同意暂缓还款", "declined": "未同意", "called_back": "已回电", "unreachable": "无法联系",
}
FIELD_ZH = {"instalments": "期数", "first_due": "首期还款日", "instalment_amount": "每期金额（元）", "until": "暂缓至"}


def _labels() -> dict[str, Any]:
    return {"case_types": CASE_TYPE_ZH, "case_states": CASE_STATE_ZH, "sla_zh": SLA_ZH, "outcome_zh": OUTCOME_ZH,
            "field_zh": FIELD_ZH}


@router.get("/cases")
def cases_page(request: Request, type: str = "", state: str = "open", due: str = "", overdue: str = "",
               owner: str = "", source: str = "", cursor: int | None = None,
               principal: Principal = allow(*VIEW_ROLES)) -> Response:
    ctx = request.app.state.ctx
    q = {"type": type, "state": state, "due": due, "overdue": overdue, "owner": owner}
    page = queries.list_cases(ctx, principal, type=type or None, state=state or None, due=due or None,
                              overdue=overdue == "1", owner=owner or None, cursor=cursor)
    return renderer(request).page(request, "cases.html", q=q, page=page, cursor=cursor, query_base=query_base(**q),
                                  may_open=principal.has(*OPEN_ROLES), open_source=source or "manual",
                                  may_assign=principal.has(*OPEN_ROLES), **_labels())


@router.post("/cases")
def case_open(request: Request, type: str = Form(...), phone: str = Form("", max_length=32),
              source: str = Form("manual", max_length=16), summary: str = Form("", max_length=2000),
              principal: Principal = allow(*OPEN_ROLES)) -> Response:
    ctx = request.app.state.ctx
    try:
        ref = commands.open_case(ctx, principal, commands.OpenRequest(
            type, commands.normalise_phone(phone), source if source in ("manual", "hotline") else "manual", summary))
    except DunningError as exc:
        return done(request, "/cases", exc.message_zh, exc.message_en, "error")
    if not ref.created:
        return done(request, f"/cases/{ref.id}", f"该号码已有处理中的同类案件 {ref.number}，已记为备注",
                    f"an open case of this type exists ({ref.number}); added as a note")
    return done(request, f"/cases/{ref.id}", f"已开立案件 {ref.number}", f"case {ref.number} opened")


@router.post("/cases/assign")
async def cases_assign(request: Request, principal: Principal = allow(*OPEN_ROLES)) -> Response:
    form = await request.form()
    ids = [int(str(v)) for v in form.getlist("case_id") if str(v).isdigit()]
    owner = str(form.get("owner") or "")
    try:
        n = commands.assign(request.app.state.ctx, principal, ids, owner)
    except DunningError as exc:
        return done(request, "/cases", exc.message_zh, exc.message_en, "error")
    return done(request, "/cases", f"已分派 {n} 个案件给 {owner or '（未指定）'}", f"{n} cases assigned to {owner or '—'}")


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: DbId, principal: Principal = allow(*VIEW_ROLES)) -> Response:
    v = queries.case_view(request.app.state.ctx, principal, case_id)
    nxt = [s for s in (CaseState.IN_PROGRESS, CaseState.WAITING) if s.value != v.case.state]
    return renderer(request).page(request, "case.html", v=v, next_states=[s.value for s in nxt],
                                  may_assign=principal.has(*OPEN_ROLES), **_labels())


def _act(request: Request, case_id: int, zh: str, en: str, fn: Callable[[], object]) -> Response:
    url = f"/cases/{case_id}"
    try:
        fn()
    except DunningError as exc:
        return done(request, url, exc.message_zh, exc.message_en, "error")
    return done(request, url, zh, en)


@router.post("/cases/{case_id}/note")
def case_note(request: Request, case_id: DbId, text: str = Form("", max_length=2000),
              principal: Principal = allow(*WORK_ROLES)) -> Response:
    return _act(request, case_id, "已添加备注", "note added",
                lambda: commands.add_note(request.app.state.ctx, principal, case_id, text))


@router.post("/cases/{case_id}/transition")
def case_transition(request: Request, case_id: DbId, to: str = Form(..., max_length=24),
                    note: str = Form("", max_length=2000), principal: Principal = allow(*WORK_ROLES)) -> Response:
    return _act(request, case_id, "状态已更新", "state changed",
                lambda: commands.transition(request.app.state.ctx, principal, case_id, to, note))


@router.post("/cases/{case_id}/assign")
def case_assign(request: Request, case_id: DbId, owner: str = Form("", max_length=64),
                team: str = Form("", max_length=32), principal: Principal = allow(*OPEN_ROLES)) -> Response:
    return _act(request, case_id, "已分派", "assigned",
                lambda: commands.assign(request.app.state.ctx, principal, [case_id], owner, team))


@router.post("/cases/{case_id}/resolve")
async def case_resolve(request: Request, case_id: int, principal: Principal = allow(*WORK_ROLES)) -> Response:
    form = await request.form()
    outcome = str(form.get("outcome") or "")
    data = {k.removeprefix("f_"): str(v) for k, v in form.items() if k.startswith("f_")}
    reject = form.get("reject") == "1"
    note = str(form.get("note") or "")[:2000]
    return _act(request, case_id, "已结案", "case closed",
                lambda: commands.resolve(request.app.state.ctx, principal, case_id, outcome, data, reject=reject,
                                         note=note))
