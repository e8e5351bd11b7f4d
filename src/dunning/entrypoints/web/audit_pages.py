"""The audit log: every action in the console and the CLI, filterable, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import allow
from dunning.entrypoints.web.common import query_base
from dunning.entrypoints.web.import_pages import parse_day
from dunning.entrypoints.web.listing import download, page_request
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.queries import audit as audit_q
from dunning.services.queries import exporting

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_page(request: Request, actor: str = "", action: str = "", entity: str = "", entity_id: str = "",
               since: str = "", until: str = "", page: int | None = None, sort: str = "", export: str = "",
               principal: Principal = allow(Role.COMPLIANCE)) -> Response:
    ctx = request.app.state.ctx
    f = audit_q.AuditFilter(actor or None, action or None, entity or None, entity_id or None, parse_day(since),
                            parse_day(until))
    lp = audit_q.list_audit(ctx, f, page_request(page, sort, export))
    if export:
        return download(exporting.export(ctx, principal, "audit", audit_q.export_frame(lp), export, f.params(),
                                         sheet="审计日志"))
    qb = query_base(actor=actor, action=action, entity=entity, entity_id=entity_id, since=since, until=until)
    return renderer(request).page(request, "audit.html", lp=lp, f=f, facets=audit_q.audit_facets(ctx), qb=qb)
