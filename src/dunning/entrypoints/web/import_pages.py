"""Import pages: upload with progress, the summary by reject code, the reject report download."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response

from dunning.entrypoints.http.ids import DbId
from dunning.entrypoints.http.jobs import Job, fork_context
from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import STAFF, allow
from dunning.entrypoints.http.uploads import PORTFOLIO_TYPES, save_uploads
from dunning.entrypoints.web.common import query_base, redirect
from dunning.entrypoints.web.listing import download, filters_query, page_request
from dunning.errors import InputError, MissingColumnsError
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.intake.imports import import_portfolio
from dunning.services.intake.payments import import_payments
from dunning.services.queries import exporting
from dunning.services.queries import imports as imports_q
from dunning.services.queries.labels import IMPORT_KIND_ZH
from dunning.services.queries.scope import REJECT_DETAIL_ROLES

router = APIRouter(include_in_schema=False)


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"日期应为 YYYY-MM-DD：{value}", f"dates are YYYY-MM-DD: {value}", code="input.date") from None


@router.get("/imports")
def imports_page(request: Request, kind: str = "", since: str = "", until: str = "", created_by: str = "",
                 page: int | None = None, sort: str = "", export: str = "",
                 principal: Principal = allow(*STAFF)) -> Response:
    ctx = request.app.state.ctx
    q = {"kind": kind, "since": since, "until": until, "created_by": created_by}
    f = imports_q.ImportFilter(kind or None, parse_day(since), parse_day(until), created_by or None)
    lp = imports_q.list_imports(ctx, f, page_request(page, sort, export))
    if export:
        return download(exporting.export(ctx, principal, "imports", imports_q.export_frame(lp), export, f.params(),
                                         sheet="导入"))
    return renderer(request).page(request, "imports.html", lp=lp, q=q, qb=filters_query(q),
                                  kinds=IMPORT_KIND_ZH, today=ctx.today().isoformat())


def _console_wording(exc: MissingColumnsError) -> InputError:
    """The console has no --mapping flag: point at the mapping file field of the upload form instead."""
    return InputError(
        f"文件 {exc.file} 缺少必需的列：{'、'.join(exc.missing)}。文件中找到的列：{'、'.join(exc.found) or '（无）'}。"
        "请检查表头，或在上传表单的「列映射文件」中附上映射（YAML，格式见 mapping.example.yaml）。",
        f"{exc.file} lacks required columns: {', '.join(exc.missing)}. Columns found: "
        f"{', '.join(exc.found) or '(none)'}. Check the header row, or attach a column mapping (YAML) in the "
        "upload form's mapping field.", code=exc.code)


@router.post("/imports")
def upload(request: Request, files: list[UploadFile] = File(...), as_of: str = Form(""), encoding: str = Form(""),
           exclude: UploadFile | None = File(None), mapping: UploadFile | None = File(None),
           principal: Principal = allow(Role.OPERATOR)) -> Response:
    ctx = request.app.state.ctx
    day = parse_day(as_of)
    paths = save_uploads(ctx, files, allowed=PORTFOLIO_TYPES)
    dnc = save_uploads(ctx, [exclude], allowed=(".csv", ".txt")) if exclude is not None and exclude.filename else []
    mapped = save_uploads(ctx, [mapping], allowed=(".yaml", ".yml")) if mapping is not None and mapping.filename \
        else []
    names = "、".join(p.name for p in paths)

    def work(job: Job) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            job.update(stage, done, total)

        try:
            summary = import_portfolio(fork_context(ctx), paths, as_of=day, exclude=dnc, encoding=encoding or None,
                                       mapping=mapped[0] if mapped else None, actor=principal.username,
                                       progress=progress)
        except MissingColumnsError as exc:
            raise _console_wording(exc) from None
        job.result = summary.to_dict()
        job.result_url = f"/imports/{summary.import_id}" + ("?already=1" if summary.already_imported else "")

    job = request.app.state.jobs.start("import", f"导入 {names}", f"Importing {', '.join(p.name for p in paths)}",
                                       principal.username, work)
    return redirect(f"/jobs/{job.id}")


@router.post("/imports/payments")
def upload_payments(request: Request, files: list[UploadFile] = File(...), encoding: str = Form(""),
                    principal: Principal = allow(Role.OPERATOR)) -> Response:
    """Repayments from the loan system: stop reminders to loans that are paid (re-checked before each send)."""
    ctx = request.app.state.ctx
    paths = save_uploads(ctx, files, allowed=PORTFOLIO_TYPES)
    names = "、".join(p.name for p in paths)

    def work(job: Job) -> None:
        job.update("读取还款记录", 0, 0)
        summary = import_payments(fork_context(ctx), paths, actor=principal.username, encoding=encoding or None)
        job.result = summary.to_dict()
        job.result_url = f"/imports/{summary.import_id}" + ("?already=1" if summary.already_imported else "")

    job = request.app.state.jobs.start("payments", f"导入还款 {names}",
                                       f"Importing payments {', '.join(p.name for p in paths)}",
                                       principal.username, work)
    return redirect(f"/jobs/{job.id}")


@router.get("/imports/{import_id}")
def import_detail(request: Request, import_id: DbId, already: bool = False,
                  principal: Principal = allow(*STAFF)) -> Response:
    v = imports_q.import_view(request.app.state.ctx, principal, import_id)
    return renderer(request).page(request, "import_detail.html", v=v, already=already, kinds=IMPORT_KIND_ZH,
                                  may_download=principal.role in REJECT_DETAIL_ROLES)


@router.get("/imports/{import_id}/rejects.{fmt}")
def reject_download(request: Request, import_id: DbId, fmt: str,
                    principal: Principal = allow(Role.OPERATOR, Role.COMPLIANCE)) -> Response:
    got = imports_q.reject_report(request.app.state.ctx, import_id, fmt, actor=principal.username,
                                viewer=principal)
    media = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"import-{import_id}-rejects.{fmt}"
    if isinstance(got, bytes):  # names and mobiles masked for this role
        return Response(got, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return FileResponse(got, media_type=media, filename=name)


__all__ = ["parse_day", "query_base", "router"]
