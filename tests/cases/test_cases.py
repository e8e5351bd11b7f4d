"""Borrower cases: opened from replies, stopping reminders while open, closed by a repayment, due on time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dunning.channels.base import InboundMessage
from dunning.db.case_models import Case, CaseNote
from dunning.db.models import PhoneFlag
from dunning.errors import InputError, NotFoundError
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.delivery import ingest_events
from dunning.services.cases import commands
from dunning.services.cases.due import due_at
from dunning.services.cases.intake import open_from_replies, reply_frame
from dunning.services.cases.policy import load_case_policy
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role, ensure_demo_users
from dunning.services.intake.payments import import_payments
from dunning.services.policy import policy_for
from dunning.testing import FrozenClock
from tests.strategy.helpers import Acct, at, by_loan, import_accounts, make_ctx, plan

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)
EVERY_DAY = "name: %s\nsegments:\n  - {name: all, steps: [{name: %s, dpd: [1, 2, 3, 4], template: M1}]}\n"
OPERATOR = Principal("wang.ops", "王敏", Role.OPERATOR)


def reply(ctx: AppContext, phone: str, text: str) -> dict[str, int]:
    policy = policy_for(ctx)
    with ctx.db.transaction() as s:
        return ingest_events(s, "sandbox", [InboundMessage(phone, text, ctx.now())], now=ctx.now(),
                             stop_keywords=policy.stop_keywords, dispute_keywords=policy.dispute_keywords,
                             case_keywords=policy.case_keywords)


def cases_of(ctx: AppContext, phone: str) -> list[Case]:
    with ctx.db.transaction() as s:
        return list(s.scalars(select(Case).where(Case.phone == phone).order_by(Case.id)).all())


def local(dt: datetime) -> datetime:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(SH)


def test_a_dispute_reply_opens_a_case_and_stops_the_next_campaign_until_it_is_resolved(tmp_path: Path) -> None:
    clock = FrozenClock(at(DAY, 10))
    ctx = make_ctx(tmp_path, clock)
    disputer, other = "+8613900000001", "+8613900000002"
    accounts = [Acct("L1", 1, phone=disputer), Acct("L2", 1, phone=other)]
    first = plan(ctx, EVERY_DAY % ("a", "a"), tmp_path, import_accounts(ctx, accounts, DAY), DAY)
    assert first.planned == 2

    counts = reply(ctx, disputer, "这不是本人的号码，你们打错了")
    assert counts["cases"] == 1
    (case,) = cases_of(ctx, disputer)
    assert (case.type, case.state, case.source, case.team) == ("wrong_person", "new", "reply", "operations")

    clock.advance(days=1)
    nxt = DAY + timedelta(days=1)
    accounts = [Acct("L1", 2, phone=disputer), Acct("L2", 2, phone=other)]
    second = plan(ctx, EVERY_DAY % ("a", "b"), tmp_path, import_accounts(ctx, accounts, nxt), nxt, name="b.yaml")
    got = by_loan(ctx, second.campaign_id)
    assert (got["L1"].state, got["L1"].reason) == ("suppressed", "dispute")
    assert got["L2"].state == "planned"

    # The borrower asks again: no second case, a note on the first.
    assert reply(ctx, disputer, "不是本人")["cases"] == 0
    assert len(cases_of(ctx, disputer)) == 1

    # Checked: it is the borrower after all. The flag goes, and the following campaign reaches the phone again.
    commands.transition(ctx, OPERATOR, case.id, "in_progress", "已致电核实")
    commands.resolve(ctx, OPERATOR, case.id, "is_borrower")
    clock.advance(days=1)
    third_day = nxt + timedelta(days=1)
    accounts = [Acct("L1", 3, phone=disputer), Acct("L2", 3, phone=other)]
    third = plan(ctx, EVERY_DAY % ("a", "c"), tmp_path, import_accounts(ctx, accounts, third_day), third_day,
                 name="c.yaml")
    assert by_loan(ctx, third.campaign_id)["L1"].state == "planned"
    (closed,) = cases_of(ctx, disputer)
    assert (closed.state, closed.outcome) == ("resolved", "is_borrower")
    assert closed.acknowledged_at is not None


def test_a_confirmed_wrong_number_stays_on_the_do_not_contact_list(ctx: AppContext) -> None:
    phone = "+8613900000009"
    ref = commands.open_case(ctx, OPERATOR, commands.OpenRequest("wrong_person", phone, "hotline", "来电称非本人"))
    commands.resolve(ctx, OPERATOR, ref.id, "wrong_number")
    with ctx.db.transaction() as s:
        flags = {f.kind: f.cleared_at for f in s.scalars(select(PhoneFlag).where(PhoneFlag.phone == phone))}
    assert "do_not_contact" in flags and flags["do_not_contact"] is None
    assert flags["dispute"] is not None  # the case's own stop flag is released; do-not-contact remains


def test_already_paid_resolves_itself_when_a_payments_import_contains_the_loan(tmp_path: Path) -> None:
    clock = FrozenClock(at(DAY, 10))
    ctx = make_ctx(tmp_path, clock)
    payer = "+8613900000011"
    s = plan(ctx, EVERY_DAY % ("p", "p"), tmp_path,
             import_accounts(ctx, [Acct("PAY-1", 1, phone=payer), Acct("PAY-2", 1)], DAY), DAY)
    ensure_demo_users(ctx)
    lifecycle.start_pilot(ctx, s.campaign_id, actor="wang.ops")
    lifecycle.approve_pilot(ctx, s.campaign_id, actor="li.compliance")
    lifecycle.send_campaign(ctx, s.campaign_id, actor="wang.ops")
    assert by_loan(ctx, s.campaign_id)["PAY-1"].state in ("submitted", "delivered")

    clock.advance(hours=1)
    assert reply(ctx, payer, "我昨天已还款了，请核实")["cases"] == 1
    (case,) = cases_of(ctx, payer)
    assert case.type == "already_paid" and case.loan_ids == ["PAY-1"]

    other = tmp_path / "other.csv"
    other.write_text("借款编号,还款金额,还款时间\nPAY-2,100.00,2026-11-23 10:30:00\n", encoding="utf-8")
    import_payments(ctx, [other], actor="finance")
    assert cases_of(ctx, payer)[0].state == "new"  # someone else's repayment does not close it

    mine = tmp_path / "mine.csv"
    mine.write_text("借款编号,还款金额,还款时间\nPAY-1,1000.00,2026-11-22 18:00:00\n", encoding="utf-8")
    imp = import_payments(ctx, [mine], actor="finance")
    (closed,) = cases_of(ctx, payer)
    assert (closed.state, closed.outcome, closed.opened_by) == ("resolved", "payment_found", "system")
    with ctx.db.transaction() as db:
        note = db.scalars(select(CaseNote).where(CaseNote.case_id == closed.id, CaseNote.kind == "outcome")).one()
        flag = db.scalars(select(PhoneFlag).where(PhoneFlag.phone == payer, PhoneFlag.kind == "dispute")).one()
    assert f"#{imp.import_id}" in note.text and note.author == "system"
    assert flag.cleared_at is not None


@pytest.mark.parametrize(("opened", "kind", "ack", "due"), [
    # Wednesday before National Day (10-01..07; Saturday 10-10 is a make-up working day).
    (datetime(2026, 9, 30, 15, 0), "complaint", date(2026, 10, 8), date(2026, 10, 15)),
    # Opened on the make-up Sunday 09-20: it is a working day; 15 days end on 10-05, a holiday, so on 10-08.
    (datetime(2026, 9, 20, 10, 0), "complaint", date(2026, 9, 21), date(2026, 10, 8)),
    # Received on a holiday: the first working day after it counts as day one.
    (datetime(2026, 10, 3, 9, 0), "complaint", date(2026, 10, 8), date(2026, 10, 19)),
    # Three working days from 09-30: 10-08, 10-09 and the make-up Saturday 10-10.
    (datetime(2026, 9, 30, 15, 0), "dispute", None, date(2026, 10, 10)),
])
def test_due_times_follow_the_chinese_calendar_across_national_day(
        opened: datetime, kind: str, ack: date | None, due: date) -> None:
    policy = load_case_policy("CN")
    rule = policy.rule(kind)
    start = opened.replace(tzinfo=SH)
    end = due_at(start, rule.resolve, SH)
    assert end == datetime.combine(due + timedelta(days=1), datetime.min.time(), SH)
    assert end.tzinfo is UTC
    if ack is None:
        assert rule.acknowledge is None
    else:
        assert rule.acknowledge is not None
        assert local(due_at(start, rule.acknowledge, SH)).date() == ack + timedelta(days=1)


def test_a_complaint_opened_before_national_day_is_due_after_it(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(datetime(2026, 9, 30, 15, 0, tzinfo=SH).astimezone(UTC)))
    ref = commands.open_case(ctx, OPERATOR, commands.OpenRequest("complaint", "+8613900000021", "manual", "投诉"))
    (case,) = cases_of(ctx, "+8613900000021")
    assert (case.team, ref.number) == ("compliance", f"AJ{ref.id:07d}")
    assert local(case.ack_due_at).isoformat() == "2026-10-09T00:00:00+08:00"  # type: ignore[arg-type]
    assert local(case.due_at).isoformat() == "2026-10-16T00:00:00+08:00"


def test_replies_open_one_case_per_phone_and_type_in_one_batch(ctx: AppContext) -> None:
    now = ctx.now()
    keywords = policy_for(ctx).case_keywords
    rows = [(1, "+8613900000031", None, "我失业了，能不能分期", now), (2, "+8613900000031", None, "求分期", now),
            (3, "+8613900000032", None, "我要投诉你们", now), (4, "+8613900000033", None, "好的明天还", now),
            (5, "+8613900000034", None, "金额不对，有异议", now)]
    with ctx.db.transaction() as s:
        from dunning.db.models import Reply
        for rid, phone, _m, text, when in rows:
            s.add(Reply(id=rid, channel="sandbox", phone=phone, text=text, classification="other", received_at=when))
        s.flush()
        opened = open_from_replies(s, reply_frame(rows), keywords, load_case_policy(), now)
        again = open_from_replies(s, reply_frame(rows), keywords, load_case_policy(), now)
    assert opened == {"complaint": 1, "dispute": 1, "hardship": 1}
    assert again == {}
    hardship = cases_of(ctx, "+8613900000031")
    assert [c.type for c in hardship] == ["hardship"] and hardship[0].reply_id == 1


def test_outcome_terms_are_data_and_checked(ctx: AppContext) -> None:
    ref = commands.open_case(ctx, OPERATOR, commands.OpenRequest("hardship", "+8613900000041", "hotline", "申请分期"))
    with pytest.raises(InputError):
        commands.resolve(ctx, OPERATOR, ref.id, "instalment_plan", {"instalments": "六", "first_due": "2026-12-01",
                                                                    "instalment_amount": "500"})
    commands.resolve(ctx, OPERATOR, ref.id, "instalment_plan",
                     {"instalments": "6", "first_due": "2026-12-01", "instalment_amount": "¥1,250.50"})
    (case,) = cases_of(ctx, "+8613900000041")
    assert case.outcome_data == {"instalments": 6, "first_due": "2026-12-01", "instalment_amount": 125050}


def test_compliance_sees_complaints_only_and_agency_users_nothing_of_others(ctx: AppContext) -> None:
    hardship = commands.open_case(ctx, OPERATOR, commands.OpenRequest("hardship", "+8613900000051"))
    compliance = Principal("li", "李", Role.COMPLIANCE)
    agency = Principal("ag", "机构", Role.AGENCY, agency="华信催收")
    for who in (compliance, agency):
        with pytest.raises(NotFoundError):
            commands.add_note(ctx, who, hardship.id, "看一下")


HARDSHIP_GENTLE = """name: %s
hardship: {action: gentle, template: pre_due_1}
segments:
  - {name: all, steps: [{name: %s, dpd: [1], template: M1}]}
