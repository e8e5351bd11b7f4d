"""User administration: add users, reset passwords, unlock, (de)activate, API tokens. Admin only."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dunning.entrypoints.api.security import allow
from dunning.entrypoints.web.common import done
from dunning.entrypoints.web.render import renderer
from dunning.services import auth
from dunning.services.auth import Principal
from dunning.services.users import ROLE_ZH, Role, add_user

router = APIRouter(include_in_schema=False)


def _page(request: Request, new_token: str | None = None) -> Response:
    users = auth.list_users(request.app.state.ctx)
    return renderer(request).page(request, "users.html", users=users, new_token=new_token,
                                  roles=[(r.value, ROLE_ZH[r]) for r in Role], role_zh={r.value: z for r, z in ROLE_ZH.items()})


@router.get("/admin/users")
def users_page(request: Request, principal: Principal = allow(Role.ADMIN)) -> Response:
    return _page(request)


@router.post("/admin/users")
def users_add(request: Request, username: str = Form(...), role: str = Form(...), password: str = Form(...),
              display_name: str = Form(""), agency: str = Form(""),
              principal: Principal = allow(Role.ADMIN)) -> Response:
    ctx = request.app.state.ctx
    if len(password) < auth.MIN_PASSWORD:
        return done(request, "/admin/users", f"密码至少 {auth.MIN_PASSWORD} 位。",
                    f"Passwords need at least {auth.MIN_PASSWORD} characters.", "danger")
    add_user(ctx, username.strip(), role, password=password, display_name=display_name.strip(),
             agency=agency.strip() or None, actor=principal.username)
    return done(request, "/admin/users", f"已添加用户 {username}。", f"User {username} added.")


@router.post("/admin/users/{username}/password")
def users_password(request: Request, username: str, password: str = Form(...),
                   principal: Principal = allow(Role.ADMIN)) -> Response:
    auth.set_password(request.app.state.ctx, username, password, actor=principal.username)
    return done(request, "/admin/users", f"已重设 {username} 的密码。", f"Password of {username} reset.")


@router.post("/admin/users/{username}/unlock")
def users_unlock(request: Request, username: str, principal: Principal = allow(Role.ADMIN)) -> Response:
    auth.unlock(request.app.state.ctx, username, actor=principal.username)
    return done(request, "/admin/users", f"已解锁 {username}。", f"{username} unlocked.")


@router.post("/admin/users/{username}/active")
def users_active(request: Request, username: str, active: str = Form("1"),
                 principal: Principal = allow(Role.ADMIN)) -> Response:
    if username == principal.username:
        return done(request, "/admin/users", "不能停用自己的账户。", "You cannot deactivate yourself.", "warn")
    auth.set_active(request.app.state.ctx, username, active == "1", actor=principal.username)
    return done(request, "/admin/users", f"已更新 {username} 的状态。", f"{username} updated.")


@router.post("/admin/users/{username}/token")
def users_token(request: Request, username: str, principal: Principal = allow(Role.ADMIN)) -> Response:
    token = auth.issue_token(request.app.state.ctx, username, label="console", actor=principal.username)
    return _page(request, new_token=token)


@router.post("/admin/users/{username}/revoke")
def users_revoke(request: Request, username: str, principal: Principal = allow(Role.ADMIN)) -> Response:
    n = auth.revoke_tokens(request.app.state.ctx, username, actor=principal.username)
    return done(request, "/admin/users", f"已吊销 {username} 的 {n} 个令牌。", f"Revoked {n} tokens of {username}.")
