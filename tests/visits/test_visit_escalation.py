"""Escalation beyond the first supervisor's board (frozen clock): an alarm nobody acknowledges reaches the second
supervisor (their board and an alert SMS) after M minutes, then the emergency contacts (an alert SMS each); the
alert SMS goes through a channel with retries and a deadline, audited; an acknowledgement stops it all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import select

from dunning.channels.base import OutboundMessage, SubmitResult
from dunning.db.models import AuditEvent
from dunning.db.visit_models import VisitAlert
from dunning.errors import PermanentChannelError, TransientChannelError
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits import field, queries, safety
from dunning.services.visits.policy import load_policy
from dunning.testing import FrozenClock
from tests.visits.conftest import HOME, World, approved, local

TODAY = date(2026, 11, 23)
ALL_RULES = [c.code for c in load_policy().checklist]


class Recorder:
    """An alert channel that records what it is asked to send; ``script`` says what each call does."""

    capabilities: ClassVar[Any] = None
    name = "alerts"

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.sent: list[OutboundMessage] = []
        self.calls = 0

    async def open(self) -> None:
        return None

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        self.calls += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "transient":
            raise TransientChannelError("网关繁忙", "gateway busy")
        if step == "hang":
            await asyncio.sleep(3600)
        if step == "permanent":
            return [SubmitResult(m.message_id, None, PermanentChannelError("号码无效", "bad number")) for m in messages]
        self.sent.extend(messages)
        return [SubmitResult(m.message_id, f"p-{m.message_id}") for m in messages]


def _missed(ctx: AppContext, world: World, clock: FrozenClock) -> int:
    vid = approved(ctx, world, local(TODAY, 10))
    field.check_in(ctx, world.collector, vid, field.Position(*HOME), checklist=ALL_RULES, recording=True)
    clock.advance(minutes=load_policy().checkin_minutes, seconds=30)
    raised = safety.tick(ctx, channel=Recorder()).raised
    assert len(raised) == 1
    return raised[0]


def _alerts(ctx: AppContext) -> list[tuple[int, str, str, int]]:
    with ctx.db.transaction() as s:
        return [(a.level, a.phone, a.state, a.attempts) for a in s.scalars(select(VisitAlert).order_by(VisitAlert.id))]


def test_unacknowledged_alarm_reaches_second_supervisor_then_emergency_contacts(
        ctx: AppContext, world: World, clock: FrozenClock) -> None:
    pol = load_policy()
    second = Principal(pol.second_supervisor.username or "", pol.second_supervisor.name, Role.SUPERVISOR)
    alarm = _missed(ctx, world, clock)
    ch = Recorder()
    assert [a["to_me"] for a in queries.board(ctx, second)["alarms"]] == [False]  # level 1: not theirs yet
    clock.advance(minutes=pol.escalate_minutes - 1)
    assert safety.tick(ctx, channel=ch).escalated == [] and ch.sent == []
    clock.advance(minutes=1)
    assert safety.tick(ctx, channel=ch).escalated == [alarm]
    # Level 2: the second supervisor's board marks it theirs, and the alert SMS went to their phone.
    mine = queries.board(ctx, second)["alarms"]
    assert [(a["id"], a["level"], a["to_me"]) for a in mine] == [(alarm, 2, True)]
    assert [m.phone for m in ch.sent] == [pol.second_supervisor.phone]
    assert "外访安全警报" in ch.sent[0].text and "超时未报平安" in ch.sent[0].text
    assert "1,234.56" not in ch.sent[0].text and "元" not in ch.sent[0].text  # no debt detail in an alert
    assert _alerts(ctx) == [(2, pol.second_supervisor.phone, "sent", 1)]
    assert safety.tick(ctx, channel=ch).alerts.sent == []  # sent once, not once per tick
    clock.advance(minutes=pol.escalate_minutes)
    safety.tick(ctx, channel=ch)
    # Level 3: every emergency contact.
    assert [m.phone for m in ch.sent[1:]] == [c.phone for c in pol.emergency_contacts]
    assert queries.board(ctx, world.supervisor)["alarms"][0]["level"] == 3
    with ctx.db.transaction() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("visit.alert%"))))
    assert actions == ["visit.alert_sent"] * (1 + len(pol.emergency_contacts))


def test_acknowledgement_stops_escalation_and_cancels_unsent_alerts(
        ctx: AppContext, world: World, clock: FrozenClock) -> None:
    pol = load_policy()
    alarm = _missed(ctx, world, clock)
    clock.advance(minutes=pol.escalate_minutes)
    busy = Recorder("transient")
    safety.tick(ctx, channel=busy)
    assert _alerts(ctx) == [(2, pol.second_supervisor.phone, "pending", 1)]  # stored, waiting to retry
    safety.acknowledge(ctx, world.supervisor, alarm, "联系上了")
    ch = Recorder()
    clock.advance(minutes=pol.escalate_minutes * 3)
    r = safety.tick(ctx, channel=ch)
    assert r.escalated == [] and ch.calls == 0
    assert _alerts(ctx) == [(2, pol.second_supervisor.phone, "cancelled", 1)]


def test_alerts_retry_with_backoff_until_sent_and_fail_at_the_deadline(
        ctx: AppContext, world: World, clock: FrozenClock) -> None:
    base = load_policy()
    pol = replace(base, alerts=replace(base.alerts, call_timeout_s=0.05))  # the call deadline, shortened
    _missed(ctx, world, clock)
    clock.advance(minutes=pol.escalate_minutes)
    flaky = Recorder("transient", "hang", "ok")
    assert safety.tick(ctx, policy=pol, channel=flaky).alerts.retrying  # 1st attempt: the gateway is busy
    clock.advance(seconds=pol.alerts.retry_seconds - 1)
    assert safety.tick(ctx, policy=pol, channel=flaky).alerts == safety.alerts.Delivery()  # not due yet: no call
    assert flaky.calls == 1
    clock.advance(seconds=1)
    assert safety.tick(ctx, policy=pol, channel=flaky).alerts.retrying  # 2nd: no answer within the call deadline
    clock.advance(seconds=pol.alerts.retry_seconds * 2)
    assert safety.tick(ctx, policy=pol, channel=flaky).alerts.sent  # 3rd: sent, with the same idempotency key
    assert _alerts(ctx) == [(2, pol.second_supervisor.phone, "sent", 3)]
    # Level 3 against a channel that refuses the numbers: failed at once, audited, not retried.
    clock.advance(minutes=pol.escalate_minutes)
    refused = Recorder("permanent")
    r = safety.tick(ctx, policy=pol, channel=refused)
    assert len(r.alerts.failed) == len(pol.emergency_contacts) and r.alerts.retrying == []
    # A channel down for good, with attempts to spare: retried until the alert's deadline, then failed.
    patient = replace(pol, alerts=replace(pol.alerts, max_attempts=1000, retry_seconds=60))
    with ctx.db.transaction() as s:
        s.query(VisitAlert).filter(VisitAlert.state == "failed").update({"state": "pending", "attempts": 0},
                                                                        synchronize_session=False)
    down = Recorder(*["transient"] * 100)
    level3 = {lvl: st for lvl, _p, st, _n in _alerts(ctx)}
    assert level3[3] == "pending"
    clock.advance(minutes=1)
    safety.tick(ctx, policy=patient, channel=down)
    assert {st for lvl, _p, st, _n in _alerts(ctx) if lvl == 3} == {"pending"}  # down once: retried later
    for _ in range(pol.alerts.deadline_minutes):
        clock.advance(minutes=1)
        safety.tick(ctx, policy=patient, channel=down)
    # Backing off (1, 2, 4 minutes…) inside the deadline, then given up: no retry would land before it.
    assert {st for lvl, _p, st, _n in _alerts(ctx) if lvl == 3} == {"failed"} and 3 <= down.calls < 10
    with ctx.db.transaction() as s:
        failed = s.scalars(select(AuditEvent).where(AuditEvent.action == "visit.alert_failed")).all()
    assert len(failed) == 2 * len(pol.emergency_contacts)  # the permanent refusals, then the deadline