"""


@pytest.mark.parametrize("strategy", ["pause", "gentle"])
def test_an_open_hardship_case_pauses_or_softens_reminders_as_the_strategy_says(tmp_path: Path, strategy: str) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 9)))
    helped, other = "+8613900000061", "+8613900000062"
    commands.open_case(ctx, OPERATOR, commands.OpenRequest("hardship", helped, "hotline", "失业，申请分期"))
    iid = import_accounts(ctx, [Acct("H1", 1, phone=helped), Acct("H2", 1, phone=other)], DAY)
    text = EVERY_DAY % ("h", "h") if strategy == "pause" else HARDSHIP_GENTLE % ("h", "h")
    got = by_loan(ctx, plan(ctx, text, tmp_path, iid, DAY).campaign_id)
    if strategy == "pause":
        assert (got["H1"].state, got["H1"].reason) == ("suppressed", "hardship")
    else:
        assert got["H1"].state == "planned" and got["H1"].template_version_id != got["H2"].template_version_id
    assert got["H2"].state == "planned"


def test_hardship_outcomes_compare_repayment_after_help_against_without(tmp_path: Path) -> None:
    from dunning.services.cases.report import hardship_outcomes

    clock = FrozenClock(at(DAY, 10))
    ctx = make_ctx(tmp_path, clock)
    refs = [commands.open_case(ctx, OPERATOR, commands.OpenRequest("hardship", f"+86139000001{i:02d}",
                                                                   loan_ids=(f"HL{i}",))) for i in range(4)]
    plan_terms = {"instalments": "3", "first_due": "2026-12-01", "instalment_amount": "300"}
    commands.resolve(ctx, OPERATOR, refs[0].id, "instalment_plan", plan_terms)
    commands.resolve(ctx, OPERATOR, refs[1].id, "instalment_plan", plan_terms)
    commands.resolve(ctx, OPERATOR, refs[2].id, "declined")
    pay = tmp_path / "p.csv"  # HL0 repays within the window, HL2 before it opened (not counted), HL3 never
    pay.write_text("借款编号,还款金额,还款时间\nHL0,300.00,2026-11-25 10:00:00\nHL2,100.00,2026-11-20 10:00:00\n",
                   encoding="utf-8")
    clock.advance(days=5)
    import_payments(ctx, [pay], actor="finance")
    r = {g.group: g for g in hardship_outcomes(ctx, window_days=30).groups}
    assert (r["helped"].cases, r["helped"].repaid, r["helped"].repaid_fen) == (2, 1, 30000)
    assert (r["not_helped"].cases, r["not_helped"].repaid) == (2, 0)
    assert r["helped"].repaid_rate == 0.5 and r["not_helped"].repaid_rate == 0.0
