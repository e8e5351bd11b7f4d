"""Numbered pages with a total and a sort column, shared by every list; and the export cap.

A list asks :func:`fetch` for one page of a statement: the total comes from the same filtered statement (so
"共 N 条" and the rows always agree), the sort is one of the list's named columns (``"-x"`` descending), and a
tie-break on the primary key keeps pages stable. An export is the same statement with no page: at most
:data:`EXPORT_LIMIT` rows, in the sort shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PER_PAGE = 200
EXPORT_LIMIT = 50_000


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 50
    sort: str = ""  # a column key of the list, "-key" for descending; "" = the list's default

    @classmethod
    def of(cls, page: int | None = None, per_page: int | None = None, sort: str | None = None) -> PageRequest:
        return cls(max(1, page or 1), max(1, min(per_page or 50, MAX_PER_PAGE)), (sort or "").strip())

    @classmethod
    def export(cls, sort: str | None = None) -> PageRequest:
        return cls(1, EXPORT_LIMIT, (sort or "").strip())


@dataclass
class ListPage(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    sort: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_row(self) -> int:
        return 0 if not self.items else (self.page - 1) * self.per_page + 1

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.items) - 1 if self.items else 0

    def numbers(self, around: int = 2) -> list[int | None]:
        """Page numbers to show: the first, the last, and ``around`` each side of this one (None = a gap)."""
        keep = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        out: list[int | None] = []
        for n in range(1, self.pages + 1):
            if n in keep:
                out.append(n)
            elif out and out[-1] is not None:
                out.append(None)
        return out


@dataclass
class CursorPage(Generic[T]):
    """A keyset page (the API's lists): newest first, ``next_cursor`` = the last id seen when more remain."""

    items: list[T]
    next_cursor: int | None = None


def keyset(rows: Sequence[T], limit: int) -> tuple[list[T], int | None]:
    """``rows`` (objects with an ``id``) were fetched with ``limit + 1``, newest first: the page's rows and the
    next cursor (the last id shown when one more row says a next page exists)."""
    page = list(rows[:limit])
    return page, (getattr(page[-1], "id") if len(rows) > limit else None)  # noqa: B009


def equal_to(stmt: Any, pairs: Sequence[tuple[Any, Any]]) -> Any:
    """``stmt`` narrowed to ``column == value`` for each pair whose value is given (not None, not empty)."""
    for col, value in pairs:
        if value not in (None, ""):
            stmt = stmt.where(col == value)
    return stmt


def within(stmt: Any, col: Any, since: Any, until: Any) -> Any:
    """``stmt`` narrowed to ``since <= col <= until`` (either bound optional, both inclusive)."""
    if since:
        stmt = stmt.where(col >= since)
    if until:
        stmt = stmt.where(col <= until)
    return stmt


def resolve_sort(sort: str, columns: Mapping[str, Any], default: str) -> tuple[str, Any, bool]:
    """``(key, column, descending)`` of a sort string; an unknown key falls back to the default."""
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in columns:
        desc = default.startswith("-")
        key = default.lstrip("-")
    return ("-" if desc else "") + key, columns[key], desc


def fetch(s: Session, stmt: Select[Any], req: PageRequest, columns: Mapping[str, Any], default: str,
          tiebreak: Any) -> tuple[Sequence[Any], int, str]:
    """One page of ``stmt`` (rows, total of the whole filtered statement, the sort applied)."""
    total = int(s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    key, col, desc = resolve_sort(req.sort, columns, default)
    order = [col.desc() if desc else col.asc(), tiebreak.desc() if desc else tiebreak.asc()]
    page = min(req.page, max(1, -(-total // req.per_page)))
    rows = s.execute(stmt.order_by(*order).offset((page - 1) * req.per_page).limit(req.per_page)).all()
    return rows, total, key


def page_of(items: list[T], total: int, req: PageRequest, sort: str) -> ListPage[T]:
    pages = max(1, -(-total // req.per_page))
    return ListPage(items, total, min(req.page, pages), req.per_page, sort)
