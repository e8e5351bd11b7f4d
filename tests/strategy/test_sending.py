"""Planning to sending through the campaign service: what changed after planning stops a message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dunning.channels.base import InboundMessage
from dunning.errors import StateError
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.delivery import ingest_events
from dunning.services.context import AppContext
from dunning.services.identity.users import ensure_demo_users
from dunning.services.intake.imports import import_portfolio
from dunning.services.intake.payments import import_payments
from dunning.testing import FrozenClock
from tests.strategy.helpers import Acct, ab_strategy, at, by_loan, import_accounts, make_ctx, messages, plan

DAY = date(2026, 11, 23)
SENT = ("submitted", "delivered", "failed", "expired")


def pilot_and_approve(ctx: AppContext, cid: int) -> None:
    ensure_demo_users(ctx)
    lifecycle.start_pilot(ctx, cid, actor="wang.ops")
    lifecycle.approve_pilot(ctx, cid, actor="li.compliance")


def test_payment_and_opt_out_after_planning_stop_the_message_and_holdout_gets_nothing(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    iid = import_accounts(ctx, [Acct(f"L{i:02d}", 1) for i in range(40)], DAY)
    s = plan(ctx, ab_strategy("a", holdout=0.2), tmp_path, iid, DAY)
    assert s.by_reason == {"holdout": 8}
    ensure_demo_users(ctx)
    lifecycle.start_pilot(ctx, s.campaign_id, actor="wang.ops")
    waiting = [m for m in messages(ctx, s.campaign_id) if m.state == "planned"]
    payer, opter = waiting[0], waiting[1]

    # Between the pilot and the full send: a repayment file arrives, and a borrower replies TD.
    f = tmp_path / "pay.csv"
    f.write_text(f"借款编号,还款金额,还款时间\n{payer.loan_id},1000.00,2026-11-23 09:50:00\n", encoding="utf-8")
    imp = import_payments(ctx, [f], actor="finance")
    assert imp.accepted == 1 and imp.open_messages == 1
    with ctx.db.transaction() as db:
        ingest_events(db, "sandbox", [InboundMessage(opter.phone, "TD", at(DAY, 10))], now=ctx.now(),
                      stop_keywords=["TD"], dispute_keywords=[])
    lifecycle.approve_pilot(ctx, s.campaign_id, actor="li.compliance")
    lifecycle.send_campaign(ctx, s.campaign_id, actor="wang.ops")

    got = by_loan(ctx, s.campaign_id)
    assert (got[payer.loan_id].state, got[payer.loan_id].reason) == ("suppressed", "paid")
    assert (got[opter.loan_id].state, got[opter.loan_id].reason) == ("suppressed", "opted_out")
    held = [m for m in got.values() if m.variant == "holdout"]
    assert len(held) == 8
    assert all(m.state == "suppressed" and m.reason == "holdout" and m.submitting_at is None and m.text is None
               for m in held)
    others = [m for m in got.values() if m.variant != "holdout" and m.loan_id not in (payer.loan_id, opter.loan_id)]
    assert len(others) == 30 and all(m.state in SENT for m in others)


def test_budget_holds_across_two_campaigns_on_one_phone(tmp_path: Path) -> None:
    shared = "+8613600000000"
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    card = import_accounts(ctx, [Acct("CARD-1", 1, phone=shared, product="信用卡分期"),
                                 Acct("CARD-2", 1, phone="+8613600000002")], DAY)
    loan = import_accounts(ctx, [Acct("LOAN-1", 1, phone=shared, product="消费贷"),
                                 Acct("LOAN-2", 1, phone="+8613600000003")], DAY)
    nohold = "name: %s\nsegments:\n  - {name: all, steps: [{name: %s, dpd: [1], template: M1}]}\n"
    a = plan(ctx, nohold % ("cards", "c"), tmp_path, card, DAY, name="a.yaml")
    b = plan(ctx, nohold % ("loans", "l"), tmp_path, loan, DAY, name="b.yaml")
    assert a.planned == b.planned == 2  # at planning, nothing was sent yet

    pilot_and_approve(ctx, a.campaign_id)
    lifecycle.send_campaign(ctx, a.campaign_id, actor="wang.ops")
    assert by_loan(ctx, a.campaign_id)["CARD-1"].state in SENT

    # The second campaign was planned before the first one sent: the re-check before sending stops it.
    pilot_and_approve(ctx, b.campaign_id)
    lifecycle.send_campaign(ctx, b.campaign_id, actor="wang.ops")
    got = by_loan(ctx, b.campaign_id)
    assert (got["LOAN-1"].state, got["LOAN-1"].reason) == ("suppressed", "budget")
    assert got["LOAN-2"].state in SENT

    # A third campaign planned now sees what was actually sent, and suppresses at planning.
    third = import_accounts(ctx, [Acct("X-1", 1, phone=shared)], DAY)
    c = plan(ctx, nohold % ("extra", "x"), tmp_path, third, DAY, name="c.yaml")
    assert c.by_reason == {"budget": 1}


def test_minimum_interval_pushes_tomorrows_message_from_what_was_actually_sent(tmp_path: Path) -> None:
    clock = FrozenClock(at(DAY, 15))
    ctx = make_ctx(tmp_path, clock)
    nohold = "name: %s\nsegments:\n  - {name: all, steps: [{name: %s, dpd: [1, 2], template: M1}]}\n"
    first = import_accounts(ctx, [Acct("L1", 1, phone="+8613500000000")], DAY)
    a = plan(ctx, nohold % ("d1", "s"), tmp_path, first, DAY, name="a.yaml")
    pilot_and_approve(ctx, a.campaign_id)
    sent = by_loan(ctx, a.campaign_id)["L1"]
    assert sent.state in SENT  # the one message was the pilot, sent at 15:00

    tomorrow = date(2026, 11, 24)
    clock.advance(hours=15)  # 06:00 tomorrow
    second = import_accounts(ctx, [Acct("L1", 2, phone="+8613500000000")], tomorrow)
    b = plan(ctx, nohold % ("d2", "s2"), tmp_path, second, tomorrow, name="b.yaml")
    m = by_loan(ctx, b.campaign_id)["L1"]
    assert m.scheduled_at is not None
    assert m.scheduled_at.strftime("%H:%M") == "03:00"  # 11:00 Shanghai = 15:00 yesterday + 20 h


def test_a_campaign_sent_the_next_day_sends_none_of_yesterdays_messages(tmp_path: Path) -> None:
    clock = FrozenClock(at(DAY, 10))
    ctx = make_ctx(tmp_path, clock)
    iid = import_accounts(ctx, [Acct(f"L{i:02d}", 1) for i in range(30)], DAY)
    s = plan(ctx, ab_strategy("a", holdout=0.2), tmp_path, iid, DAY)
    pilot_and_approve(ctx, s.campaign_id)
    pilot = {m.loan_id for m in messages(ctx, s.campaign_id) if m.is_pilot and m.state in SENT}
    assert pilot

    clock.advance(days=1)  # approved on the 23rd, sent by hand at 10:00 on the 24th: inside 08:00–22:00 again
    lifecycle.send_campaign(ctx, s.campaign_id, actor="wang.ops")

    rest = [m for m in by_loan(ctx, s.campaign_id).values() if m.loan_id not in pilot and m.variant != "holdout"]
    assert rest and all(m.submitting_at is None for m in rest), "yesterday's texts must not go out today"
    assert {(m.state, m.reason) for m in rest} == {("expired", "window")}


def test_a_payment_already_in_the_snapshots_amount_does_not_suppress_the_reminder(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    iid = import_accounts(ctx, [Acct(f"L{i:02d}", 1, amount_fen=100_000) for i in range(30)], DAY)
    # Yesterday's 1,000.00 payments are already deducted in today's export (1,000.00 still due on L00–L09);
    # this morning's clears L10.
    lines = [f"L{i:02d},1000.00,2026-11-22 15:00:00" for i in range(10)] + ["L10,1000.00,2026-11-23 09:00:00"]
    f = tmp_path / "pay.csv"
    f.write_text("借款编号,还款金额,还款时间\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert import_payments(ctx, [f], actor="finance").accepted == 11
    s = plan(ctx, ab_strategy("a", holdout=0.2), tmp_path, iid, DAY)
    pilot_and_approve(ctx, s.campaign_id)
    lifecycle.send_campaign(ctx, s.campaign_id, actor="wang.ops")

    got = by_loan(ctx, s.campaign_id)
    earlier = [got[f"L{i:02d}"] for i in range(10) if got[f"L{i:02d}"].variant != "holdout"]
    assert len(earlier) >= 5
    assert [(m.loan_id, m.state) for m in earlier if m.state not in SENT] == []
    assert (got["L10"].state, got["L10"].reason) == ("suppressed", "paid")


def test_a_message_blocked_by_the_compliance_lint_makes_the_pilot_no_go(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    # One contract states 0.2 % a day (73 % a year): its reminder would quote an unlawful penalty.
    accts = [Acct(f"L{i:02d}", 1) for i in range(29)] + [Acct("L99", 1, penalty_rate=0.002)]
    s = plan(ctx, ab_strategy("a", holdout=0.2), tmp_path, import_accounts(ctx, accts, DAY), DAY)
    blocked = by_loan(ctx, s.campaign_id)["L99"]
    assert blocked.variant != "holdout"  # (assignment is deterministic; a hold-out would get no text to lint)
    assert (blocked.state, blocked.reason) == ("suppressed", "lint_block")
    ensure_demo_users(ctx)
    report = lifecycle.start_pilot(ctx, s.campaign_id, actor="wang.ops")
    assert report["checks"]["block_findings"]["value"] == 1 and not report["go"]
    with pytest.raises(StateError, match="block_findings"):
        lifecycle.approve_pilot(ctx, s.campaign_id, actor="li.compliance")


def test_an_exclusion_list_stops_messages_already_planned_and_later_plans(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FrozenClock(at(DAY, 10)))
    iid = import_accounts(ctx, [Acct(f"L{i:02d}", 1) for i in range(30)], DAY)
    s = plan(ctx, ab_strategy("a", holdout=0.2), tmp_path, iid, DAY)
    pilot_and_approve(ctx, s.campaign_id)
    waiting = next(m for m in messages(ctx, s.campaign_id) if m.state == "planned")

    # A complaint list arrives with another portfolio file; the number is written the way clerks write it.
    portfolio = tmp_path / "other.csv"
    portfolio.write_text("借款编号,手机号,应还金额,到期日\nX1,13800138000,500.00,2026-11-20\n", encoding="utf-8")
    dnc = tmp_path / "complaints.txt"
    local = waiting.phone.removeprefix("+86")
    dnc.write_text(f"手机号\n{local[:3]}-{local[3:7]}-{local[7:]},投诉\n", encoding="utf-8")
    import_portfolio(ctx, [portfolio], as_of=DAY, exclude=[dnc], actor="wang.ops")

    lifecycle.send_campaign(ctx, s.campaign_id, actor="wang.ops")
    got = by_loan(ctx, s.campaign_id)[waiting.loan_id]
    assert (got.state, got.reason) == ("suppressed", "do_not_contact")

    no_holdout = ab_strategy("b", holdout=0)
    again = plan(ctx, no_holdout, tmp_path, iid, DAY, name="b.yaml")  # no list given this time
    later = by_loan(ctx, again.campaign_id)[waiting.loan_id]
    assert (later.state, later.reason) == ("suppressed", "do_not_contact")
