"""What the pages show: masking by role, agency scoping, message history, audit filters, live progress."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from tests.web.conftest import login_as
from tests.web.seed import AGENCY_PHONE, OTHER_PHONE, Seeded

MASKED_OTHER = "138****8000"


def test_phones_are_masked_unless_the_role_may_see_them(app: object, seeded: Seeded) -> None:
    viewer = login_as(app, Role.VIEWER)  # type: ignore[arg-type]
    r = viewer.get("/messages?phone=138 1234 8000", follow_redirects=True)
    assert r.status_code == 200 and MASKED_OTHER in r.text and OTHER_PHONE not in r.text
    detail = viewer.get(f"/messages/{seeded.other_message_id}").text
    assert MASKED_OTHER in detail and "13812348000" not in detail, "a phone inside a reply is masked too"
    compliance = login_as(app, Role.COMPLIANCE)  # type: ignore[arg-type]
    assert OTHER_PHONE in compliance.get("/messages?loan_id=L0002").text


def test_agency_users_see_only_their_agencys_accounts(app: object, seeded: Seeded) -> None:
    agency = login_as(app, Role.AGENCY)  # type: ignore[arg-type]
    own = agency.get("/messages?loan_id=L0001")
    assert own.status_code == 200 and f"/messages/{seeded.agency_message_id}" in own.text
    other = agency.get("/messages?loan_id=L0002")
    assert f"/messages/{seeded.other_message_id}" not in other.text and "没有找到短信" in other.text
    assert agency.get(f"/messages/{seeded.other_message_id}").status_code == 404, "not 403: existence is hidden"
    api = TestClient(app)  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {seeded.tokens[Role.AGENCY]}"}
    found = api.post("/api/v1/messages/search", json={"phone": "13812348000"}, headers=h).json()["items"]
    assert [m["loan_id"] for m in found] == []
    assert api.get(f"/api/v1/messages/{seeded.agency_message_id}", headers=h).json()["message"]["phone"] == \
        "139****5678"
    assert AGENCY_PHONE not in api.get(f"/api/v1/messages/{seeded.agency_message_id}", headers=h).text


def test_message_history_lists_every_step(app: object, seeded: Seeded) -> None:
    admin = login_as(app, Role.ADMIN)  # type: ignore[arg-type]
    text = admin.get(f"/messages/{seeded.other_message_id}").text
    for step in ("计划：分群 M1", "提交通道 sandbox", "通道已受理", "状态报告：delivered", "回复（dispute）", "最终状态：已送达"):
        assert step in text, step
    assert "李*" in text and "李四" not in text, "borrower names are masked on screen"


def test_a_bad_phone_query_says_what_to_enter(app: object) -> None:
    viewer = login_as(app, Role.VIEWER)  # type: ignore[arg-type]
    r = viewer.get("/messages?phone=12345", follow_redirects=True)
    assert r.status_code == 200 and "11 位手机号" in r.text


def test_audit_log_filters_and_pages(app: object, web_ctx: AppContext) -> None:
    from dunning.services import audit

    with web_ctx.db.transaction() as s:
        for i in range(60):
            audit.record(s, at=web_ctx.now(), actor="operator1", action="campaign.pause", entity="campaign",
                         entity_id=i)
    compliance = login_as(app, Role.COMPLIANCE)  # type: ignore[arg-type]
    first = compliance.get("/audit?action=campaign.pause")
    assert first.status_code == 200 and first.text.count("<code>campaign.pause</code>") == 50
    assert 'data-testid="next-page"' in first.text and "共 60 条" in first.text and "第 1 / 2 页" in first.text
    second = compliance.get("/audit?action=campaign.pause&page=2")
    assert second.text.count("<code>campaign.pause</code>") == 10 and "第 51–60 条" in second.text
    assert compliance.get("/audit?actor=nobody").text.count("<code>") == 0


def test_reject_report_download_is_audited(app: object, seeded: Seeded) -> None:
    op = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    page = op.get(f"/imports/{seeded.import_id}").text
    assert "invalid_phone" in page and "1,234" not in page
    r = op.get(f"/imports/{seeded.import_id}/rejects.csv")
    assert r.status_code == 200 and "invalid_phone" in r.text
    compliance = login_as(app, Role.COMPLIANCE)  # type: ignore[arg-type]
    assert "import.rejects_download" in compliance.get("/audit?entity=import").text


def test_campaign_events_stream_live_counts(app: object, seeded: Seeded) -> None:
    viewer = login_as(app, Role.VIEWER)  # type: ignore[arg-type]
    with viewer.client.stream("GET", f"/campaigns/{seeded.campaign_id}/events?once=1") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    data = json.loads(body.split("event: progress\ndata: ")[1].split("\n")[0])
    assert data["state"] == "completed" and data["delivered"] == 2 and data["pct"] == 100.0
    assert "event: end" in body


def test_english_switch(app: object) -> None:
    b = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    assert "仪表盘" in b.get("/").text
    r = b.get("/lang/en?next=/")
    assert r.status_code == 303
    page = b.get("/").text
    assert "Dashboard" in page and "仪表盘" not in page


@pytest.mark.parametrize(("path", "results"), [("/messages", "message-results"), ("/replies", "reply-results")])
def test_a_searched_phone_stays_out_of_every_url(app: object, seeded: Seeded, path: str, results: str) -> None:
    """URLs end up in access logs, browser history and Referer headers: the search form is posted, the list's
    own links (pages, sorting, exports, tabs) carry ``ph=1``, and an old link with the number is rewritten."""
    admin = login_as(app, Role.ADMIN)  # type: ignore[arg-type]
    form = admin.get(path).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "the search form is a posted form"
    r = admin.post(path, data={"csrf_token": token.group(1), "phone": "138 1234 8000", "loan_id": ""},
                   follow_redirects=False)
    assert r.status_code == 303 and "8000" not in r.headers["location"] and "ph=1" in r.headers["location"]
    # the session cookie is only signed, readable by whoever holds it: the kept phone is encrypted in it
    cookie = admin.client.cookies.get("dunning_session")
    assert cookie, "the phone is kept in the session"
    readable = URLSafeTimedSerializer(b"any key", salt="dunning.session").loads_unsafe(cookie)[1]
    assert isinstance(readable, dict) and readable.get("p") and "8000" not in json.dumps(readable), readable
    page = admin.get(r.headers["location"])
    links = re.findall(r'href="([^"]*)"', page.text)
    assert links and not [h for h in links if "12348000" in h or "1234 8000" in h]
    assert any("ph=1" in h for h in links if "sort=" in h or "export=" in h or "classification=" in h)
    if path == "/messages":
        assert f"/messages/{seeded.other_message_id}" in page.text  # the filter still applies
        assert f"/messages/{seeded.agency_message_id}" not in page.text
        export = admin.get(f"{path}?ph=1&export=csv")
        assert export.status_code == 200 and "L0002" in export.text and "L0001" not in export.text
    old = admin.get(f"{path}?phone=13812348000", follow_redirects=False)
    assert old.status_code == 303 and "8000" not in old.headers["location"]
    cleared = admin.get(path)  # the list without ph=1 (the 清除 link) has no phone filter
    assert 'value="13812348000"' not in cleared.text and 'value="138 1234 8000"' not in cleared.text
