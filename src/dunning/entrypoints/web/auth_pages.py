"""Login, logout and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import (
    ALL_ROLES,
    LANG_COOKIE,
    allow,
    client_ip,
    public,
    safe_next,
    session_of,
)
from dunning.entrypoints.web.common import redirect
from dunning.services.identity import auth
from dunning.services.identity.auth import Principal

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, next: str = "/", principal: Principal | None = public()) -> Response:
    if principal is not None:
        return redirect(safe_next(next))
    return renderer(request).page(request, "login.html", next=safe_next(next), error=None, username="")


@router.post("/login")
def login_submit(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/"),
                 _p: Principal | None = public()) -> Response:
    ctx = request.app.state.ctx
    try:
        principal = auth.login(ctx, username, password, ip=client_ip(request), policy=request.app.state.auth_policy)
    except auth.LoginThrottled as exc:
        return renderer(request).page(request, "login.html", status=429, next=safe_next(next), username=username,
                                      error=pick(request, exc.message_zh, exc.message_en),
                                      headers={"Retry-After": str(exc.retry_after)})
    except auth.AuthFailed as exc:
        return renderer(request).page(request, "login.html", status=401, next=safe_next(next), username=username,
                                      error=pick(request, exc.message_zh, exc.message_en))
    session_of(request).login(request.app.state.codec, principal.username, ctx.now().timestamp())
    return redirect(safe_next(next))


@router.post("/logout")
def logout(request: Request, principal: Principal = allow(*ALL_ROLES)) -> Response:
    auth.logout(request.app.state.ctx, principal.username, ip=client_ip(request), sid=session_of(request).data.sid)
    session_of(request).logout(request.app.state.codec)
    return redirect("/login")


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/", _p: Principal | None = public()) -> Response:
    resp = RedirectResponse(safe_next(next), status_code=303)
    resp.set_cookie(LANG_COOKIE, "en" if code == "en" else "zh", max_age=365 * 24 * 3600, httponly=True,
                    samesite="lax")
    return resp
