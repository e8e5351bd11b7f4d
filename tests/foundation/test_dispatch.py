"""The outbox dispatcher through the sandbox channel: exactly once, suppression re-check, window, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from dunning.channels.base import Capabilities, ChannelEvent, OutboundMessage, SubmitResult, WebhookRequest
from dunning.db.models import Campaign, Message, MessagePart, Payment, PhoneFlag
from dunning.dispatch.engine import Budget, Dispatcher, SendWindow
from dunning.dispatch.ratelimit import GcraLimiter
from dunning.dispatch.reconcile import reconcile
from dunning.dispatch.retry import RetryPolicy
from dunning.errors import PermanentChannelError, TransientChannelError
from dunning.services.context import AppContext
from tests.foundation.factories import phones, seed_campaign

TZ = ZoneInfo("Asia/Shanghai")
WINDOW = SendWindow(TZ, datetime.strptime("09:00", "%H:%M").time(), datetime.strptime("20:30", "%H:%M").time())


def dispatcher(ctx: AppContext, channel: object | None = None, **kw: object) -> Dispatcher:
    ch = channel or ctx.channel("sandbox")
    options: dict[str, object] = {"clock": ctx.now, **kw}
    return Dispatcher(db=ctx.db, channel=ch, channel_name="sandbox", window=WINDOW,  # type: ignore[arg-type]
                      limiter=GcraLimiter(rate=1e6, burst=1e6), batch_size=50, **options)  # type: ignore[arg-type]


def states(ctx: AppContext, cid: int) -> dict[str, int]:
    with ctx.db.transaction() as s:
        return dict(s.execute(select(Message.state, func.count()).where(Message.campaign_id == cid)
                              .group_by(Message.state)).all())


class RecordingChannel:
    """A channel that records every submission (a peer's log) and can fail the first N calls."""

    kind: ClassVar[str] = "recording"
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=20, max_rate=None, free_text=True,
                                                        template_based=False, delivery_reports=False, inbound=False)

    def __init__(self, fail_transient: int = 0, reject: set[str] | None = None) -> None:
        self.name = "sandbox"
        self.log: list[str] = []
        self.fail_transient = fail_transient
        self.reject = reject or set()

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def check(self) -> None: ...
    async def poll_events(self) -> list[ChannelEvent]:
        return []

    def verify_webhook(self, request: WebhookRequest) -> bool:
        return False

    def parse_webhook(self, request: WebhookRequest) -> list[ChannelEvent]:
        return []

    async def query_status(self, keys: Sequence[str]) -> dict[str, SubmitResult | None]:
        raise NotImplementedError

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        if self.fail_transient > 0:
            self.fail_transient -= 1
            raise TransientChannelError("连接中断", "connection reset")
        out = []
        for m in messages:
            if m.phone in self.reject:
                out.append(SubmitResult(m.message_id, None, PermanentChannelError("空号", "no such number")))
            else:
                self.log.append(m.idempotency_key)
                out.append(SubmitResult(m.message_id, f"p-{m.message_id}", None, (f"p-{m.message_id}",)))
        return out


def test_every_queued_message_is_submitted_exactly_once_and_delivery_reports_settle_them(ctx: AppContext) -> None:
    from dunning.services.campaigns.delivery import ingest_events

    cid = seed_campaign(ctx, phones(120))

    def on_events(name: str, events: Sequence[ChannelEvent]) -> None:
        with ctx.db.transaction() as s:
            ingest_events(s, name, events, now=ctx.now(), stop_keywords=["退订", "TD"], dispute_keywords=["不是本人"])

    outcome = asyncio.run(dispatcher(ctx, on_events=on_events).run(cid))
    assert outcome.stopped == "done"
    assert outcome.progress.submitted == 120
    st = states(ctx, cid)
    assert sum(st.values()) == 120
    assert st.get("queued", 0) == 0 and st.get("submitting", 0) == 0
    assert st.get("delivered", 0) > 100  # sandbox delivers ~97 %
    # running again finds nothing to send
    again = asyncio.run(dispatcher(ctx).run(cid))
    assert again.progress.submitted == 0


