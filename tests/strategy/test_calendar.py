"""Holidays from chinese-calendar, with real 2026 dates: National Day 1–7 October, make-up working days
Sunday 20 September and Saturday 10 October."""

from __future__ import annotations

from datetime import date

import pytest

from dunning.errors import ConfigError
from dunning.strategy.calendar import (
    fire_days,
    holiday_name,
    is_makeup_workday,
    is_rest_day,
    next_working_day,
)

NATIONAL_DAY = [date(2026, 10, d) for d in range(1, 8)]


def test_national_day_rests_and_its_make_up_days_work() -> None:
    assert all(is_rest_day(d) for d in NATIONAL_DAY)
    assert holiday_name(date(2026, 10, 1)) == "National Day"
    assert is_makeup_workday(date(2026, 10, 10)) and is_makeup_workday(date(2026, 9, 20))
    # Weekends rest only with `rest_days`; a make-up working day never does.
    assert not is_rest_day(date(2026, 10, 11), "statutory")
    assert is_rest_day(date(2026, 10, 11), "rest_days")
    assert not is_rest_day(date(2026, 10, 10), "rest_days")
    assert not is_rest_day(date(2026, 9, 20), "rest_days")


def test_defer_fires_the_holiday_on_the_next_working_day() -> None:
    on_holiday = fire_days(date(2026, 10, 3), "defer")
    assert on_holiday.days == () and on_holiday.rest_today and on_holiday.deferred_to == date(2026, 10, 8)
    after = fire_days(date(2026, 10, 8), "defer")
    assert after.days == (date(2026, 10, 8), *reversed(NATIONAL_DAY))
    assert fire_days(date(2026, 10, 9), "defer").days == (date(2026, 10, 9),)


def test_defer_with_weekends_uses_the_make_up_saturday() -> None:
    # Saturday 10 October is worked: it fires its own steps only; Sunday 11 moves to Monday 12.
    assert fire_days(date(2026, 10, 10), "defer", "rest_days").days == (date(2026, 10, 10),)
    assert fire_days(date(2026, 10, 11), "defer", "rest_days").deferred_to == date(2026, 10, 12)
    assert fire_days(date(2026, 10, 12), "defer", "rest_days").days == (date(2026, 10, 12), date(2026, 10, 11))
    assert next_working_day(date(2026, 10, 3), "rest_days") == date(2026, 10, 8)


def test_skip_and_send() -> None:
    skip = fire_days(date(2026, 10, 1), "skip")
    assert skip.days == (date(2026, 10, 1),) and skip.rest_today and skip.holiday == "National Day"
    assert not fire_days(date(2026, 10, 1), "send").rest_today


def test_quiet_dates_rest_too() -> None:
    quiet = [date(2026, 11, 20)]
    assert fire_days(date(2026, 11, 23), "defer", "statutory", quiet).days == (date(2026, 11, 23),)
    assert fire_days(date(2026, 11, 21), "defer", "statutory", quiet).days == (date(2026, 11, 21),
                                                                               date(2026, 11, 20))


def test_a_year_the_calendar_does_not_know_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as e:
        is_rest_day(date(2099, 1, 1))
    assert e.value.code == "config.holiday_calendar"
    assert "dunning calendar import" in e.value.message_zh and "dunning calendar import" in e.value.message_en
