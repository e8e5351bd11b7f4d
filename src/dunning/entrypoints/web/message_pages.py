"""Message search (by loan id or phone; phones masked unless the role may see them) and one message's history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.api.ids import DbId, QueryId
from dunning.entrypoints.api.security import ALL_ROLES, allow
from dunning.entrypoints.web.common import pick, query_base
from dunning.entrypoints.web.render import renderer
from dunning.errors import InputError
from dunning.services import console
from dunning.services.auth import Principal

router = APIRouter(include_in_schema=False)


@router.get("/messages")
def messages_page(request: Request, loan_id: str = "", phone: str = "", campaign_id: QueryId = None,
                  state: str = "", cursor: QueryId = None, principal: Principal = allow(*ALL_ROLES)) -> Response:
    ctx = request.app.state.ctx
    q = {"loan_id": loan_id, "phone": phone, "campaign_id": campaign_id, "state": state}
    page = error = None
    if loan_id.strip() or phone.strip() or campaign_id is not None:
        try:
            page = console.search_messages(ctx, principal, loan_id=loan_id, phone=phone, campaign_id=campaign_id,
                                           state=state or None, cursor=cursor)
        except InputError as exc:
            error = pick(request, exc.message_zh, exc.message_en)
    return renderer(request).page(request, "messages.html", q=q, page=page, error=error, cursor=cursor,
                                  query_base=query_base(**q), states=console.MESSAGE_STATE_ZH,
                                  full_phone=console.may_see_phone(principal))


@router.get("/messages/{message_id}")
def message_page(request: Request, message_id: DbId, principal: Principal = allow(*ALL_ROLES)) -> Response:
    d = console.message_detail(request.app.state.ctx, principal, message_id)
    return renderer(request).page(request, "message.html", d=d)
