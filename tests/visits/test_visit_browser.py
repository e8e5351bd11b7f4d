"""A field visit in two real browsers (Debian's Chromium via Playwright): the team's phone with an emulated
position checks in (refused 2 km away, accepted at the door) and presses SOS; the supervisor's live board shows
the alarm without a reload, and the supervisor acknowledges it. Screenshots land in test-output/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from dunning.entrypoints.app import create_app
from dunning.services.context import AppContext
from dunning.services.identity.users import add_user
from tests.visits.conftest import AGENCY, HOME, World, approved, local
from tests.web.browser import CHROMIUM, SCREENSHOTS, login, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/setup-test-env.sh)")]

PASSWORD = "visit-pass-1"
WAIT = 30_000  # ms


def _login(browser: Any, base: str, username: str, **context: Any) -> Any:
    return login(browser, base, username, PASSWORD, timeout_ms=WAIT, **context)


def test_sos_from_the_field_reaches_the_supervisors_board(ctx: AppContext, world: World, browser: Any) -> None:
    from datetime import date

    add_user(ctx, "boss", "supervisor", password=PASSWORD, display_name="主管-周", agency=AGENCY)
    add_user(ctx, "zhang", "team_lead", password=PASSWORD, display_name="组长-张伟", agency=AGENCY)
    vid = approved(ctx, world, local(date(2026, 11, 23), 10))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(create_app(ctx)) as base:
        boss = _login(browser, base, "boss", viewport={"width": 1280, "height": 800})
        boss.goto(f"{base}/visits/board")
        assert boss.locator("[data-alarm]").count() == 0

        far = {"latitude": HOME[0] + 0.018, "longitude": HOME[1]}  # ~2 km from the address
        phone = _login(browser, base, "zhang", viewport={"width": 390, "height": 844}, is_mobile=True,
                       has_touch=True, geolocation=far, permissions=["geolocation"])
        phone.goto(f"{base}/field/visits/{vid}")
        for box in phone.locator("input[name=checklist]").all():
            box.check()
        phone.check("#recording")
        phone.click("[data-testid=checkin]")
        status = phone.locator("[data-testid=field-status]")
        status.filter(has_text="超出").wait_for()
        phone.context.set_geolocation({"latitude": HOME[0], "longitude": HOME[1]})
        phone.click("[data-testid=checkin]")
        status.filter(has_text="已签到").wait_for()
        phone.screenshot(path=str(SCREENSHOTS / "visits-mobile-page.png"), full_page=True)

        phone.click("[data-testid=sos]")
        status.filter(has_text="求助已发出").wait_for()
        alarm = boss.locator("[data-alarm][data-kind=sos]")
        alarm.wait_for()  # pushed over server-sent events: the supervisor's page was never reloaded
        assert "人民大道" in alarm.inner_text() and "zhang" in alarm.inner_text()
        boss.screenshot(path=str(SCREENSHOTS / "visits-live-board.png"), full_page=True)

        alarm.locator("button").click()
        boss.wait_for_url(f"{base}/visits/board")
        boss.locator("[data-alarm]").first.wait_for(state="detached")
        detail = boss.goto(f"{base}/visits/{vid}")
        assert detail is not None and detail.ok
        events = boss.inner_text("body")
        assert "sos" in events and "checkin_refused" in events and "alarm_ack" in events
