"""Every import, accounts and payments alike (they share one numbering, so the list shows both and says which)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from dunning.db.models import Import
from dunning.errors import InputError
from dunning.services.context import AppContext
from dunning.services.queries.labels import IMPORT_KIND_ZH
from dunning.services.queries.paging import ListPage, PageRequest, fetch, page_of
from dunning.services.queries.scope import utc


@dataclass(frozen=True)
class ImportFilter:
    kind: str | None = None  # portfolio | payments
    since: date | None = None  # business date, inclusive
    until: date | None = None
    created_by: str | None = None

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, "")}


@dataclass
class ImportListRow:
    import_id: int
    kind: str
    as_of: date
    files: list[str]
    rows: int
    accepted: int
    rejected: int
    created_by: str
    created_at: datetime | None

    @property
    def kind_zh(self) -> str:
        return IMPORT_KIND_ZH.get(self.kind, self.kind)


SORTS: dict[str, Any] = {"id": Import.id, "as_of": Import.as_of, "rows": Import.rows, "accepted": Import.accepted,
                         "rejected": Import.rejected, "created_at": Import.created_at, "kind": Import.kind}
DEFAULT_SORT = "-id"


def list_imports(ctx: AppContext, f: ImportFilter, req: PageRequest) -> ListPage[ImportListRow]:
    q = select(Import)
    if f.kind:
        if f.kind not in IMPORT_KIND_ZH:
            raise InputError(f"未知的导入类型 {f.kind}", f"unknown import kind {f.kind!r}", code="input.kind")
        q = q.where(Import.kind == f.kind)
    if f.since:
        q = q.where(Import.as_of >= f.since)
    if f.until:
        q = q.where(Import.as_of <= f.until)
    if f.created_by:
        q = q.where(Import.created_by == f.created_by.strip())
    with ctx.db.transaction() as s:
        rows, total, sort = fetch(s, q, req, SORTS, DEFAULT_SORT, Import.id)
        items = [ImportListRow(i.id, i.kind, i.as_of, [Path(str(p)).name for p in i.files], i.rows, i.accepted,
                               i.rejected, i.created_by, utc(i.created_at)) for (i,) in rows]
    return page_of(items, total, req, sort)


def export_frame(page: ListPage[ImportListRow]) -> pl.DataFrame:
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