def test_transient_failures_are_retried_and_permanent_ones_fail_with_reason(ctx: AppContext) -> None:
    nums = phones(30)
    cid = seed_campaign(ctx, nums)
    ch = RecordingChannel(fail_transient=2, reject={nums[3]})
    d = dispatcher(ctx, ch, retry=RetryPolicy(max_attempts=5, base=0.0, cap=0.0))
    outcome = asyncio.run(d.run(cid))
    assert outcome.stopped == "done"
    assert sorted(ch.log) == sorted(set(ch.log)), "a message was submitted twice"
    assert len(ch.log) == 29
    with ctx.db.transaction() as s:
        failed = s.execute(select(Message.phone, Message.reason, Message.detail).where(
            Message.campaign_id == cid, Message.state == "failed")).all()
    assert [(f.phone, f.reason) for f in failed] == [(nums[3], "channel.permanent")]
    assert failed[0].detail == "空号"


def test_opt_out_payment_and_budget_are_rechecked_right_before_sending(ctx: AppContext) -> None:
    nums = phones(6)
    cid = seed_campaign(ctx, nums)
    other = seed_campaign(ctx, [nums[2]], state="completed")
    now = ctx.now()
    with ctx.db.transaction() as s:
        s.add(PhoneFlag(phone=nums[0], kind="opted_out", created_at=now))
        loan1 = s.scalar(select(Message.loan_id).where(Message.campaign_id == cid, Message.phone == nums[1]))
        s.add(Payment(loan_id=loan1, amount_fen=100_000, paid_at=now))
        # another campaign already reached nums[2] today
        s.execute(update(Message).where(Message.campaign_id == other).values(state="delivered", submitting_at=now))
    ch = RecordingChannel()
    asyncio.run(dispatcher(ctx, ch, budget=Budget(max_per_day=1, max_per_7d=4)).run(cid))
    with ctx.db.transaction() as s:
        reasons = dict(s.execute(select(Message.phone, Message.reason).where(
            Message.campaign_id == cid, Message.state == "suppressed")).all())
    assert reasons == {nums[0]: "opted_out", nums[1]: "paid", nums[2]: "budget"}
    assert len(ch.log) == 3


def test_two_loans_on_one_phone_get_one_message_a_day(ctx: AppContext) -> None:
    nums = phones(1) * 3
    cid = seed_campaign(ctx, nums)
    ch = RecordingChannel()
    asyncio.run(dispatcher(ctx, ch).run(cid))
    assert len(ch.log) == 1
    assert states(ctx, cid) == {"submitted": 1, "suppressed": 2}


def test_paused_or_cancelled_campaign_sends_nothing_more(ctx: AppContext) -> None:
    cid = seed_campaign(ctx, phones(40))
    ch = RecordingChannel()

    def pause_after_first_batch(p: object) -> None:
        with ctx.db.transaction() as s:
            s.execute(update(Campaign).where(Campaign.id == cid).values(state="paused"))

    d = dispatcher(ctx, ch, on_progress=pause_after_first_batch)
    outcome = asyncio.run(d.run(cid))
    assert outcome.stopped == "paused"
    assert len(ch.log) == 20  # one batch (channel max_batch 20), then the pause took effect
    with ctx.db.transaction() as s:
        s.execute(update(Campaign).where(Campaign.id == cid).values(state="cancelled"))
    assert asyncio.run(dispatcher(ctx, ch).run(cid)).stopped == "cancelled"
    assert len(ch.log) == 20


def test_nothing_is_sent_outside_the_window_and_late_messages_expire(ctx: AppContext, clock: object) -> None:
    cid = seed_campaign(ctx, phones(5))
    ch = RecordingChannel()
    early = datetime(2026, 11, 23, 7, 30, tzinfo=TZ).astimezone(UTC)
    d = dispatcher(ctx, ch, clock=lambda: early)
    assert asyncio.run(d.run(cid)).stopped == "window_wait"
    late = datetime(2026, 11, 23, 20, 30, tzinfo=TZ).astimezone(UTC)
    out = asyncio.run(replace(d, clock=lambda: late).run(cid))  # the same configuration, later
    assert out.stopped == "window_closed"
    assert ch.log == []
    assert states(ctx, cid) == {"expired": 5}


