"""The console's lists: combinable filters, a total, numbered pages, column sorting and exports masked by role;
the replies inbox; payment imports listed and uploaded; a new template; the HTML report; agency dashboards."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from dunning.db.models import Account, Message, Reply
from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from tests.web.conftest import login_as
from tests.web.seed import AGENCY_PHONE, OTHER_PHONE, Seeded


def add_messages(ctx: AppContext, seeded: Seeded, n: int, *, state: str, segment: str = "M1",
                 loan_prefix: str = "X", channel: str = "sandbox", reason: str | None = None) -> list[int]:
    """``n`` more messages of the seeded campaign (to the non-agency account), one loan id each."""
    now = ctx.now()
    with ctx.db.transaction() as s:
        acct = s.query(Account).filter(Account.loan_id == "L0002").one()
        rows = [Message(campaign_id=seeded.campaign_id, account_id=acct.id, loan_id=f"{loan_prefix}{i:04d}",
                        phone=OTHER_PHONE, segment=segment, step=segment, variant="champion", parts=1, state=state,
                        reason=reason, idempotency_key=f"extra|{loan_prefix}|{state}|{segment}|{i}", channel=channel,
                        submitted_at=None if state == "suppressed" else now - timedelta(minutes=i))
                for i in range(n)]
        s.add_all(rows)
        s.flush()
        return [m.id for m in rows]


def text(r: Any) -> str:
    return str(r.text)


def test_message_search_with_only_a_state_lists_those_messages_with_a_total(app: FastAPI, web_ctx: AppContext,
                                                                            seeded: Seeded) -> None:
    add_messages(web_ctx, seeded, 3, state="failed", loan_prefix="F")
    viewer = login_as(app, Role.VIEWER)
    page = text(viewer.get("/messages?state=failed"))
    assert "共 3 条" in page and page.count("F000") == 3 and "L0001" not in page
    api = viewer.client.get("/api/v1/messages?state=failed",
                            headers={"Authorization": f"Bearer {seeded.tokens[Role.VIEWER]}"})
    assert api.status_code == 200 and len(api.json()["items"]) == 3


def test_suppressed_messages_come_after_the_ones_sent(app: FastAPI, web_ctx: AppContext, seeded: Seeded) -> None:
    add_messages(web_ctx, seeded, 2, state="suppressed", loan_prefix="L0002-", reason="holdout")
    with web_ctx.db.transaction() as s:  # same loan as a delivered message, but newer: it would come first by id
        for m in s.query(Message).filter(Message.loan_id.like("L0002-%")).all():
            m.loan_id = "L0002"
    page = text(login_as(app, Role.COMPLIANCE).get("/messages?loan_id=L0002"))
    assert "共 3 条" in page
    assert page.index("msg-delivered") < page.index("msg-suppressed")
    assert "对照组（不发送）" in page  # the reason in words, not "holdout"


def test_filters_combine_and_pages_are_numbered_and_sortable(app: FastAPI, web_ctx: AppContext,
                                                             seeded: Seeded) -> None:
    add_messages(web_ctx, seeded, 70, state="failed", segment="M2", loan_prefix="A")
    add_messages(web_ctx, seeded, 30, state="delivered", segment="M2", loan_prefix="B")
    add_messages(web_ctx, seeded, 20, state="failed", segment="M3", loan_prefix="C")
    op = login_as(app, Role.OPERATOR)
    first = text(op.get("/messages?state=failed&segment=M2"))
    assert "共 70 条" in first and "第 1 / 2 页" in first and first.count('class="badge msg-failed"') == 50
    assert 'data-testid="page-2"' in first
    second = text(op.get("/messages?state=failed&segment=M2&page=2"))
    assert "第 51–70 条" in second and second.count('class="badge msg-failed"') == 20
    assert "B00" not in first + second and "C00" not in first + second
    asc = text(op.get("/messages?state=failed&segment=M2&sort=loan_id"))
    assert asc.index("A0000") < asc.index("A0001") < asc.index("A0049") and "A0050" not in asc
    desc = text(op.get("/messages?state=failed&segment=M2&sort=-loan_id"))
    assert desc.index("A0069") < desc.index("A0068") and "A0000" not in desc
    assert 'data-testid="sort-loan_id" href="?state=failed&amp;segment=M2&amp;sort=loan_id"' in desc


def test_exports_hold_what_is_filtered_masked_by_role_and_are_audited(app: FastAPI, web_ctx: AppContext,
                                                                      seeded: Seeded) -> None:
    add_messages(web_ctx, seeded, 5, state="failed", loan_prefix="E")
    viewer = login_as(app, Role.VIEWER)
    r = viewer.get("/messages?state=failed&export=csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 5 and {row["状态"] for row in rows} == {"失败"}
    assert {row["手机号"] for row in rows} == {"138****8000"}  # a viewer never gets the full number
    compliance = login_as(app, Role.COMPLIANCE)
    full = compliance.get("/messages?state=failed&export=xlsx")
    assert full.status_code == 200 and full.content[:2] == b"PK"
    import polars as pl

    sheet = pl.read_excel(io.BytesIO(full.content))
    assert sheet.height == 5 and set(sheet["手机号"].to_list()) == {OTHER_PHONE}
    audit = text(compliance.get("/audit?action=export.messages"))
    assert "共 2 条" in audit and "viewer1" in audit and "compliance1" in audit


def test_every_list_has_totals_and_exports(app: FastAPI, seeded: Seeded) -> None:
    admin = login_as(app, Role.ADMIN)
    for url, needle in (("/imports", "import-results"), ("/campaigns", "campaign-results"),
                        ("/audit", "audit-table"), ("/admin/users", "user-results"), ("/replies", "reply-results"),
                        ("/messages?campaign_id=1", "message-results")):
        page = text(admin.get(url))
        assert needle in page and "共 " in page and 'data-testid="export-csv"' in page, url
        sep = "&" if "?" in url else "?"
        got = admin.get(f"{url}{sep}export=csv")
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv"), url
        assert len(got.content.decode("utf-8-sig").strip().splitlines()) >= 2, url
    users = text(admin.get("/admin/users?role=agency"))
    assert "共 1 条" in users and "agency1" in users and "viewer1" not in users
    camps = text(admin.get("/campaigns?state=cancelled"))
    assert "共 0 条" in camps and "没有符合条件的记录" in camps


def test_replies_inbox_shows_each_reply_with_its_class_and_message(app: FastAPI, web_ctx: AppContext,
                                                                   seeded: Seeded) -> None:
    with web_ctx.db.transaction() as s:
        s.add(Reply(channel="sandbox", phone=AGENCY_PHONE, text="TD", classification="opt_out",
                    message_id=seeded.agency_message_id, received_at=web_ctx.now()))
        s.add(Reply(channel="sandbox", phone="+8613700000000", text="你们是谁", classification="other",
                    message_id=None, received_at=web_ctx.now()))
    viewer = login_as(app, Role.VIEWER)
    inbox = text(viewer.get("/replies"))
    assert "共 3 条" in inbox and "争议" in inbox and "退订" in inbox and "未对应到短信" in inbox
    assert f"/messages/{seeded.other_message_id}" in inbox and "cn-default 2026-11-23" in inbox
    assert "13812348000" not in inbox and "138****8000" in inbox  # phones masked in the text too
    disputes = text(viewer.get("/replies?classification=dispute"))
    assert "共 1 条" in disputes and "退订" in disputes  # the tab label, but only the dispute row listed
    assert disputes.count('class="badge reply-') == 1
    agency = text(login_as(app, Role.AGENCY).get("/replies"))
    assert "共 1 条" in agency and "TD" in agency and "你们是谁" not in agency


def _wait_job(browser: Any, location: str, token: str) -> str:
    """Poll the job (through the API) until it is no longer running; its result page, or its error."""
    job_id = location.rsplit("/", 1)[1]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = browser.client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).json()
        if state.get("state") != "running":
            return str(state.get("result_url") or state.get("error"))
        time.sleep(0.05)
    raise AssertionError("the job did not finish in 60 s")


def test_payments_import_in_the_console_is_listed_with_its_kind(app: FastAPI, seeded: Seeded,
                                                                tmp_path: Path) -> None:
    op = login_as(app, Role.OPERATOR)
    body = "借款编号,还款金额,还款时间\nL0001,1234.56,2026-11-23 09:00:00\n".encode()
    r = op.post("/imports/payments", files={"files": ("pay.csv", body, "text/csv")}, data={"encoding": ""})
    assert r.status_code == 303
    result = _wait_job(op, r.headers["location"], seeded.tokens[Role.OPERATOR])
    assert result.startswith("/imports/")
    detail = text(op.get(result))
    assert "还款导入" in detail and 'data-testid="accepted">1<' in detail and "用这批账户创建批次" not in detail
    listed = text(op.get("/imports"))
    assert "还款导入" in listed and "账户导入" in listed and "共 2 条" in listed
    assert listed.count('<select name="encoding">') == 2 and listed.count('value="gb18030"') == 2  # both forms
    only = text(op.get("/imports?kind=payments"))
    assert "共 1 条" in only and "pay.csv" in only
    plan_form = text(op.get("/campaigns"))  # the plan form offers account snapshots only
    assert "pay.csv" not in plan_form
    again = op.post("/imports/payments", files={"files": ("pay.csv", body, "text/csv")}, data={"encoding": ""})
    assert "already=1" in _wait_job(op, again.headers["location"], seeded.tokens[Role.OPERATOR])


def test_a_missing_column_points_at_the_mapping_field(app: FastAPI, seeded: Seeded) -> None:
    op = login_as(app, Role.OPERATOR)
    r = op.post("/imports", files={"files": ("bad.csv", b"foo,bar\n1,2\n", "text/csv")},
                data={"as_of": "2026-11-23", "encoding": ""})
    err = _wait_job(op, r.headers["location"], seeded.tokens[Role.OPERATOR])
    assert "列映射文件" in err and "--mapping" not in err
    page = text(op.get(r.headers["location"]))
    assert 'data-testid="job-failed"' in page and "完成后页面会自动跳转" in page  # the hint, hidden
    assert 'data-job="hint" hidden' in page


def test_a_new_template_is_created_as_a_draft(app: FastAPI, seeded: Seeded) -> None:
    op = login_as(app, Role.OPERATOR)
    assert 'data-testid="template-create"' in text(op.get("/templates"))
    form = {"code": "M2_gentle", "name": "M2 温和", "tone": "gentle", "stage": "M2", "profile": "CN",
            "text": "${name}您好，您的借款已逾期，请尽快还款。", "variables": "name: masked_name"}
    r = op.post("/templates", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/templates/M2_gentle"
    page = text(op.get("/templates/M2_gentle"))
    assert "M2 温和" in page and "草稿" in page
    dup = op.post("/templates", data=form)
    assert dup.status_code in (409, 422) and "已存在" in text(dup)
    viewer = login_as(app, Role.VIEWER)
    assert 'data-testid="template-create"' not in text(viewer.get("/templates"))


def test_the_html_report_is_one_page_in_the_console_and_the_api(app: FastAPI, seeded: Seeded) -> None:
    viewer = login_as(app, Role.VIEWER)
    r = viewer.get(f"/campaigns/{seeded.campaign_id}/report.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "plotly.min.js" not in r.text and "Plotly" in r.text and "批次报告" in r.text
    api = viewer.client.get(f"/api/v1/campaigns/{seeded.campaign_id}/report.html",
                            headers={"Authorization": f"Bearer {seeded.tokens[Role.VIEWER]}"})
    assert api.status_code == 200 and "批次报告" in api.text
    assert f'href="/campaigns/{seeded.campaign_id}/report.html"' in text(viewer.get(
        f"/campaigns/{seeded.campaign_id}"))


def test_the_agency_dashboard_lists_no_campaign_it_cannot_open(app: FastAPI, web_ctx: AppContext,
                                                              seeded: Seeded) -> None:
    agency = login_as(app, Role.AGENCY)
    page = text(agency.get("/"))
    assert f'href="/campaigns/{seeded.campaign_id}"' not in page
    assert f'href="/messages?campaign_id={seeded.campaign_id}"' in page
    with web_ctx.db.transaction() as s:  # a campaign with nothing for this agency: not listed at all
        s.query(Message).filter(Message.id == seeded.agency_message_id).update({"loan_id": "L0001"})
        s.query(Account).filter(Account.loan_id == "L0001").update({"agency": "别家"})
    assert f"campaign_id={seeded.campaign_id}" not in text(agency.get("/"))


def test_trends_across_campaigns_by_day_segment_and_template(app: FastAPI, web_ctx: AppContext,
                                                             seeded: Seeded) -> None:
    from dunning.db.models import Payment
    from dunning.services.identity.users import get_user
    from dunning.services.queries.trends import trends

    failed = add_messages(web_ctx, seeded, 2, state="failed", segment="M2", loan_prefix="T")
    with web_ctx.db.transaction() as s:  # the seeded delivered L0002 message: disputed (seed) and repaid in 7 days
        s.add(Payment(loan_id="L0002", amount_fen=100, paid_at=web_ctx.now()))
        viewer = get_user(s, "viewer1")
        from dunning.services.identity.auth import Principal

        who = Principal(viewer.username, viewer.display_name, Role.VIEWER, None, "test")
    by_segment = {r.key: r for r in trends(web_ctx, who, days=30, by="segment")}
    m1, m2 = by_segment["M1"], by_segment["M2"]
    assert (m1.sent, m1.delivered, m1.disputes, m1.repaid) == (2, 2, 1, 1)
    assert m1.dispute_rate == 0.5 and m1.repayment_rate == 0.5
    assert (m2.sent, m2.delivered, m2.delivery_rate) == (len(failed), 0, 0.0)
    [day] = trends(web_ctx, who, days=90, by="day")
    assert (day.key, day.sent, day.delivered) == ("2026-11-23", 4, 2) and day.delivery_rate == 0.5
    page = text(login_as(app, Role.VIEWER).get("/trends?days=30&by=segment"))
    assert "trend-table" in page and "50.0%" in page and 'data-testid="by-template"' in page


def test_report_chart_legends_follow_the_console_language(app: FastAPI, seeded: Seeded) -> None:
    import json

    from dunning.entrypoints.http.security import LANG_COOKIE

    viewer = login_as(app, Role.VIEWER)
    url = f"/campaigns/{seeded.campaign_id}/report.html"
    viewer.client.cookies.set(LANG_COOKIE, "en")
    english = viewer.get(url).text
    assert '"failed"' in english and json.dumps("失败 failed")[1:-1] not in english
    assert json.dumps("距计划发送天数")[1:-1] not in english
    viewer.client.cookies.set(LANG_COOKIE, "zh")
    chinese = viewer.get(url).text
    assert json.dumps("失败")[1:-1] in chinese and json.dumps("失败 failed")[1:-1] not in chinese


def test_dashboard_submitted_figures_agree(app: FastAPI, web_ctx: AppContext, seeded: Seeded) -> None:
    from dunning.services.identity.auth import Principal
    from dunning.services.queries import dashboard as dashboard_q

    ids = add_messages(web_ctx, seeded, 3, state="failed", loan_prefix="D")  # submitted, then failed
    with web_ctx.db.transaction() as s:
        s.query(Message).filter(Message.id.in_(ids)).update({"submitting_at": web_ctx.now() - timedelta(minutes=5)},
                                                            synchronize_session=False)
    view = dashboard_q.dashboard(web_ctx, Principal("admin1", "admin", Role.ADMIN, None, "test"))
    [sandbox] = [c for c in view.channels if c.name == "sandbox"]
    assert view.sent_today == sandbox.submitted == 5  # 2 delivered + 3 failed, on both
    assert sandbox.failed == 3 and sandbox.failure_rate == 3 / 5


def test_the_live_rate_is_averaged_over_a_window_not_one_poll() -> None:
    from dunning.entrypoints.web.common import RateMeter

    meter = RateMeter(window=10.0)
    meter.rates("c", {"sent": 0}, now=0.0)
    # 100 msg/s configured; the database shows the work in batches: nothing for 0.9 s, then 100 at once.
    got = [meter.rates("c", {"sent": 100 * k}, now=float(k)) for k in range(1, 21)]
    assert max(r["sent"] for r in got) <= 100.0
    burst = RateMeter(window=10.0)
    burst.rates("c", {"sent": 0}, now=0.0)
    burst.rates("c", {"sent": 0}, now=0.9)
    assert burst.rates("c", {"sent": 100}, now=1.0)["sent"] == 100.0  # over the window, not 100 / 0.1 s
