"""The calendar service: the one place holidays and business days come from (shipped years + imported years).

``calendar_for(ctx)`` reads the imported years (``calendar_years``) and installs the resulting calendar into
``strategy.calendar``, so planning's defer/skip, the make-up Saturday and business-day due times all answer from
it. ``import_calendar`` validates a year's file and stores it (audited); ``next_year_warning`` is the advance
notice shown from 1 November when next year has no data. See docs/calendar.md and the ADR on the calendar.
"""

from __future__ import annotations

from dunning.services.calendar.service import (
    WARN_FROM_MONTH,
    CalendarImport,
    YearView,
    calendar_for,
    import_calendar,
    next_year_warning,
    overview,
    show_year,
)

__all__ = ["WARN_FROM_MONTH", "CalendarImport", "YearView", "calendar_for", "import_calendar", "next_year_warning",
           "overview", "show_year"]
