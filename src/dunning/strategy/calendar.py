"""Holidays: which days are rest days, and which nominal days' steps fire on a planning day.

Rest days come from ``chinese-calendar`` (statutory holidays with the State Council's make-up working days,
调休上班): with ``holiday_days: statutory`` only statutory holidays rest; with ``rest_days`` weekends rest too,
except make-up working days, which always count as working days. The strategy's ``quiet_dates`` rest as well.

Per strategy: ``send`` ignores holidays; ``skip`` suppresses what falls on a rest day (reason ``holiday``);
``defer`` moves it to the next working day, so a working day also fires the steps of the rest days before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

import chinese_calendar

from dunning.errors import ConfigError

# A run of rest days longer than this is a configuration mistake (quiet dates covering a season), not a holiday.
MAX_REST_RUN = 31

HolidayDays = Literal["statutory", "rest_days"]


@lru_cache(maxsize=4096)
def _detail(day: date) -> tuple[bool, str | None]:
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError as exc:
        raise ConfigError(
            f"节假日日历（chinese-calendar）没有 {day.year} 年的数据：请升级 chinese-calendar，或把策略的 holidays 设为 send",
            f"chinese-calendar has no data for {day.year}: upgrade it, or set holidays: send",
            code="config.holiday_calendar",
        ) from exc
    return bool(on_holiday), (str(name) if name is not None else None)


def holiday_name(day: date) -> str | None:
    """The statutory holiday ``day`` belongs to (``None`` on an ordinary day or weekend)."""
    on_holiday, name = _detail(day)
    return name if on_holiday else None


def is_makeup_workday(day: date) -> bool:
    """A weekend day worked in exchange for a holiday (调休上班)."""
    on_holiday, name = _detail(day)
    return not on_holiday and name is not None


def is_rest_day(day: date, days: HolidayDays = "statutory", quiet: Iterable[date] = ()) -> bool:
    if day in set(quiet):
        return True
    on_holiday, name = _detail(day)
    if days == "statutory":
        return on_holiday and name is not None
    return on_holiday  # weekends and holidays; make-up working days are not "on holiday"


def next_working_day(day: date, days: HolidayDays = "statutory", quiet: Iterable[date] = ()) -> date:
    """``day`` itself when it is a working day, else the first working day after it."""
    q = frozenset(quiet)
    d = day
    for _ in range(MAX_REST_RUN + 1):
        if not is_rest_day(d, days, q):
            return d
        d += timedelta(days=1)
    raise ConfigError(f"{day} 之后连续 {MAX_REST_RUN} 天以上都是休息日：请检查 quiet_dates",
                      f"more than {MAX_REST_RUN} rest days in a row after {day}: check quiet_dates")


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
              quiet: Iterable[date] = ()) -> FireDays:
    """Which nominal days' steps fire on ``as_of`` under the strategy's holiday rule."""
    if mode == "send":
        return FireDays((as_of,), False, None)
    q = frozenset(quiet)
    rest = is_rest_day(as_of, days, q)
    name = holiday_name(as_of)
    if mode == "skip":
        return FireDays((as_of,), rest, name)
    if rest:
        return FireDays((), True, name, next_working_day(as_of, days, q))
    run = [as_of]
    d = as_of - timedelta(days=1)
    while is_rest_day(d, days, q):
        run.append(d)
        if len(run) > MAX_REST_RUN:
            raise ConfigError(f"{as_of} 之前连续 {MAX_REST_RUN} 天以上都是休息日：请检查 quiet_dates",
                              f"more than {MAX_REST_RUN} rest days in a row before {as_of}: check quiet_dates")
        d -= timedelta(days=1)
    return FireDays(tuple(run), False, None)
