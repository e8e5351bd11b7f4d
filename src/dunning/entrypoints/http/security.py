"""Who is calling and may they: sessions (cookie), API tokens (bearer), role checks, CSRF.

Every route declares its roles with :func:`allow` (or :func:`public`); ``tests/web/test_role_matrix.py`` walks
every route of the app and fails on a route without a declaration. Rules:

* anonymous → pages redirect to ``/login`` (303), the API answers 401;
* a role not in the route's list → 403 (admin may do everything);
* an unsafe method (POST/PUT/PATCH/DELETE) over a session cookie needs the session's CSRF token, in the
  ``X-CSRF-Token`` header (htmx) or the ``csrf_token`` form field; a bearer token needs none (no ambient
  authority to forge).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, replace
from http.cookies import SimpleCookie
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from dunning.services import audit
from dunning.services.identity import auth
from dunning.services.identity.auth import Principal, SessionCodec, SessionData
from dunning.services.identity.users import ROLE_ZH, Role

SESSION_COOKIE = "dunning_session"
LANG_COOKIE = "dunning_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_ROLES = tuple(Role)
STAFF = (Role.ADMIN, Role.STRATEGIST, Role.COMPLIANCE, Role.OPERATOR, Role.VIEWER)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class _HttpMiddleware:
    """Plain ASGI middleware (not ``BaseHTTPMiddleware``, so server-sent event streams pass untouched) that
    handles HTTP requests in :meth:`http` and passes every other scope (lifespan) straight through."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class NotAuthenticated(Exception):
    """No valid session or token."""


class Forbidden(Exception):
    def __init__(self, principal: Principal | None, roles: frozenset[Role], reason: str = "role") -> None:
        super().__init__(reason)
        self.principal = principal
        self.roles = roles
        self.reason = reason  # role | csrf

    def messages(self) -> tuple[str, str]:
        if self.reason == "csrf":
            return ("页面已过期或来源不明（CSRF 校验失败）。请刷新页面后重试。",
                    "The page has expired or the request did not come from it (CSRF check failed). "
                    "Reload the page and try again.")
        need_zh = "、".join(ROLE_ZH[r] for r in sorted(self.roles, key=list(Role).index))
        need_en = ", ".join(r.value for r in sorted(self.roles, key=list(Role).index))
        who = self.principal
        role_zh = who.role_zh if who else "匿名"
        return (f"您的角色（{role_zh}）无权执行此操作。需要角色：{need_zh}。如需权限，请联系管理员。",
                f"Your role ({who.role.value if who else 'anonymous'}) may not do this; it needs: {need_en}. "
                "Ask an administrator for access.")


# ----------------------------------------------------------------------------------------- session ASGI


@dataclass
class SessionHolder:
    """The request's session; routes replace or flash, the middleware writes the cookie when it changed."""

    data: SessionData
    dirty: bool = False
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def login(self, codec: SessionCodec, username: str, issued: float) -> None:
        self.data = codec.new(username, issued)
        self.dirty = True

    def logout(self, codec: SessionCodec) -> None:
        self.data = codec.new(None)
        self.dirty = True

    def flash(self, kind: str, text: str) -> None:
        self.data = replace(self.data, flash=(*self.data.flash, (kind, text))[-5:])
        self.dirty = True

    def keep_phone(self, page: str, phone: str) -> None:
        """Remember the phone filter of a list page (empty: none) for the pages that follow."""
        rest = tuple(p for p in self.data.search if p[0] != page)
        self.data = replace(self.data, search=(*rest, (page, phone)) if phone else rest)
        self.dirty = True

    def phone(self, page: str) -> str:
        return next((v for k, v in self.data.search if k == page), "")

    def take_flash(self) -> list[tuple[str, str]]:
        out = list(self.data.flash)
        if out:
            self.data = replace(self.data, flash=())
            self.dirty = True
        return out


class SessionMiddleware(_HttpMiddleware):
    """Reads the signed session cookie into ``scope['dunning.session']`` and writes it back when changed.

    Plain ASGI (not ``BaseHTTPMiddleware``) so server-sent event streams pass through untouched. Every page
    visitor gets a session (anonymous until login) so that even the login form carries a CSRF token.
    """

    def __init__(self, app: App, codec: SessionCodec) -> None:
        super().__init__(app)
        self.codec = codec

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if path.startswith(("/static/", "/api/")):
            await self.app(scope, receive, send)
            return
        raw = None
        for k, v in scope.get("headers", []):
            if k == b"cookie":
                c: SimpleCookie = SimpleCookie()
                try:
                    c.load(v.decode("latin-1"))
                except (ValueError, KeyError):
                    continue
                if SESSION_COOKIE in c:
                    raw = c[SESSION_COOKIE].value
        data = self.codec.loads(raw) if raw else None
        holder = SessionHolder(data or self.codec.new(None), dirty=data is None)
        scope["dunning.session"] = holder
        secure = scope.get("scheme") == "https"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and holder.dirty:
                headers = MutableHeaders(scope=message)
                value = self.codec.dumps(holder.data)
                cookie = (f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; "
                          f"Max-Age={self.codec.max_age}")
                headers.append("set-cookie", cookie + ("; Secure" if secure else ""))
            await send(message)

        await self.app(scope, receive, send_wrapper)


