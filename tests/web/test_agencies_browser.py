"""A tender from notice to award in a real browser (Debian's Chromium via Playwright).

A buyer publishes the notice → two agency users bid in the console (one with a document) → the deadline passes →
two evaluators score independently, one after declaring a conflict with a bidder → the buyer proposes the award
from the ranked score sheet → a compliance reviewer who did not evaluate approves it → the tender report.
Screenshots land in ``test-output/screenshots/`` (the report also in ``/tmp/agencies-shots/``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dunning.db.agency_models import BidScore, EvaluatorConflict, Tender
from dunning.entrypoints.app import create_app
from dunning.services.context import AppContext, build_context
from dunning.testing import FrozenClock
from tests.agencies.flow import APPROVER, EVAL1, EVAL2, MANAGER, PASSWORD, register, staff
from tests.conftest import BUSINESS_NOON, make_settings
from tests.web.browser import CHROMIUM, serve, shot
from tests.web.browser import login as browser_login

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/setup-test-env.sh)")]
WAIT = 30_000
REPORT_SHOT = Path("/tmp/agencies-shots/tender-report.png")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(BUSINESS_NOON)  # 10:00 in Shanghai


@pytest.fixture
def tctx(tmp_path: Path, clock: FrozenClock) -> Iterator[AppContext]:
    ctx = build_context(make_settings(tmp_path), clock=clock.now)
    staff(ctx)
    register(ctx)
    yield ctx
    ctx.db.dispose()


def login(browser: Any, base: str, username: str) -> Any:
    return browser_login(browser, base, username, PASSWORD, timeout_ms=WAIT, viewport={"width": 1366, "height": 900})


def test_a_tender_from_notice_to_award(tctx: AppContext, clock: FrozenClock, browser: Any, tmp_path: Path) -> None:
    doc = tmp_path / "资质证明.pdf"
    doc.write_bytes(b"%PDF-1.4\n% licence scan\n")
    with serve(create_app(tctx)) as base:
        buyer = login(browser, base, MANAGER)
        buyer.goto(f"{base}/tenders")
        form = "[data-testid=tender-create]"
        buyer.fill(f"{form} input[name=title]", "2027 年 M2+ 委外催收服务")
        buyer.fill(f"{form} textarea[name=requirements]", "持牌经营；数据安全等级保护三级；全程录音。")
        buyer.fill(f"{form} textarea[name=lots]", "M2+ 全国|M2,M3|")
        buyer.fill(f"{form} input[name=evaluators]", f"{EVAL1},{EVAL2}")
        buyer.fill(f"{form} input[name=opens_at]", "2026-11-23T09:00")
        buyer.fill(f"{form} input[name=closes_at]", "2026-11-23T11:00")
        buyer.click(f"{form} button[type=submit]")
        buyer.wait_for_url(re.compile(r".*/tenders/\d+$"))
        tender_url = buyer.url
        assert "投标中" in buyer.inner_text("body")
        shot(buyer, "agencies-1-notice")

        # Two agencies bid in the console before the deadline; one attaches a document.
        for agent, rate, cap in (("agent1", "0.10", "5000"), ("agent2", "0.12", "8000")):
            page = login(browser, base, agent)
            page.goto(tender_url)
            bid = "[data-testid=bid-form]"
            page.fill(f"{bid} input[name=commission_rate]", rate)
            page.fill(f"{bid} input[name=capacity]", cap)
            page.fill(f"{bid} input[name=promised_recovery_rate]", "0.3")
            if agent == "agent1":
                page.set_input_files(f"{bid} input[name=files]", str(doc))
            page.click(f"{bid} button[type=submit]")
            page.wait_for_selector("[data-testid=my-bids] td.num")
            assert f"{float(rate):.1%}" in page.inner_text("[data-testid=my-bids]")
            assert "score-sheet" not in page.content()  # an agency never sees the score sheet
            shot(page, f"agencies-2-bid-{agent}")

        clock.advance(hours=2)  # the deadline passes: the bid form is gone
        late = login(browser, base, "agent1")
        late.goto(tender_url)
        assert late.locator("[data-testid=bid-form]").count() == 0 and "投标已截止" in late.inner_text("body")

        # Evaluators score independently; the second declares a conflict with 华信商务 first.
        e1 = login(browser, base, EVAL1)
        e1.goto(tender_url)
        for agency, sec, team in (("华信商务", "85", "80"), ("诚达咨询", "70", "75")):
            f = f"[data-testid=score-{agency}]"
            e1.fill(f"{f} input[name=score_security]", sec)
            e1.fill(f"{f} input[name=score_team]", team)
            with e1.expect_navigation():
                e1.click(f"{f} button[type=submit]")
            assert "评分已保存" in e1.inner_text("#flash")
        e2 = login(browser, base, EVAL2)
        e2.goto(tender_url)
        row = e2.locator("[data-testid=scoring] .score-row", has_text="华信商务")
        row.locator("input[name=note]").fill("配偶在该机构任职")
        row.locator("button.btn-danger").click()
        e2.wait_for_selector("text=已声明利益冲突，不能评分")
        assert e2.locator("[data-testid='score-华信商务']").count() == 0
        f = "[data-testid='score-诚达咨询']"
        e2.fill(f"{f} input[name=score_security]", "72")
        e2.fill(f"{f} input[name=score_team]", "70")
        with e2.expect_navigation():
            e2.click(f"{f} button[type=submit]")
        assert "评分已保存" in e2.inner_text("#flash")
        shot(e2, "agencies-3-scoring")

        # The buyer proposes the award from the ranked sheet; an evaluator sees no approve button.
        buyer.goto(tender_url)
        sheet = buyer.inner_text("[data-testid=score-sheet]")
        assert "华信商务" in sheet and "诚达咨询" in sheet
        buyer.click("[data-testid=award-form] button[type=submit]")
        buyer.wait_for_selector("text=授标建议人")
        e1.goto(tender_url)
        assert e1.locator("[data-testid=approve-form]").count() == 0
        approver = login(browser, base, APPROVER)
        approver.goto(tender_url)
        approver.click("[data-testid=approve-form] button[type=submit]")
        approver.wait_for_selector("[data-testid=approved-by]")
        assert APPROVER in approver.inner_text("[data-testid=approved-by]")
        assert "已授标" in approver.inner_text("[data-testid=tender-state]")
        shot(approver, "agencies-4-awarded")

        approver.goto(tender_url + "/report.html")
        report = approver.inner_text("[data-testid=tender-report]")
        assert "评分表" in report and "授标" in report and "配偶在该机构任职" in report
        REPORT_SHOT.parent.mkdir(parents=True, exist_ok=True)
        approver.screenshot(path=str(REPORT_SHOT), full_page=True)
        shot(approver, "agencies-5-report")

    with tctx.db.transaction() as s:
        t = s.scalars(select(Tender)).one()
        assert (t.state, t.proposed_by, t.approved_by) == ("awarded", MANAGER, APPROVER)
        assert s.scalars(select(EvaluatorConflict.evaluator)).all() == [EVAL2]
        assert sorted(s.scalars(select(BidScore.evaluator)).all()) == [EVAL1] * 4 + [EVAL2] * 2
