"""The replies inbox: every inbound reply with its classification and the message it answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import ALL_ROLES, allow
from dunning.entrypoints.web import listing
from dunning.entrypoints.web.import_pages import parse_day
from dunning.entrypoints.web.listing import download, page_request, parse_id
from dunning.errors import InputError
from dunning.services.identity.auth import Principal
from dunning.services.queries import exporting, replies
from dunning.services.queries.labels import REPLY_ZH
from dunning.services.queries.scope import may_see_phone

router = APIRouter(include_in_schema=False)


FILTERS = ("classification", "campaign_id", "loan_id", "phone", "since", "until", "matched")
listing.add_search_form(router, "/replies", FILTERS)


@router.get("/replies")
def replies_page(request: Request, classification: str = "", campaign_id: str = "", loan_id: str = "",
                 phone: str = "", since: str = "", until: str = "", matched: str = "", ph: str = "",
                 page: int | None = None, sort: str = "", export: str = "",
                 principal: Principal = allow(*ALL_ROLES)) -> Response:
    ctx = request.app.state.ctx
    q = {"classification": classification, "campaign_id": campaign_id.strip(), "loan_id": loan_id, "phone": phone,
         "since": since, "until": until, "matched": matched}
    if (moved := listing.phone_filter(request, "/replies", q, ph)) is not None:
        return moved
    phone = q["phone"]
    lp = error = None
    counts: dict[str, int] = {}
    try:
        cid = parse_id(campaign_id)
        f = replies.ReplyFilter(classification or None, cid, loan_id or None, phone or None,
                                parse_day(since), parse_day(until), matched or None)
        lp = replies.list_replies(ctx, principal, f, page_request(page, sort, export))
        if export:
            return download(exporting.export(ctx, principal, "replies", replies.export_frame(principal, lp),
                                             export, f.params(), sheet="回复"))
        counts = replies.counts(ctx, principal, f)
    except InputError as exc:
        error = pick(request, exc.message_zh, exc.message_en)
    tabs_q = listing.list_query({k: v for k, v in q.items() if k != "classification"})
    return renderer(request).page(request, "replies.html", q=q, lp=lp, error=error, qb=listing.list_query(q),
                                  tabs_q=tabs_q, classes=REPLY_ZH, counts=counts,
                                  full_phone=may_see_phone(principal))
