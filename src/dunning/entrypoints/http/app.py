"""The app shell shared by the API and the console: settings-built context, session and header middleware, the
job runner, the renderer, and one error handler that answers JSON to the API and a page to the console.

:func:`build_app` takes the routers and the console's package (templates, static files) from its caller,
:func:`dunning.entrypoints.app.create_app`, so this package imports neither ``api`` nor ``web``."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dunning.config import private_umask
from dunning.entrypoints.http import logscrub
from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.jobs import JobRunner
from dunning.entrypoints.http.render import Renderer, renderer
from dunning.entrypoints.http.security import (
    Forbidden,
    HeadersMiddleware,
    NotAuthenticated,
    SessionMiddleware,
    current_principal,
    safe_next,
    session_of,
)
from dunning.entrypoints.http.security import public as public_route
from dunning.errors import (
    ChannelError,
    ComplianceBlocked,
    ConfigError,
    DunningError,
    InputError,
    NotFoundError,
    PermissionDenied,
    StateError,
)
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.context import AppContext, build_context
from dunning.services.identity.auth import AuthFailed, AuthPolicy, LoginThrottled, Principal, SessionCodec

log = logging.getLogger("dunning.web")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # geolocation for our own pages only: the field-visit page checks a team in against the address (geofence)
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self), payment=(), usb=(), interest-cohort=()",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
}

DESCRIPTION = """
催收短信合规发送平台的 REST API。与网页控制台使用同一套服务与角色。

**认证**：`Authorization: Bearer dun_…`（管理员在「用户」页或用 `dunning users token NAME` 生成）。
**错误**：`{"error": {"code", "message_zh", "message_en"}}`；`code` 稳定，可供脚本判断。
**状态回调**：`POST /api/v1/webhooks/{channel}/dlr|mo`，由通道签名认证。

