"""The console's holiday calendar page: an admin imports next year's file, a bad one is refused with its line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from dunning.services.identity.users import Role
from dunning.strategy import calendar as cal
from tests.web.conftest import login_as

GOOD = "kind,name,first,last\nholiday,春节,2030-02-02,2030-02-08\nworkday,春节,2030-02-09,\n"
BAD = "kind,name,first,last\nholiday,春节,2030-02-02,2030-02-08\nholiday,元宵节,2030-02-17,2030-02-17\n"


@pytest.fixture(autouse=True)
def _shipped_calendar_after() -> Iterator[None]:
    yield
    cal.install(cal.HolidayCalendar())


def test_admin_imports_a_year_from_the_console(app: FastAPI) -> None:
    admin = login_as(app, Role.ADMIN)
    assert "这一年还没有节假日数据" in admin.get("/admin/calendar?year=2030").text  # type: ignore[attr-defined]
    r = admin.post("/admin/calendar", files={"file": ("bad.csv", BAD.encode())})
    assert r.status_code == 303  # type: ignore[attr-defined]
    page = admin.get("/admin/calendar?year=2030").text  # type: ignore[attr-defined]
    assert "未导入：bad.csv 第 3 行" in page and "元宵节" in page and "这一年还没有节假日数据" in page
    admin.post("/admin/calendar", files={"file": ("2030.csv", GOOD.encode())})
    page = admin.get("/admin/calendar?year=2030").text  # type: ignore[attr-defined]
    assert "已导入 2030 年：1 个假期，1 个调休上班日" in page
    assert "2030-02-02 ～ 2030-02-08" in page and "2030-02-09" in page
    audit = admin.get("/audit").text  # type: ignore[attr-defined]
    assert "calendar.import" in audit
