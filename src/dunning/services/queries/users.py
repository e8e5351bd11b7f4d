"""The users list (a handful of rows: filtered, sorted and paged in memory)."""

from __future__ import annotations

from typing import Any

import polars as pl

from dunning.services.context import AppContext
from dunning.services.identity.auth import UserRow, list_users
from dunning.services.queries.filters import Filter
from dunning.services.queries.labels import zh
from dunning.services.queries.paging import ListPage, PageRequest, page_of, resolve_sort


class UserFilter(Filter):
    role: str | None = None
    status: str | None = None  # active | locked | disabled | no_password
    name: str | None = None  # part of the user name or display name


def status_of(u: UserRow) -> str:
    if not u.active:
        return "disabled"
    if u.locked_until is not None:
        return "locked"
    return "active" if u.has_password else "no_password"


STATUS_ZH = {"active": "正常", "locked": "已锁定", "disabled": "已停用", "no_password": "未设密码"}  # nosec B105  # not a password: a status label
SORTS: dict[str, Any] = {"username": lambda u: u.username, "role": lambda u: u.role,
                         "status": status_of, "tokens": lambda u: u.tokens}


def list_user_rows(ctx: AppContext, f: UserFilter, req: PageRequest) -> ListPage[UserRow]:
    rows = list_users(ctx)
    if f.role:
        rows = [u for u in rows if u.role == f.role]
    if f.status:
        rows = [u for u in rows if status_of(u) == f.status]
    if f.name and f.name.strip():
        needle = f.name.strip().lower()
        rows = [u for u in rows if needle in u.username.lower() or needle in (u.display_name or "").lower()]
    sort, key, desc = resolve_sort(req.sort, SORTS, "username")
    rows.sort(key=lambda u: (key(u), u.username), reverse=desc)
    start = (req.page - 1) * req.per_page
    page = rows[start:start + req.per_page] if start < len(rows) else rows[-req.per_page:] if rows else []
    return page_of(page, len(rows), req, sort)


def export_frame(page: ListPage[UserRow]) -> pl.DataFrame:
    return pl.DataFrame({
        "用户名": [u.username for u in page.items],
        "显示名": [u.display_name for u in page.items],
        "角色": [zh(u.role) for u in page.items],
        "委外机构": [u.agency or "" for u in page.items],
        "状态": [STATUS_ZH[status_of(u)] for u in page.items],
        "令牌": [u.tokens for u in page.items],
    }, schema_overrides={"令牌": pl.Int64})
