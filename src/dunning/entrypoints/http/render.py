"""Jinja2 rendering for the console and the API's own pages (docs, errors): one environment per app, the layout's context, display filters."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from dunning.domain.states import TEMPLATE_STATUS_ZH
from dunning.entrypoints.http.i18n import lang_of, translator
from dunning.entrypoints.http.security import STAFF, csrf_token, session_of
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.queries.labels import zh as label_zh

# (path, label, roles that see it)
NAV: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("/", "仪表盘", tuple(Role)),
    ("/imports", "导入", STAFF),
    ("/templates", "模板", STAFF),
    ("/campaigns", "批次", STAFF),
    ("/messages", "短信查询", tuple(Role)),
    ("/visits", "外访", (Role.SUPERVISOR, Role.TEAM_LEAD, Role.COLLECTOR, Role.COMPLIANCE)),
    ("/visits/board", "外访看板", (Role.SUPERVISOR, Role.TEAM_LEAD)),
    ("/field", "今日外访", (Role.TEAM_LEAD, Role.COLLECTOR)),
    ("/replies", "回复", tuple(Role)),
    ("/trends", "趋势", tuple(Role)),
    ("/agencies", "委外机构", (*STAFF, Role.AGENCY)),
    ("/cases", "案件", (Role.ADMIN, Role.OPERATOR, Role.COMPLIANCE, Role.AGENCY)),
    ("/hotline", "来电核验", (Role.ADMIN, Role.OPERATOR, Role.COMPLIANCE, Role.VIEWER)),
    ("/audit", "审计日志", (Role.ADMIN, Role.COMPLIANCE)),
    ("/admin/users", "用户", (Role.ADMIN,)),
    ("/admin/calendar", "节假日日历", (Role.ADMIN,)),
)


# Labels of codes, Chinese first (English in i18n.EN); templates read them as globals.
HEALTH_ZH = {"ok": "正常", "degraded": "波动", "failing": "故障", "idle": "空闲", "disabled": "已停用"}
JOB_STATE_ZH = {"running": "进行中", "done": "已完成", "failed": "失败"}
CHECK_ZH = {"delivery_rate": "送达率（不低于）", "block_findings": "合规拦截条数（不超过）",
            "opt_out_rate": "退订率（不超过）"}
SEVERITY_ZH = {"block": "拦截", "warn": "警告", "info": "提示"}


class Renderer:
    def __init__(self, ctx: AppContext, pages_package: str) -> None:
        """``pages_package`` holds the ``templates`` folder (the console's package)."""
        self.ctx = ctx
        self.tz: ZoneInfo = ctx.tz
        env = Environment(loader=PackageLoader(pages_package, "templates"),
                          autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
        env.filters.update(dt=self._dt, num=_num, money=_money, pct=_pct, tojson_pretty=_json)
        env.globals.update(health_zh=HEALTH_ZH, job_state_zh=JOB_STATE_ZH, check_zh=CHECK_ZH,
                           status_zh=TEMPLATE_STATUS_ZH, severity_zh=SEVERITY_ZH, code_zh=label_zh)
        self.env = env

    def _dt(self, value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return aware.astimezone(self.tz).strftime(fmt)
        return value.isoformat()

    def context(self, request: Request, *, take_flash: bool = True, **data: Any) -> dict[str, Any]:
        lang = lang_of(request)
        principal: Principal | None = request.scope.get("dunning.principal")
        nav = [(p, label) for p, label, roles in NAV if principal is not None and principal.has(*roles)]
        path = request.url.path
        active = max((p for p, _ in nav if path == p or (p != "/" and path.startswith(p + "/")) or path == p),
                     key=len, default="/")
        return {
            "request": request, "principal": principal, "lang": lang, "_": translator(lang),
            "csrf": csrf_token(request), "flashes": session_of(request).take_flash() if take_flash else [],
            "nav": nav, "active": active, "identity": self.ctx.settings.identity, "path": path,
            "full_path": path + (f"?{request.url.query}" if request.url.query else ""), **data,
        }

    def fragment(self, request: Request, name: str, **data: Any) -> HTMLResponse:
        """A piece of a page for htmx: the page's context, but the pending flash messages stay for the next page."""
        ctx = self.context(request, take_flash=False, **data)
        return HTMLResponse(self.env.get_template(name).render(ctx))

    def page(self, request: Request, name: str, *, status: int = 200,
             headers: dict[str, str] | None = None, **data: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(self.context(request, **data))
        return HTMLResponse(html, status_code=status, headers=headers)


def renderer(request: Request) -> Renderer:
    r: Renderer = request.app.state.renderer
    return r


def _num(value: int | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _money(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:,.2f}"


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _json(value: Any) -> Markup:
    return Markup.escape(json.dumps(value, ensure_ascii=False, default=str, sort_keys=True))