REST API of the compliance-first collection SMS platform: the same services and roles as the web console.
"""


def status_for(exc: DunningError) -> int:
    """The HTTP status of an error: its own ``http_status`` when an entry point's error declares one (the
    webhooks' signature and replay refusals), else by the error's kind."""
    own: int | None = getattr(exc, "http_status", None)
    if own is not None:
        return own
    if isinstance(exc, LoginThrottled):
        return 429
    if isinstance(exc, AuthFailed):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StateError):
        return 409
    if exc.code == "input.too_large":
        return 413
    if isinstance(exc, InputError | ComplianceBlocked):
        return 422
    if isinstance(exc, ChannelError):
        return 502
    if isinstance(exc, ConfigError):
        return 503
    return 400


def _wants_json(request: Request) -> bool:
    # The API, and the field page's fetch() calls, which ask for JSON explicitly.
    return request.url.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _error_response(request: Request, status: int, code: str, zh: str, en: str,
                    headers: dict[str, str] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": {"code": code, "message_zh": zh, "message_en": en}}, status_code=status,
                            headers=headers)
    text = pick(request, zh, en)
    r = renderer(request)
    if _is_htmx(request):
        html = r.env.get_template("_alert.html").render(kind="danger" if status >= 500 else "warn", text=text,
                                                         code=code)
        return Response(html, status_code=status, media_type="text/html",
                        headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", **(headers or {})})
    titles = {401: ("需要登录", "Sign-in needed"), 403: ("无权访问", "Not allowed"), 404: ("找不到", "Not found"),
              409: ("当前状态不允许", "Not possible now"), 422: ("输入有误", "Check the input"),
              429: ("请求过于频繁", "Too many requests")}
    title = pick(request, *titles.get(status, ("出错了", "Something went wrong")))
    if request.method not in ("GET", "HEAD") and status in (409, 422) and request.headers.get("referer"):
        # A form failed: go back to it and say why (post/redirect/get keeps the form page's URL).
        ref = request.headers["referer"]
        base = str(request.base_url).rstrip("/")
        if ref.startswith(base):
            session_of(request).flash("danger", text)
            return RedirectResponse(safe_next(ref[len(base):] or "/"), status_code=303)
    return r.page(request, "error.html", status=status, title=title, text=text, code=code, headers=headers)


def build_app(ctx: AppContext | None, *, auth_policy: AuthPolicy | None, routers: Iterable[APIRouter],
              pages_package: str) -> FastAPI:
    """Build the app around ``ctx`` (built from settings when omitted) with ``routers`` in order; the console's
    templates and static files are read from ``pages_package``. Nothing happens at import time."""
    ctx = ctx or build_context()
    auth_policy = auth_policy or AuthPolicy()
    private_umask()  # uploads, reports and the database are written owner-only
    logscrub.install()  # access logs keep neither query strings (tokens, phones) nor phone numbers in paths

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            ensure_bundled_templates(ctx)
        except DunningError as exc:
            log.warning("bundled templates not loaded: %s", exc.message_en)
        yield
        app.state.jobs.wait(timeout=10.0)

    app = FastAPI(
        title="dunning API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
        openapi_tags=[{"name": n} for n in ("auth", "imports", "campaigns", "messages", "templates", "audit",
                                             "agencies", "webhooks")],
    )
    codec = SessionCodec(ctx.settings.secret(), max_age=auth_policy.session_max_age,
                         clock=lambda: ctx.now().timestamp())
    app.state.ctx = ctx
    app.state.codec = codec
    app.state.auth_policy = auth_policy
    app.state.jobs = JobRunner()
    app.state.renderer = Renderer(ctx, pages_package)

    app.add_middleware(SessionMiddleware, codec=codec)
    app.add_middleware(HeadersMiddleware, headers=SECURITY_HEADERS)

    @app.exception_handler(NotAuthenticated)
    async def on_anonymous(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": {"code": "auth.required", "message_zh": "需要有效的 API 令牌",
                                           "message_en": "a valid API token is required"}}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        target = "/login?next=" + _quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if _is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def on_forbidden(request: Request, exc: Forbidden) -> Response:
        zh, en = exc.messages()
        return _error_response(request, 403, "auth.csrf" if exc.reason == "csrf" else "auth.forbidden", zh, en)

    @app.exception_handler(DunningError)
    async def on_dunning_error(request: Request, exc: DunningError) -> Response:
        status = status_for(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LoginThrottled) else None
        if status >= 500:
            log.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc.message_en)
        return _error_response(request, status, exc.code, exc.message_zh, exc.message_en, headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": {"code": "input.validation", "message_zh": "请求参数无效",
                                           "message_en": "invalid request"}, "detail": _jsonable(exc.errors())},
                                status_code=422)
        await _principal_for_page(request)
        fields = "、".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return _error_response(request, 422, "input.validation", f"请求参数无效：{fields}。请检查后重试。",
                               f"Invalid request parameters: {fields}. Check them and try again.")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request) or exc.status_code not in (404, 405):
            return JSONResponse({"error": {"code": f"http.{exc.status_code}", "message_zh": str(exc.detail),
                                           "message_en": str(exc.detail)}}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        await _principal_for_page(request)
        return _error_response(request, exc.status_code, f"http.{exc.status_code}",
                               "页面不存在，请检查地址或从导航进入。" if exc.status_code == 404 else "不支持此操作。",
                               "This page does not exist; check the address or use the menu."
                               if exc.status_code == 404 else "This method is not allowed here.")

    for router in routers:
        app.include_router(router)
    static_dir = resources.files(pages_package) / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz(_p: Principal | None = public_route(csrf=False)) -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _principal_for_page(request: Request) -> None:
    """Error pages show the navigation of a signed-in user even when the route never resolved them."""
    try:
        await current_principal(request)
    except NotAuthenticated:
        request.scope["dunning.principal"] = None


def _quote(path: str) -> str:
    return quote(path, safe="/")


def _jsonable(errors: Any) -> Any:
    return json.loads(json.dumps(errors, default=str))
