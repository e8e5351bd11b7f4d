"""Holidays: which days are rest days, which are business days, and which nominal days' steps fire on a planning day.

Holidays are policy data (``strategy.holidays``): one calendar file per year, shipped for the years
``chinese-calendar`` covers (generated from it once, ``scripts/gen_calendar.py``) and imported for later years
(``dunning calendar import``; an imported year wins over the shipped one). A :class:`HolidayCalendar` holds
them; the calendar service (``services.calendar``) builds one from the shipped files and the imported table and
installs it here (:func:`install`), so the module functions below always answer from the current calendar.

With ``holiday_days: statutory`` only statutory holidays rest; with ``rest_days`` weekends rest too, except
make-up working days (调休上班), which always count as working days. The strategy's ``quiet_dates`` rest as well.
A business day is a day that is not a rest day under ``rest_days``.

Per strategy: ``send`` ignores holidays (and needs no data); ``skip`` suppresses what falls on a rest day (reason
``holiday``); ``defer`` moves it to the next working day, so a working day also fires the steps of the rest days
before it. A day of a year with no data is a clear error naming the command that loads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import Literal

from dunning.errors import ConfigError
from dunning.strategy.holidays import HolidayYear, parse_year

# A run of rest days longer than this is a configuration mistake (quiet dates covering a season), not a holiday.
MAX_REST_RUN = 31

HolidayDays = Literal["statutory", "rest_days"]
FIX_COMMAND = "dunning calendar import FILE"


def missing_year_message(year: int) -> tuple[str, str]:
    """The one message for a year without holiday data (the error and the advance warning both use it)."""
    return (f"没有 {year} 年的节假日数据：国务院公布 {year} 年节假日安排后，用 `{FIX_COMMAND}` 导入"
            f"（或控制台“节假日日历”页）；在此之前需要节假日的策略（holidays: skip/defer）无法计划，holidays: send 不受影响",
            f"no holiday data for {year}: once the State Council publishes the {year} schedule, load it with "
            f"`{FIX_COMMAND}` (or the console's Holiday calendar page); until then strategies that need holidays "
            f"(holidays: skip/defer) cannot plan, holidays: send is unaffected")


class MissingYearError(ConfigError, code="config.holiday_calendar"):
    def __init__(self, year: int) -> None:
        super().__init__(*missing_year_message(year))
        self.year = year


@lru_cache(maxsize=64)
def shipped_year(year: int) -> HolidayYear | None:
    """The calendar file shipped for ``year`` (``dunning/data/calendar/<year>.csv``), if any."""
    path = resources.files("dunning.data.calendar").joinpath(f"{year}.csv")
    if not path.is_file():
        return None
    return parse_year(path.read_text(encoding="utf-8"), f"{year}.csv")


def shipped_years() -> list[int]:
    names = (p.name for p in resources.files("dunning.data.calendar").iterdir())
    return sorted(int(n[:-4]) for n in names if n.endswith(".csv") and n[:-4].isdigit())


class HolidayCalendar:
    """The shipped years, overridden year by year by ``imported`` ones. Immutable once built."""

    def __init__(self, imported: Mapping[int, HolidayYear] | None = None) -> None:
        self._imported = dict(imported or {})

    def source(self, year: int) -> Literal["imported", "shipped"] | None:
        if year in self._imported:
            return "imported"
        return "shipped" if shipped_year(year) is not None else None

    def has_year(self, year: int) -> bool:
        return self.source(year) is not None

    def year(self, year: int) -> HolidayYear:
        found = self._imported.get(year) or shipped_year(year)
        if found is None:
            raise MissingYearError(year)
        return found

    def years(self) -> list[int]:
        return sorted(set(shipped_years()) | set(self._imported))

    def holiday_name(self, day: date) -> str | None:
        return self.year(day.year).holiday(day)

    def is_makeup_workday(self, day: date) -> bool:
        return self.year(day.year).makeup(day) is not None

    def is_rest_day(self, day: date, days: HolidayDays = "statutory", quiet: Iterable[date] = ()) -> bool:
        if day in frozenset(quiet):
            return True
        y = self.year(day.year)
        if y.holiday(day) is not None:
            return True
        return days == "rest_days" and day.weekday() >= 5 and y.makeup(day) is None

    def next_working_day(self, day: date, days: HolidayDays = "statutory", quiet: Iterable[date] = ()) -> date:
        q = frozenset(quiet)
        d = day
        for _ in range(MAX_REST_RUN + 1):
            if not self.is_rest_day(d, days, q):
                return d
            d += timedelta(days=1)
        raise ConfigError(f"{day} 之后连续 {MAX_REST_RUN} 天以上都是休息日：请检查 quiet_dates",
                          f"more than {MAX_REST_RUN} rest days in a row after {day}: check quiet_dates")

    def is_business_day(self, day: date) -> bool:
        return not self.is_rest_day(day, "rest_days")

    def add_business_days(self, day: date, n: int) -> date:
        """The day ``n`` business days after ``day`` (before it when ``n`` < 0; ``day`` itself is not counted).
        ``n == 0`` is ``day`` when it is a business day, else the next one."""
        if n == 0:
            return self.next_working_day(day, "rest_days")
        step = timedelta(days=1 if n > 0 else -1)
        d, left, run = day, abs(n), 0
        while left:
            d += step
            if self.is_business_day(d):
                left, run = left - 1, 0
            else:
                run += 1
                if run > MAX_REST_RUN:
                    raise ConfigError(f"{day} 附近连续 {MAX_REST_RUN} 天以上都不是工作日",
                                      f"more than {MAX_REST_RUN} non-business days in a row near {day}")
        return d


_current = HolidayCalendar()


def install(calendar: HolidayCalendar) -> None:
    """Make ``calendar`` the one the module functions answer from (the calendar service does this)."""
    global _current
    _current = calendar


def current() -> HolidayCalendar:
    return _current


def holiday_name(day: date, calendar: HolidayCalendar | None = None) -> str | None:
    """The statutory holiday ``day`` belongs to (``None`` on an ordinary day or weekend)."""
    return (calendar or _current).holiday_name(day)


def is_makeup_workday(day: date, calendar: HolidayCalendar | None = None) -> bool:
    """A weekend day worked in exchange for a holiday (调休上班)."""
    return (calendar or _current).is_makeup_workday(day)


def is_rest_day(day: date, days: HolidayDays = "statutory", quiet: Iterable[date] = (),
                calendar: HolidayCalendar | None = None) -> bool:
    return (calendar or _current).is_rest_day(day, days, quiet)


def next_working_day(day: date, days: HolidayDays = "statutory", quiet: Iterable[date] = (),
                     calendar: HolidayCalendar | None = None) -> date:
    """``day`` itself when it is a working day, else the first working day after it."""
    return (calendar or _current).next_working_day(day, days, quiet)


def is_business_day(day: date, calendar: HolidayCalendar | None = None) -> bool:
    """Neither a weekend (unless a make-up working day) nor a statutory holiday."""
    return (calendar or _current).is_business_day(day)


def add_business_days(day: date, n: int, calendar: HolidayCalendar | None = None) -> date:
    """``n`` business days after ``day`` (see :meth:`HolidayCalendar.add_business_days`)."""
    return (calendar or _current).add_business_days(day, n)


@dataclass(frozen=True, slots=True)
class FireDays:
    """What a planning day does.

    ``days``: the nominal days whose steps are sent today (today first); empty when today is a rest day under
    ``defer``. ``rest_today``: today is a rest day (``skip`` suppresses what fires; ``defer`` sends nothing).
    ``holiday``: the statutory holiday's name, when there is one. ``deferred_to``: under ``defer`` on a rest day,
    the working day today's steps move to.
    """

    days: tuple[date, ...]
    rest_today: bool
    holiday: str | None = None
    deferred_to: date | None = None

    def offsets(self, as_of: date) -> list[int]:
        """Days before ``as_of`` of each fire day (0 = today)."""
        return [(as_of - d).days for d in self.days]


def fire_days(as_of: date, mode: Literal["send", "skip", "defer"], days: HolidayDays = "statutory",
              quiet: Iterable[date] = (), calendar: HolidayCalendar | None = None) -> FireDays:
    """Which nominal days' steps fire on ``as_of`` under the strategy's holiday rule."""
    if mode == "send":
        return FireDays((as_of,), False, None)
    cal = calendar or _current
    q = frozenset(quiet)
    rest = cal.is_rest_day(as_of, days, q)
    name = cal.holiday_name(as_of)
    if mode == "skip":
        return FireDays((as_of,), rest, name)
    if rest:
        return FireDays((), True, name, cal.next_working_day(as_of, days, q))
    run = [as_of]
    d = as_of - timedelta(days=1)
    while cal.is_rest_day(d, days, q):
        run.append(d)
        if len(run) > MAX_REST_RUN:
            raise ConfigError(f"{as_of} 之前连续 {MAX_REST_RUN} 天以上都是休息日：请检查 quiet_dates",
                              f"more than {MAX_REST_RUN} rest days in a row before {as_of}: check quiet_dates")
        d -= timedelta(days=1)
    return FireDays(tuple(run), False, None)
