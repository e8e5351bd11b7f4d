"""The visit-notice SMS (issue 21) through the normal campaign pipeline: planned only for approved visits, once per
visit, piloted, approved by a second person and sent on the sandbox channel, verified on the public page without
any debt detail; the 上门 allowance belongs to this template on rows tied to an approved visit, and nowhere else."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dunning.db.models import Campaign, Message, TemplateRecord, TemplateVersion
from dunning.db.visit_models import Visit
from dunning.entrypoints.app import create_app
from dunning.errors import ComplianceBlocked, StateError
from dunning.services import templates as template_service
from dunning.services.campaigns import lifecycle, planning
from dunning.services.context import AppContext
from dunning.services.identity.users import add_user
from dunning.services.verification.codes import code_for
from dunning.services.visits import field
from dunning.services.visits.notice import notice_strategy, plan_visit_notices, record_notice
from dunning.services.visits.policy import load_policy
from dunning.services.visits.requests import request_visit
from tests.visits.conftest import HOME, World, approved, ask, local

TODAY = date(2026, 11, 23)  # the frozen clock stands at 10:00 Shanghai time
PHONE = "+8613912345678"  # the borrower of L0001 (conftest)
DEBT_DETAIL = ("1,234.56", "1234.56", "王小明", "王*", "L0001", "0001", "逾期", "欠款", "应还", "元")
OPERATOR, COMPLIANCE = "wang.ops", "li.compliance"


@pytest.fixture
def people(ctx: AppContext) -> None:
    add_user(ctx, OPERATOR, "operator")
    add_user(ctx, COMPLIANCE, "compliance")


def _messages(ctx: AppContext, campaign_id: int) -> list[Message]:
    with ctx.db.transaction() as s:
        rows = list(s.scalars(select(Message).where(Message.campaign_id == campaign_id,
                                                    Message.is_test.is_(False))))
        s.expunge_all()
    return rows


def _send(ctx: AppContext, campaign_id: int) -> None:
    pilot = lifecycle.start_pilot(ctx, campaign_id, actor=OPERATOR)
    assert pilot["go"], pilot
    lifecycle.approve_pilot(ctx, campaign_id, actor=COMPLIANCE)
    lifecycle.send_campaign(ctx, campaign_id, actor=OPERATOR)


def test_an_approved_visits_notice_is_planned_piloted_approved_and_sent_with_facts_and_no_debt(
        ctx: AppContext, world: World, people: None) -> None:
    vid = approved(ctx, world, local(TODAY, 15))
    plan = plan_visit_notices(ctx, world.supervisor, [vid])
    assert plan.planned == 1 and plan.notified == [vid] and plan.not_sent == {}
    _send(ctx, plan.campaign_id)

    [msg] = _messages(ctx, plan.campaign_id)
    with ctx.db.transaction() as s:
        v = s.get(Visit, vid)
        assert v is not None
        reg_no, noticed_by = v.reg_no, v.notice_campaign_id
    assert msg.state in ("submitted", "delivered") and msg.phone == PHONE
    assert noticed_by == plan.campaign_id
    text = msg.text or ""
    assert reg_no and reg_no in text and "张伟" in text and "李娜" in text and "11月23日15:00" in text
    assert "上门" in text and "95000" in text and text.startswith("【阳光消费金融】")
    assert not [d for d in DEBT_DETAIL if d in text], text
    with ctx.db.transaction() as s:  # the campaign is an ordinary one: its own row, its own audit
        c = s.get(Campaign, plan.campaign_id)
        assert c is not None and c.state == "completed" and c.batch == f"visits:{vid}"


def test_the_public_verification_page_verifies_the_notice_and_shows_no_debt_detail(
        ctx: AppContext, world: World, people: None) -> None:
    vid = approved(ctx, world, local(TODAY, 15))
    plan = plan_visit_notices(ctx, world.supervisor, [vid])
    _send(ctx, plan.campaign_id)
    [msg] = _messages(ctx, plan.campaign_id)
    code = code_for(ctx.settings.secret(), msg.idempotency_key)
    with TestClient(create_app(ctx)) as client:
        page = client.get("/verify")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token
        r = client.post("/verify", data={"phone": PHONE, "code": code, "csrf_token": token.group(1)})
    result = re.search(r'data-testid="verify-result" data-result="(\w+)"', r.text)
    assert result and result.group(1) == "genuine", r.text[:500]
    assert not [d for d in ("1,234.56", "王小明", "L0001", "逾期") if d in r.text]


def test_a_visit_that_is_not_approved_is_refused_by_name(ctx: AppContext, world: World) -> None:
    pending = request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 15)))
    with pytest.raises(StateError) as err:
        plan_visit_notices(ctx, world.supervisor, [pending.id])
    assert f"外访 #{pending.id}" in err.value.message_zh and "待审批" in err.value.message_zh
    with ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_visit_is_notified_once(ctx: AppContext, world: World, people: None) -> None:
    vid = approved(ctx, world, local(TODAY, 15))
    first = plan_visit_notices(ctx, world.supervisor, [vid])
    _send(ctx, first.campaign_id)
    with pytest.raises(StateError) as err:
        plan_visit_notices(ctx, world.supervisor, [vid])
    assert f"外访 #{vid}" in err.value.message_zh and f"批次 #{first.campaign_id}" in err.value.message_zh
    # nor by the day's batch: it finds nothing left to notify
    with pytest.raises(StateError):
        plan_visit_notices(ctx, world.supervisor, day=TODAY)
    with ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 1
        assert s.scalar(select(func.count()).select_from(Message).where(Message.phone == PHONE)) == 1


def test_a_second_batch_the_same_day_is_a_campaign_of_its_own(ctx: AppContext, world: World) -> None:
    """The (strategy, day, import) key alone would hand the second batch the first one's campaign."""
    one = approved(ctx, world, local(TODAY, 15))
    first = plan_visit_notices(ctx, world.supervisor, [one])
    with ctx.db.transaction() as s:
        s.execute(Visit.__table__.update().where(Visit.id == one).values(loan_id="L-other"))  # another borrower
    two = approved(ctx, world, local(TODAY, 17))
    second = plan_visit_notices(ctx, world.supervisor, [two])
    assert second.campaign_id != first.campaign_id and second.notified == [two] and not second.already_planned


