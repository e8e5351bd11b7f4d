"""The verification pages and API as a recipient (or the hotline) meets them: no login, only genuine / not found,
never a debt detail, the same answer for every wrong input, a rate limit that says so."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.db.models import AuditEvent, VerificationAttempt
from dunning.entrypoints.app import create_app
from dunning.services.context import AppContext
from dunning.services.identity.users import Role, add_user
from dunning.testing import FrozenClock
from tests.verification.helpers import deliver_with_code

PHONE = "+8613800000007"
LOAN_ID_MARK = "L"  # every seeded loan id starts "L<campaign>-"
NAME = "张三"
AMOUNT = "1,000.00"
PASSWORD = "correct-horse-9"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture
def sent(ctx: AppContext) -> tuple[str, str]:
    """One delivered message to PHONE whose stored text holds a name, an amount and its code."""
    return deliver_with_code(ctx, f"【阳光消费金融】{NAME}您好，您尾号0007的借款应还¥{AMOUNT}。验证码{{code}}")


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _token(client: TestClient, path: str = "/verify") -> str:
    page = client.get(path)
    m = CSRF_FIELD.search(page.text)
    assert m, f"{path} has a form with a CSRF token"
    return m.group(1)


def _ask(client: TestClient, phone: str, code: str, path: str = "/verify") -> tuple[int, str, str]:
    """POST the form; returns (status, result shown, the whole page)."""
    r = client.post(path, data={"phone": phone, "code": code, "csrf_token": _token(client, path)},
                    follow_redirects=False)
    m = re.search(r'data-testid="verify-result" data-result="(\w+)"', r.text)
    # The form token is the second the page was served (signed), the same for every answer: two pages served in
    # different seconds differ there and nowhere else, so it is blanked before pages are compared.
    page = re.sub(r'name="form_token" value="[^"]*"', 'name="form_token" value=""', r.text)
    return r.status_code, (m.group(1) if m else ""), page


def _answer_section(page: str) -> str:
    start = page.index('data-testid="verify-result"')
    return page[start:page.index("</section>", start)]


def _assert_no_debt_detail(text: str, code: str, loan_id: str) -> None:
    for detail in (NAME, AMOUNT, "1000", loan_id, "0007", code):
        assert detail not in text, f"{detail!r} leaked into the answer"


def test_verify_page_opens_without_login_and_has_a_protected_form(client: TestClient) -> None:
    r = client.get("/verify", follow_redirects=False)
    assert r.status_code == 200
    assert "核实催收短信真伪" in r.text and "Verify" in r.text
    assert 'name="csrf_token"' in r.text and 'name="phone"' in r.text and 'name="code"' in r.text
    assert "95000" in r.text and "不会" in r.text  # the official hotline and the anti-fraud line
    assert 'name="viewport"' in r.text  # phones: the page scales to the device
    forged = client.post("/verify", data={"phone": PHONE, "code": "ABCDEF"}, follow_redirects=False)
    assert forged.status_code == 403, "a form post without the page's CSRF token is refused"


def test_genuine_code_shows_who_and_when_and_no_debt_detail(client: TestClient, sent: tuple[str, str]) -> None:
    code, loan_id = sent
    status, result, page = _ask(client, "138 0000 0007", code.lower())
    assert (status, result) == (200, "genuine")
    answer = _answer_section(page)
    assert "阳光消费金融" in answer and "2026-11-23" in answer and "95000" in answer
    _assert_no_debt_detail(page, code, loan_id)


def test_wrong_phone_wrong_code_expired_and_garbage_show_the_same_page(
        client: TestClient, sent: tuple[str, str], clock: FrozenClock, ctx: AppContext) -> None:
    code, loan_id = sent
    other = "ABCDEF" if code != "ABCDEF" else "ABCDEG"
    pages = {
        "wrong code": _ask(client, PHONE, other),
        "wrong phone": _ask(client, "+8613800000008", code),
        "garbage": _ask(client, "not a phone", "??"),
    }
    clock.advance(days=ctx.settings.verify_code_ttl_days + 1)
    pages["expired"] = _ask(client, PHONE, code)
    first = pages["wrong code"]
    assert first[:2] == (200, "not_found")
    assert "不要付款" in first[2] and "可疑" in first[2] and "95000" in first[2]
    for label, got in pages.items():
        assert got == first, f"{label} is told apart from a wrong code"
        _assert_no_debt_detail(got[2], code, loan_id)


def test_rate_limited_page_says_so_and_confirms_nothing(client: TestClient, sent: tuple[str, str],
                                                       ctx: AppContext) -> None:
    code, _ = sent
    for _ in range(ctx.settings.verify_max_per_phone):
        _ask(client, PHONE, "ZZZZZZ")
    r = client.post("/verify", data={"phone": PHONE, "code": "YYYYYY", "csrf_token": _token(client)})
    assert r.status_code == 429
    assert r.headers["retry-after"] == str(ctx.settings.verify_window_minutes * 60)
    assert 'data-result="rate_limited"' in r.text and "过于频繁" in r.text
    assert "genuine" not in _answer_section(r.text) and "2026-11-23" not in r.text


def test_api_answers_genuine_without_login_or_csrf(client: TestClient, sent: tuple[str, str]) -> None:
    code, loan_id = sent
    r = client.post("/api/v1/verify", json={"phone": "13800000007", "code": code})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"result", "message_zh", "message_en", "institution", "hotline", "app", "domain", "sent_on"}
    assert body["result"] == "genuine" and body["sent_on"] == "2026-11-23" and body["hotline"] == "95000"
    assert "set-cookie" not in r.headers
    _assert_no_debt_detail(r.text, code, loan_id)


def test_api_wrong_phone_and_wrong_code_are_byte_identical(client: TestClient, sent: tuple[str, str]) -> None:
    code, _ = sent
    wrong_code = client.post("/api/v1/verify", json={"phone": PHONE, "code": "ZZZZZZ"})
    wrong_phone = client.post("/api/v1/verify", json={"phone": "+8613800000008", "code": code})
    assert wrong_code.status_code == wrong_phone.status_code == 200
    assert wrong_code.content == wrong_phone.content
    assert wrong_code.json()["result"] == "not_found" and wrong_code.json()["sent_on"] is None
    drop = {"date"}
    assert ({k: v for k, v in wrong_code.headers.items() if k not in drop}
            == {k: v for k, v in wrong_phone.headers.items() if k not in drop})


def test_api_rate_limit_is_429_with_the_same_shape(client: TestClient, sent: tuple[str, str],
                                                   ctx: AppContext) -> None:
    code, _ = sent
    for i in range(ctx.settings.verify_max_per_ip):
        client.post("/api/v1/verify", json={"phone": f"+86139000000{i:02d}", "code": "ZZZZZZ"})
    r = client.post("/api/v1/verify", json={"phone": PHONE, "code": code})
    assert r.status_code == 429 and "retry-after" in r.headers
    assert r.json()["result"] == "rate_limited" and r.json()["sent_on"] is None
    assert set(r.json()) == set(client.post("/api/v1/verify", json={"phone": "x", "code": "y"}).json())


def test_api_is_documented_in_openapi_and_the_pages_are_not(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/verify"]["post"]
    assert op["tags"] == ["verification"] and "429" in op["responses"]
    assert "security" not in op or op["security"] == []
    assert not any(p in doc["paths"] for p in ("/verify", "/identity", "/hotline"))


def test_identity_page_publishes_signatures_ports_hotlines_domain_and_agencies(
        client: TestClient, ctx: AppContext) -> None:
    ident = ctx.settings.identity
    r = client.get("/identity")
    assert r.status_code == 200
    assert "目前未委托任何外部机构催收" in r.text
    ident.signatures = ["阳光消费金融", "阳光金融"]
    ident.sender_ports = ["1069012345", "1065500001"]
    ident.hotlines = ["95000", "400-800-9500"]
    ident.agencies = ["华信催收", "安和资产"]
    r = client.get("/identity")
    for value in ("【阳光消费金融】", "【阳光金融】", "1069012345", "1065500001", "95000", "400-800-9500",
                  ident.domain, ident.app_name, "华信催收", "安和资产"):
        assert value in r.text, value
    assert "目前未委托任何外部机构催收" not in r.text


def _staff(app: FastAPI, ctx: AppContext, role: Role) -> TestClient:
    name = f"{role.value}-hl"
    add_user(ctx, name, role.value, password=PASSWORD, display_name=name, actor="test",
             agency="华信催收" if role is Role.AGENCY else None)
    c = TestClient(app, raise_server_exceptions=False)
    r = c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": _token(c, "/login"),
                               "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return c


def test_hotline_view_answers_staff_the_same_way_and_is_logged_as_hotline(
        app: FastAPI, ctx: AppContext, client: TestClient, sent: tuple[str, str]) -> None:
    code, loan_id = sent
    assert client.get("/hotline", follow_redirects=False).headers["location"].startswith("/login")
    for role in (Role.STRATEGIST, Role.AGENCY):
        assert _staff(app, ctx, role).get("/hotline").status_code == 403
    viewer = _staff(app, ctx, Role.VIEWER)
    assert viewer.get("/hotline").status_code == 200
    public_answer = _answer_section(_ask(client, "138-0000-0007", code)[2])
    # The public limit for this phone is used up; the hotline still answers (staff are not rate limited).
    for _ in range(ctx.settings.verify_max_per_phone):
        _ask(client, PHONE, "ZZZZZZ")
    assert _ask(client, PHONE, "YYYYYY")[1] == "rate_limited"
    assert _ask(client, PHONE, code)[1] == "genuine"  # failures elsewhere never block the real code (17.8)
    status, result, page = _ask(viewer, "138-0000-0007", code, "/hotline")
    assert (status, result) == (200, "genuine")
    _assert_no_debt_detail(page, code, loan_id)
    assert _answer_section(page) == public_answer
    assert _ask(viewer, PHONE, "ZZZZZZ", "/hotline")[1] == "not_found"
    with ctx.db.transaction() as s:
        logged = s.execute(select(VerificationAttempt.channel, VerificationAttempt.phone_masked,
                                  VerificationAttempt.outcome).order_by(VerificationAttempt.id)).all()
    hotline = [row for row in logged if row.channel == "hotline"]
    assert [row.outcome for row in hotline] == ["genuine", "not_found"]
    assert "rate_limited" in {row.outcome for row in logged if row.channel == "public"}
    assert all("00000007" not in row.phone_masked and row.phone_masked for row in logged)
    # Each staff lookup names the staff member in the audit log (masked number, answer); public ones do not.
    with ctx.db.transaction() as s:
        audited = s.execute(select(AuditEvent.actor, AuditEvent.entity_id, AuditEvent.after).where(
            AuditEvent.action == "verify.hotline_lookup").order_by(AuditEvent.id)).all()
    assert [(a.after or {}).get("outcome") for a in audited] == ["genuine", "not_found"]
    assert {a.actor for a in audited} == {f"{Role.VIEWER.value}-hl"}
    assert all("00000007" not in a.entity_id for a in audited)


def test_hotline_guessing_a_masked_phone_is_stopped_and_alerted(
        app: FastAPI, ctx: AppContext, sent: tuple[str, str]) -> None:
    """Issue 17.2: a staff member who reads a code and a masked phone (138****0007) cannot try the hidden digits
    through /hotline: lookups are limited per user (and per address), and going over raises an audit alert."""
    code, _ = sent
    viewer = _staff(app, ctx, Role.VIEWER)
    limit = ctx.settings.hotline_max_per_user
    results = [_ask(viewer, f"138{n:04d}0007", code, "/hotline")[1] for n in range(1, limit + 5)]
    assert results[:limit] == ["not_found"] * limit
    assert set(results[limit:]) == {"rate_limited"}
    # once over the limit even the right number gets no answer that could confirm it
    assert _ask(viewer, "138-0000-0007", code, "/hotline")[1] == "rate_limited"
    with ctx.db.transaction() as s:
        alerts = s.execute(select(AuditEvent.actor, AuditEvent.after).where(
            AuditEvent.action == "verify.hotline_limited")).all()
    assert [a.actor for a in alerts] == [f"{Role.VIEWER.value}-hl"]  # one alert per user and window
    # another staff member on the same address shares the per-address budget
    ctx.settings.hotline_max_per_ip = limit + 10
    other = _staff(app, ctx, Role.OPERATOR)
    tail = [_ask(other, "138-0000-0007", code, "/hotline")[1] for _ in range(10)]
    assert tail[-1] == "rate_limited"
