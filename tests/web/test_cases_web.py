"""Cases through the web: the self-service page after verification, the queue and case page, the API, and a
case worked from new to resolved in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from dunning.db.case_models import Case, CaseNote
from dunning.db.models import AuditEvent, Message
from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from dunning.services.verification.codes import stored_hash
from tests.web.browser import CHROMIUM, serve
from tests.web.conftest import Browser, login_as
from tests.web.seed import AGENCY, OTHER_PHONE, PASSWORD, USERS, Seeded

CODE = "7KQ2MX"


def give_code(ctx: AppContext, message_id: int, phone: str, code: str = CODE) -> None:
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.id == message_id)
                  .values(verify_code_hash=stored_hash(ctx.settings.secret(), phone, code)))


def public_client(app: FastAPI) -> Browser:
    b = Browser(TestClient(app, raise_server_exceptions=False))
    b.refresh_csrf()
    return b


def cases(ctx: AppContext, **where: Any) -> list[Case]:
    with ctx.db.transaction() as s:
        q = select(Case).order_by(Case.id)
        for k, v in where.items():
            q = q.where(getattr(Case, k) == v)
        return list(s.scalars(q).all())


def test_self_service_opens_a_case_from_a_verified_code_and_shows_nothing_of_the_account(
        app: FastAPI, web_ctx: AppContext, seeded: Seeded) -> None:
    give_code(web_ctx, seeded.other_message_id, OTHER_PHONE)
    b = public_client(app)
    r: Any = b.post("/help", data={"phone": "138 1234 8000", "code": CODE.lower(), "request_type": "hardship",
                                   "note": "最近失业，想申请分期"})
    assert r.status_code == 200
    number = re.search(r'data-testid="case-number">(AJ\d+)<', r.text)
    assert number is not None
    assert web_ctx.settings.identity.hotlines[0] in r.text
    for detail in ("L0002", "500.00", "李", "逾期"):  # loan, amount, name, overdue: none of them on the page
        assert detail not in r.text
    (case,) = cases(web_ctx, type="hardship")
    assert (case.phone, case.source, case.message_id, case.loan_ids) == (OTHER_PHONE, "self_service",
                                                                          seeded.other_message_id, ["L0002"])
    assert case.summary == "最近失业，想申请分期" and number.group(1) == f"AJ{case.id:07d}"


def test_self_service_refuses_an_unverified_code_and_a_link(app: FastAPI, web_ctx: AppContext,
                                                             seeded: Seeded) -> None:
    give_code(web_ctx, seeded.other_message_id, OTHER_PHONE)
    b = public_client(app)
    r: Any = b.post("/help", data={"phone": OTHER_PHONE, "code": "ABCDEF", "request_type": "not_me"})
    assert r.status_code == 200 and 'data-result="refused"' in r.text and "case-number" not in r.text
    r = b.post("/help", data={"phone": OTHER_PHONE, "code": CODE, "request_type": "not_me",
                              "note": "详情见 www.example.com"})
    assert r.status_code == 422 and "链接" in r.text
    r = b.post("/help", data={"phone": OTHER_PHONE, "code": CODE, "request_type": "not_me", "note": "长" * 201})
    assert r.status_code == 422
    assert cases(web_ctx, type="wrong_person") == []


def test_self_service_is_rate_limited_like_verify(app: FastAPI, web_ctx: AppContext, seeded: Seeded) -> None:
    give_code(web_ctx, seeded.other_message_id, OTHER_PHONE)
    b = public_client(app)
    limit = web_ctx.settings.verify_max_per_phone
    for _ in range(limit):
        b.post("/verify", data={"phone": OTHER_PHONE, "code": "ZZZZZZ"})
    # failures stop further guessing on the phone (issue 17.8: the borrower's real code is never blocked)
    r: Any = b.post("/help", data={"phone": OTHER_PHONE, "code": "YYYYYY", "request_type": "callback"})
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert cases(web_ctx, type="callback") == []


def test_queue_scoping_bulk_assignment_and_the_api(app: FastAPI, web_ctx: AppContext, seeded: Seeded) -> None:
    ops = login_as(app, Role.OPERATOR)
    r: Any = ops.post("/cases", data={"type": "hardship", "phone": OTHER_PHONE, "source": "hotline",
                                      "summary": "来电申请分期"})
    assert r.status_code == 303
    hardship = cases(web_ctx, type="hardship")[0]
    assert hardship.source == "hotline" and hardship.opened_by == USERS[Role.OPERATOR]

    # Compliance sees the complaint, not the hardship case; the agency user only the case of its account.
    compliance, agency = login_as(app, Role.COMPLIANCE), login_as(app, Role.AGENCY)
    page: Any = compliance.get("/cases")
    assert f"AJ{seeded.case_id:07d}" in page.text and f"AJ{hardship.id:07d}" not in page.text
    assert compliance.get(f"/cases/{hardship.id}").status_code == 404  # type: ignore[attr-defined]
    page = agency.get("/cases")
    assert f"AJ{seeded.case_id:07d}" in page.text and f"AJ{hardship.id:07d}" not in page.text
    assert "13912345678" not in page.text  # the agency user sees the phone masked

    r = ops.post("/cases/assign", data={"case_id": [str(seeded.case_id), str(hardship.id)], "owner": "wang.ops"})
    assert r.status_code == 303
    assert {c.owner for c in cases(web_ctx)} == {"wang.ops"}
    page = ops.get("/cases?overdue=1&state=open")
    assert "case-row" not in page.text  # nothing is past due yet

    api = TestClient(app)
    h = {"Authorization": f"Bearer {seeded.tokens[Role.AGENCY]}"}
    listed = api.get("/api/v1/cases", headers=h).json()
    assert [i["id"] for i in listed["items"]] == [seeded.case_id]
    assert api.post(f"/api/v1/cases/{hardship.id}/notes", json={"text": "x"}, headers=h).status_code == 404
    h = {"Authorization": f"Bearer {seeded.tokens[Role.COMPLIANCE]}"}
    got = api.post(f"/api/v1/cases/{seeded.case_id}/resolve", json={"outcome": "upheld", "note": "已道歉并整改"},
                   headers=h)
    assert got.status_code == 200
    with web_ctx.db.transaction() as s:
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "case",
                                                           AuditEvent.entity_id == str(seeded.case_id))).all()
    assert set(events) >= {"case.assign", "case.resolve"}
    assert cases(web_ctx, id=seeded.case_id)[0].agency == AGENCY


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/setup-test-env.sh)")
def test_an_operator_works_a_case_from_new_to_resolved_in_a_real_browser(
        app: FastAPI, web_ctx: AppContext, seeded: Seeded, browser: Any) -> None:
    with serve(app) as base:
        page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", USERS[Role.OPERATOR])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.click("nav >> text=案件")
        page.wait_for_url(re.compile(r"/cases"))
        row = page.locator(f"[data-testid=case-row][data-case=AJ{seeded.case_id:07d}]")
        assert "新建" in row.inner_text()
        row.locator("a").first.click()
        page.wait_for_url(f"{base}/cases/{seeded.case_id}")
        assert page.get_attribute("[data-testid=case-state]", "data-state") == "new"

        page.click("[data-testid=to-in_progress]")
        page.wait_for_selector("[data-testid=case-state][data-state=in_progress]")
        page.fill("[data-testid=owner]", "wang.ops")
        page.click("[data-testid=assign]")
        page.wait_for_selector("[data-testid=case-owner]:has-text('wang.ops')")
        page.fill("[data-testid=note-text]", "已致电借款人，核实催收人员态度问题")
        page.click("[data-testid=add-note]")
        page.wait_for_selector("[data-testid=case-timeline] >> text=核实催收人员态度问题")
        page.select_option("[data-testid=outcome]", "partly_upheld")
        page.click("[data-testid=resolve]")
        page.wait_for_selector("[data-testid=case-state][data-state=resolved]")
        assert "部分成立" in page.inner_text("[data-testid=case-outcome]")
        timeline = page.inner_text("[data-testid=case-timeline]")
        assert "处理中" in timeline and "wang.ops" in timeline

    (case,) = cases(web_ctx, id=seeded.case_id)
    assert (case.state, case.outcome, case.owner) == ("resolved", "partly_upheld", "wang.ops")
    with web_ctx.db.transaction() as s:
        kinds = [n.kind for n in s.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id))]
    assert kinds == ["state", "assign", "note", "outcome"]
