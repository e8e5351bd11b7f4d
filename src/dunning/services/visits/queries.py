"""Read models for the console: visit lists, one visit with its events and alarms, the live board."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from dunning.db.types import to_utc
from dunning.db.visit_models import Visit, VisitAlarm, VisitAlert, VisitEvent
from dunning.domain.visits import VisitAlertState, VisitState
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.visits.policy import load_policy
from dunning.services.visits.requests import REGISTERED, STATE_ZH, get_visit, scope_agency

ALARM_ZH = {"sos": "SOS 求助", "missed_checkin": "超时未报平安"}
LEVEL_ZH = {1: "外访主管", 2: "二线主管", 3: "紧急联系人"}
_A = VisitAlertState
ALERT_ZH: dict[str, str] = {_A.PENDING: "排队待发", _A.SENDING: "发送中", _A.SENT: "已发送", _A.FAILED: "发送失败",
                            _A.CANCELLED: "已取消"}
EVENT_ZH = {"check_in": "签到", "heartbeat": "报平安", "checkin_refused": "签到被拒（超出范围）", "outcome": "记录结果",
            "check_out": "签退", "sos": "SOS 求助", "missed_checkin": "超时未报平安", "alarm_ack": "确认警报",
            "complaint": "投诉"}


@dataclass
class VisitRow:
    id: int
    loan_id: str
    agency: str | None
    address: str
    window_start: datetime
    window_end: datetime
    members: list[str]
    state: str
    state_zh: str
    reg_no: str | None
    requested_by: str
    decided_by: str | None
    decision_reason: str
    last_checkin_at: datetime | None
    next_checkin_due: datetime | None
    outcome: str | None
    outcome_zh: str
    purpose: str
    risk_notes: str
    lat: float | None
    lon: float | None
    overdue: bool = False
    notice_campaign_id: int | None = None  # the campaign of the visit-notice SMS, once planned


@dataclass
class AlarmRow:
    id: int
    visit_id: int
    kind: str
    kind_zh: str
    raised_at: datetime
    raised_by: str
    level: int
    level_zh: str
    lat: float | None
    lon: float | None
    acknowledged_by: str | None
    address: str = ""
    reg_no: str | None = None


def _row(v: Visit, now: datetime) -> VisitRow:
    pol = load_policy()
    o = pol.outcome(v.outcome) if v.outcome else None
    due = to_utc(v.next_checkin_due) if v.next_checkin_due else None
    return VisitRow(v.id, v.loan_id, v.agency, v.address, to_utc(v.window_start), to_utc(v.window_end), list(v.members),
                    v.state, STATE_ZH.get(v.state, v.state), v.reg_no, v.requested_by, v.decided_by,
                    v.decision_reason, to_utc(v.last_checkin_at) if v.last_checkin_at else None, due, v.outcome,
                    o.zh if o else "", v.purpose, v.risk_notes, v.lat, v.lon,
                    overdue=v.state == VisitState.IN_FIELD and due is not None and due <= now,
                    notice_campaign_id=v.notice_campaign_id)


def _alarm(a: VisitAlarm, v: Visit | None = None) -> AlarmRow:
    return AlarmRow(a.id, a.visit_id, a.kind, ALARM_ZH.get(a.kind, a.kind), to_utc(a.raised_at), a.raised_by, a.level,
                    LEVEL_ZH.get(a.level, str(a.level)), a.lat, a.lon, a.acknowledged_by,
                    v.address if v else "", v.reg_no if v else None)


def list_visits(ctx: AppContext, p: Principal, *, state: str | None = None, loan_id: str | None = None,
                day: date | None = None, limit: int = 200) -> list[VisitRow]:
    now = ctx.now()
    with ctx.db.transaction() as s:
        q = select(Visit).order_by(Visit.window_start.desc(), Visit.id.desc()).limit(limit)
        agency = scope_agency(p)
        if agency is not None:
            q = q.where(Visit.agency == agency)
        if state:
            q = q.where(Visit.state == state)
        if loan_id:
            q = q.where(Visit.loan_id == loan_id)
        if day is not None:
            start = datetime.combine(day, time(0), ctx.tz)
            q = q.where(Visit.window_start >= start, Visit.window_start < start + timedelta(days=1))
        return [_row(v, now) for v in s.scalars(q)]


@dataclass
class VisitDetail:
    visit: VisitRow
    events: list[dict[str, Any]]
    alarms: list[AlarmRow]


def visit_detail(ctx: AppContext, p: Principal, visit_id: int) -> VisitDetail:
    with ctx.db.transaction() as s:
        v = get_visit(s, p, visit_id)
        events = [{"at": to_utc(e.at), "actor": e.actor, "kind": e.kind, "kind_zh": EVENT_ZH.get(e.kind, e.kind),
                   "lat": e.lat, "lon": e.lon,
                   "distance_m": e.distance_m, "detail": e.detail}
                  for e in s.scalars(select(VisitEvent).where(VisitEvent.visit_id == v.id).order_by(VisitEvent.id))]
        alarms = [_alarm(a, v) for a in s.scalars(select(VisitAlarm).where(VisitAlarm.visit_id == v.id)
                                                  .order_by(VisitAlarm.id))]
        return VisitDetail(_row(v, ctx.now()), events, alarms)


def board(ctx: AppContext, p: Principal) -> dict[str, Any]:
    """Today's visits and every unacknowledged alarm (JSON-ready: the live board streams it)."""
    now = ctx.now()
    today = now.astimezone(ctx.tz).date()
    visits = [v for v in list_visits(ctx, p, day=today) if v.state in REGISTERED]
    agency = scope_agency(p)
    with ctx.db.transaction() as s:
        q = (select(VisitAlarm, Visit).join(Visit, Visit.id == VisitAlarm.visit_id)
             .where(VisitAlarm.acknowledged_at.is_(None)).order_by(VisitAlarm.id.desc()))
        if agency is not None:
            q = q.where(Visit.agency == agency)
        alarms = [_alarm(a, v) for a, v in s.execute(q).all()]
        sent: dict[int, list[dict[str, str]]] = {}
        for r in s.scalars(select(VisitAlert).where(VisitAlert.alarm_id.in_([a.id for a in alarms]))
                           .order_by(VisitAlert.id)):
            sent.setdefault(r.alarm_id, []).append({"recipient": r.recipient, "state": r.state,
                                                    "state_zh": ALERT_ZH.get(r.state, r.state)})
    tz = ctx.tz
    second = load_policy().second_supervisor.username

    def hm(d: datetime | None) -> str:
        return d.astimezone(tz).strftime("%H:%M") if d else "—"

    return {
        "now": hm(now),
        "visits": [{**{k: val for k, val in asdict(v).items() if k in ("id", "loan_id", "address", "members", "state",
                                                                      "state_zh", "reg_no", "outcome_zh", "overdue")},
                    "window": f"{hm(v.window_start)}–{hm(v.window_end)}", "last_checkin": hm(v.last_checkin_at),
                    "next_due": hm(v.next_checkin_due)} for v in visits],
        "alarms": [{"id": a.id, "visit_id": a.visit_id, "kind": a.kind, "kind_zh": a.kind_zh, "level": a.level,
                    "level_zh": a.level_zh, "raised_at": hm(a.raised_at), "raised_by": a.raised_by,
                    "lat": a.lat, "lon": a.lon, "address": a.address, "reg_no": a.reg_no,
                    # escalated to the second supervisor who is looking: their console shows it as theirs
                    "to_me": a.level >= 2 and p.username == second, "alerts": sent.get(a.id, [])}
                   for a in alarms],
    }
