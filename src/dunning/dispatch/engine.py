"""The outbox dispatcher: claims queued messages, re-checks suppression, sends at the channel's rate.

Exactly-once rests on the state machine, not on memory: a message is moved ``queued → submitting`` (with its
idempotency key, committed) before the network call, and ``submitting → submitted`` with the provider id after.
A crash in between leaves ``submitting`` rows that :func:`reconcile` settles — never a blind resend.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update

from dunning.channels.base import Channel, ChannelEvent, OutboundMessage, SubmitResult
from dunning.db.engine import Database
from dunning.db.models import Account, Campaign, Message, MessagePart, Payment, PhoneFlag
from dunning.dispatch.ratelimit import GcraLimiter
from dunning.dispatch.retry import GiveUp, RetryPolicy
from dunning.domain.states import CampaignState, MessageState
from dunning.errors import ChannelError

MT: Table = Message.__table__  # type: ignore[assignment]
PT: Table = MessagePart.__table__  # type: ignore[assignment]
SENT_STATES = (MessageState.SUBMITTING, MessageState.SUBMITTED, MessageState.DELIVERED, MessageState.HELD)
BLOCKING_FLAGS = {"opted_out": "opted_out", "dispute": "dispute", "do_not_contact": "do_not_contact"}


@dataclass(frozen=True, slots=True)
class SendWindow:
    tz: ZoneInfo
    start: time
    end: time

    def position(self, now: datetime) -> str:
        local = now.astimezone(self.tz).time()
        if local < self.start:
            return "before"
        if local >= self.end:
            return "after"
        return "open"

    def local_date(self, now: datetime) -> Any:
        return now.astimezone(self.tz).date()


@dataclass(frozen=True, slots=True)
class Budget:
    max_per_day: int = 1
    max_per_7d: int = 4


@dataclass
class Progress:
    total: int
    submitted: int = 0
    failed: int = 0
    suppressed: int = 0
    retried: int = 0
    events: int = 0


@dataclass
class DispatchOutcome:
    stopped: str  # done | paused | cancelled | window_wait | window_closed
    progress: Progress
    detail: str = ""


@dataclass
class Dispatcher:
    db: Database
    channel: Channel
    channel_name: str
    window: SendWindow
    clock: Callable[[], datetime]
    limiter: GcraLimiter
    budget: Budget = field(default_factory=Budget)
    batch_size: int = 500
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_events: Callable[[str, Sequence[ChannelEvent]], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def _count_remaining(self, campaign_id: int, pilot_only: bool) -> int:
        with self.db.transaction() as s:
            q = select(func.count()).select_from(Message).where(
                Message.campaign_id == campaign_id, Message.state == MessageState.QUEUED
            )
            if pilot_only:
                q = q.where(Message.is_pilot.is_(True))
            return int(s.scalar(q) or 0)

    async def run(self, campaign_id: int, *, pilot_only: bool = False) -> DispatchOutcome:
        progress = Progress(total=self._count_remaining(campaign_id, pilot_only))
        await self.channel.open()
        try:
            outcome = await self._loop(campaign_id, pilot_only, progress)
        finally:
            await self._drain_events(progress)
        return outcome

    async def _drain_events(self, progress: Progress) -> None:
        events = await self.channel.poll_events()
        if events and self.on_events is not None:
            self.on_events(self.channel_name, events)
            progress.events += len(events)

    async def _loop(self, campaign_id: int, pilot_only: bool, progress: Progress) -> DispatchOutcome:
        batch_size = min(self.batch_size, self.channel.capabilities.max_batch)
        while True:
            with self.db.transaction() as s:
                state = s.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
            if state == CampaignState.PAUSED:
                return DispatchOutcome("paused", progress)
            if state == CampaignState.CANCELLED:
                return DispatchOutcome("cancelled", progress)
            now = self.clock()
            pos = self.window.position(now)
            if pos == "before":
                return DispatchOutcome("window_wait", progress, f"发送时段 {self.window.start:%H:%M} 开始前不发送")
            if pos == "after":
                n = self._expire_out_of_window(campaign_id, now)
                progress.suppressed += n
                return DispatchOutcome("window_closed", progress, f"已过发送时段，{n} 条未发送的短信已过期（不会延后发送）")

            batch = self._claim(campaign_id, pilot_only, batch_size, now, progress)
            if batch is None:
                return DispatchOutcome("done", progress)
            if not batch:
                await asyncio.sleep(0.05)  # only retries waiting for their backoff remain
                continue
            await self.limiter.acquire(self.channel_name, len(batch))
            try:
                results = await self.channel.send_batch(batch)
            except ChannelError as exc:
                results = [SubmitResult(m.message_id, None, exc) for m in batch]
            self._record(results, progress)
            await self._drain_events(progress)
            if self.on_progress is not None:
                self.on_progress(progress)

    def _expire_out_of_window(self, campaign_id: int, now: datetime) -> int:
        with self.db.transaction() as s:
            res = s.execute(
                update(Message)
                .where(Message.campaign_id == campaign_id, Message.state == MessageState.QUEUED)
                .values(state=MessageState.EXPIRED, reason="window", final_at=now,
                        detail="超出发送时段，未发送")
            )
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    def _claim(self, campaign_id: int, pilot_only: bool, n: int, now: datetime,
               progress: Progress) -> list[OutboundMessage] | None:
        """Claim up to n queued messages (``None`` when none are left at all, ``[]`` when all wait for backoff)."""
        with self.db.transaction() as s:
            q = (
                select(Message.id, Message.phone, Message.loan_id, Message.account_id)
                .where(Message.campaign_id == campaign_id, Message.state == MessageState.QUEUED)
                .order_by(Message.id)
                .limit(n)
            )
            if pilot_only:
                q = q.where(Message.is_pilot.is_(True))
            due_q = q.where(or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
            rows = s.execute(due_q).all()
            if not rows:
                return [] if s.execute(q.limit(1)).first() is not None else None
            suppress = self._recheck(s, rows, now)
            if suppress:
                s.execute(
                    update(MT)
                    .where(MT.c.id == bindparam("mid"), MT.c.state == MessageState.QUEUED)
                    .values(state=MessageState.SUPPRESSED, reason=bindparam("why"), final_at=now),
                    [{"mid": mid, "why": why} for mid, why in suppress.items()],
                )
                progress.suppressed += len(suppress)
            ids = [r.id for r in rows if r.id not in suppress]
            if not ids:
                return []
            claimed = s.execute(
                update(Message)
                .where(Message.id.in_(ids), Message.state == MessageState.QUEUED)
                .values(state=MessageState.SUBMITTING, submitting_at=now, channel=self.channel_name,
                        attempts=Message.attempts + 1)
                .returning(Message.id, Message.idempotency_key, Message.phone, Message.text)
            ).all()
        ordered = sorted(claimed, key=lambda r: r.id)
        return [OutboundMessage(r.id, r.idempotency_key, r.phone, r.text or "") for r in ordered]

    def _recheck(self, s: Any, rows: Sequence[Any], now: datetime) -> dict[int, str]:
        """Suppression right before sending: opt-out/dispute/DNC flags, payment in full, a used-up budget."""
        phones = {r.phone for r in rows}
        why: dict[int, str] = {}
        flagged: dict[str, str] = dict(
            s.execute(
                select(PhoneFlag.phone, PhoneFlag.kind).where(
                    PhoneFlag.phone.in_(phones), PhoneFlag.cleared_at.is_(None)
                )
            ).all()
        )
        for r in rows:
            if r.phone in flagged:
                why[r.id] = BLOCKING_FLAGS.get(flagged[r.phone], flagged[r.phone])
        paid_sum = (
            select(Payment.loan_id, func.sum(Payment.amount_fen).label("paid"))
            .where(Payment.loan_id.in_({r.loan_id for r in rows}))
            .group_by(Payment.loan_id)
            .subquery()
        )
        paid = s.execute(
            select(Account.id).join(paid_sum, paid_sum.c.loan_id == Account.loan_id).where(
                Account.id.in_({r.account_id for r in rows}), paid_sum.c.paid >= Account.amount_due_fen
            )
        ).scalars().all()
        paid_accounts = set(paid)
        for r in rows:
            if r.account_id in paid_accounts:
                why.setdefault(r.id, "paid")
        local_midnight = now.astimezone(self.window.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        day_counts = dict(
            s.execute(
                select(Message.phone, func.count())
                .where(Message.phone.in_(phones), Message.state.in_(SENT_STATES),
                       Message.submitting_at >= local_midnight)
                .group_by(Message.phone)
            ).all()
        )
        week_counts = dict(
            s.execute(
                select(Message.phone, func.count())
                .where(Message.phone.in_(phones), Message.state.in_(SENT_STATES),
                       Message.submitting_at >= now - timedelta(days=7))
                .group_by(Message.phone)
            ).all()
        )
        taken: dict[str, int] = {}
        for r in rows:
            if r.id in why:
                continue
            extra = taken.get(r.phone, 0)
            if (day_counts.get(r.phone, 0) + extra >= self.budget.max_per_day
                    or week_counts.get(r.phone, 0) + extra >= self.budget.max_per_7d):
                why[r.id] = "budget"
            else:
                taken[r.phone] = extra + 1
        return why

    def _record(self, results: Sequence[SubmitResult], progress: Progress) -> None:
        now = self.clock()
        ok = [r for r in results if r.accepted]
        bad = [r for r in results if not r.accepted]
        with self.db.transaction() as s:
            if ok:
                s.execute(
                    update(MT)
                    .where(MT.c.id == bindparam("mid"), MT.c.state == MessageState.SUBMITTING)
                    .values(state=MessageState.SUBMITTED, provider_id=bindparam("pid"), submitted_at=now),
                    [{"mid": r.message_id, "pid": r.provider_id} for r in ok],
                )
                parts = [
                    {"message_id": r.message_id, "channel": self.channel_name, "provider_id": pid, "part_no": i + 1}
                    for r in ok
                    for i, pid in enumerate(r.part_ids or ((r.provider_id,) if r.provider_id else ()))
                ]
                if parts:
                    s.execute(insert(MessagePart), parts)
                progress.submitted += len(ok)
            if bad:
                attempts = dict(
                    s.execute(select(Message.id, Message.attempts).where(
                        Message.id.in_([r.message_id for r in bad]))).all()
                )
                retry_rows, fail_rows = [], []
                for r in bad:
                    assert r.error is not None
                    decision = self.retry.decide(r.error, attempts.get(r.message_id, 1), self.rng)
                    if isinstance(decision, GiveUp):
                        fail_rows.append({"mid": r.message_id, "why": decision.reason[:32],
                                          "detail": r.error.message_zh})
                    else:
                        retry_rows.append({"mid": r.message_id,
                                           "at": now + timedelta(seconds=decision.delay),
                                           "detail": r.error.message_zh})
                if retry_rows:
                    s.execute(
                        update(MT)
                        .where(MT.c.id == bindparam("mid"), MT.c.state == MessageState.SUBMITTING)
                        .values(state=MessageState.QUEUED, next_attempt_at=bindparam("at"),
                                detail=bindparam("detail")),
                        retry_rows,
                        )
                    progress.retried += len(retry_rows)
                if fail_rows:
                    s.execute(
                        update(MT)
                        .where(MT.c.id == bindparam("mid"), MT.c.state == MessageState.SUBMITTING)
                        .values(state=MessageState.FAILED, reason=bindparam("why"), detail=bindparam("detail"),
                                final_at=now),
                        fail_rows,
                        )
                    progress.failed += len(fail_rows)


async def reconcile(db: Database, channel: Channel, channel_name: str, now: datetime) -> dict[str, int]:
    """Settle ``submitting`` messages left by a crash: ask the provider where it can answer, else hold them.

    Never resends: a message the provider does not know of goes back to ``queued`` only when the channel's
    status query positively says it was never received; otherwise it is ``held`` for an operator.
    """
    with db.transaction() as s:
        rows = s.execute(
            select(Message.id, Message.idempotency_key).where(
                Message.state == MessageState.SUBMITTING, Message.channel == channel_name
            )
        ).all()
    if not rows:
        return {"submitted": 0, "requeued": 0, "held": 0}
    counts = {"submitted": 0, "requeued": 0, "held": 0}
    known: dict[str, SubmitResult | None] | None = None
    if channel.capabilities.status_query:
        await channel.open()
        known = await channel.query_status([r.idempotency_key for r in rows])
    with db.transaction() as s:
        for r in rows:
            if known is None:
                s.execute(update(Message).where(Message.id == r.id, Message.state == MessageState.SUBMITTING)
                          .values(state=MessageState.HELD, reason="crash_unreconciled",
                                  detail="发送过程中断且通道不支持状态查询：请人工核实后再处理，系统不会自动重发"))
                counts["held"] += 1
                continue
            res = known.get(r.idempotency_key)
            if res is not None and res.provider_id:
                s.execute(update(Message).where(Message.id == r.id).values(
                    state=MessageState.SUBMITTED, provider_id=res.provider_id, submitted_at=now))
                for i, pid in enumerate(res.part_ids or (res.provider_id,)):
                    s.execute(insert(MessagePart).values(message_id=r.id, channel=channel_name, provider_id=pid,
                                                         part_no=i + 1))
                counts["submitted"] += 1
            else:
                s.execute(update(Message).where(and_(Message.id == r.id, Message.state == MessageState.SUBMITTING))
                          .values(state=MessageState.QUEUED, attempts=Message.attempts - 1))
                counts["requeued"] += 1
    return counts
