"""In the field: conduct checklist and check-in inside the geofence, periodic check-ins, the outcome (a promise
to pay becomes a promise the planner honours), check-out and SOS. Every event is stored with time and position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dunning.db.types import to_utc
from dunning.db.visit_models import PromiseToPay, Visit, VisitAlarm, VisitEvent
from dunning.domain.geo import haversine_m
from dunning.domain.visits import VisitState
from dunning.errors import InputError, PermissionDenied, StateError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits.notice import notice_sent
from dunning.services.visits.policy import VisitPolicy, load_policy
from dunning.services.visits.requests import OPEN, STATE_ZH, get_visit

FIELD = (Role.COLLECTOR, Role.TEAM_LEAD)


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    accuracy_m: float | None = None


def _event(s: Session, v: Visit, at: datetime, actor: str, kind: str, pos: Position | None,
           distance: float | None = None, **detail: Any) -> None:
    s.add(VisitEvent(visit_id=v.id, at=at, actor=actor, kind=kind, lat=pos.lat if pos else None,
                     lon=pos.lon if pos else None, distance_m=distance, detail=detail))
    audit.record(s, at=at, actor=actor, action=f"visit.{kind}", entity="visit", entity_id=v.id,
                 after={"lat": pos.lat if pos else None, "lon": pos.lon if pos else None, **detail})


def _member(s: Session, p: Principal, visit_id: int, states: tuple[VisitState, ...]) -> Visit:
    if not p.has(*FIELD):
        raise PermissionDenied("只有外访人员可以记录外访", "only field staff record visits")
    v = get_visit(s, p, visit_id)
    if p.role is not Role.ADMIN and p.username not in v.members:
        raise PermissionDenied("您不在本次外访的人员名单中", "you are not on this visit's team")
    if v.state not in states:
        raise StateError(f"外访 #{v.id} 当前为「{STATE_ZH.get(v.state, v.state)}」，不能进行此操作",
                         f"visit #{v.id} is {v.state}", code="visits.state")
    return v


def check_in(ctx: AppContext, p: Principal, visit_id: int, pos: Position, *, checklist: list[str],
             recording: bool, policy: VisitPolicy | None = None) -> Visit:
    """Arrival (the first) or a periodic check-in. The first needs the whole conduct checklist confirmed and
    the recording started, inside the visit window, within the geofence of the address."""
    pol = policy or load_policy()
    now = ctx.now()
    with ctx.db.transaction() as s:
        v = _member(s, p, visit_id, OPEN)
        first = v.state == VisitState.APPROVED
        distance = haversine_m(pos.lat, pos.lon, v.lat, v.lon) if v.lat is not None and v.lon is not None else None
        if first:
            missing = [c.zh for c in pol.checklist if c.code not in set(checklist)]
            if missing:
                raise InputError("签到前请确认全部行为规范：" + "、".join(missing),
                                 "confirm every conduct rule before checking in", code="visits.checklist")
            if not recording:
                raise InputError("签到前须确认录音录像已开启", "confirm the recording has started",
                                 code="visits.recording")
            if not (to_utc(v.window_start) - timedelta(minutes=15) <= now <= to_utc(v.window_end)):
                raise InputError("不在报备的外访时段内，不能签到", "outside the registered visit window",
                                 code="visits.window")
            if pol.notice_required and not notice_sent(s, v):
                raise StateError(f"外访 #{v.id} 的外访通知短信尚未发出：政策要求通知借款人后才能开始外访",
                                 f"visit #{v.id}: the policy requires its notice SMS to be sent before it starts",
                                 code="visits.notice_required")
        if distance is not None and distance > pol.geofence_m:
            _event(s, v, now, p.username, "checkin_refused", pos, distance, reason="geofence")
            refused = distance
        else:
            refused = None
            _arrive(v, now, pol, first)
            _event(s, v, now, p.username, "check_in" if first else "heartbeat", pos, distance,
                   checklist=sorted(checklist) if first else [], recording=recording)
        s.flush()
        s.expunge(v)
    if refused is not None:  # the refused attempt is stored (above), and the team is told why
        raise InputError(f"当前位置距外访地址 {refused:,.0f} 米，超出 {pol.geofence_m:,.0f} 米范围，不能签到",
                         f"you are {refused:,.0f} m from the address, beyond the {pol.geofence_m:,.0f} m geofence",
                         code="visits.geofence")
    return v


def _arrive(v: Visit, now: datetime, pol: VisitPolicy, first: bool) -> None:
    if first:
        v.state, v.started_at, v.recording_confirmed = VisitState.IN_FIELD.value, now, True
    v.last_checkin_at = now
    v.next_checkin_due = now + timedelta(minutes=pol.checkin_minutes)


def record_outcome(ctx: AppContext, p: Principal, visit_id: int, outcome: str, *, notes: str = "",
                   promise_on: date | None = None, promise_fen: int | None = None, pos: Position | None = None,
                   policy: VisitPolicy | None = None) -> Visit:
    pol = policy or load_policy()
    if pol.outcome(outcome) is None:
        raise InputError(f"未知的外访结果 {outcome}", f"unknown outcome {outcome!r}", code="visits.outcome")
    now = ctx.now()
    if outcome == "promise_to_pay":
        if promise_on is None or not promise_fen or promise_fen <= 0:
            raise InputError("承诺还款须填写日期和金额", "a promise to pay needs a date and an amount",
                             code="visits.promise")
        if promise_on < now.astimezone(ctx.tz).date():
            raise InputError("承诺还款日期不能早于今天", "the promised date is in the past", code="visits.promise")
    with ctx.db.transaction() as s:
        v = _member(s, p, visit_id, (VisitState.IN_FIELD,))
        v.outcome, v.notes = outcome, notes.strip()
        extra: dict[str, Any] = {"outcome": outcome, "notes": v.notes}
        if outcome == "promise_to_pay" and promise_on is not None and promise_fen is not None:
            s.add(PromiseToPay(loan_id=v.loan_id, promised_on=promise_on, amount_fen=promise_fen, source="visit",
                               source_id=v.id, created_by=p.username, created_at=now))
            extra.update(promise_on=promise_on.isoformat(), promise_fen=promise_fen)
        _event(s, v, now, p.username, "outcome", pos, **extra)
        s.flush()
        s.expunge(v)
    return v


def check_out(ctx: AppContext, p: Principal, visit_id: int, pos: Position | None = None) -> Visit:
    now = ctx.now()
    with ctx.db.transaction() as s:
        v = _member(s, p, visit_id, (VisitState.IN_FIELD,))
        if v.outcome is None:
            raise InputError("签退前请先记录外访结果", "record the outcome before checking out", code="visits.outcome")
        v.state, v.closed_at, v.next_checkin_due = VisitState.CLOSED.value, now, None
        _event(s, v, now, p.username, "check_out", pos)
        s.flush()
        s.expunge(v)
    return v


def sos(ctx: AppContext, p: Principal, visit_id: int, pos: Position | None) -> VisitAlarm:
    """Raise an SOS alarm at once: the supervisors' live board shows it on its next poll (about a second)."""
    now = ctx.now()
    with ctx.db.transaction() as s:
        v = _member(s, p, visit_id, OPEN)
        alarm = VisitAlarm(visit_id=v.id, kind="sos", raised_at=now, raised_by=p.username,
                           lat=pos.lat if pos else None, lon=pos.lon if pos else None, level=1,
                           notified=["supervisors"])
        s.add(alarm)
        _event(s, v, now, p.username, "sos", pos)
        s.flush()
        s.expunge(alarm)
    return alarm
