"""Next year's holidays loaded from a file: planning, business days, the advance warning and the import itself
(through the service and the `dunning calendar` command). Frozen clocks throughout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dunning.config import get_settings
from dunning.db.models import AuditEvent
from dunning.entrypoints.cli.calendar import app as calendar_cli
from dunning.errors import ConfigError
from dunning.services import calendar as calendar_service
from dunning.services.campaigns.reports import write_campaign_report
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.queries import dashboard as dashboard_q
from dunning.strategy import calendar as cal
from dunning.strategy.holidays import CalendarFileError
from dunning.testing import FrozenClock
from tests.strategy.helpers import HOLIDAY, Acct, at, import_accounts, make_ctx, plan

# A 2027 schedule shaped like 2026's: nine days of Spring Festival from a Saturday, a make-up Saturday after it.
CAL_2027 = """# 国务院办公厅关于2027年部分节假日安排的通知 (test data)
kind,name,first,last
holiday,元旦,2027-01-01,2027-01-03
holiday,春节,2027-02-06,2027-02-14
workday,春节,2027-02-20,
holiday,Tomb-sweeping Day,2027-04-03,2027-04-05
holiday,劳动节,2027-05-01,2027-05-05
workday,Labour Day,2027-04-25,
holiday,端午节,2027-06-09,2027-06-11
holiday,中秋节,2027-09-15,2027-09-17
holiday,国庆节,2027-10-01,2027-10-07
workday,National Day,2027-09-26,
workday,National Day,2027-10-09,
"""



@pytest.fixture(autouse=True)
def _shipped_calendar_after() -> Iterator[None]:
    yield
    cal.install(cal.HolidayCalendar())


def _ctx(tmp_path: Path, day: date, hh: int = 10) -> AppContext:
    return make_ctx(tmp_path, FrozenClock(at(day, hh)))


def _plan(tmp_path: Path, day: date, strategy: str, accounts: list[Acct], with_2027: bool) -> object:
    ctx = _ctx(tmp_path, day)
    if with_2027:
        calendar_service.import_calendar(ctx, CAL_2027, source_name="2027.csv", actor="admin")
    iid = import_accounts(ctx, accounts, day)
    return plan(ctx, strategy, tmp_path, iid, day)


# (year, first day of Spring Festival, first working day after it, its make-up Saturday)
SPRING = [(2026, date(2026, 2, 15), date(2026, 2, 24), date(2026, 2, 28)),
          (2027, date(2027, 2, 6), date(2027, 2, 15), date(2027, 2, 20))]


@pytest.mark.parametrize(("year", "first", "back", "makeup"), SPRING, ids=["2026-shipped", "2027-imported"])
def test_spring_festival_defers_and_its_make_up_saturday_works(tmp_path: Path, year: int, first: date, back: date,
                                                               makeup: date) -> None:
    imported = year == 2027
    on_holiday = first + timedelta(days=2)
    s = _plan(tmp_path / "a", on_holiday, HOLIDAY % ("defer", "statutory"), [Acct("L1", 3), Acct("L2", 4)],
              imported)
    assert (s.planned, s.deferred, s.deferred_to, s.holiday) == (0, 1, back.isoformat(), "Spring Festival")
    s2 = _plan(tmp_path / "b", back, HOLIDAY % ("defer", "statutory"), [Acct("L1", 3)], imported)
    assert s2.planned == 1 and len(s2.fire_days) == 1 + (back - first).days  # today + the nine holidays
    s3 = _plan(tmp_path / "c", makeup, HOLIDAY % ("defer", "rest_days"), [Acct("L1", 3)], imported)
    assert s3.planned == 1 and s3.fire_days == [makeup.isoformat()]
    sunday = makeup + timedelta(days=1)
    s4 = _plan(tmp_path / "d", sunday, HOLIDAY % ("defer", "rest_days"), [Acct("L1", 3)], imported)
    assert (s4.planned, s4.deferred, s4.deferred_to) == (0, 1, (makeup + timedelta(days=2)).isoformat())
    s5 = _plan(tmp_path / "e", on_holiday, HOLIDAY % ("skip", "statutory"), [Acct("L1", 3)], imported)
    assert s5.by_reason == {"holiday": 1}


def test_without_2027_data_defer_fails_clearly_and_send_keeps_working(tmp_path: Path) -> None:
    day = date(2027, 2, 8)
    with pytest.raises(ConfigError) as e:
        _plan(tmp_path / "a", day, HOLIDAY % ("defer", "statutory"), [Acct("L1", 3)], False)
    assert e.value.code == "config.holiday_calendar" and "dunning calendar import FILE" in e.value.message_zh
    s = _plan(tmp_path / "b", day, HOLIDAY % ("send", "statutory"), [Acct("L1", 3)], False)
    assert s.planned == 1 and s.holiday is None


def test_business_days_across_a_loaded_holiday(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, date(2026, 12, 20))
    with pytest.raises(ConfigError):
        cal.add_business_days(date(2026, 12, 31), 1)  # no 2027 data yet
    calendar_service.import_calendar(ctx, CAL_2027, source_name="2027.csv", actor="admin")
    # The functions other services call answer from the installed calendar (shipped + imported).
    assert cal.add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)  # New Year's Day Fri–Sun
    assert cal.add_business_days(date(2027, 2, 5), 1) == date(2027, 2, 15)  # over the nine Spring Festival days
    assert cal.add_business_days(date(2027, 2, 15), -1) == date(2027, 2, 5)
    assert cal.add_business_days(date(2027, 2, 19), 1) == date(2027, 2, 20)  # the make-up Saturday works
    assert cal.add_business_days(date(2027, 2, 19), 2) == date(2027, 2, 22)  # the Sunday after does not
    assert cal.add_business_days(date(2027, 2, 7), 0) == date(2027, 2, 15)
    assert cal.is_business_day(date(2027, 2, 20)) and not cal.is_business_day(date(2027, 2, 21))
    assert cal.is_rest_day(date(2027, 10, 3)) and cal.holiday_name(date(2027, 10, 3)) == "National Day"
    assert cal.is_makeup_workday(date(2027, 9, 26))
    assert cal.next_working_day(date(2027, 10, 2)) == date(2027, 10, 8)


def test_the_warning_appears_on_1_november_and_goes_after_the_import(tmp_path: Path) -> None:
    admin = Principal("admin", "Admin", Role.ADMIN)
    october = _ctx(tmp_path / "oct", date(2026, 10, 31))
    assert calendar_service.next_year_warning(october) is None
    ctx = _ctx(tmp_path / "nov", date(2026, 11, 1))
    warning = calendar_service.next_year_warning(ctx)
    assert warning is not None and "2027" in warning[0] and "dunning calendar import FILE" in warning[1]
    iid = import_accounts(ctx, [Acct("L1", 3)], date(2026, 11, 1))
    s = plan(ctx, HOLIDAY % ("send", "statutory"), tmp_path, iid, date(2026, 11, 1))
    assert s.calendar_warning == {"zh": warning[0], "en": warning[1]}
    assert any(a.text_zh == warning[0] for a in dashboard_q.dashboard(ctx, admin).alerts)
    report = Path(write_campaign_report(ctx, s.campaign_id)["html"]).read_text(encoding="utf-8")
    assert "dunning calendar import FILE" in report

    calendar_service.import_calendar(ctx, CAL_2027, source_name="2027.csv", actor="admin")
    assert calendar_service.next_year_warning(ctx) is None
    again = plan(ctx, HOLIDAY % ("send", "statutory"), tmp_path, iid, date(2026, 11, 1))
    assert again.already_planned and again.calendar_warning is None
    assert not any("2027" in a.text_zh for a in dashboard_q.dashboard(ctx, admin).alerts)
    report = Path(write_campaign_report(ctx, s.campaign_id)["html"]).read_text(encoding="utf-8")
    assert "dunning calendar import FILE" not in report


def test_an_import_wins_over_the_shipped_year_and_is_audited(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, date(2026, 11, 2))
    assert cal.holiday_name(date(2026, 10, 1)) == "National Day"
    fixed = "kind,name,first,last\nholiday,National Day,2026-10-02,2026-10-08\n"
    r = calendar_service.import_calendar(ctx, fixed, source_name="2026-fix.csv", actor="alice")
    assert (r.year, r.replaced, r.unchanged) == (2026, False, False)
    assert cal.holiday_name(date(2026, 10, 1)) is None and cal.holiday_name(date(2026, 10, 8)) == "National Day"
    assert not cal.is_makeup_workday(date(2026, 10, 10))  # the shipped year is replaced whole
    assert calendar_service.show_year(ctx, 2026).source == "imported"
    assert calendar_service.import_calendar(ctx, fixed, source_name="again.csv", actor="alice").unchanged
    calendar_service.import_calendar(ctx, fixed.replace("10-08", "10-07"), source_name="b.csv", actor="bob")
    with ctx.db.transaction() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "calendar.import")
                           .order_by(AuditEvent.id)).all()
        got = [(e.actor, e.entity_id, e.before is None) for e in events]
    assert got == [("alice", "2026", True), ("bob", "2026", False)]


BAD = [
    ("holiday,元旦,2027-01-01,2027-01-03\nholiday,春节,2027-01-03,2027-01-09\n", 3, "overlaps New Year's Day"),
    ("holiday,春节,2027-02-06,2027-02-14\nworkday,春节,2027-02-13,\n", 3, "falls inside Spring Festival"),
    ("holiday,春节,2027-02-06,2027-02-14\nworkday,春节,2027-02-17,\n", 3, "not a Saturday or Sunday"),
    ("holiday,元旦,2027-01-01,2027-01-03\nholiday,Christmas,2027-12-25,2027-12-25\n", 3, "unknown holiday name"),
    ("holiday,元旦,2027-01-01,2027-13-03\n", 2, "YYYY-MM-DD"),
    ("holiday,元旦,2027-01-01,2027-01-03\nholiday,春节,2028-01-26,2028-02-01\n", 3, "not in this file's year"),
    ("holiday,春节,2027-02-14,2027-02-06\n", 2, "before"),
    ("holiday,元旦,2027-01-01,2027-01-03\nvacation,春节,2027-02-06,2027-02-14\n", 3, "holiday or workday"),
]


@pytest.mark.parametrize(("body", "line", "why"), BAD)
def test_a_bad_file_is_refused_naming_the_line(tmp_path: Path, body: str, line: int, why: str) -> None:
    ctx = _ctx(tmp_path, date(2026, 11, 2))
    with pytest.raises(CalendarFileError) as e:
        calendar_service.import_calendar(ctx, "kind,name,first,last\n" + body, source_name="2027.csv", actor="a")
    assert f"2027.csv line {line}:" in e.value.message_en and why in e.value.message_en
    assert f"2027.csv 第 {line} 行" in e.value.message_zh
    assert not calendar_service.calendar_for(ctx).has_year(2027)


def _cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    get_settings.cache_clear()
    env = {"DUNNING_DATA_DIR": str(tmp_path / ".dunning"), "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml"),
           "DUNNING_PASSWORD": "alice-password"}  # --as alice is proven with her password
    try:
        result = CliRunner().invoke(calendar_cli, list(args), env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_cli_import_and_show(tmp_path: Path) -> None:
    good = tmp_path / "2027.csv"
    good.write_text(CAL_2027, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,name,first,last\nholiday,元旦,2027-01-01,2027-01-03\nworkday,春节,2027-02-17,\n",
                   encoding="utf-8")
    code, out = _cli(tmp_path, "show", "2027", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "not_found"
    from dunning.config import Settings
    from dunning.services.context import build_context
    from dunning.services.identity.users import add_user

    add_user(build_context(Settings(data_dir=tmp_path / ".dunning")), "alice", "strategist", password="alice-password")
    code, out = _cli(tmp_path, "import", str(bad), "--as", "alice")
    assert code == 2 and "bad.csv 第 3 行" in out and "not a Saturday or Sunday" in out
    code, out = _cli(tmp_path, "import", str(good), "--as", "alice", "--json")
    assert code == 0 and json.loads(out) == {"year": 2027, "replaced": False, "unchanged": False, "holidays": 7,
                                             "workdays": 4}
    code, out = _cli(tmp_path, "show", "2027", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["source"] == "imported" and shown["imported_by"] == "alice"
    assert shown["holidays"][1] == {"name": "Spring Festival", "name_zh": "春节", "first": "2027-02-06",
                                    "last": "2027-02-14", "days": 9}
    code, out = _cli(tmp_path, "show", "2027")
    assert code == 0 and "2027-02-20（周六）" in out and "春节" in out


def test_the_shipped_files_agree_with_chinese_calendar() -> None:
    import chinese_calendar

    years = cal.shipped_years()
    assert years[0] == 2004 and years[-1] >= 2026
    fresh = cal.HolidayCalendar()
    for year in years:
        d = date(year, 1, 1)
        while d.year == year:
            on, name = chinese_calendar.get_holiday_detail(d)
            assert fresh.is_rest_day(d) == (on and name is not None), d
            assert fresh.is_rest_day(d, "rest_days") == on, d
            assert fresh.is_makeup_workday(d) == (not on and name is not None), d
            d = date.fromordinal(d.toordinal() + 1)
