"""The holiday calendar: which years the calendar knows (shipped or imported), one year's holidays, and the
import of next year's file. Admin only; the import goes through the calendar service (validated, audited)."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import allow
from dunning.entrypoints.web.common import done
from dunning.errors import NotFoundError
from dunning.services import calendar
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.strategy.holidays import CalendarFileError

router = APIRouter(include_in_schema=False)
MAX_FILE_BYTES = 64 * 1024


@router.get("/admin/calendar")
def calendar_page(request: Request, year: int | None = None, principal: Principal = allow(Role.ADMIN)) -> Response:
    ctx = request.app.state.ctx
    view = calendar.overview(ctx)
    shown = year or view["today"].year
    try:
        detail = calendar.show_year(ctx, shown)
    except NotFoundError:
        detail = None
    return renderer(request).page(request, "calendar.html", view=view, shown=shown,
                                  detail=detail.to_dict() if detail else None)


@router.post("/admin/calendar")
async def calendar_import(request: Request, file: UploadFile | None = File(None), text: str = Form(""),
                          principal: Principal = allow(Role.ADMIN)) -> Response:
    name = "console"
    if file is not None and file.filename:
        raw = await file.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            return done(request, "/admin/calendar", "文件过大（一年的日历不超过 64 KB）。",
                        "The file is too large (a year's calendar is under 64 KB).", "danger")
        text, name = raw.decode("utf-8-sig", errors="replace"), file.filename
    if not text.strip():
        return done(request, "/admin/calendar", "请选择文件或粘贴内容。", "Choose a file or paste the calendar.", "warn")
    try:
        r = calendar.import_calendar(request.app.state.ctx, text, source_name=name, actor=principal.username)
    except CalendarFileError as exc:
        return done(request, "/admin/calendar", f"未导入：{exc.message_zh}", f"Not imported: {exc.message_en}",
                    "danger")
    if r.unchanged:
        return done(request, f"/admin/calendar?year={r.year}", f"{r.year} 年与已导入的内容相同，未改动。",
                    f"{r.year} is the same as imported; nothing changed.")
    return done(request, f"/admin/calendar?year={r.year}",
                f"已导入 {r.year} 年：{r.holidays} 个假期，{r.workdays} 个调休上班日。",
                f"Imported {r.year}: {r.holidays} holidays, {r.workdays} make-up working days.")
