"""Message search (any combination of filters, numbered pages, sortable, exportable; phones masked unless the
role may see them) and one message's history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import ALL_ROLES, allow
from dunning.entrypoints.web import listing
from dunning.entrypoints.web.import_pages import parse_day
from dunning.entrypoints.web.listing import download, page_request, parse_id
from dunning.errors import InputError
from dunning.services.identity.auth import Principal
from dunning.services.queries import exporting, messages
from dunning.services.queries.labels import MESSAGE_STATE_ZH, REPLY_ZH
from dunning.services.queries.message_detail import message_detail
from dunning.services.queries.scope import may_see_phone

router = APIRouter(include_in_schema=False)


FILTERS = ("loan_id", "phone", "campaign_id", "state", "channel", "template", "segment", "since", "until", "reply")
listing.add_search_form(router, "/messages", FILTERS)


@router.get("/messages")
def messages_page(request: Request, loan_id: str = "", phone: str = "", campaign_id: str = "",
                  state: str = "", channel: str = "", template: str = "", segment: str = "", since: str = "",
                  until: str = "", reply: str = "", ph: str = "", page: int | None = None, sort: str = "",
                  export: str = "", principal: Principal = allow(*ALL_ROLES)) -> Response:
    ctx = request.app.state.ctx
    q = {"loan_id": loan_id, "phone": phone, "campaign_id": campaign_id.strip(), "state": state, "channel": channel,
         "template": template, "segment": segment, "since": since, "until": until, "reply": reply}
    if (moved := listing.phone_filter(request, "/messages", q, ph)) is not None:
        return moved
    phone = q["phone"]
    lp = error = None
    try:
        cid = parse_id(campaign_id)
        f = messages.MessageFilter(loan_id or None, phone or None, cid, state or None, channel or None,
                                   template or None, segment or None, parse_day(since), parse_day(until),
                                   reply or None)
        lp = messages.list_messages(ctx, principal, f, page_request(page, sort, export))
        if export:
            return download(exporting.export(ctx, principal, "messages", messages.export_frame(principal, lp),
                                             export, f.params(), sheet="短信"))
    except InputError as exc:
        error = pick(request, exc.message_zh, exc.message_en)
    return renderer(request).page(request, "messages.html", q=q, lp=lp, error=error, qb=listing.list_query(q),
                                  states=MESSAGE_STATE_ZH, replies=REPLY_ZH, facets=messages.facets(ctx),
                                  full_phone=may_see_phone(principal))


@router.get("/messages/{message_id}")
def message_page(request: Request, message_id: DbId, principal: Principal = allow(*ALL_ROLES)) -> Response:
    d = message_detail(request.app.state.ctx, principal, message_id)
    return renderer(request).page(request, "message.html", d=d)