def session_of(request: Request) -> SessionHolder:
    holder = request.scope.get("dunning.session")
    if holder is None:  # API paths carry no session
        holder = SessionHolder(SessionData(sid=""))
        request.scope["dunning.session"] = holder
    return holder  # type: ignore[no-any-return]


def csrf_token(request: Request) -> str:
    holder = session_of(request)
    if not holder.data.sid:
        return ""
    codec: SessionCodec = request.app.state.codec
    return codec.csrf_token(holder.data)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# ------------------------------------------------------------------------------------------- principal


async def current_principal(request: Request) -> Principal | None:
    """The caller: a bearer token wins over a session cookie. Cached on the request."""
    if "dunning.principal" in request.scope:
        return request.scope["dunning.principal"]  # type: ignore[no-any-return]
    ctx = request.app.state.ctx
    principal: Principal | None = None
    authz = request.headers.get("authorization", "")
    if authz[:7].lower() == "bearer ":
        principal = await run_in_threadpool(auth.token_principal, ctx, authz[7:].strip())
        if principal is None:
            request.scope["dunning.principal"] = None
            raise NotAuthenticated()
    else:
        holder = request.scope.get("dunning.session")
        if holder is not None and holder.data.username:
            data = holder.data
            principal = await run_in_threadpool(
                lambda: auth.active_principal(ctx, str(data.username), sid=data.sid, issued=data.issued))
    request.scope["dunning.principal"] = principal
    return principal


async def _check_csrf(request: Request, principal: Principal | None) -> None:
    if request.method in SAFE_METHODS or (principal is not None and principal.via == "token"):
        return
    holder = session_of(request)
    token = request.headers.get("x-csrf-token")
    if token is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            token = value if isinstance(value, str) else None
    codec: SessionCodec = request.app.state.codec
    if not holder.data.sid or not codec.csrf_ok(holder.data, token):
        raise Forbidden(principal, frozenset(), "csrf")


class Allow:
    """Route dependency: the roles that may call a route (``public`` = anyone, still CSRF-checked on forms)."""

    def __init__(self, *roles: Role, public: bool = False, csrf: bool = True) -> None:
        self.roles = frozenset(roles)
        self.public = public
        self.csrf = csrf

    def __repr__(self) -> str:
        return "Allow(public)" if self.public else f"Allow({', '.join(sorted(r.value for r in self.roles))})"

    async def __call__(self, request: Request) -> Principal | None:
        try:
            principal = await current_principal(request)
        except NotAuthenticated:
            if self.public:
                principal = None
            else:
                raise
        if not self.public:
            if principal is None:
                raise NotAuthenticated()
            if not principal.has(*self.roles):
                raise Forbidden(principal, self.roles)
        if self.csrf:
            await _check_csrf(request, principal)
        # audit rows written for this request record how it came
        audit.set_origin("api" if request.url.path.startswith("/api/") else "web")
        return principal


def allow(*roles: Role) -> Any:
    """``principal: Principal = allow(Role.OPERATOR)`` — signed in with one of ``roles`` (admin always)."""
    return Depends(Allow(*roles))


def public(*, csrf: bool = True) -> Any:
    """Anyone, signed in or not (the principal is ``None`` for anonymous callers)."""
    return Depends(Allow(public=True, csrf=csrf))


class HeadersMiddleware(_HttpMiddleware):
    """Adds fixed response headers (security policy, no caching of pages) without touching the body."""

    def __init__(self, app: App, headers: dict[str, str]) -> None:
        super().__init__(app)
        self.headers = headers

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        static = scope.get("path", "").startswith("/static/")
        https = scope.get("scheme") == "https"  # behind a trusted proxy, from X-Forwarded-Proto

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                for k, v in self.headers.items():
                    if k not in h:
                        h[k] = v
                if not static and "cache-control" not in h:
                    h["Cache-Control"] = "no-store"
                if https and "strict-transport-security" not in h:
                    h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, send_wrapper)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a local path: never an open redirect to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