def test_shangmen_stays_blocked_in_every_other_template(ctx: AppContext, world: World, tmp_path: Path) -> None:
    add_user(ctx, "author", "operator")
    # clean but for 上门 (the very word the visit notice may say), so only the allowance could let it through
    threat = ("${name}您好，您尾号${last4}的借款${amount}已逾期${dpd}天，上门拜访已安排。请在${app}还款或致电${hotline}。"
              "验证码${verify_code}，可在官网或致电客服核实，我司不会要求向个人账户转账。")
    variables = {"name": "masked_name", "last4": "last4", "amount": "money", "dpd": "integer", "app": "text",
                 "hotline": "text", "verify_code": "text"}
    saved = template_service.save(ctx, code="door_knock", text=threat, variables=variables, actor="author",
                                  stage="M1")
    assert {f["rule"] for f in saved.findings if f["severity"] == "block"} == {"lexicon.threat"}
    with pytest.raises(ComplianceBlocked):
        template_service.submit_for_review(ctx, "door_knock", actor="author")

    # Even approved (say, before the rule), it stays blocked at planning on a row tied to an approved visit.
    with ctx.db.transaction() as s:
        rec = s.scalars(select(TemplateRecord).where(TemplateRecord.code == "door_knock")).one()
        s.add(TemplateVersion(template_id=rec.id, version=2, text=threat, variables=variables, status="approved",
                              author="author", reviewer="someone", approved_at=ctx.now(), channel_codes={},
                              findings=[], created_at=ctx.now()))
    vid = approved(ctx, world, local(TODAY, 15))
    strategy = tmp_path / "door.yaml"
    strategy.write_text("name: door-knock\nprofile: CN\ntimezone: Asia/Shanghai\nsegments:\n  - name: all\n"
                        "    steps:\n      - {name: knock, every: 1, dpd_from: -3650, dpd_to: 36500, template: door_knock}\n",
                        encoding="utf-8")
    scope = pl.DataFrame({"loan_id": ["L0001"], "visit_approved": [True]})
    knock = planning.plan_campaign(ctx, actor="author", strategy_path=strategy, scope=scope)
    assert knock.planned == 0 and knock.by_reason == {"lint_block": 1}

    # And the visit-notice template itself, with the visit's very words, in a campaign that does not tie the row
    # to an approved visit (another strategy, another path): blocked.
    other = tmp_path / "notice-anyway.yaml"
    other.write_text(strategy.read_text(encoding="utf-8").replace("door-knock", "notice-anyway")
                     .replace("door_knock", "visit_notice"), encoding="utf-8")
    with ctx.db.transaction() as s:
        v = s.get(Visit, vid)
        assert v is not None
        facts = {"loan_id": ["L0001"], "staff": ["张伟、李娜"], "reg_no": [v.reg_no], "visit_date": ["11月23日15:00"]}
    stray = planning.plan_campaign(ctx, actor="author", strategy_path=other, scope=pl.DataFrame(facts))
    assert stray.planned == 0 and stray.by_reason == {"lint_block": 1}


