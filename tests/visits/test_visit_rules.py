"""Frozen-clock tests of the visit policy, registration, the geofence and the safety timer."""

from __future__ import annotations

from datetime import date

import pytest

from dunning.errors import InputError, NotFoundError, StateError
from dunning.services.context import AppContext
from dunning.services.visits import field, queries, safety
from dunning.services.visits.field import Position
from dunning.services.visits.policy import load_policy
from dunning.services.visits.requests import decide, request_visit, verify_registration
from dunning.testing import FrozenClock
from tests.visits.conftest import HOME, World, approved, ask, local

TODAY = date(2026, 11, 23)  # a Monday; the frozen clock stands at 10:00 Shanghai time
ALL_RULES = [c.code for c in load_policy().checklist]
AT_HOME = Position(HOME[0], HOME[1])


def test_a_window_from_2130_that_ends_after_2200_is_refused(ctx: AppContext, world: World) -> None:
    with pytest.raises(InputError) as exc:
        request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 21, 30), minutes=60))
    assert exc.value.code == "visits.window" and "22:00" in exc.value.message_zh
    # the same visit ending at 22:00 sharp is within the rule
    assert request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 21, 0), minutes=60)).state == "requested"


def test_a_window_before_0800_is_refused(ctx: AppContext, world: World) -> None:
    with pytest.raises(InputError, match="08:00"):
        request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 7, 30)))


def test_a_one_person_team_is_refused(ctx: AppContext, world: World) -> None:
    with pytest.raises(InputError) as exc:
        request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 14), members=("zhang",)))
    assert exc.value.code == "visits.team_size"
    with pytest.raises(InputError) as dup:  # the same person twice is still one person
        request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 14), members=("zhang", "zhang")))
    assert dup.value.code == "visits.team_size"


def test_stale_training_and_unregistered_staff_are_refused(ctx: AppContext, world: World) -> None:
    with pytest.raises(InputError) as exc:
        request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 14), members=("zhang", "old")))
    assert exc.value.code == "visits.training"
    with pytest.raises(InputError, match="名册"):
        request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 14), members=("zhang", "nobody")))


def test_monthly_limit_per_borrower(ctx: AppContext, world: World) -> None:
    for d in (24, 25):
        request_visit(ctx, world.lead, ask(ctx, world, local(date(2026, 11, d), 10)))
    with pytest.raises(InputError) as exc:
        request_visit(ctx, world.lead, ask(ctx, world, local(date(2026, 11, 26), 10)))
    assert exc.value.code == "visits.monthly"
    assert request_visit(ctx, world.lead, ask(ctx, world, local(date(2026, 12, 1), 10))).state == "requested"


def test_registration_four_eyes_and_public_answer(ctx: AppContext, world: World) -> None:
    v = request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 14)))
    with pytest.raises(StateError):
        decide(ctx, world.supervisor.__class__("zhang", "张伟", world.supervisor.role, world.supervisor.agency),
               v.id, approve=True)
    with pytest.raises(NotFoundError):  # another agency's supervisor does not even see it
        decide(ctx, world.other_agency_supervisor, v.id, approve=True)
    ok = decide(ctx, world.supervisor, v.id, approve=True)
    assert ok.reg_no and ok.reg_no.startswith("REG-20261123-")
    answer = verify_registration(ctx, ok.reg_no.lower())
    assert answer.genuine and answer.day == TODAY
    assert {n for n, _ in answer.staff} == {"张伟", "李娜"}
    assert not verify_registration(ctx, "REG-20261123-AAAAAA").genuine


def test_check_in_2km_from_the_address_is_refused(ctx: AppContext, world: World) -> None:
    vid = approved(ctx, world, local(TODAY, 10))
    far = Position(HOME[0] + 0.018, HOME[1])  # ~2 km north
    with pytest.raises(InputError) as exc:
        field.check_in(ctx, world.lead, vid, far, checklist=ALL_RULES, recording=True)
    assert exc.value.code == "visits.geofence" and "2,0" in exc.value.message_zh
    d = queries.visit_detail(ctx, world.supervisor, vid)
    assert d.visit.state == "approved" and [e["kind"] for e in d.events] == ["checkin_refused"]
    assert 1900 < d.events[0]["distance_m"] < 2100
    with pytest.raises(InputError) as missing:  # at the door, but the conduct checklist is not all confirmed
        field.check_in(ctx, world.lead, vid, AT_HOME, checklist=ALL_RULES[1:], recording=True)
    assert missing.value.code == "visits.checklist"
    assert field.check_in(ctx, world.lead, vid, AT_HOME, checklist=ALL_RULES, recording=True).state == "in_field"


