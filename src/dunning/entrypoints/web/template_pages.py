"""Template pages: list, version history, an editor whose lint findings appear highlighted as one types, and
the lifecycle (save a new draft, submit for review, approve by someone other than the author, send back,
retire) through :mod:`dunning.services.templates`, which enforces roles, four eyes and lint."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import STAFF, allow
from dunning.entrypoints.web.common import done
from dunning.services import templates as tsvc
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.queries import templates as templates_q
from dunning.templates import STAGES, TONES
from dunning.templates.editor import format_variables, parse_variables

router = APIRouter(include_in_schema=False)
EDITORS = tsvc.EDITOR_ROLES
REVIEWERS = tsvc.REVIEWER_ROLES
LENGTH_NOTE = ("按最长变量取值计算，含签名；每字计 1，70 字内 1 条，超出按 67 字/条",
               "widest values, signature included; every character counts 1: up to 70 is one part, then 67 per part")


@router.get("/templates")
def templates_page(request: Request, principal: Principal = allow(*STAFF)) -> Response:
    items = templates_q.list_templates(request.app.state.ctx)
    return renderer(request).page(request, "templates.html", items=items, can_edit=principal.has(*EDITORS),
                                  tones=TONES, stages=STAGES)


@router.post("/templates")
def template_create(request: Request, code: str = Form(...), name: str = Form(""), tone: str = Form("neutral"),
                    stage: str = Form(""), profile: str = Form("CN"), text: str = Form(...),
                    variables: str = Form(""), principal: Principal = allow(*EDITORS)) -> Response:
    """A new template: its first version is a draft, reviewed like any other."""
    v = tsvc.create(request.app.state.ctx, code=code, text=text, variables=parse_variables(variables),
                    actor=principal.username, tone=tone, stage=stage, profile=profile, name=name.strip())
    return done(request, f"/templates/{v.code}", f"已新建模板 {v.code}（v{v.version} 草稿）。下一步：检查无误后提交审核。",
                f"Template {v.code} created (v{v.version}, draft). Next: check it and submit it for review.")


@router.get("/templates/{code}")
def template_page(request: Request, code: str, principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    t, _rows = templates_q.template_history(ctx, code)
    versions = tsvc.history(ctx, code)
    latest = versions[0] if versions else None
    return renderer(request).page(
        request, "template_edit.html", t=t, versions=versions, can_edit=principal.has(*EDITORS),
        can_review=principal.has(*REVIEWERS), draft_text=latest.text if latest else "",
        draft_vars=format_variables(latest.variables if latest else {}),
        template_channels=tsvc.template_channels(ctx))


@router.post("/templates/{code}/check")
def template_check(request: Request, code: str, text: str = Form(""), variables: str = Form(""),
                   principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    t, _rows = templates_q.template_history(ctx, code)
    check = templates_q.template_check(ctx, text, variables, profile=t.profile, tone=t.tone, stage=t.stage)
    error = pick(request, check.error_zh, check.error_en or "") if check.error_zh else None
    return renderer(request).fragment(
        request, "_template_check.html", segments=check.segments, findings=check.findings, previews=check.previews,
        error=error, length={"chars": check.chars, "parts": check.parts, "note_zh": LENGTH_NOTE[0],
                             "note_en": LENGTH_NOTE[1]})


@router.post("/templates/{code}")
def template_save(request: Request, code: str, text: str = Form(...), variables: str = Form(""),
                  principal: Principal = allow(*EDITORS)) -> Response:
    ctx = request.app.state.ctx
    t, _rows = templates_q.template_history(ctx, code)
    v = tsvc.save(ctx, code=code, text=text, variables=parse_variables(variables), actor=principal.username,
                  tone=t.tone, stage=t.stage, profile=t.profile, name=t.name)
    blocks = sum(1 for f in v.findings if f.get("severity") == "block")
    if blocks:
        return done(request, f"/templates/{code}", f"已保存为 v{v.version}（草稿），但有 {blocks} 个阻断项：修改前不能提交审核。",
                    f"Saved as v{v.version} (draft) with {blocks} blocking findings: fix them before review.", "warn")
    return done(request, f"/templates/{code}", f"已保存为 v{v.version}（草稿）。下一步：提交审核。",
                f"Saved as v{v.version} (draft). Next: submit it for review.")


@router.post("/templates/{code}/versions/{version}/submit")
def template_submit(request: Request, code: str, version: DbId, principal: Principal = allow(*EDITORS)) -> Response:
    tsvc.submit_for_review(request.app.state.ctx, code, version, actor=principal.username)
    return done(request, f"/templates/{code}", f"v{version} 已提交审核，须由作者以外的合规审核人批准。",
                f"v{version} is in review; a compliance reviewer other than the author approves it.")


@router.post("/templates/{code}/versions/{version}/approve")
def template_approve(request: Request, code: str, version: DbId,
                     principal: Principal = allow(*REVIEWERS)) -> Response:
    tsvc.approve(request.app.state.ctx, code, version, actor=principal.username)
    return done(request, f"/templates/{code}", f"v{version} 已批准，新计划的批次将使用此版本。",
                f"v{version} approved; campaigns planned from now on use it.")


@router.post("/templates/{code}/versions/{version}/reject")
def template_reject(request: Request, code: str, version: DbId, reason: str = Form(""),
                    principal: Principal = allow(*REVIEWERS)) -> Response:
    tsvc.reject(request.app.state.ctx, code, version, actor=principal.username, reason=reason[:200])
    return done(request, f"/templates/{code}", f"v{version} 已退回为草稿。", f"v{version} sent back to draft.", "warn")


@router.post("/templates/{code}/versions/{version}/retire")
def template_retire(request: Request, code: str, version: DbId, principal: Principal = allow(*EDITORS)) -> Response:
    v = tsvc.retire(request.app.state.ctx, code, version, actor=principal.username)
    if v.pending:
        return done(request, f"/templates/{code}", f"v{version} 的停用申请已提交，须由另一位合规审核人员确认。",
                    f"v{version}: retirement requested; another compliance reviewer must confirm it.", "warn")
    return done(request, f"/templates/{code}", f"v{version} 已停用。", f"v{version} retired.", "warn")


@router.post("/templates/{code}/versions/{version}/codes")
def template_codes(request: Request, code: str, version: DbId, channel: str = Form(""), provider_code: str = Form(""),
                   principal: Principal = allow(*EDITORS)) -> Response:
    """Register (or, with an empty code, remove) the template code a provider assigned to an approved version."""
    v = tsvc.set_channel_codes(request.app.state.ctx, code, version, codes={channel.strip(): provider_code.strip()},
                               actor=principal.username)
    if v.pending:
        return done(request, f"/templates/{code}", f"v{version} 的模板编号变更已提交，须由另一位合规审核人员确认。",
                    f"v{version}: template code change requested; another compliance reviewer must confirm it.",
                    "warn")
    if provider_code.strip():
        return done(request, f"/templates/{code}", f"v{version} 已登记通道 {channel} 的模板编号 {provider_code.strip()}。",
                    f"v{version}: {channel} template code {provider_code.strip()} registered.")
    return done(request, f"/templates/{code}", f"v{version} 已删除通道 {channel} 的模板编号。",
                f"v{version}: {channel} template code removed.", "warn")


__all__ = ["Role", "router"]
