"""Template pages: list, version history, an editor whose lint findings appear highlighted as one types.

Saving, submitting, approving and retiring versions go through ``dunning.services.templates`` when it is
installed; until then the pages show what exists (history, live check, preview) and no write buttons.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dunning.entrypoints.api.security import STAFF, allow
from dunning.entrypoints.web.common import pick
from dunning.entrypoints.web.render import renderer
from dunning.services import console
from dunning.services.auth import Principal
from dunning.services.users import Role

router = APIRouter(include_in_schema=False)
ACTIONS = ("save", "submit", "approve", "reject", "retire")


def template_service() -> ModuleType | None:
    try:
        return importlib.import_module("dunning.services.templates")
    except ModuleNotFoundError as exc:
        if exc.name != "dunning.services.templates":
            raise
        return None


def available_actions() -> dict[str, bool]:
    svc = template_service()
    return {a: svc is not None and hasattr(svc, a) for a in ACTIONS}


@router.get("/templates")
def templates_page(request: Request, principal: Principal = allow(*STAFF)) -> Response:
    items = console.list_templates(request.app.state.ctx)
    return renderer(request).page(request, "templates.html", items=items)


@router.get("/templates/{code}")
def template_page(request: Request, code: str, principal: Principal = allow(*STAFF)) -> Response:
    t, versions = console.template_history(request.app.state.ctx, code)
    latest = versions[0] if versions else None
    services = available_actions()
    return renderer(request).page(
        request, "template_edit.html", t=t, versions=versions, services=services,
        can_edit=principal.has(Role.STRATEGIST),
        draft_text=latest.text if latest else "", draft_vars=console.format_variables(latest.variables if latest else {}))


@router.post("/templates/{code}/check")
def template_check(request: Request, code: str, text: str = Form(""), variables: str = Form(""),
                   principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    t, _versions = console.template_history(ctx, code)
    check = console.template_check(ctx, text, variables, profile=t.profile)
    error = pick(request, check.error_zh, check.error_en or "") if check.error_zh else None
    note = ("按最长变量取值计算，含签名；每字计 1，70 字内 1 条，超出按 67 字/条", "widest values, signature "
            "included; every character counts 1: up to 70 is one part, then 67 per part")
    return renderer(request).fragment(
        request, "_template_check.html", segments=check.segments, findings=check.findings, previews=check.previews,
        error=error, length={"chars": check.chars, "parts": check.parts, "note_zh": note[0], "note_en": note[1]})
