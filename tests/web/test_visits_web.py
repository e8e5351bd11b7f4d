"""Field-visit pages through HTTP: the public registration check (genuine, no debt detail), a request refused
by the policy in one clear line, approval as a second person, and agency scoping."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.identity.users import Role
from tests.web.conftest import Browser, login_as
from tests.web.seed import Seeded


def test_the_registration_verifies_publicly_without_any_debt_detail(app: FastAPI, seeded: Seeded) -> None:
    anon = TestClient(app)
    r = anon.get("/visit-check", params={"reg": seeded.reg_no.lower()})
    assert r.status_code == 200
    assert 'data-result="genuine"' in r.text and seeded.reg_no in r.text
    assert "collector1-外访" in r.text and "teamlead1-外访" in r.text and "2026-11-23" in r.text
    for secret in ("L0001", "1,234.56", "1234.56", "王小明", "13912345678", "5678", "人民大道"):
        assert secret not in r.text, f"the public answer leaks {secret!r}"
    miss = anon.get("/visit-check", params={"reg": "REG-20261123-ZZZZZZ"})
    assert 'data-result="not_found"' in miss.text and "collector1" not in miss.text
    assert "/visit-check" in anon.get("/verify").text  # linked from the public verification page


def test_request_refused_then_approved_by_another_person(app: FastAPI, seeded: Seeded) -> None:
    from datetime import date

    from dunning.services.visits.registry import register_staff

    ensure_bundled_templates(app.state.ctx)  # the notice preview renders the approved template visit_notice
    for username, name in (("zhang.w", "张伟"), ("li.n", "李娜")):  # names short enough for the notice SMS
        register_staff(app.state.ctx, username, name, credential_no=f"WF-{username}", valid_until=date(2027, 12, 31),
                       trained_on=date(2026, 3, 1), agency="华信催收", actor="t")
    lead = login_as(app, Role.TEAM_LEAD)
    form = {"loan_id": "L0001", "address": "上海市黄浦区人民大道 200 号", "purpose": "核实", "day": "2026-11-24",
            "start": "21:30", "end": "22:30", "members": "zhang.w, li.n", "lat": "31.2304", "lon": "121.4737"}
    r = lead.post("/visits", data=form, headers={"referer": "http://testserver/visits"})
    assert r.status_code == 303 and r.headers["location"] == "/visits"  # back to the form, with the reason
    page = lead.get("/visits").text
    assert "22:00" in page and "Traceback" not in page
    r = lead.post("/visits", data={**form, "start": "14:00", "end": "15:00"})
    assert r.status_code == 303
    visit_url = r.headers["location"]
    vid = int(visit_url.rsplit("/", 1)[1])
    boss = login_as(app, Role.SUPERVISOR)
    assert boss.post(f"/visits/{vid}/approve").status_code == 303
    detail = boss.get(visit_url).text
    m = re.search(r'data-testid="reg-no">(REG-\d{8}-[A-Z0-9]{6})<', detail)
    assert m, detail[:2000]
    notice = re.search(r'data-testid="visit-notice">([^<]+)<', detail)
    assert notice and m.group(1) in notice.group(1) and "上门" in notice.group(1)

    # The supervisor sends it: a campaign of its own (then piloted, approved and sent as usual), once. The seeded
    # reminder to this borrower went out two days ago (today's would use up the day's contact budget).
    from datetime import timedelta

    from sqlalchemy import update

    from dunning.db.models import Message

    ctx = app.state.ctx
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.loan_id == "L0001")
                  .values(submitting_at=ctx.now() - timedelta(days=2)))
    r = boss.post(f"{visit_url}/notice")
    assert r.status_code == 303 and r.headers["location"].startswith("/campaigns/"), r.headers["location"]
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    assert "已计划外访通知短信" in boss.get(r.headers["location"]).text
    detail = boss.get(visit_url).text
    assert f'href="/campaigns/{cid}"' in detail and 'data-testid="notify"' not in detail
    again = boss.post(f"{visit_url}/notice", headers={"referer": f"http://testserver{visit_url}"})
    assert again.status_code == 303 and again.headers["location"] == visit_url
    assert f"已由批次 #{cid} 发送外访通知" in boss.get(visit_url).text


def test_an_agency_sees_only_its_own_visits(app: FastAPI, seeded: Seeded) -> None:
    from dunning.services.identity.auth import Principal
    from dunning.services.visits.requests import VisitRequest, request_visit

    ctx = app.state.ctx
    other = request_visit(ctx, Principal("x", "x", Role.TEAM_LEAD), VisitRequest(
        "L0002", "北京市朝阳区", "核实", ctx.now().replace(hour=6), ctx.now().replace(hour=7),
        ("collector1", "teamlead1")))
    collector: Browser = login_as(app, Role.COLLECTOR)  # agency 华信催收
    assert collector.get(f"/visits/{other.id}").status_code == 404
    assert collector.get(f"/visits/{seeded.visit_id}").status_code == 200
    assert "L0002" not in collector.get("/visits").text
    assert "L0002" in login_as(app, Role.ADMIN).get("/visits").text


def test_board_labels_follow_the_english_switch_on_the_page_and_in_every_live_refresh(
        app: FastAPI, seeded: Seeded) -> None:
    import json

    boss = login_as(app, Role.SUPERVISOR)
    boss.client.cookies.set("dunning_lang", "en")
    page = boss.get("/visits/board").text
    assert "SOS" in page and "Visit supervisor" in page and "In the field" in page
    for zh in ("外访主管", "外访中", "SOS 求助", "未确认警报"):
        assert zh not in page, f"{zh} left in Chinese on the English board"
    r = boss.get("/visits/board/events", params={"once": "true"})
    data = json.loads(next(line[6:] for line in r.text.splitlines() if line.startswith("data: ")))
    alarm = next(a for a in data["alarms"] if a["id"] == seeded.alarm_id)
    assert (alarm["kind_label"], alarm["level_label"]) == ("SOS", "Visit supervisor")
    assert {v["state_label"] for v in data["visits"]} <= {"Registered", "In the field", "Closed"}
    boss.client.cookies.set("dunning_lang", "zh")
    again = json.loads(next(line[6:] for line in boss.get("/visits/board/events", params={"once": "true"}).text
                            .splitlines() if line.startswith("data: ")))
    assert next(a for a in again["alarms"] if a["id"] == seeded.alarm_id)["kind_label"] == "SOS 求助"


def test_every_visit_label_has_an_english_rendering() -> None:
    from dunning.entrypoints.http.i18n import EN
    from dunning.services.visits.queries import ALARM_ZH, ALERT_ZH, EVENT_ZH, LEVEL_ZH
    from dunning.services.visits.requests import STATE_ZH

    labels = {zh for table in (ALARM_ZH, ALERT_ZH, EVENT_ZH, LEVEL_ZH, STATE_ZH) for zh in table.values()}
    missing = sorted(labels - set(EN))
    assert not missing, f"no English for: {missing}"


def test_compliance_opens_a_complaint_from_the_visit_page_and_the_page_lists_it(app: FastAPI, seeded: Seeded) -> None:
    qa = login_as(app, Role.COMPLIANCE)
    page = qa.get(f"/visits/{seeded.visit_id}").text
    assert 'data-testid="open-complaint"' in page and 'data-testid="conduct"' in page
    assert page.count('data-confirmed="1"') == 6  # every conduct rule confirmed at check-in
    r = qa.post(f"/visits/{seeded.visit_id}/complaint", data={"summary": "外访人员未出示证件"})
    assert r.status_code == 303 and r.headers["location"] == f"/visits/{seeded.visit_id}"
    boss = login_as(app, Role.SUPERVISOR)
    shown = boss.get(f"/visits/{seeded.visit_id}").text
    m = re.search(r'data-case="(AJ\d{7})"', shown)
    assert m and "外访人员未出示证件" in shown
    assert 'data-testid="open-complaint"' not in shown  # supervisors see complaints; compliance opens them
    case = qa.get("/cases").text
    assert m.group(1) in case


def test_the_visit_notice_registration_verifies_on_the_public_page_without_debt_detail(
        app: FastAPI, seeded: Seeded) -> None:
    from dunning.services.identity.auth import Principal
    from dunning.services.visits.notice import visit_notice
    from dunning.services.visits.requests import VisitRequest, decide, request_visit

    ctx = app.state.ctx
    ensure_bundled_templates(ctx)
    lead = Principal("teamlead1", "t", Role.TEAM_LEAD, "华信催收")
    v = request_visit(ctx, lead, VisitRequest("L0001", "上海市黄浦区人民大道 200 号", "核实", ctx.now().replace(hour=7),
                                              ctx.now().replace(hour=8), ("collector1", "teamlead1")))
    decide(ctx, Principal("boss", "b", Role.SUPERVISOR, "华信催收"), v.id, approve=True)
    text = visit_notice(ctx, Principal("boss", "b", Role.SUPERVISOR, "华信催收"), v.id).text
    reg = re.search(r"REG-\d{8}-[A-Z0-9]{6}", text)
    assert reg, text
    for secret in ("1,234.56", "1234.56", "逾期", "欠款", "王小明"):
        assert secret not in text, f"the notice carries {secret!r}"
    page = TestClient(app).get("/visit-check", params={"reg": reg.group(0)}).text
    assert 'data-result="genuine"' in page and reg.group(0) in page
    for secret in ("L0001", "1,234.56", "王小明", "13912345678", "人民大道"):
        assert secret not in page, f"the public answer leaks {secret!r}"
