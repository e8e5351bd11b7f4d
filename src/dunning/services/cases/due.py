"""Due times: working days from the Chinese statutory calendar (with make-up working days), computed per distinct
opening day, so a batch of a hundred thousand cases costs a handful of calendar lookups.

Built on :func:`dunning.strategy.calendar.is_rest_day` only, so it stands alone until the calendar service grows
``add_business_days``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from dunning.services.cases.policy import CasePolicy, Period
from dunning.strategy.calendar import HolidayDays, is_rest_day, next_working_day

UTC_US = pl.Datetime("us", "UTC")


def add_working_days(day: date, n: int, days: HolidayDays = "rest_days") -> date:
    """The ``n``-th working day after ``day`` (``day`` itself when ``n`` is 0)."""
    d = day
    while n > 0:
        d += timedelta(days=1)
        if not is_rest_day(d, days):
            n -= 1
    return d


def last_day(opened: date, period: Period, days: HolidayDays = "rest_days") -> date:
    """The last day of ``period`` counted from the day after ``opened``."""
    if period.business_days is not None:
        return add_working_days(opened, period.business_days, days)
    end = opened + timedelta(days=period.days or 0)
    return next_working_day(end, days)  # Civil Code art. 203: a period ending on a rest day ends after it


def due_at(opened_at: datetime, period: Period, tz: ZoneInfo, days: HolidayDays = "rest_days") -> datetime:
    """The end of the period's last day (local midnight after it), in UTC (as the database stores times)."""
    opened = opened_at.astimezone(tz).date()
    return datetime.combine(last_day(opened, period, days) + timedelta(days=1), time(0), tz).astimezone(UTC)


def due_frame(opened: pl.Series, types: pl.Series, policy: CasePolicy, tz: ZoneInfo) -> pl.DataFrame:
    """``due_at`` and ``ack_due_at`` (UTC) for each (opening time, type): the calendar is consulted once per
    distinct (local opening day, type)."""
    frame = pl.DataFrame({"opened_at": opened.cast(UTC_US), "type": types}).with_row_index("_i")
    frame = frame.with_columns(pl.col("opened_at").dt.convert_time_zone(str(tz)).dt.date().alias("_day"))
    keys = frame.select("_day", "type").unique()
    rows = []
    for day, kind in keys.iter_rows():
        rule = policy.rule(kind)
        start = datetime.combine(day, time(12), tz)
        rows.append((day, kind, due_at(start, rule.resolve, tz, policy.working_days),
                     due_at(start, rule.acknowledge, tz, policy.working_days) if rule.acknowledge else None))
    lut = pl.DataFrame(rows, schema={"_day": pl.Date, "type": pl.Utf8, "due_at": pl.Datetime("us", str(tz)),
                                     "ack_due_at": pl.Datetime("us", str(tz))}, orient="row")
    lut = lut.with_columns(pl.col("due_at").dt.convert_time_zone("UTC"), pl.col("ack_due_at").dt.convert_time_zone("UTC"))
    return frame.join(lut, on=["_day", "type"], how="left").sort("_i").select("due_at", "ack_due_at")
