"""Trends across campaigns: delivery, opt-out, dispute and repayment rates over 30 or 90 days."""

from __future__ import annotations

import polars as pl
from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import ALL_ROLES, allow
from dunning.entrypoints.web.listing import download
from dunning.services.identity.auth import Principal
from dunning.services.queries import exporting
from dunning.services.queries.trends import GROUPINGS, WINDOWS, as_dicts, trends

router = APIRouter(include_in_schema=False)
BY_ZH = {"day": "按日期", "segment": "按分群", "template": "按模板"}


@router.get("/trends")
def trends_page(request: Request, days: int = 30, by: str = "day", export: str = "",
                principal: Principal = allow(*ALL_ROLES)) -> Response:
    ctx = request.app.state.ctx
    days = days if days in WINDOWS else 30
    by = by if by in GROUPINGS else "day"
    rows = trends(ctx, principal, days=days, by=by)
    if export:
        frame = pl.DataFrame(as_dicts(rows), schema={
            "key": pl.Utf8, "sent": pl.Int64, "delivered": pl.Int64, "opt_outs": pl.Int64, "disputes": pl.Int64,
            "repaid": pl.Int64, "delivery_rate": pl.Float64, "opt_out_rate": pl.Float64, "dispute_rate": pl.Float64,
            "repayment_rate": pl.Float64})
        return download(exporting.export(ctx, principal, "trends", frame, export, {"days": days, "by": by},
                                         sheet="趋势"))
    return renderer(request).page(request, "trends.html", rows=rows, days=days, by=by, windows=WINDOWS,
                                  groupings=BY_ZH)
