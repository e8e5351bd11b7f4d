"""The audit log as a list: who did what, filterable by actor, action (or a prefix), entity and dates; numbered
pages for the console, keyset pages for the API, and the distinct values for the filter menus."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import and_, select, true

from dunning.db.models import AuditEvent
from dunning.services.context import AppContext
from dunning.services.queries.filters import Filter, local_days
from dunning.services.queries.paging import CursorPage, ListPage, PageRequest, fetch, keyset, page_of
from dunning.services.queries.scope import mask_text_phones, utc


class AuditFilter(Filter):
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." (e.g. "campaign.")
    entity: str | None = None
    entity_id: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive


@dataclass
class AuditRow:
    event_id: int
    at: datetime | None
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def audit_conditions(ctx: AppContext, f: AuditFilter) -> list[Any]:
    conds: list[Any] = []
    if f.actor:
        conds.append(AuditEvent.actor == f.actor.strip())
    if f.action:
        a = f.action.strip()
        conds.append(AuditEvent.action.startswith(a, autoescape=True) if a.endswith(".") else AuditEvent.action == a)
    if f.entity:
        conds.append(AuditEvent.entity == f.entity.strip())
    if f.entity_id:
        conds.append(AuditEvent.entity_id == f.entity_id.strip())
    return conds + local_days(ctx, AuditEvent.at, f.since, f.until)


SORTS: dict[str, Any] = {"at": AuditEvent.at, "actor": AuditEvent.actor, "action": AuditEvent.action,
                         "entity": AuditEvent.entity}
DEFAULT_SORT = "-at"


def list_audit(ctx: AppContext, f: AuditFilter, req: PageRequest) -> ListPage[AuditRow]:
    q = select(AuditEvent).where(and_(true(), *audit_conditions(ctx, f)))
    with ctx.db.transaction() as s:
        rows, total, sort = fetch(s, q, req, SORTS, DEFAULT_SORT, AuditEvent.id)
        items = [_row(e) for (e,) in rows]
    return page_of(items, total, req, sort)


def _row(e: AuditEvent) -> AuditRow:
    return AuditRow(e.id, utc(e.at), e.actor, e.action, e.entity, e.entity_id, e.before, e.after)


def audit_log(ctx: AppContext, f: AuditFilter, *, cursor: int | None = None, limit: int = 50) -> CursorPage[AuditRow]:
    """The API's keyset pages, newest first, from below ``cursor``."""
    limit = max(1, min(limit, 200))
    conds = audit_conditions(ctx, f)
    if cursor is not None:
        conds.append(AuditEvent.id < cursor)
    with ctx.db.transaction() as s:
        rows, next_cursor = keyset(s.scalars(select(AuditEvent).where(and_(true(), *conds))
                                             .order_by(AuditEvent.id.desc()).limit(limit + 1)).all(), limit)
        return CursorPage([_row(e) for e in rows], next_cursor)


def audit_facets(ctx: AppContext) -> dict[str, list[str]]:
    """The distinct actions, entities and actors, for the filter menus."""
    with ctx.db.transaction() as s:
        return {
            "actions": sorted(str(a) for a in s.scalars(select(AuditEvent.action).distinct().limit(200)).all()),
            "entities": sorted(str(a) for a in s.scalars(select(AuditEvent.entity).distinct().limit(100)).all()),
            "actors": sorted(str(a) for a in s.scalars(select(AuditEvent.actor).distinct().limit(200)).all()),
        }


def _change(v: dict[str, Any] | None) -> str:
    return "" if v is None else mask_text_phones(json.dumps(v, ensure_ascii=False, default=str, sort_keys=True))


def export_frame(page: ListPage[AuditRow]) -> pl.DataFrame:
    return pl.DataFrame({
        "编号": [r.event_id for r in page.items],
        "时间": [r.at.astimezone(UTC).isoformat(timespec="seconds") if r.at else "" for r in page.items],
        "操作人": [r.actor for r in page.items],
        "动作": [r.action for r in page.items],
        "对象": [r.entity for r in page.items],
        "对象编号": [r.entity_id for r in page.items],
        "变更前": [_change(r.before) for r in page.items],
        "变更后": [_change(r.after) for r in page.items],
    }, schema_overrides={"编号": pl.Int64})
