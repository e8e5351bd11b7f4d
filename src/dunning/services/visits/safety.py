"""The safety timer: a tick (cron, or the loop in ``dunning serve``) raises an alarm for every open visit whose
check-in is overdue and climbs unacknowledged alarms one level every M minutes (1 supervisors' board → 2 the
second supervisor: their board and an alert SMS → 3 the emergency contacts: an alert SMS each), then sends the
queued alert SMS (:mod:`alerts`: retries, a deadline, audited). Acknowledging an alarm stops its escalation and
cancels its unsent alerts. Driven only by the injected clock, so a frozen clock tests it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from dunning.channels.base import Channel
from dunning.db.types import to_utc
from dunning.db.visit_models import Visit, VisitAlarm, VisitEvent
from dunning.domain.visits import VisitState
from dunning.errors import NotFoundError, PermissionDenied, StateError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits import alerts
from dunning.services.visits.policy import VisitPolicy, load_policy
from dunning.services.visits.requests import scope_agency

ACKERS = (Role.SUPERVISOR,)
MAX_LEVEL = 3


@dataclass
class TickResult:
    raised: list[int] = field(default_factory=list)      # alarm ids raised for missed check-ins
    escalated: list[int] = field(default_factory=list)   # alarm ids that climbed a level
    alerts: alerts.Delivery = field(default_factory=alerts.Delivery)  # the alert SMS sent, retrying, failed


def tick(ctx: AppContext, *, policy: VisitPolicy | None = None, channel: Channel | None = None) -> TickResult:
    """One beat of the timer. ``channel`` replaces the policy's alert channel (tests inject one)."""
    pol = policy or load_policy()
    now = ctx.now()
    out = TickResult()
    with ctx.db.transaction() as s:
        open_alarm = select(VisitAlarm.visit_id).where(VisitAlarm.acknowledged_at.is_(None),
                                                        VisitAlarm.kind == "missed_checkin")
        overdue = s.scalars(select(Visit).where(Visit.state == VisitState.IN_FIELD,
                                                Visit.next_checkin_due.is_not(None), Visit.next_checkin_due <= now,
                                                Visit.id.not_in(open_alarm))).all()
        for v in overdue:
            a = VisitAlarm(visit_id=v.id, kind="missed_checkin", raised_at=now, raised_by="safety-timer", level=1,
                           notified=["supervisors"])
            s.add(a)
            s.flush()
            due = to_utc(v.next_checkin_due) if v.next_checkin_due else now
            s.add(VisitEvent(visit_id=v.id, at=now, actor="safety-timer", kind="missed_checkin",
                             detail={"due": due.isoformat(), "alarm": a.id}))
            audit.record(s, at=now, actor="safety-timer", action="visit.alarm", entity="visit", entity_id=v.id,
                         after={"alarm": a.id, "kind": "missed_checkin", "due": due.isoformat()})
            out.raised.append(a.id)
        step = timedelta(minutes=pol.escalate_minutes)
        pending = s.scalars(select(VisitAlarm).where(VisitAlarm.acknowledged_at.is_(None),
                                                     VisitAlarm.level < MAX_LEVEL)).all()
        for a in pending:
            since = to_utc(a.escalated_at or a.raised_at)
            if now - since < step:
                continue
            a.level += 1
            a.escalated_at = now
            seen = s.get(Visit, a.visit_id)
            names = alerts.queue(s, ctx, pol, a, seen, a.level, now) if seen is not None else []
            a.notified = [*a.notified, *names]
            audit.record(s, at=now, actor="safety-timer", action="visit.alarm_escalate", entity="visit",
                         entity_id=a.visit_id, after={"alarm": a.id, "level": a.level, "notified": names})
            out.escalated.append(a.id)
    out.alerts = alerts.deliver(ctx, policy=pol, channel=channel)  # after the commit: stored, then sent
    return out


def acknowledge(ctx: AppContext, p: Principal, alarm_id: int, note: str = "") -> VisitAlarm:
    if not p.has(*ACKERS):
        raise PermissionDenied("只有外访主管可以确认警报", "only supervisors acknowledge alarms")
    now = ctx.now()
    with ctx.db.transaction() as s:
        a = s.get(VisitAlarm, alarm_id)
        v = s.get(Visit, a.visit_id) if a else None
        agency = scope_agency(p)
        if a is None or v is None or (agency is not None and v.agency != agency):
            raise NotFoundError(f"警报 #{alarm_id} 不存在", f"no alarm #{alarm_id}", code="not_found.alarm")
        if a.acknowledged_at is not None:
            raise StateError(f"警报 #{alarm_id} 已由 {a.acknowledged_by} 确认", f"alarm #{alarm_id} already acknowledged",
                             code="visits.acked")
        a.acknowledged_by, a.acknowledged_at = p.username, now
        cancelled = alerts.cancel(s, a.id, now, p.username)
        if a.kind == "missed_checkin" and v.state == VisitState.IN_FIELD:
            # The supervisor reached the team: the next check-in is due one interval from now.
            v.next_checkin_due = now + timedelta(minutes=load_policy().checkin_minutes)
        s.add(VisitEvent(visit_id=v.id, at=now, actor=p.username, kind="alarm_ack",
                         detail={"alarm": a.id, "note": note.strip()}))
        audit.record(s, at=now, actor=p.username, action="visit.alarm_ack", entity="visit", entity_id=v.id,
                     after={"alarm": a.id, "level": a.level, "note": note.strip(), "alerts_cancelled": cancelled})
        s.flush()
        s.expunge(a)
    return a

