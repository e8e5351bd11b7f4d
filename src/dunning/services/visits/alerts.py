"""Alert SMS of escalated visit alarms: level 2 reaches the second supervisor, level 3 the emergency contact list,
through the policy's alert channel (the sandbox in the demo and the tests).

Store, then send: an escalation queues one ``visit_alerts`` row per recipient in the same transaction that raises
the level (a unique key per alarm, level and phone: a repeated tick queues nothing twice). :func:`deliver` then
claims due rows (``sending``, attempt counted), calls the channel under the policy's call deadline and records
the outcome: ``sent`` with the provider's id; a transient error or a timeout retries later with the same
idempotency key, backing off; a permanent error, the last attempt or the alert's deadline marks it ``failed``.
Every outcome is audited. An acknowledged alarm cancels whatever of its alerts has not gone yet.

A row left in ``sending`` by a crash is retried once its call deadline has passed, with the same idempotency key:
for a safety alert, reaching the contact matters more than the rare duplicate a provider without de-duplication
might deliver.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dunning.channels.base import Channel, OutboundMessage, SubmitResult
from dunning.db.types import to_utc
from dunning.db.visit_models import Visit, VisitAlarm, VisitAlert
from dunning.domain.visits import VisitAlertState
from dunning.errors import ChannelError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.visits.policy import Contact, VisitPolicy, load_policy

ACTOR = "safety-timer"
KIND_ZH = {"sos": "SOS 求助", "missed_checkin": "超时未报平安"}
LEVEL_WORD = {2: "二级", 3: "三级"}


@dataclass
class Delivery:
    sent: list[int] = field(default_factory=list)      # alert ids sent this round
    retrying: list[int] = field(default_factory=list)  # alert ids to try again later
    failed: list[int] = field(default_factory=list)    # alert ids given up (permanent error, attempts, deadline)


def recipients(pol: VisitPolicy, level: int) -> tuple[Contact, ...]:
    return (pol.second_supervisor,) if level == 2 else pol.emergency_contacts if level >= 3 else ()


def alert_text(ctx: AppContext, a: VisitAlarm, v: Visit, level: int) -> str:
    """An operational message for colleagues: which visit, who, where; never the borrower's debt."""
    ident = ctx.settings.identity
    sig = ident.signatures[0] if ident.signatures else ident.institution
    where = f"，最后位置 {a.lat:.5f},{a.lon:.5f}" if a.lat is not None and a.lon is not None else ""
    raised = to_utc(a.raised_at).astimezone(ctx.tz)
    return (f"【{sig}】外访安全警报（{LEVEL_WORD.get(level, str(level))}）：外访 #{v.id}（登记号 {v.reg_no or '—'}，"
            f"人员 {'、'.join(v.members)}）{KIND_ZH.get(a.kind, a.kind)}，{raised:%H:%M} 起无人确认{where}，"
            f"地址 {v.address}。请立即联系外访小组，并在外访看板确认警报。")


def queue(s: Session, ctx: AppContext, pol: VisitPolicy, a: VisitAlarm, v: Visit, level: int,
          now: datetime) -> list[str]:
    """Queue the alert SMS of ``level`` for alarm ``a`` (in the caller's transaction); the names reached."""
    have = set(s.scalars(select(VisitAlert.phone).where(VisitAlert.alarm_id == a.id, VisitAlert.level == level)))
    text = alert_text(ctx, a, v, level)
    names = []
    for c in recipients(pol, level):
        names.append(c.name)
        if c.phone in have:
            continue
        s.add(VisitAlert(alarm_id=a.id, level=level, recipient=c.name, phone=c.phone, text=text,
                         state=VisitAlertState.PENDING.value, attempts=0, next_attempt_at=now, last_error="",
                         created_at=now, deadline_at=now + timedelta(minutes=pol.alerts.deadline_minutes)))
    return names