def test_a_crash_between_claim_and_submit_is_held_not_resent(ctx: AppContext) -> None:
    cid = seed_campaign(ctx, phones(10))
    with ctx.db.transaction() as s:  # what a kill -9 after the claim commit leaves behind
        s.execute(update(Message).where(Message.campaign_id == cid).values(
            state="submitting", channel="sandbox", submitting_at=ctx.now()))
    counts = asyncio.run(reconcile(ctx.db, ctx.channel("sandbox"), "sandbox", ctx.now()))
    assert counts == {"submitted": 0, "requeued": 0, "held": 10}
    ch = RecordingChannel()
    asyncio.run(dispatcher(ctx, ch).run(cid))
    assert ch.log == []
    with ctx.db.transaction() as s:
        held = s.scalars(select(Message.detail).where(Message.campaign_id == cid)).all()
    assert all("人工核实" in (d or "") for d in held)


def test_multipart_message_fails_if_any_part_fails(ctx: AppContext) -> None:
    from dunning.channels.base import DeliveryReport, DeliveryStatus
    from dunning.services.campaigns.delivery import ingest_events

    cid = seed_campaign(ctx, phones(2))
    with ctx.db.transaction() as s:
        ids = s.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)).all()
        s.execute(update(Message).where(Message.campaign_id == cid).values(state="submitted", channel="sandbox"))
        for mid in ids:
            s.add_all([MessagePart(message_id=mid, channel="sandbox", provider_id=f"{mid}-1", part_no=1),
                       MessagePart(message_id=mid, channel="sandbox", provider_id=f"{mid}-2", part_no=2)])
    a, b = ids
    events = [
        DeliveryReport(f"{a}-1", DeliveryStatus.FAILED), DeliveryReport(f"{a}-2", DeliveryStatus.DELIVERED),
        DeliveryReport(f"{b}-1", DeliveryStatus.DELIVERED),
        DeliveryReport("nobody-knows", DeliveryStatus.DELIVERED),
    ]
    with ctx.db.transaction() as s:
        counts = ingest_events(s, "sandbox", events, now=ctx.now(), stop_keywords=[], dispute_keywords=[])
    assert counts["dlr_unmatched"] == 1
    assert states(ctx, cid) == {"failed": 1, "submitted": 1}  # b still waits for its second part
    with ctx.db.transaction() as s:
        ingest_events(s, "sandbox", [DeliveryReport(f"{b}-2", DeliveryStatus.DELIVERED)], now=ctx.now(),
                      stop_keywords=[], dispute_keywords=[])
    assert states(ctx, cid) == {"failed": 1, "delivered": 1}


def test_rate_limiter_never_exceeds_rate_in_any_second() -> None:
    t = [0.0]
    lim = GcraLimiter(rate=200, burst=1, clock=lambda: t[0])
    sent: list[float] = []
    while t[0] < 5.0:
        wait = lim.decide("ch", 10)
        if wait > 0:
            t[0] += wait
            continue
        sent.extend([t[0]] * 10)
    for start in [i / 10 for i in range(0, 40)]:
        in_window = sum(1 for x in sent if start <= x < start + 1.0)
        assert in_window <= 200 + 10  # never more than the rate plus one batch granted at the window edge
    assert len([x for x in sent if x < 5.0]) >= 0.95 * 200 * 5


def test_budget_allows_another_day(ctx: AppContext) -> None:
    nums = phones(1)
    cid = seed_campaign(ctx, nums)
    yesterday = ctx.now() - timedelta(days=1)
    other = seed_campaign(ctx, nums, state="completed")
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.campaign_id == other).values(state="delivered",
                                                                             submitting_at=yesterday))
    ch = RecordingChannel()
    asyncio.run(dispatcher(ctx, ch).run(cid))
    assert len(ch.log) == 1


