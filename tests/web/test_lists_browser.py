"""The investigating and reporting pages in a real browser (Debian's Chromium via Playwright): filters and numbered
pages with sorting and an export, the replies inbox, a payments import, a new template, and the HTML report
rendering its charts from the one file. Screenshots land in ``test-output/screenshots/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from tests.web.browser import CHROMIUM, login, serve, shot
from tests.web.seed import PASSWORD, USERS, Seeded
from tests.web.test_lists import add_messages

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/setup-test-env.sh)")]
WAIT = 60_000  # ms


def _login(browser: Any, base: str, role: Role) -> Any:
    return login(browser, base, USERS[role], PASSWORD, timeout_ms=WAIT, viewport={"width": 1440, "height": 900},
                 accept_downloads=True)


def test_find_import_create_and_read_the_report_in_a_browser(app: FastAPI, web_ctx: AppContext, seeded: Seeded,
                                                             browser: Any, tmp_path: Path) -> None:
    add_messages(web_ctx, seeded, 70, state="failed", segment="M2", loan_prefix="A")
    add_messages(web_ctx, seeded, 25, state="delivered", segment="M2", loan_prefix="B")
    with serve(app) as base:
        page = _login(browser, base, Role.ADMIN)

        # Filters combine (state and segment), the total and page numbers show, a column sorts, an export downloads.
        page.goto(f"{base}/messages")
        page.select_option("[data-testid=message-search] select[name=state]", "failed")
        page.select_option("[data-testid=message-search] select[name=segment]", "M2")
        page.click("[data-testid=message-search] button[type=submit]")
        summary = page.locator("[data-testid=list-summary]")
        assert "共 70 条" in summary.inner_text() and "第 1 / 2 页" in summary.inner_text()
        assert page.locator("[data-testid=message-results] tbody tr").count() == 50
        shot(page, "lists-messages-filtered")
        page.click("[data-testid=page-2]")
        page.wait_for_url(re.compile(r".*page=2"))
        assert page.locator("[data-testid=message-results] tbody tr").count() == 20
        assert "第 51–70 条" in page.locator("[data-testid=list-summary]").inner_text()
        page.click("[data-testid=sort-loan_id]")
        page.wait_for_url(re.compile(r".*sort=-loan_id"))
        assert page.locator("[data-testid=message-results] tbody tr").first.inner_text().count("A0069") == 1
        with page.expect_download() as dl:
            page.click("[data-testid=export-csv]")
        saved = tmp_path / "messages.csv"
        dl.value.save_as(saved)
        lines = saved.read_text(encoding="utf-8-sig").strip().splitlines()
        assert len(lines) == 71 and lines[1].split(",")[3] == "A0069"  # every filtered row, in the sort shown

        # A phone typed into the search never shows in the address bar (history, Referer, access logs).
        page.fill("[data-testid=message-search] input[name=phone]", "138 1234 8000")
        page.click("[data-testid=message-search] button[type=submit]")
        page.wait_for_url(re.compile(r".*ph=1"))
        assert "12348000" not in page.url and "1234" not in page.url
        assert "共 70 条" in page.locator("[data-testid=list-summary]").inner_text()
        page.click("[data-testid=page-2]")
        page.wait_for_url(re.compile(r".*page=2"))
        assert "1234" not in page.url and page.locator("[data-testid=message-results] tbody tr").count() == 20

        # The replies inbox: the dispute with the message it answers.
        page.goto(f"{base}/replies")
        page.click("[data-testid=tab-dispute]")
        page.wait_for_url(re.compile(r".*classification=dispute"))
        rows = page.locator("[data-testid=reply-results] tbody tr")
        assert rows.count() == 1 and "争议" in rows.first.inner_text()
        shot(page, "lists-replies")
        rows.first.locator(f"a[href='/messages/{seeded.other_message_id}']").click()
        page.wait_for_url(f"{base}/messages/{seeded.other_message_id}")

        # A payments import from the console, listed with its kind.
        pay = tmp_path / "还款-1123.csv"
        pay.write_text("借款编号,还款金额,还款时间\nL0001,100.00,2026-11-23 09:00:00\n", encoding="utf-8")
        page.goto(f"{base}/imports")
        page.set_input_files("[data-testid=payments-form] input[name=files]", str(pay))
        page.click("[data-testid=payments-form] button[type=submit]")
        page.wait_for_url(re.compile(r".*/imports/\d+$"))
        assert "还款导入" in page.inner_text("[data-testid=import-kind]")
        assert page.inner_text("[data-testid=accepted]") == "1"
        page.goto(f"{base}/imports?kind=payments")
        assert "共 1 条" in page.locator("[data-testid=list-summary]").inner_text()
        shot(page, "lists-imports-payments")

        # A new template, created on the templates page, opens as a draft.
        page.goto(f"{base}/templates")
        form = page.locator("[data-testid=template-create]")
        form.locator("input[name=code]").fill("M3_firm_v2")
        form.locator("input[name=name]").fill("M3 坚定 v2")
        form.locator("select[name=stage]").select_option("M3")
        form.locator("textarea[name=text]").fill("${name}您好，您的借款已逾期，请尽快在官方App还款。")
        form.locator("textarea[name=variables]").fill("name: masked_name")
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{base}/templates/M3_firm_v2")
        assert "M3 坚定 v2" in page.content() and "草稿" in page.content()

        # The HTML report opens from the campaign page and draws its charts from the one file.
        page.goto(f"{base}/campaigns/{seeded.campaign_id}")
        with page.context.expect_page() as popup:
            page.click("[data-testid=report-html]")
        report = popup.value
        report.set_default_timeout(WAIT)
        report.wait_for_selector(".plotly-graph-div .main-svg")
        assert "批次报告" in report.title()
        shot(report, "lists-report")
        html = tmp_path / "report.html"
        html.write_text(report.content(), encoding="utf-8")
        offline = browser.new_page()  # the saved file alone, opened from disk, still draws its charts
        offline.goto(html.as_uri())
        offline.wait_for_selector(".plotly-graph-div .main-svg", timeout=WAIT)
