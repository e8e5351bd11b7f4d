"""Import pages: upload with progress, the summary by reject code, the reject report download."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response

from dunning.entrypoints.api.ids import DbId, QueryId
from dunning.entrypoints.api.jobs import Job, fork_context
from dunning.entrypoints.api.security import STAFF, allow
from dunning.entrypoints.web.common import query_base, redirect
from dunning.entrypoints.web.render import renderer
from dunning.entrypoints.web.uploads import save_uploads
from dunning.errors import InputError
from dunning.services import console
from dunning.services.auth import Principal
from dunning.services.users import Role

router = APIRouter(include_in_schema=False)
PORTFOLIO_TYPES = (".csv", ".txt", ".xlsx", ".xls", ".parquet")


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"日期应为 YYYY-MM-DD：{value}", f"dates are YYYY-MM-DD: {value}", code="input.date") from None


@router.get("/imports")
def imports_page(request: Request, cursor: QueryId = None, principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    page = console.list_imports(ctx, cursor=cursor)
    return renderer(request).page(request, "imports.html", page=page, cursor=cursor, query_base="",
                                  today=ctx.today().isoformat())


@router.post("/imports")
def upload(request: Request, files: list[UploadFile] = File(...), as_of: str = Form(""), encoding: str = Form(""),
           exclude: UploadFile | None = File(None), principal: Principal = allow(Role.OPERATOR)) -> Response:
    ctx = request.app.state.ctx
    day = parse_day(as_of)
    paths = save_uploads(ctx, files, allowed=PORTFOLIO_TYPES)
    dnc = save_uploads(ctx, [exclude], allowed=(".csv", ".txt")) if exclude is not None and exclude.filename else []
    from dunning.services.imports import import_portfolio
    names = "、".join(p.name for p in paths)

    def work(job: Job) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            job.update(stage, done, total)

        summary = import_portfolio(fork_context(ctx), paths, as_of=day, exclude=dnc, encoding=encoding or None,
                                   actor=principal.username, progress=progress)
        job.result = summary.to_dict()
        job.result_url = f"/imports/{summary.import_id}"

    job = request.app.state.jobs.start("import", f"导入 {names}", f"Importing {', '.join(p.name for p in paths)}",
                                       principal.username, work)
    return redirect(f"/jobs/{job.id}")


@router.get("/imports/{import_id}")
def import_detail(request: Request, import_id: DbId, principal: Principal = allow(*STAFF)) -> Response:
    v = console.import_view(request.app.state.ctx, principal, import_id)
    return renderer(request).page(request, "import_detail.html", v=v,
                                  may_download=principal.role in console.REJECT_DETAIL_ROLES)


@router.get("/imports/{import_id}/rejects.{fmt}")
def reject_download(request: Request, import_id: DbId, fmt: str,
                    principal: Principal = allow(Role.OPERATOR, Role.COMPLIANCE)) -> Response:
    got = console.reject_report(request.app.state.ctx, import_id, fmt, actor=principal.username,
                                viewer=principal)
    media = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"import-{import_id}-rejects.{fmt}"
    if isinstance(got, bytes):  # names and mobiles masked for this role
        return Response(got, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return FileResponse(got, media_type=media, filename=name)


__all__ = ["parse_day", "query_base", "router"]
