"""The collections team's day in a real browser (Debian's Chromium driven by Playwright).

log in → upload a portfolio → see the reject counts → edit a template and watch a lint finding appear →
plan a campaign → pilot → approve the pilot as a second person → send and watch the live progress complete →
find a message → read the audit log. One screenshot per page lands in ``test-output/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dunning.config import ChannelSettings, Settings
from dunning.db.models import Import, Message
from dunning.entrypoints.app import create_app
from dunning.services.context import AppContext, BusinessClock, build_context
from dunning.services.identity.users import add_user
from dunning.testing import generate_portfolio
from tests.conftest import BUSINESS_NOON
from tests.web.browser import CHROMIUM, SCREENSHOTS, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/setup-test-env.sh)")]

AS_OF = date(2026, 11, 23)
PASSWORD = "e2e-password-1"
WAIT = 60_000  # ms


@pytest.fixture
def e2e_ctx(tmp_path: Path) -> Iterator[AppContext]:
    settings = Settings(
        data_dir=tmp_path / ".dunning", secret_key="e2e-secret-key",  # type: ignore[arg-type]
        # A modest rate so that the live progress has something to show for a few seconds.
        channels={"sandbox": ChannelSettings(kind="sandbox", rate=10.0, options={"seed": 7, "reply_rate": 0.0,
                                                                                   "delivered_rate": 1.0})},
    )
    # The business clock starts at 10:00 Shanghai (inside the send window) and runs with real time.
    ctx = build_context(settings, clock=BusinessClock(BUSINESS_NOON))
    add_user(ctx, "wang.ops", "operator", password=PASSWORD, display_name="运营-王敏")
    add_user(ctx, "zhang.strategy", "strategist", password=PASSWORD, display_name="策略-张伟")
    add_user(ctx, "li.compliance", "compliance", password=PASSWORD, display_name="合规-李静")
    yield ctx
    ctx.db.dispose()


class Shots:
    def __init__(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self.paths: list[Path] = []

    def __call__(self, page: Any, name: str) -> None:
        self.n += 1
        path = SCREENSHOTS / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.paths.append(path)


def login(browser: Any, base: str, username: str, shot: Shots | None = None) -> Any:
    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
    page.set_default_timeout(WAIT)
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{base}/login")
    if shot:
        shot(page, "login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_main_job_in_a_real_browser(e2e_ctx: AppContext, browser: Any, tmp_path: Path) -> None:
    shot = Shots()
    portfolio = tmp_path / "portfolio-2026-11-23.csv"
    generate_portfolio(300, seed=1, as_of=AS_OF).write_csv(portfolio)
    app = create_app(e2e_ctx)
    with serve(app) as base:
        ops = login(browser, base, "wang.ops", shot)
        assert "运营-王敏" in ops.inner_text("[data-testid=whoami]")
        shot(ops, "dashboard-empty")

        # Upload the day's portfolio and read the reject counts.
        ops.goto(f"{base}/imports")
        shot(ops, "imports")
        ops.set_input_files("input[name=files]", str(portfolio))
        ops.fill("input[name=as_of]", AS_OF.isoformat())
        ops.click("[data-testid=upload-form] button[type=submit]")
        ops.wait_for_url(re.compile(r".*/imports/\d+$"))
        with e2e_ctx.db.transaction() as s:
            imp = s.scalars(select(Import)).one()
            rejected, reasons = imp.rejected, dict(imp.reasons)
        assert rejected > 0
        assert ops.inner_text("[data-testid=rejected]") == f"{rejected:,}"
        table = ops.inner_text("[data-testid=reject-reasons]")
        for code in reasons:
            assert code in table
        shot(ops, "import-summary")

        # A strategist edits a template: a lint finding appears in the text as they type.
        strat = login(browser, base, "zhang.strategy")
        strat.goto(f"{base}/templates")
        shot(strat, "templates")
        strat.click("a[href='/templates/M1']")
        box = strat.locator("[data-testid=template-text]")
        strat.wait_for_selector("[data-testid=length]")  # the first check ran on load
        assert strat.locator("[data-testid=highlighted] mark.sev-block").count() == 0
        box.focus()
        box.press("Control+End")
        box.press_sequentially("请转账到个人账户。", delay=20)  # typed, as a person would
        strat.wait_for_selector("[data-testid=highlighted] mark.sev-block")
        assert "个人账户" in strat.inner_text("[data-testid=highlighted] mark.sev-block")
        assert strat.locator("[data-testid=findings] li[data-rule='content.personal_account']").count() == 1
        shot(strat, "template-edit")

        # Plan a campaign from the bundled strategy.
        ops.goto(f"{base}/campaigns")
        shot(ops, "campaigns")
        ops.click("[data-testid=plan-form] button[type=submit]")
        ops.wait_for_url(re.compile(r".*/campaigns/\d+$"))
        campaign_url = ops.url
        assert ops.get_attribute("[data-testid=campaign-state]", "data-state") == "planned"
        shot(ops, "campaign-planned")

        # Pilot: a stratified sample is sent; the page follows it and shows the go/no-go.
        ops.click("[data-testid=action-pilot]")
        ops.wait_for_selector("[data-testid=pilot-go]")  # rendered once the sample is sent and settled
        assert ops.get_attribute("[data-testid=campaign-state]", "data-state") == "piloting"
        assert "达标" in ops.inner_text("[data-testid=pilot-go]")
        shot(ops, "pilot-review")

        # A second person (compliance) approves: four eyes.
        comp = login(browser, base, "li.compliance")
        comp.goto(campaign_url)
        comp.click("[data-testid=action-approve]")
        comp.wait_for_selector("[data-testid=campaign-state][data-state=pilot_approved]")
        shot(comp, "pilot-approved")
        # The campaign page reloads itself when the state changes; leave it so the compliance user's later
        # navigation is not interrupted by a reload triggered by the operator's send.
        comp.goto(f"{base}/")

        # The operator's campaign page reloads itself on the approval (a goto racing that reload is aborted):
        # it shows the new state without a reload by hand. The operator sends; live progress reaches completion.
        ops.wait_for_selector("[data-testid=campaign-state][data-state=pilot_approved]")
        ops.goto(campaign_url)
        ops.click("[data-testid=action-send]")
        ops.wait_for_selector("[data-testid=campaign-state][data-state=sending]")
        pilot_sent = int(ops.inner_text("[data-field=done]").replace(",", ""))
        ops.wait_for_function("n => Number(document.querySelector('[data-field=done]').textContent.replace(/,/g, ''))"
                              " > n", arg=pilot_sent)  # the figures move without a reload
        assert ops.is_enabled("[data-testid=action-pause]"), "a send in progress can be paused"
        shot(ops, "sending-live")
        ops.wait_for_selector("[data-testid=campaign-state][data-state=completed]", timeout=120_000)
        assert ops.inner_text("[data-testid=funnel]")
        shot(ops, "campaign-completed")

        ops.goto(f"{base}/")
        shot(ops, "dashboard")

        # Find one message by loan id and read its full history.
        with e2e_ctx.db.transaction() as s:
            loan = s.scalars(select(Message.loan_id).where(Message.state == "delivered").limit(1)).one()
        ops.goto(f"{base}/messages?loan_id={loan}")
        assert "****" in ops.inner_text("[data-testid=message-results]"), "operators see masked phones"
        shot(ops, "messages")
        ops.click("[data-testid=message-results] tbody tr a")
        ops.wait_for_selector("[data-testid=timeline]")
        assert "状态报告" in ops.inner_text("[data-testid=timeline]")
        shot(ops, "message-detail")

        comp.goto(f"{base}/audit")
        audit = comp.inner_text("[data-testid=audit-table]")
        assert "campaign.pilot_approved" in audit and "import.create" in audit
        shot(comp, "audit")

        # Phone layout and the English switch.
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
        phone.context.add_cookies(ops.context.cookies())
        phone.goto(f"{base}/campaigns")
        shot(phone, "phone-campaigns")
        ops.click("[data-testid=lang-switch]")
        ops.wait_for_selector("text=Dashboard")
        shot(ops, "dashboard-english")
    assert all(p.stat().st_size > 10_000 for p in shot.paths)
