"""Template pages (provisional: list and version history, until the templates service lands)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.api.security import STAFF, allow
from dunning.entrypoints.web.render import renderer
from dunning.services import console
from dunning.services.auth import Principal

router = APIRouter(include_in_schema=False)



@router.get("/templates")
def templates_page(request: Request, principal: Principal = allow(*STAFF)) -> Response:
    items = console.list_templates(request.app.state.ctx)
    return renderer(request).page(request, "templates.html", items=items)
