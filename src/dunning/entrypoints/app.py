"""The HTTP entry point: one FastAPI app serving the REST API (``/api/v1``) and the web console.

This is the one place that knows both: :mod:`~dunning.entrypoints.api` and :mod:`~dunning.entrypoints.web`
never import each other and share through :mod:`dunning.entrypoints.http` (import-linter keeps it so).
``create_app(ctx)`` builds the app; nothing is created at import time.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from dunning.entrypoints.api import agencies as agencies_api
from dunning.entrypoints.api import cases as cases_api
from dunning.entrypoints.api import docs, v1, webhooks
from dunning.entrypoints.http.app import build_app
from dunning.entrypoints.web import (
    admin_pages,
    agency_pages,
    audit_pages,
    auth_pages,
    calendar_pages,
    campaign_pages,
    case_pages,
    dashboard_pages,
    import_pages,
    job_pages,
    message_pages,
    public,
    reply_pages,
    self_service,
    template_pages,
    trend_pages,
    visit_pages,
)
from dunning.services.context import AppContext
from dunning.services.identity.auth import AuthPolicy

PAGES_PACKAGE = "dunning.entrypoints.web"  # the console's templates/ and static/


def routers() -> list[APIRouter]:
    """Every router, in the order the app matches them: the API first, then the pages."""
    api = [v1.router, cases_api.router, webhooks.router, docs.router, agencies_api.router,
           public.api_router]  # the verification API lives beside its page
    pages = [module.router for module in (
        auth_pages, dashboard_pages, import_pages, job_pages, template_pages, campaign_pages, message_pages,
        reply_pages, trend_pages, audit_pages, admin_pages, agency_pages, calendar_pages, public, visit_pages,
        case_pages, self_service)]
    return api + pages


def create_app(ctx: AppContext | None = None, *, auth_policy: AuthPolicy | None = None) -> FastAPI:
    """The app around ``ctx`` (built from settings when omitted)."""
    return build_app(ctx, auth_policy=auth_policy, routers=routers(), pages_package=PAGES_PACKAGE)


__all__ = ["create_app"]
