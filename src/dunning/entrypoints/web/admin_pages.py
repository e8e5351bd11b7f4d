"""User administration: add users, reset passwords, unlock, (de)activate, API tokens. Admin only."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import allow
from dunning.entrypoints.web.common import done
from dunning.entrypoints.web.listing import download, filters_query, page_request
from dunning.services.identity import auth
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import ROLE_ZH, Role, add_user
from dunning.services.queries import exporting
from dunning.services.queries import users as users_q
from dunning.services.queries.paging import PageRequest
from dunning.services.queries.users import STATUS_ZH, UserFilter, list_user_rows

router = APIRouter(include_in_schema=False)


def _page(request: Request, new_token: str | None = None, f: UserFilter | None = None,
          req: PageRequest | None = None) -> Response:
    f = f or UserFilter()
    lp = list_user_rows(request.app.state.ctx, f, req or PageRequest.of())
    q = {"role": f.role, "status": f.status, "name": f.name}
    return renderer(request).page(request, "users.html", users=lp.items, lp=lp, q=q, qb=filters_query(q),
                                  new_token=new_token, statuses=STATUS_ZH,
                                  roles=[(r.value, ROLE_ZH[r]) for r in Role], role_zh={r.value: z for r, z in ROLE_ZH.items()})


@router.get("/admin/users")
def users_page(request: Request, role: str = "", status: str = "", name: str = "", page: int | None = None,
               sort: str = "", export: str = "", principal: Principal = allow(Role.ADMIN)) -> Response:
    f = UserFilter(role or None, status or None, name or None)
    if export:
        ctx = request.app.state.ctx
        lp = list_user_rows(ctx, f, page_request(page, sort, export))
        return download(exporting.export(ctx, principal, "users", users_q.export_frame(lp), export, f.params(),
                                         sheet="用户"))
    return _page(request, f=f, req=page_request(page, sort, export))


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