def cancel(s: Session, alarm_id: int, now: datetime, actor: str) -> int:
    """The alarm was acknowledged: alerts not yet sent are cancelled (audited with the acknowledgement)."""
    unsent = (VisitAlertState.PENDING, VisitAlertState.SENDING)
    res = s.execute(update(VisitAlert).where(VisitAlert.alarm_id == alarm_id, VisitAlert.state.in_(unsent))
                    .values(state=VisitAlertState.CANCELLED.value, last_error=f"acknowledged by {actor}")
                    .execution_options(synchronize_session=False))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def _claim(ctx: AppContext, pol: VisitPolicy, now: datetime) -> tuple[list[OutboundMessage], list[int]]:
    stale = now - timedelta(seconds=pol.alerts.call_timeout_s)
    msgs: list[OutboundMessage] = []
    expired: list[int] = []
    with ctx.db.transaction() as s:
        due = s.scalars(select(VisitAlert).where(
            ((VisitAlert.state == VisitAlertState.PENDING) & (VisitAlert.next_attempt_at <= now))
            | ((VisitAlert.state == VisitAlertState.SENDING) & (VisitAlert.next_attempt_at <= stale)))
            .order_by(VisitAlert.id)).all()
        for r in due:
            if to_utc(r.deadline_at) <= now:
                r.state, r.last_error = VisitAlertState.FAILED.value, r.last_error or "deadline passed"
                _audit(s, r, now, "visit.alert_failed")
                expired.append(r.id)
                continue
            r.state, r.attempts, r.next_attempt_at = VisitAlertState.SENDING.value, r.attempts + 1, now
            msgs.append(OutboundMessage(r.id, f"visit-alert:{r.alarm_id}:{r.level}:{r.phone}", r.phone, r.text))
    return msgs, expired


def _audit(s: Session, r: VisitAlert, now: datetime, action: str) -> None:
    audit.record(s, at=now, actor=ACTOR, action=action, entity="visit_alarm", entity_id=r.alarm_id,
                 after={"alert": r.id, "level": r.level, "recipient": r.recipient, "phone": r.phone,
                        "attempts": r.attempts, "provider_id": r.provider_id, "error": r.last_error})


async def _send(ch: Channel, msgs: list[OutboundMessage], timeout: float) -> list[SubmitResult]:
    await ch.open()
    return await asyncio.wait_for(ch.send_batch(msgs), timeout)


def deliver(ctx: AppContext, *, policy: VisitPolicy | None = None, channel: Channel | None = None) -> Delivery:
    """Send every due alert once (one batch, one call deadline); record each outcome. For the timer's tick."""
    pol = policy or load_policy()
    now = ctx.now()
    out = Delivery()
    msgs, out.failed = _claim(ctx, pol, now)
    if not msgs:
        return out
    results: dict[int, SubmitResult] = {}
    error: str | None = None
    try:
        ch = channel or ctx.channel(pol.alerts.channel)
        results = {r.message_id: r for r in asyncio.run(_send(ch, msgs, pol.alerts.call_timeout_s))}
    except TimeoutError:
        error = f"no answer within {pol.alerts.call_timeout_s:g} s (outcome unknown; retried with the same key)"
    except ChannelError as exc:
        error = exc.message_en or exc.message_zh
        if not exc.retryable:
            results = {m.message_id: SubmitResult(m.message_id, None, exc) for m in msgs}
    with ctx.db.transaction() as s:
        for m in msgs:
            r = s.get(VisitAlert, m.message_id)
            if r is None or r.state != VisitAlertState.SENDING:  # cancelled by an acknowledgement meanwhile
                continue
            res = results.get(m.message_id)
            if res is not None and res.accepted:
                r.state, r.provider_id, r.sent_at = VisitAlertState.SENT.value, res.provider_id, now
                r.last_error = ""
                _audit(s, r, now, "visit.alert_sent")
                out.sent.append(r.id)
                continue
            err = res.error if res is not None else None
            r.last_error = (err.message_en or err.message_zh) if err is not None else (error or "no result")
            retry = now + timedelta(seconds=pol.alerts.retry_seconds * 2 ** (r.attempts - 1))
            if (err is not None and not err.retryable) or r.attempts >= pol.alerts.max_attempts \
                    or retry >= to_utc(r.deadline_at):
                r.state = VisitAlertState.FAILED.value
                _audit(s, r, now, "visit.alert_failed")
                out.failed.append(r.id)
            else:
                r.state, r.next_attempt_at = VisitAlertState.PENDING.value, retry
                _audit(s, r, now, "visit.alert_retry")
                out.retrying.append(r.id)
    return out
