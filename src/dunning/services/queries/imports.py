"""Every import, accounts and payments alike (they share one numbering, so the list shows both and says which);
the API's keyset list of portfolio imports; one import with its reject reasons; the audited reject report download.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, select

from dunning.db.models import Campaign, Import, RejectRow
from dunning.errors import InputError, NotFoundError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.guard.masking import mask_raw_row, masked_report
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.queries.filters import Filter
from dunning.services.queries.labels import IMPORT_KIND_ZH
from dunning.services.queries.paging import CursorPage, ListPage, PageRequest, fetch, keyset, page_of, within
from dunning.services.queries.scope import REJECT_DETAIL_ROLES, may_see_phone, utc


class ImportFilter(Filter):
    kind: str | None = None  # portfolio | payments
    since: date | None = None  # business date, inclusive
    until: date | None = None
    created_by: str | None = None


@dataclass
class ImportRow:
    import_id: int
    kind: str  # portfolio | payments (one numbering for both)
    as_of: date
    files: list[str]
    rows: int
    accepted: int
    rejected: int
    created_by: str
    created_at: datetime | None
    has_report: bool

    @property
    def kind_zh(self) -> str:
        return IMPORT_KIND_ZH.get(self.kind, self.kind)


def import_row(i: Import) -> ImportRow:
    return ImportRow(i.id, i.kind, i.as_of, [Path(str(p)).name for p in i.files], i.rows, i.accepted, i.rejected,
                     i.created_by, utc(i.created_at), bool(i.reject_report))


SORTS: dict[str, Any] = {"id": Import.id, "as_of": Import.as_of, "rows": Import.rows, "accepted": Import.accepted,
                         "rejected": Import.rejected, "created_at": Import.created_at, "kind": Import.kind}
DEFAULT_SORT = "-id"


def list_imports(ctx: AppContext, f: ImportFilter, req: PageRequest) -> ListPage[ImportRow]:
    q = select(Import)
    if f.kind:
        if f.kind not in IMPORT_KIND_ZH:
            raise InputError(f"未知的导入类型 {f.kind}", f"unknown import kind {f.kind!r}", code="input.kind")
        q = q.where(Import.kind == f.kind)
    q = within(q, Import.as_of, f.since, f.until)
    if f.created_by:
        q = q.where(Import.created_by == f.created_by.strip())
    with ctx.db.transaction() as s:
        rows, total, sort = fetch(s, q, req, SORTS, DEFAULT_SORT, Import.id)
        items = [import_row(i) for (i,) in rows]
    return page_of(items, total, req, sort)


def export_frame(page: ListPage[ImportRow]) -> pl.DataFrame:
    return pl.DataFrame({
        "导入编号": [r.import_id for r in page.items],
        "类型": [r.kind_zh for r in page.items],
        "业务日期": [r.as_of.isoformat() for r in page.items],
        "文件": ["、".join(r.files) for r in page.items],
        "行数": [r.rows for r in page.items],
        "接受": [r.accepted for r in page.items],
        "拒绝": [r.rejected for r in page.items],
        "操作人": [r.created_by for r in page.items],
        "时间": [r.created_at.astimezone(UTC).isoformat(timespec="seconds") if r.created_at else ""
                 for r in page.items],
    }, schema_overrides={"导入编号": pl.Int64, "行数": pl.Int64, "接受": pl.Int64, "拒绝": pl.Int64})


# ------------------------------------------------------------------------------------------- one import


@dataclass
class RejectReason:
    code: str
    count: int
    example: str


@dataclass
class ImportView:
    row: ImportRow
    reasons: list[RejectReason]
    samples: list[dict[str, Any]]  # only for roles that may see reject details
    campaigns: list[tuple[int, str, str]]


def imports_after(ctx: AppContext, *, cursor: int | None = None, limit: int = 20) -> CursorPage[ImportRow]:
    """The API's keyset list of portfolio imports, newest first, from below ``cursor``."""
    with ctx.db.transaction() as s:
        q = select(Import).where(Import.kind == "portfolio").order_by(Import.id.desc()).limit(limit + 1)
        if cursor is not None:
            q = q.where(Import.id < cursor)
        rows, next_cursor = keyset(s.scalars(q).all(), limit)
        return CursorPage([import_row(i) for i in rows], next_cursor)


def import_view(ctx: AppContext, viewer: Principal, import_id: int, *, samples: int = 20) -> ImportView:
    with ctx.db.transaction() as s:
        imp = s.get(Import, import_id)
        if imp is None:
            raise NotFoundError(f"导入批次 #{import_id} 不存在", f"import #{import_id} does not exist",
                                code="not_found.import")
        examples = dict(s.execute(select(RejectRow.reason, func.min(RejectRow.message_zh))
                                  .where(RejectRow.import_id == import_id).group_by(RejectRow.reason)).all())
        reasons = sorted((RejectReason(str(k), int(v), str(examples.get(k, ""))) for k, v in (imp.reasons or {}).items()),
                         key=lambda r: -r.count)
        sample_rows: list[dict[str, Any]] = []
        if viewer.role in REJECT_DETAIL_ROLES or viewer.role is Role.ADMIN:
            for r in s.scalars(select(RejectRow).where(RejectRow.import_id == import_id).order_by(RejectRow.id)
                               .limit(samples)).all():
                raw = r.raw if may_see_phone(viewer) else mask_raw_row(r.raw)  # names too
                sample_rows.append({"file": Path(r.source_file).name, "row": r.source_row, "reason": r.reason,
                                    "message": r.message_zh, "raw": raw})
        camps = [(c.id, c.name, c.state) for c in s.scalars(select(Campaign).where(Campaign.import_id == import_id)
                                                               .order_by(Campaign.id)).all()]
        return ImportView(import_row(imp), reasons, sample_rows, camps)


def reject_report(ctx: AppContext, import_id: int, fmt: str, *, actor: str,
                  viewer: Principal | None = None) -> Path | bytes:
    """The reject report of an import (``csv`` or ``xlsx``); the download is audited (it holds raw rows). For a
    ``viewer`` whose role sees masked phones the content comes back with names and mobiles masked (bytes)."""
    if fmt not in ("csv", "xlsx"):
        raise InputError("格式应为 csv 或 xlsx", "format must be csv or xlsx", code="input.format")
    with ctx.db.transaction() as s:
        imp = s.get(Import, import_id)
        path = imp.reject_report if imp is not None else None
    if not path:
        raise NotFoundError(f"导入批次 #{import_id} 没有拒绝明细（没有被拒绝的行）",
                            f"import #{import_id} has no reject report", code="not_found.report")
    p = Path(path).with_suffix(f".{fmt}")
    if not p.exists():
        raise NotFoundError(f"拒绝明细文件已不存在：{p.name}", f"reject report file is gone: {p.name}",
                            code="not_found.report")
    masked = viewer is not None and not may_see_phone(viewer)
    with ctx.db.transaction() as s:
        audit.record(s, at=ctx.now(), actor=actor, action="import.rejects_download", entity="import",
                     entity_id=import_id, after={"format": fmt, "masked": masked})
    return masked_report(p, fmt) if masked else p
