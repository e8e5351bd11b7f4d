"""Load, import and show holiday calendar years; the advance warning (see the package docstring)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from dunning.db.calendar_models import CalendarYear
from dunning.errors import NotFoundError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.strategy import calendar as cal
from dunning.strategy.holidays import HolidayYear, parse_year

# From this month on, a year without next year's data warns (the State Council publishes in the autumn).
WARN_FROM_MONTH = 11


def calendar_for(ctx: AppContext) -> cal.HolidayCalendar:
    """The current calendar (shipped years, imported years winning), installed for the module functions.

    Read afresh on every call (a handful of rows), so a long-running console or worker sees an import made by
    another process the next time it plans.
    """
    with ctx.db.transaction() as s:
        rows = s.execute(select(CalendarYear.year, CalendarYear.content)).all()
    imported = {year: parse_year(content, f"calendar_years[{year}]") for year, content in rows}
    calendar = cal.HolidayCalendar(imported)
    cal.install(calendar)
    return calendar


@dataclass(frozen=True, slots=True)
class CalendarImport:
    year: int
    replaced: bool
    unchanged: bool
    holidays: int
    workdays: int

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "replaced": self.replaced, "unchanged": self.unchanged,
                "holidays": self.holidays, "workdays": self.workdays}


def import_calendar(ctx: AppContext, text: str, *, source_name: str, actor: str) -> CalendarImport:
    """Validate one year's calendar file (refused with the line at fault) and store it; it wins over the shipped
    year. Importing the same content again changes nothing; different content replaces the year (audited with
    both versions)."""
    year = parse_year(text, source_name)
    content = year.to_text()
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    now = ctx.now()
    with ctx.db.transaction() as s:
        row = s.get(CalendarYear, year.year)
        if row is not None and row.sha256 == digest:
            return CalendarImport(year.year, False, True, len(year.holidays), len(year.workdays))
        before = ({"sha256": row.sha256, "source_name": row.source_name, "content": row.content}
                  if row is not None else None)
        if row is None:
            row = CalendarYear(year=year.year)
            s.add(row)
        row.content, row.sha256, row.source_name = content, digest, source_name[:255]
        row.imported_at, row.imported_by = now, actor
        audit.record(s, at=now, actor=actor, action="calendar.import", entity="calendar_year", entity_id=year.year,
                     before=before, after={"sha256": digest, "source_name": source_name, **year.to_dict()})
    calendar_for(ctx)
    return CalendarImport(year.year, before is not None, False, len(year.holidays), len(year.workdays))


@dataclass(frozen=True, slots=True)
class YearView:
    year: int
    source: str  # "imported" | "shipped"
    data: HolidayYear
    imported_at: datetime | None = None
    imported_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "imported_at": self.imported_at, "imported_by": self.imported_by,
                **self.data.to_dict()}


def show_year(ctx: AppContext, year: int) -> YearView:
    calendar = calendar_for(ctx)
    source = calendar.source(year)
    if source is None:
        zh, en = cal.missing_year_message(year)
        raise NotFoundError(zh, en)
    imported_at = imported_by = None
    if source == "imported":
        with ctx.db.transaction() as s:
            row = s.get(CalendarYear, year)
            if row is not None:
                imported_at, imported_by = row.imported_at, row.imported_by
    return YearView(year, source, calendar.year(year), imported_at, imported_by)


def next_year_warning(ctx: AppContext, today: date | None = None,
                      calendar: cal.HolidayCalendar | None = None) -> tuple[str, str] | None:
    """From 1 November: the (zh, en) warning when next year has no holiday data, naming the command that fixes it;
    ``None`` otherwise."""
    today = today or ctx.today()
    if today.month < WARN_FROM_MONTH:
        return None
    calendar = calendar or calendar_for(ctx)
    nxt = today.year + 1
    return None if calendar.has_year(nxt) else cal.missing_year_message(nxt)


def overview(ctx: AppContext) -> dict[str, Any]:
    """The console page: every year with its source, the imported years' provenance, and the warning."""
    calendar = calendar_for(ctx)
    with ctx.db.transaction() as s:
        rows = {r.year: (r.imported_at, r.imported_by, r.source_name) for r in s.scalars(select(CalendarYear))}
    years = [{"year": y, "source": calendar.source(y), "imported_at": rows.get(y, (None,))[0],
              "imported_by": rows.get(y, (None, None))[1]} for y in reversed(calendar.years())]
    return {"years": years, "warning": next_year_warning(ctx, calendar=calendar), "today": ctx.today()}
