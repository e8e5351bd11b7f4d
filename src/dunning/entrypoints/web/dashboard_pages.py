"""The dashboard: today's campaigns with live progress, alerts that need a person, channel health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import ALL_ROLES, allow
from dunning.entrypoints.web.common import RateMeter, sse_response
from dunning.services.identity.auth import Principal
from dunning.services.queries import dashboard as dashboard_q

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard(request: Request, principal: Principal = allow(*ALL_ROLES)) -> Response:
    view = dashboard_q.dashboard(request.app.state.ctx, principal)
    return renderer(request).page(request, "dashboard.html", view=view)


@router.get("/events/dashboard")
def dashboard_events(request: Request, once: bool = False, principal: Principal = allow(*ALL_ROLES)) -> Response:
    ctx = request.app.state.ctx
    meter = RateMeter()

    def produce() -> dict[str, Any]:
        view = dashboard_q.dashboard(ctx, principal)
        out = []
        for p in view.campaigns:
            d = p.to_dict()
            d["rates"] = _rates(meter, p.campaign_id, d)
            d["state_label"] = pick(request, p.state_zh, p.state)
            out.append(d)
        return {"campaigns": out}

    return sse_response(request, produce, interval=2.0, once=once)


def _rates(meter: RateMeter, key: Any, d: dict[str, Any]) -> dict[str, float]:
    return meter.rates(key, {"sent": d["accepted"] + d["failed"], "delivered": d["delivered"], "failed": d["failed"]})
