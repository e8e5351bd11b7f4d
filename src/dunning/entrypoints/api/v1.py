"""REST API v1: the same services and roles as the console, for machines (bearer tokens).

Authenticate with ``Authorization: Bearer dun_…`` (``dunning users token NAME``, or the console's user page).
Errors are ``{"error": {"code", "message_zh", "message_en"}}`` with 401/403/404/409/422/429.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from dunning.entrypoints.api import schemas as S
from dunning.entrypoints.http.ids import MAX_ID, DbId
from dunning.entrypoints.http.jobs import Job, fork_context
from dunning.entrypoints.http.responses import report_response
from dunning.entrypoints.http.security import ALL_ROLES, STAFF, allow
from dunning.entrypoints.http.uploads import PORTFOLIO_TYPES, save_uploads
from dunning.errors import InputError, NotFoundError, StateError
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.campaigns import held, lifecycle, reports
from dunning.services.campaigns.planning import plan_campaign
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.intake.imports import import_portfolio
from dunning.services.queries import audit as audit_q
from dunning.services.queries import campaigns as campaigns_q
from dunning.services.queries import imports as imports_q
from dunning.services.queries import messages as messages_q
from dunning.services.queries import replies as rq
from dunning.services.queries import templates as templates_q
from dunning.services.queries.message_detail import message_detail
from dunning.services.queries.paging import PageRequest

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": S.ErrorOut, "description": "未登录或令牌无效 / missing or invalid token"},
    403: {"model": S.ErrorOut, "description": "角色无权 / role not allowed"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": S.ErrorOut, "description": "不存在 / not found"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": S.ErrorOut, "description": "状态不允许 / wrong state"}}
INVALID: dict[int | str, dict[str, Any]] = {422: {"model": S.ErrorOut, "description": "输入无效 / invalid input"}}

router = APIRouter(prefix="/api/v1", responses=ERRORS)
REJECT_MEDIA = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
Cursor = Query(None, ge=1, le=2**62, description="上一页最后一条的编号 / last id of the previous page")
Limit = Query(50, ge=1, le=200)


@router.get("/me", response_model=S.MeOut, tags=["auth"], summary="当前身份 / who am I")
def me(principal: Principal = allow(*ALL_ROLES)) -> dict[str, Any]:
    return {"username": principal.username, "display_name": principal.display_name, "role": principal.role.value,
            "agency": principal.agency, "via": principal.via}


# ---------------------------------------------------------------------------------------------- imports


@router.get("/imports", response_model=S.ImportListOut, tags=["imports"], summary="导入记录 / imports")
def imports(request: Request, cursor: int | None = Cursor, limit: int = Query(20, ge=1, le=100),
            principal: Principal = allow(*STAFF)) -> BaseModel:
    return S.ImportListOut.model_validate(imports_q.imports_after(request.app.state.ctx, cursor=cursor, limit=limit),
                                          from_attributes=True)


@router.post("/imports", response_model=S.ImportSummaryOut, status_code=201, tags=["imports"],
             responses=INVALID, summary="上传并导入账户文件 / upload and import a portfolio")
def import_upload(request: Request, files: list[UploadFile] = File(...), as_of: date | None = Form(None),
                  encoding: str | None = Form(None, max_length=16),
                  principal: Principal = allow(Role.OPERATOR)) -> dict[str, Any]:
    ctx = request.app.state.ctx
    paths = save_uploads(ctx, files, allowed=PORTFOLIO_TYPES)

    s = import_portfolio(ctx, paths, as_of=as_of, encoding=encoding or None, actor=principal.username)
    return {"import_id": s.import_id, "rows": s.rows, "accepted": s.accepted, "rejected": s.rejected,
            "reasons": s.reasons, "as_of": s.as_of, "already_imported": s.already_imported}


@router.get("/imports/{import_id}", response_model=S.ImportDetailOut, tags=["imports"], responses=NOT_FOUND,
            summary="导入详情与拒绝原因 / import with reject reasons")
def import_detail(request: Request, import_id: DbId, principal: Principal = allow(*STAFF)) -> BaseModel:
    v = imports_q.import_view(request.app.state.ctx, principal, import_id, samples=0)
    return S.ImportDetailOut.model_validate(S.ImportOut.model_validate(v.row).model_dump() | {"reasons": v.reasons})


@router.get("/imports/{import_id}/rejects.{fmt}", tags=["imports"], response_class=FileResponse,
            responses=NOT_FOUND | INVALID, summary="下载拒绝明细 / download the reject report")
def import_rejects(request: Request, import_id: DbId, fmt: str,
                   principal: Principal = allow(Role.OPERATOR, Role.COMPLIANCE)) -> Response:
    got = imports_q.reject_report(request.app.state.ctx, import_id, fmt, actor=principal.username,
                                viewer=principal)
    name = f"import-{import_id}-rejects.{fmt}"
    if isinstance(got, bytes):  # masked for this role
        return Response(got, media_type=REJECT_MEDIA[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return FileResponse(got, filename=name)


# -------------------------------------------------------------------------------------------- campaigns


@router.get("/campaigns", response_model=S.CampaignListOut, tags=["campaigns"], summary="批次列表 / campaigns")
def campaign_list(request: Request, cursor: int | None = Cursor, limit: int = Query(20, ge=1, le=100),
                  state: str | None = Query(None, max_length=24),
                  principal: Principal = allow(*STAFF)) -> BaseModel:
    page = campaigns_q.campaigns_after(request.app.state.ctx, principal, cursor=cursor, limit=limit, state=state)
    return S.CampaignListOut.model_validate(page, from_attributes=True)


@router.post("/campaigns", response_model=S.PlanOut, status_code=201, tags=["campaigns"],
             responses=NOT_FOUND | CONFLICT | INVALID, summary="按内置策略生成计划 / plan a campaign")
def campaign_plan(request: Request, body: S.PlanIn, principal: Principal = allow(Role.OPERATOR)) -> dict[str, Any]:
    ctx = request.app.state.ctx
    if body.channel is not None and body.channel not in ctx.settings.channels:
        raise InputError(f"未配置通道 {body.channel}", f"channel {body.channel!r} is not configured",
                         code="input.channel")
    ensure_bundled_templates(ctx)
    summary = plan_campaign(ctx, actor=principal.username, import_id=body.import_id, as_of=body.as_of,
                            channel=body.channel)
    return summary.to_dict()


@router.get("/campaigns/{campaign_id}", response_model=S.CampaignOut, tags=["campaigns"], responses=NOT_FOUND,
            summary="批次详情 / campaign")
def campaign_get(request: Request, campaign_id: DbId, principal: Principal = allow(*STAFF)) -> BaseModel:
    return S.CampaignOut.model_validate(campaigns_q.campaign_view(request.app.state.ctx, principal, campaign_id))


@router.get("/campaigns/{campaign_id}/progress", response_model=S.ProgressOut, tags=["campaigns"],
            responses=NOT_FOUND, summary="发送进度 / live counts")
def campaign_progress(request: Request, campaign_id: DbId, principal: Principal = allow(*STAFF)) -> BaseModel:
    return S.ProgressOut.model_validate(campaigns_q.campaign_progress(request.app.state.ctx, principal, campaign_id))


def _background(request: Request, principal: Principal, campaign_id: int, kind: str) -> dict[str, Any]:
    ctx = request.app.state.ctx
    st = campaigns_q.campaign_progress(ctx, principal, campaign_id)
    allowed = ("planned", "piloting") if kind == "pilot" else ("pilot_approved", "sending")
    if st.state not in allowed:
        need = "已计划" if kind == "pilot" else "试发已批准"
        raise StateError(f"批次 #{campaign_id} 当前为「{st.state_zh}」，须为「{need}」",
                         f"campaign #{campaign_id} is {st.state}; needs {' or '.join(allowed)}",
                         code="state.not_approved" if kind == "send" else "state.invalid_transition")

    def work(job: Job) -> None:
        job_ctx = fork_context(ctx)
        run = lifecycle.start_pilot if kind == "pilot" else lifecycle.send_campaign
        job.result = run(job_ctx, campaign_id, actor=principal.username,
                         on_progress=lambda p: job.update("sending", p.submitted + p.failed + p.suppressed, p.total))

    job = request.app.state.jobs.start(kind, f"批次 #{campaign_id} {'试发' if kind == 'pilot' else '全量发送'}",
                                       f"campaign #{campaign_id} {kind}", principal.username, work,
                                       key=f"campaign:{campaign_id}")
    return job.to_dict()  # type: ignore[no-any-return]


@router.post("/campaigns/{campaign_id}/pilot", response_model=S.JobOut, status_code=202, tags=["campaigns"],
             responses=NOT_FOUND, summary="开始试发（后台） / start the pilot (background)")
def campaign_pilot(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> dict[str, Any]:
    return _background(request, principal, campaign_id, "pilot")


@router.get("/campaigns/{campaign_id}/pilot", tags=["campaigns"], responses=NOT_FOUND,
            summary="试发结果与达标判断 / pilot report and go/no-go")
def campaign_pilot_report(request: Request, campaign_id: DbId, principal: Principal = allow(*STAFF)) -> dict[str, Any]:
    return lifecycle.pilot_report(request.app.state.ctx, campaign_id)


@router.get("/campaigns/{campaign_id}/report.html", tags=["campaigns"], responses=NOT_FOUND,
            response_class=HTMLResponse, summary="HTML 报告（单个自包含文件）/ the HTML report, one self-contained file")
def campaign_report_html(request: Request, campaign_id: DbId, principal: Principal = allow(*STAFF)) -> HTMLResponse:
    return report_response(reports.campaign_report_html(request.app.state.ctx, campaign_id), campaign_id)


@router.post("/campaigns/{campaign_id}/approve", tags=["campaigns"], responses=NOT_FOUND | CONFLICT,
             summary="批准全量发送（四眼原则） / approve the pilot (four eyes)")
def campaign_approve(request: Request, campaign_id: DbId,
                     principal: Principal = allow(Role.COMPLIANCE)) -> dict[str, Any]:
    return lifecycle.approve_pilot(request.app.state.ctx, campaign_id, actor=principal.username)


@router.get("/campaigns/{campaign_id}/held", tags=["campaigns"], responses=NOT_FOUND,
            summary="暂扣（结果未知）短信 / messages held for a person")
def campaign_held(request: Request, campaign_id: DbId,
                  principal: Principal = allow(Role.COMPLIANCE)) -> dict[str, Any]:
    ctx = request.app.state.ctx
    st = lifecycle.status(ctx, campaign_id)  # 404 for an unknown campaign
    rows = [held.as_dict(m) for m in held.list_held(ctx, campaign_id=campaign_id)]
    return {"campaign_id": campaign_id, "held": st["held"], "hint": st["held_hint"], "messages": rows}


@router.post("/campaigns/{campaign_id}/held/resolve", tags=["campaigns"], responses=NOT_FOUND | CONFLICT,
             summary="人工处理暂扣短信（须填原因，审计） / resolve held messages")
def campaign_held_resolve(request: Request, campaign_id: DbId, body: S.HeldResolveIn,
                          principal: Principal = allow(Role.COMPLIANCE)) -> dict[str, Any]:
    ctx = request.app.state.ctx
    ids = held.ids_of_campaign(ctx, campaign_id, body.ids)
    return held.resolve(ctx, ids, resolution=body.resolution, reason=body.reason, actor=principal.username)


@router.post("/campaigns/{campaign_id}/send", response_model=S.JobOut, status_code=202, tags=["campaigns"],
             responses=NOT_FOUND | CONFLICT, summary="全量发送（后台） / send (background)")
def campaign_send(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> dict[str, Any]:
    return _background(request, principal, campaign_id, "send")


@router.post("/campaigns/{campaign_id}/pause", response_model=S.ProgressOut, tags=["campaigns"],
             responses=NOT_FOUND | CONFLICT, summary="暂停 / pause")
def campaign_pause(request: Request, campaign_id: DbId, body: S.PauseIn | None = None,
                   principal: Principal = allow(Role.OPERATOR, Role.COMPLIANCE)) -> BaseModel:
    ctx = request.app.state.ctx
    lifecycle.pause(ctx, campaign_id, actor=principal.username, reason=body.reason if body else "")
    return S.ProgressOut.model_validate(campaigns_q.campaign_progress(ctx, principal, campaign_id))


@router.post("/campaigns/{campaign_id}/resume", response_model=S.JobOut, status_code=202, tags=["campaigns"],
             responses=NOT_FOUND | CONFLICT, summary="恢复发送（后台） / resume sending (background)")
def campaign_resume(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> dict[str, Any]:
    lifecycle.resume(request.app.state.ctx, campaign_id, actor=principal.username)
    return _background(request, principal, campaign_id, "send")


@router.post("/campaigns/{campaign_id}/cancel", response_model=S.ProgressOut, tags=["campaigns"],
             responses=NOT_FOUND | CONFLICT, summary="取消 / cancel")
def campaign_cancel(request: Request, campaign_id: DbId, principal: Principal = allow(Role.OPERATOR)) -> BaseModel:
    ctx = request.app.state.ctx
    lifecycle.cancel(ctx, campaign_id, actor=principal.username)
    return S.ProgressOut.model_validate(campaigns_q.campaign_progress(ctx, principal, campaign_id))


@router.get("/jobs/{job_id}", response_model=S.JobOut, tags=["campaigns"], responses=NOT_FOUND,
            summary="后台任务进度 / background job")
def job_get(request: Request, job_id: str, principal: Principal = allow(*STAFF)) -> dict[str, Any]:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"任务 {job_id} 不存在或已过期", f"job {job_id} does not exist or has expired",
                            code="not_found.job")
    return job.to_dict()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------- messages


@router.get("/messages", response_model=S.MessageListOut, tags=["messages"], responses=INVALID,
            summary="按借款编号、批次或状态查询短信 / search messages by loan id, campaign or state")
def message_search(request: Request, loan_id: str | None = Query(None, max_length=64),
                   campaign_id: int | None = Query(None, ge=1, le=MAX_ID),
                   state: str | None = Query(None, max_length=16), cursor: int | None = Cursor,
                   limit: int = Limit, principal: Principal = allow(*ALL_ROLES)) -> BaseModel:
    """A phone number never rides in a URL (URLs end up in access logs): search by phone with
    ``POST /api/v1/messages/search``."""
    page = messages_q.search_messages(request.app.state.ctx, principal, loan_id=loan_id, phone=None,
                                      campaign_id=campaign_id, state=state, cursor=cursor, limit=limit)
    return S.MessageListOut.model_validate(page, from_attributes=True)


@router.post("/messages/search", response_model=S.MessageListOut, tags=["messages"], responses=INVALID,
             summary="按手机号等条件查询短信（条件在请求体中） / search messages, phone in the body")
def message_search_body(request: Request, body: S.MessageSearchIn,
                        principal: Principal = allow(*ALL_ROLES)) -> BaseModel:
    page = messages_q.search_messages(request.app.state.ctx, principal, loan_id=body.loan_id, phone=body.phone,
                                      campaign_id=body.campaign_id, state=body.state, cursor=body.cursor,
                                      limit=body.limit)
    return S.MessageListOut.model_validate(page, from_attributes=True)


@router.get("/replies", tags=["messages"], responses=INVALID,
            summary="回复收件箱：每条上行回复、分类与所回复的短信 / replies inbox")
def replies(request: Request, classification: str | None = Query(None, max_length=16),
            campaign_id: int | None = Query(None, ge=1, le=MAX_ID), loan_id: str | None = Query(None, max_length=64),
            since: date | None = None, until: date | None = None,
            page: int = Query(1, ge=1, le=100_000), per_page: int = Query(50, ge=1, le=200),
            sort: str = Query("", max_length=32), principal: Principal = allow(*ALL_ROLES)) -> dict[str, Any]:
    """A phone number never rides in a URL (URLs end up in access logs): search replies by phone with
    ``POST /api/v1/replies/search``."""
    return _replies(request, principal, rq.ReplyFilter(classification, campaign_id, loan_id, None, since, until),
                    PageRequest.of(page, per_page, sort))


@router.post("/replies/search", tags=["messages"], responses=INVALID,
             summary="按手机号等条件查询回复（条件在请求体中） / search replies, phone in the body")
def replies_search_body(request: Request, body: S.ReplySearchIn,
                        principal: Principal = allow(*ALL_ROLES)) -> dict[str, Any]:
    f = rq.ReplyFilter(body.classification, body.campaign_id, body.loan_id, body.phone, body.since, body.until)
    return _replies(request, principal, f, PageRequest.of(body.page, body.per_page, body.sort))


def _replies(request: Request, principal: Principal, f: rq.ReplyFilter, req: PageRequest) -> dict[str, Any]:
    lp = rq.list_replies(request.app.state.ctx, principal, f, req)
    return {"items": [asdict(r) for r in lp.items], "total": lp.total, "page": lp.page, "pages": lp.pages,
            "sort": lp.sort}


@router.get("/messages/{message_id}", response_model=S.MessageDetailOut, tags=["messages"], responses=NOT_FOUND,
            summary="一条短信的完整记录 / one message's history")
def message_get(request: Request, message_id: DbId, principal: Principal = allow(*ALL_ROLES)) -> BaseModel:
    return S.MessageDetailOut.model_validate(message_detail(request.app.state.ctx, principal, message_id))


# ------------------------------------------------------------------------------------------ audit, templates


@router.get("/audit", response_model=S.AuditListOut, tags=["audit"], summary="审计日志 / audit log")
def audit(request: Request, actor: str | None = Query(None, max_length=64),
          action: str | None = Query(None, max_length=64), entity: str | None = Query(None, max_length=32),
          entity_id: str | None = Query(None, max_length=64), since: date | None = None, until: date | None = None,
          cursor: int | None = Cursor, limit: int = Limit,
          principal: Principal = allow(Role.COMPLIANCE)) -> BaseModel:
    f = audit_q.AuditFilter(actor, action, entity, entity_id, since, until)
    page = audit_q.audit_log(request.app.state.ctx, f, cursor=cursor, limit=limit)
    return S.AuditListOut.model_validate(page, from_attributes=True)


@router.get("/templates", response_model=list[S.TemplateOut], tags=["templates"], summary="模板 / templates")  # type: ignore[valid-type]
def templates(request: Request, principal: Principal = allow(*STAFF)) -> list[BaseModel]:
    return [S.TemplateOut.model_validate(t) for t in templates_q.list_templates(request.app.state.ctx)]


@router.get("/templates/{code}", response_model=S.TemplateDetailOut, tags=["templates"], responses=NOT_FOUND,
            summary="模板版本历史 / template versions")
def template_get(request: Request, code: str, principal: Principal = allow(*STAFF)) -> BaseModel:
    t, versions = templates_q.template_history(request.app.state.ctx, code)
    return S.TemplateDetailOut.model_validate({"template": t, "versions": versions}, from_attributes=True)