def test_repeated_receipts_for_one_id_keep_the_worst_outcome(ctx: AppContext) -> None:
    from dunning.channels.base import DeliveryReport, DeliveryStatus
    from dunning.services.campaigns.delivery import ingest_events

    cid = seed_campaign(ctx, phones(1))
    with ctx.db.transaction() as s:
        mid = s.scalar(select(Message.id).where(Message.campaign_id == cid))
        s.execute(update(Message).where(Message.id == mid).values(state="submitted", channel="sandbox"))
        s.add(MessagePart(message_id=mid, channel="sandbox", provider_id="same", part_no=1))
    with ctx.db.transaction() as s:  # part 1 failed, part 2 delivered, both reported under one id
        ingest_events(s, "sandbox", [DeliveryReport("same", DeliveryStatus.FAILED),
                                     DeliveryReport("same", DeliveryStatus.DELIVERED)],
                      now=ctx.now(), stop_keywords=[], dispute_keywords=[])
    assert states(ctx, cid) == {"failed": 1}


def _submitted_with_parts(ctx: AppContext, cid: int, parts: int) -> list[int]:
    with ctx.db.transaction() as s:
        ids = list(s.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)).all())
        s.execute(update(Message).where(Message.campaign_id == cid).values(state="submitted", channel="sandbox"))
        for mid in ids:
            s.add_all([MessagePart(message_id=mid, channel="sandbox", provider_id=f"{mid}-{n}", part_no=n)
                       for n in range(1, parts + 1)])
    return ids


def _receipts(ctx: AppContext, *reports: tuple[str, str]) -> None:
    from dunning.channels.base import DeliveryReport, DeliveryStatus
    from dunning.services.campaigns.delivery import ingest_events

    with ctx.db.transaction() as s:
        ingest_events(s, "sandbox", [DeliveryReport(pid, DeliveryStatus(st)) for pid, st in reports],
                      now=ctx.now(), stop_keywords=[], dispute_keywords=[])


def test_a_parts_failure_reported_earlier_is_not_hidden_by_a_later_delivered_receipt(ctx: AppContext) -> None:
    """Some gateways send one receipt per part under one id: the failure may come in an earlier batch than the
    success; the message fails once its other part is delivered too, never turns delivered."""
    cid = seed_campaign(ctx, phones(2))
    a, b = _submitted_with_parts(ctx, cid, 2)
    _receipts(ctx, (f"{a}-1", "failed"), (f"{b}-1", "failed"))
    _receipts(ctx, (f"{a}-1", "delivered"), (f"{a}-2", "delivered"))
    with ctx.db.transaction() as s:
        got = dict(s.execute(select(Message.id, Message.state).where(Message.campaign_id == cid)).all())
    assert got == {a: "failed", b: "failed"}  # b failed as soon as its first part did


def test_a_single_part_message_that_failed_stays_failed_when_a_delivered_receipt_follows(ctx: AppContext) -> None:
    cid = seed_campaign(ctx, phones(1))
    (mid,) = _submitted_with_parts(ctx, cid, 1)
    _receipts(ctx, (f"{mid}-1", "unknown"))
    assert states(ctx, cid) == {"submitted": 1}  # an intermediate report settles nothing
    _receipts(ctx, (f"{mid}-1", "failed"))
    _receipts(ctx, (f"{mid}-1", "delivered"))
    assert states(ctx, cid) == {"failed": 1}


def test_the_message_page_shows_each_parts_state_from_its_receipts(ctx: AppContext) -> None:
    from dunning.services.identity.auth import Principal, Role
    from dunning.services.queries.message_detail import message_detail

    cid = seed_campaign(ctx, phones(1))
    (mid,) = _submitted_with_parts(ctx, cid, 2)
    _receipts(ctx, (f"{mid}-1", "failed"), (f"{mid}-1", "delivered"))
    d = message_detail(ctx, Principal("li", "李", Role.COMPLIANCE), mid)
    lines = [e.text_zh for e in d.timeline if e.kind == "part"]
    assert lines == [f"第 1 段：{mid}-1 · 失败", f"第 2 段：{mid}-2 · 等待回执"], lines
