"""In a real browser, a borrower checks a reminder the demo actually sent: the code printed in the SMS is
confirmed genuine; a mistyped code gets the suspicious-message advice. Chromium is Debian's (never downloaded).

Screenshots land in ``test-output/screenshots/verify-*.png`` for the reviewer. The server and Chromium
settings are the console's end-to-end helpers (``tests/web/browser.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect, sync_playwright
from sqlalchemy import select

from dunning.channels.base import OutboundMessage
from dunning.db.models import Message
from dunning.entrypoints.app import create_app
from dunning.services.context import build_context
from dunning.services.demo import run_demo
from dunning.services.guard.codefill import fill_code
from dunning.services.identity.users import add_user
from dunning.services.verification.codes import ALPHABET
from tests.conftest import make_settings
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, serve

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300),
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")]

AS_OF = date(2026, 11, 23)
BUSINESS_TIME = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CODE_IN_TEXT = re.compile(rf"验证码([{ALPHABET}]{{6}})")
PHONE_SIZE: ViewportSize = {"width": 390, "height": 844}  # a common phone: the page must work without zooming
DESK_SIZE: ViewportSize = {"width": 1366, "height": 768}
HOTLINE_USER, HOTLINE_PASSWORD = "hotline.agent", "hotline-pass-9"


@dataclass(frozen=True)
class Sent:
    phone: str  # as the borrower would type it: national number, grouped with spaces
    code: str
    text: str


@dataclass(frozen=True)
class Live:
    base_url: str
    sent: Sent


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The demo's database served by the real app on 127.0.0.1."""
    settings = make_settings(tmp_path_factory.mktemp("demo"))
    settings.business_time = BUSINESS_TIME
    result = run_demo(accounts=500, settings=settings, as_of=AS_OF)
    assert result["delivery"]["delivered"] > 0, result["delivery"]
    ctx = build_context(settings)
    add_user(ctx, HOTLINE_USER, "viewer", password=HOTLINE_PASSWORD, display_name="热线坐席", actor="test")
    with ctx.db.transaction() as s:
        row = s.execute(select(Message.phone, Message.text, Message.idempotency_key)
                        .where(Message.state == "delivered").order_by(Message.id).limit(1)).one()
    # the database keeps the text with a placeholder; the phone got it with the code filled in on the way out
    assert CODE_IN_TEXT.search(str(row.text)) is None
    phone = str(row.phone)
    text = fill_code(OutboundMessage(0, row.idempotency_key, phone, str(row.text or "")), settings.secret()).text
    m = CODE_IN_TEXT.search(text)
    assert m, f"the delivered SMS carries its verification code: {text}"
    national = phone.removeprefix("+86")
    sent = Sent(f"{national[:3]} {national[3:7]} {national[7:]}", m.group(1), text)

    try:
        with serve(create_app(ctx)) as base_url:
            yield Live(base_url, sent)
    finally:
        ctx.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _verify(page: Page, base_url: str, phone: str, code: str, path: str = "/verify") -> Locator:
    page.goto(f"{base_url}{path}")
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=code]").fill(code)
    page.locator("main form button[type=submit]").click()
    result = page.get_by_test_id("verify-result")
    result.wait_for()
    return result


def test_code_from_a_demo_sms_is_genuine_and_a_wrong_code_is_suspicious(live: Live, browser: Browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE_SIZE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        # The borrower types the code in lower case, as phones often do: the answer is still genuine.
        result = _verify(page, live.base_url, live.sent.phone, live.sent.code.lower())
        expect(result).to_have_attribute("data-result", "genuine")
        expect(result).to_contain_text("已核实")
        expect(result).to_contain_text("阳光消费金融")
        expect(result).to_contain_text("2026-11-23")
        expect(result).to_contain_text("95000")
        body = page.locator("body").inner_text()
        amount = re.search(r"借款([\d,]+\.\d\d)元", live.sent.text)
        tail4 = re.search(r"尾号(\d{4})", live.sent.text)
        for detail in (amount.group(1) if amount else None, tail4.group(1) if tail4 else None, live.sent.code):
            assert detail is None or detail not in body, f"the page shows {detail!r} from the SMS"
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, "the page scrolls sideways on a phone"
        page.screenshot(path=str(SCREENSHOTS / "verify-genuine.png"), full_page=True)

        wrong = next(c for c in ALPHABET if c != live.sent.code[-1])
        result = _verify(page, live.base_url, live.sent.phone, live.sent.code[:-1] + wrong)
        expect(result).to_have_attribute("data-result", "not_found")
        expect(result).to_contain_text("可疑短信")
        advice = page.get_by_test_id("suspicious-advice")
        expect(advice).to_contain_text("不要付款")
        expect(advice).to_contain_text("不要点击")
        expect(advice).to_contain_text("95000")
        page.screenshot(path=str(SCREENSHOTS / "verify-suspicious.png"), full_page=True)

        page.goto(f"{live.base_url}/identity")
        expect(page.get_by_test_id("sender-ports")).to_contain_text("1069012345")
        expect(page.get_by_test_id("signatures")).to_contain_text("【阳光消费金融】")
        page.screenshot(path=str(SCREENSHOTS / "verify-identity.png"), full_page=True)
    finally:
        context.close()


def test_hotline_agent_confirms_a_callers_code_inside_the_console(live: Live, browser: Browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=DESK_SIZE, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{live.base_url}/hotline")
        expect(page).to_have_url(re.compile(r"/login\?next=/hotline"))
        page.locator("input[name=username]").fill(HOTLINE_USER)
        page.locator("input[name=password]").fill(HOTLINE_PASSWORD)
        page.locator("main form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/hotline$"))
        # The caller reads the code aloud; the agent types what they hear, with spaces.
        spaced = " ".join(live.sent.code)
        result = _verify(page, live.base_url, live.sent.phone.replace(" ", ""), spaced, "/hotline")
        expect(result).to_have_attribute("data-result", "genuine")
        expect(result).to_contain_text("2026-11-23")
        expect(page.get_by_test_id("whoami")).to_contain_text("热线坐席")
        page.screenshot(path=str(SCREENSHOTS / "verify-hotline.png"), full_page=True)
    finally:
        context.close()