def test_the_policy_may_require_the_notice_before_the_visit_starts(ctx: AppContext, world: World,
                                                                    people: None) -> None:
    import dataclasses

    strict = dataclasses.replace(load_policy(), notice_required=True)
    vid = approved(ctx, world, local(TODAY, 10, 10))  # check-in opens 15 minutes before: now
    rules = [c.code for c in strict.checklist]
    here = field.Position(*HOME)
    with pytest.raises(StateError, match="外访通知"):
        field.check_in(ctx, world.lead, vid, here, checklist=rules, recording=True, policy=strict)
    _send(ctx, plan_visit_notices(ctx, world.supervisor, [vid]).campaign_id)
    assert field.check_in(ctx, world.lead, vid, here, checklist=rules, recording=True, policy=strict).state == "in_field"


def _scope(ctx: AppContext, vid: int) -> pl.DataFrame:
    with ctx.db.transaction() as s:
        v = s.get(Visit, vid)
        assert v is not None
        return pl.DataFrame({"loan_id": [v.loan_id], "visit_id": [vid], "staff": ["张伟、李娜"], "reg_no": [v.reg_no],
                             "visit_date": ["11月23日15:00"], "visit_approved": [True]})


def _plan_unrecorded(ctx: AppContext, vid: int, batch: str) -> planning.PlanSummary:
    """A visit-notice campaign planned as plan_visit_notices plans it, not (yet) recorded on the visit."""
    return planning.plan_campaign(ctx, actor="boss", strategy_path=notice_strategy(), scope=_scope(ctx, vid),
                                  batch=batch, promises=False)


def test_after_a_crash_between_planning_and_recording_the_same_campaign_is_found_and_recorded(
        ctx: AppContext, world: World) -> None:
    vid = approved(ctx, world, local(TODAY, 15))
    # The first attempt planned its campaign and died before recording it on the visit.
    crashed = _plan_unrecorded(ctx, vid, f"visits:{vid}")
    again = plan_visit_notices(ctx, world.supervisor, [vid])
    assert again.campaign_id == crashed.campaign_id and again.already_planned and again.notified == [vid]
    with ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 1


def test_of_two_campaigns_racing_for_a_visit_the_later_is_cancelled_before_anything_goes(
        ctx: AppContext, world: World) -> None:
    vid = approved(ctx, world, local(TODAY, 15))
    # Two supervisors at once: both passed the checks; one plans its own batch while the other records first.
    mine = _plan_unrecorded(ctx, vid, f"visits:{vid},race")
    theirs = plan_visit_notices(ctx, world.supervisor, [vid])
    with pytest.raises(StateError) as err:
        record_notice(ctx, world.supervisor, mine, _scope(ctx, vid), f"visits:{vid},race")
    assert f"批次 #{mine.campaign_id} 已取消" in err.value.message_zh
    with ctx.db.transaction() as s:
        v = s.get(Visit, vid)
        assert v is not None and v.notice_campaign_id == theirs.campaign_id
        assert s.scalar(select(Campaign.state).where(Campaign.id == mine.campaign_id)) == "cancelled"
        assert s.scalar(select(func.count()).select_from(Message).where(
            Message.campaign_id == mine.campaign_id, Message.state != "suppressed")) == 0