def test_missed_check_in_alarms_within_one_tick_and_escalates(ctx: AppContext, world: World,
                                                               clock: FrozenClock) -> None:
    pol = load_policy()
    vid = approved(ctx, world, local(TODAY, 10))
    field.check_in(ctx, world.collector, vid, AT_HOME, checklist=ALL_RULES, recording=True)
    clock.advance(minutes=pol.checkin_minutes - 1)
    assert safety.tick(ctx).raised == []
    clock.advance(minutes=1, seconds=30)  # one tick after the check-in fell due
    raised = safety.tick(ctx).raised
    assert len(raised) == 1
    board = queries.board(ctx, world.supervisor)
    assert [(a["visit_id"], a["kind"], a["level"]) for a in board["alarms"]] == [(vid, "missed_checkin", 1)]
    assert queries.board(ctx, world.other_agency_supervisor)["alarms"] == []
    assert safety.tick(ctx).raised == []  # one alarm per missed check-in, not one per tick
    clock.advance(minutes=pol.escalate_minutes - 1)
    assert safety.tick(ctx).escalated == []
    clock.advance(minutes=1)
    assert safety.tick(ctx).escalated == raised
    assert queries.board(ctx, world.supervisor)["alarms"][0]["level"] == 2
    clock.advance(minutes=pol.escalate_minutes)
    safety.tick(ctx)
    alarm = queries.visit_detail(ctx, world.supervisor, vid).alarms[0]
    assert alarm.level == 3
    safety.acknowledge(ctx, world.supervisor, alarm.id, "已电话联系，平安")
    clock.advance(minutes=pol.escalate_minutes * 3)
    assert safety.tick(ctx).escalated == []
    assert queries.board(ctx, world.supervisor)["alarms"] == [] or all(
        a["id"] != alarm.id for a in queries.board(ctx, world.supervisor)["alarms"])


def test_an_acknowledged_team_that_checks_in_raises_nothing(ctx: AppContext, world: World,
                                                            clock: FrozenClock) -> None:
    pol = load_policy()
    vid = approved(ctx, world, local(TODAY, 10))
    field.check_in(ctx, world.collector, vid, AT_HOME, checklist=ALL_RULES, recording=True)
    for _ in range(3):
        clock.advance(minutes=pol.checkin_minutes - 2)
        field.check_in(ctx, world.lead, vid, AT_HOME, checklist=[], recording=True)
        assert safety.tick(ctx).raised == []


def test_sos_reaches_the_board_at_once_and_outcome_closes(ctx: AppContext, world: World) -> None:
    vid = approved(ctx, world, local(TODAY, 10))
    field.check_in(ctx, world.collector, vid, AT_HOME, checklist=ALL_RULES, recording=True)
    field.sos(ctx, world.collector, vid, AT_HOME)
    alarms = queries.board(ctx, world.supervisor)["alarms"]
    assert [(a["kind"], a["raised_by"]) for a in alarms] == [("sos", "li")]
    with pytest.raises(InputError):
        field.check_out(ctx, world.lead, vid)  # no outcome yet
    field.record_outcome(ctx, world.lead, vid, "promise_to_pay", promise_on=date(2026, 11, 30), promise_fen=50000)
    assert field.check_out(ctx, world.lead, vid).state == "closed"


def test_the_visit_notice_goes_only_for_an_approved_visit_and_only_it_may_say_shangmen(
        ctx: AppContext, world: World) -> None:
    from dunning.compliance import blocking, lint_text
    from dunning.services.policy import policy_for
    from dunning.services.visits.notice import visit_notice

    pending = request_visit(ctx, world.lead, ask(ctx, world, local(TODAY, 15)))
    with pytest.raises(StateError):
        visit_notice(ctx, world.supervisor, pending.id)
    vid = approved(ctx, world, local(TODAY, 16))
    notice = visit_notice(ctx, world.supervisor, vid)
    assert "上门" in notice.text and "张伟" in notice.text and "REG-20261123-" in notice.text
    assert "1234" not in notice.text and "逾期" not in notice.text  # factual: no debt detail, no pressure
    policy = policy_for(ctx)
    assert blocking(lint_text(notice.text, policy))  # the same words anywhere else are still a threat
    assert not blocking(lint_text(notice.text, policy, visit_notice=True))
    assert blocking(lint_text("【阳光消费金融】再不还款我们就上门，后果自负。", policy, visit_notice=True))


def test_repayment_after_a_visit_by_team_against_accounts_without_one(ctx: AppContext, world: World,
                                                                      clock: FrozenClock) -> None:
    from datetime import timedelta

    from dunning.db.models import Account, Payment
    from dunning.services.visits.outcomes import visit_outcomes

    with ctx.db.transaction() as s:
        s.add_all([Account(import_id=1, loan_id=f"N{i}", phone=f"+861380000000{i}", amount_due_fen=1000,
                           due_date=date(2026, 11, 1), dpd=22, bucket="M1", agency="华信催收", source_file="p.csv",
                           source_row=10 + i) for i in range(4)])
    vid = approved(ctx, world, local(TODAY, 10))
    field.check_in(ctx, world.lead, vid, AT_HOME, checklist=ALL_RULES, recording=True)
    field.record_outcome(ctx, world.lead, vid, "met_borrower")
    field.check_out(ctx, world.lead, vid)
    with ctx.db.transaction() as s:
        s.add_all([Payment(loan_id="L0001", amount_fen=5000, paid_at=clock.now() + timedelta(days=2)),
                   # a payment before the visit is not counted for it
                   Payment(loan_id="L0001", amount_fen=700, paid_at=clock.now() - timedelta(days=1)),
                   Payment(loan_id="N0", amount_fen=1000, paid_at=clock.now() + timedelta(days=1))])
    table = visit_outcomes(ctx, agency=world.supervisor.agency)
    got = {r["team"]: (r["visited"], r["accounts"], r["repaid"], r["recovered_fen"], r["repayment_rate"])
           for r in table.to_dicts()}
    assert got == {"li+zhang": (True, 1, 1, 5000, 1.0), "未外访": (False, 4, 1, 1000, 0.25)}
    assert table["team"].to_list()[-1] == "未外访"  # the comparison row last
    assert visit_outcomes(ctx, agency="其他机构")["accounts"].to_list() == [0]  # another agency sees none of it
