"""List pages: the page request from the query string, and an export answered as a download."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dunning.entrypoints.http.security import ALL_ROLES, allow, session_of
from dunning.entrypoints.web.common import query_base
from dunning.errors import InputError
from dunning.services.identity.auth import Principal
from dunning.services.queries.exporting import ExportFile
from dunning.services.queries.paging import PageRequest


def page_request(page: int | None, sort: str, export: str, per_page: int | None = None) -> PageRequest:
    """The page asked for, or (with ``export``) every matching row in the sort shown."""
    return PageRequest.export(sort) if export else PageRequest.of(page, per_page, sort)


def parse_id(value: str) -> int | None:
    """A number typed in a filter box; empty means no filter, anything else but digits is a clear error."""
    v = (value or "").strip().lstrip("#")
    if not v:
        return None
    if not v.isdigit() or len(v) > 18:
        raise InputError(f"编号应为数字：{value}", f"ids are numbers: {value}", code="input.id")
    return int(v)


def filters_query(params: dict[str, Any]) -> str:
    return query_base(**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()})


def download(f: ExportFile) -> Response:
    return Response(f.body, media_type=f.media_type,
                    headers={"Content-Disposition": f"attachment; filename=\"{f.filename}\"",
                             "Cache-Control": "no-store"})


# A phone typed into a search box stays out of URLs (access logs, browser history, Referer headers): the form is
# posted, the phone kept in the signed session cookie, and the list's URLs carry only ``ph=1`` ("the phone kept
# for this page"), so paging, sorting and exports keep the filter.
PHONE_KEPT = "ph"


def keep_phone_and_redirect(request: Request, path: str, q: dict[str, Any]) -> RedirectResponse:
    """Keep ``q['phone']`` for the page at ``path`` and answer 303 to the list with the other filters."""
    phone = str(q.get("phone") or "").strip()
    session_of(request).keep_phone(path, phone)
    qs = filters_query({**q, "phone": "", PHONE_KEPT: "1" if phone else ""})
    return RedirectResponse(path + ("?" + qs if qs else ""), status_code=303)


async def posted_search(request: Request, path: str, fields: tuple[str, ...]) -> RedirectResponse:
    """A list's posted search form: its phone kept, its other ``fields`` into the list's URL (303)."""
    form = await request.form()
    return keep_phone_and_redirect(request, path, {k: str(form.get(k) or "") for k in fields})


def phone_filter(request: Request, path: str, q: dict[str, Any], ph: str) -> RedirectResponse | None:
    """Set ``q['phone']`` to the phone kept for the page at ``path`` when its URL says so (``ph=1``), else none;
    a URL that carries the number itself (an old link, a bookmark) is answered with a 303 to the list without it."""
    if q.get("phone"):
        return keep_phone_and_redirect(request, path, q)
    q["phone"] = session_of(request).phone(path) if ph else ""
    return None


def add_search_form(router: APIRouter, path: str, fields: tuple[str, ...]) -> None:
    """``POST path``: the list's search form (every role that may see the list), see :func:`posted_search`."""

    async def search(request: Request, _p: Principal = allow(*ALL_ROLES)) -> Response:
        return await posted_search(request, path, fields)

    search.__doc__ = f"The search form of {path}: the phone kept in the session, the other filters in the URL."
    router.add_api_route(path, search, methods=["POST"], name=f"search {path}")


def list_query(q: dict[str, Any]) -> str:
    """The filters as a query string for the list's own links: the phone as ``ph=1``, never the number."""
    return filters_query({**q, "phone": "", PHONE_KEPT: "1" if q.get("phone") else ""})
