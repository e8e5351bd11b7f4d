"""The dispatcher against the real SMPP adapter and peer: failover, breaker, pause/resume/cancel, throttling,
outcome-unknown holds, reconciliation, the DLR sweeper, the campaign lease, and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from dunning.channels.base import DeliveryReport, DeliveryStatus, OutboundMessage
from dunning.config import ChannelSettings
from dunning.db.models import AuditEvent, Campaign, Message, MessagePart
from dunning.dispatch.engine import DispatchOutcome, Progress
from dunning.services.campaigns import lifecycle, sending
from dunning.services.campaigns.delivery import ingest_events
from dunning.services.context import AppContext
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import dispatcher, make_ctx, smpp_settings
from tests.peers.smpp_peer import SmppPeer


def run(ctx: AppContext, d: Any, cid: int) -> DispatchOutcome:
    """One dispatch run in its own event loop, as a CLI command or a worker task does it."""
    outcome: DispatchOutcome = asyncio.run(_run(ctx, d, cid))
    return outcome


async def _run(ctx: AppContext, d: Any, cid: int) -> DispatchOutcome:
    try:
        out: DispatchOutcome = await d.run(cid)
        return out
    finally:
        await ctx.close_channels()  # channels belong to the event loop that opened them


def states(ctx: AppContext, cid: int) -> dict[str, int]:
    with ctx.db.transaction() as s:
        return {str(k): int(v) for k, v in s.execute(select(Message.state, func.count()).where(
            Message.campaign_id == cid).group_by(Message.state)).all()}


def keys(cid: int, n: int) -> list[str]:
    return [f"c{cid}|L{cid}-{i}|M1" for i in range(n)]


def accepted(peer: SmppPeer) -> Counter[str]:
    return peer.accepted_refs()


@pytest.fixture
def ctx(tmp_path: Path, peer: SmppPeer) -> Any:
    c = make_ctx(tmp_path, {
        "smpp": smpp_settings(peer.address, rate=100_000, throttle_retry_after=0.1, response_timeout=1.0),
        "smpp_bad": smpp_settings(peer.address, password="wrong", fallback="smpp"),
        "smpp_bad_alone": smpp_settings(peer.address, password="wrong"),
        "slow": smpp_settings(peer.address, rate=50),
    })
    yield c
    c.db.dispose()


def test_bind_refused_fails_over_to_the_fallback_channel_and_the_audit_log_says_so(
        ctx: AppContext, peer: SmppPeer) -> None:
    cid = bulk_campaign(ctx, 200, channel="smpp_bad", phone_start=1)
    out = run(ctx, dispatcher(ctx, "smpp_bad", fallbacks=["smpp"], receipt_wait=1.0), cid)
    assert out.stopped == "done"
    assert [f[:2] for f in out.failovers] == [("smpp_bad", "smpp")]
    assert "绑定被拒绝" in out.failovers[0][2]
    got = accepted(peer)
    assert all(got[k] == 1 for k in keys(cid, 200))
    with ctx.db.transaction() as s:
        channels = set(s.scalars(select(Message.channel).where(Message.campaign_id == cid)).all())
    assert channels == {"smpp"}
    sending.apply_outcome(ctx, cid, out)
    with ctx.db.transaction() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "channel.failover")).one()
    assert ev.before == {"channel": "smpp_bad"} and ev.after is not None and ev.after["channel"] == "smpp"


def test_a_rejected_number_fails_that_message_only_without_failover(ctx: AppContext, peer: SmppPeer) -> None:
    # phone_start=0 makes the first number end in 0000, which the peer rejects (ESME_RINVDSTADR)
    cid = bulk_campaign(ctx, 50, channel="smpp", phone_start=0)
    out = run(ctx, dispatcher(ctx, "smpp"), cid)
    assert out.stopped == "done" and out.failovers == []
    with ctx.db.transaction() as s:
        reasons = s.scalars(select(Message.reason).where(Message.campaign_id == cid, Message.state == "failed")
                            .order_by(Message.id)).all()
    # …0000 refused at submit; …0001 accepted and later reported undelivered by its receipt
    assert reasons == ["channel.smpp.esme_rinvdstadr", "dlr_failed"]
    assert sum(accepted(peer).values()) == 49


def test_bind_refused_without_fallback_pauses_the_campaign_with_a_reason(ctx: AppContext) -> None:
    cid = bulk_campaign(ctx, 20, channel="smpp_bad_alone", phone_start=1)
    out = run(ctx, dispatcher(ctx, "smpp_bad_alone"), cid)
    assert out.stopped == "channel_down"
    sending.apply_outcome(ctx, cid, out)
    with ctx.db.transaction() as s:
        c = s.get(Campaign, cid)
        assert c is not None
        assert c.state == "paused" and c.pause_reason is not None and "没有可用的备用通道" in c.pause_reason
    assert states(ctx, cid) == {"queued": 20}, "nothing was sent, nothing failed: all wait for the operator"


def test_consecutive_failures_trip_the_breaker_which_pauses_with_a_chinese_reason(tmp_path: Path) -> None:
    # Nothing listens on this port: every call fails with a transient connection error.
    ctx = make_ctx(tmp_path, {"dead": smpp_settings(("127.0.0.1", 9), connect_timeout=0.2)})
    cid = bulk_campaign(ctx, 30, channel="dead", phone_start=1)
    from dunning.dispatch.retry import RetryPolicy

    out = run(ctx, dispatcher(ctx, "dead", breaker_threshold=3, retry=RetryPolicy(base=0.01, cap=0.05)), cid)
    assert out.stopped == "breaker"
    assert "熔断" in out.detail and "连续 3 次" in out.detail
    sending.apply_outcome(ctx, cid, out)
    with ctx.db.transaction() as s:
        c = s.get(Campaign, cid)
        assert c is not None and c.state == "paused" and c.pause_reason == out.detail
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "campaign.paused")).one()
        attempts = set(s.scalars(select(Message.attempts).where(Message.campaign_id == cid)).all())
    assert ev.actor == "system" and ev.after is not None and ev.after["cause"] == "breaker"
    assert states(ctx, cid) == {"queued": 30}
    assert attempts == {0}, "a channel outage must not use up the messages' own retries"
    ctx.db.dispose()


def _dispatch_in_thread(ctx: AppContext, d: Any, cid: int) -> tuple[threading.Thread, list[DispatchOutcome]]:
    box: list[DispatchOutcome] = []
    t = threading.Thread(target=lambda: box.append(run(ctx, d, cid)))
    t.start()
    return t, box


def _sending(at_least: int) -> tuple[threading.Event, Any]:
    """An event set once a run reports ``at_least`` messages submitted, and the ``on_progress`` that sets it."""
    reached = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.submitted >= at_least:
            reached.set()

    return reached, on_progress


def _stop_after_a_second(ctx: AppContext, cid: int, stop: Any) -> tuple[DispatchOutcome, float]:
    """Send on the slow channel in a thread, ``stop`` (pause or cancel) once about a second of it was submitted,
    wait for the run to end; returns its outcome and when the stop was asked for."""
    reached, on_progress = _sending(40)  # 50/s: about 0.8 s of sending
    t, box = _dispatch_in_thread(ctx, dispatcher(ctx, "slow", on_progress=on_progress), cid)
    assert reached.wait(timeout=30), "the run never got going"
    stop(ctx, cid, actor="ops")
    asked = time.time()
    t.join(timeout=30)
    return box[0], asked


def test_pause_takes_effect_within_a_second_and_resume_finishes_without_repeats(
        ctx: AppContext, peer: SmppPeer) -> None:
    cid = bulk_campaign(ctx, 150, channel="slow", phone_start=1)  # 50/s: three seconds of sending
    outcome, paused_at = _stop_after_a_second(ctx, cid, lifecycle.pause)
    assert outcome.stopped == "paused"
    late = [e for e in peer.entries() if e["t"] / 1000.0 > paused_at + 1.0]
    assert late == [], f"{len(late)} messages left more than a second after the pause"
    sent_before = sum(accepted(peer).values())
    assert 0 < sent_before < 150
    lifecycle.resume(ctx, cid, actor="ops")
    assert run(ctx, dispatcher(ctx, "slow", receipt_wait=1.0), cid).stopped == "done"
    got = accepted(peer)
    assert all(got[k] == 1 for k in keys(cid, 150))


def test_cancel_stops_sending_and_the_rest_is_never_sent(ctx: AppContext, peer: SmppPeer) -> None:
    cid = bulk_campaign(ctx, 150, channel="slow", phone_start=1)
    outcome, cancelled_at = _stop_after_a_second(ctx, cid, lifecycle.cancel)
    assert outcome.stopped == "cancelled"
    assert [e for e in peer.entries() if e["t"] / 1000.0 > cancelled_at + 1.0] == []
    sent = sum(accepted(peer).values())
    st = states(ctx, cid)
    assert st.get("suppressed", 0) == 150 - sent
    assert run(ctx, dispatcher(ctx, "slow"), cid).stopped == "cancelled"
    assert sum(accepted(peer).values()) == sent


def test_throttled_submits_are_retried_later_without_spending_attempts(ctx: AppContext, peer: SmppPeer) -> None:
    cid = bulk_campaign(ctx, 300, channel="smpp", phone_start=1)
    peer.throttle(40, after=100)
    out = run(ctx, dispatcher(ctx, "smpp", receipt_wait=1.0), cid)
    assert out.stopped == "done"
    assert peer.stats()["throttled"] == 40
    got = accepted(peer)
    assert all(got[k] == 1 for k in keys(cid, 300))
    with ctx.db.transaction() as s:
        assert s.scalar(select(func.max(Message.attempts)).where(Message.campaign_id == cid)) == 1
    with ctx.db.transaction() as s:
        assert s.scalars(select(Message.reason).where(Message.campaign_id == cid, Message.state == "failed")
                         ).all() == ["dlr_failed"]  # the peer's …0001 number, not a throttled one


VENDOR_LOOKUP = {"query_by_reference": True, "reference_query_authoritative": True}


def vendor_ctx(tmp_path: Path, peer: SmppPeer, **options: Any) -> AppContext:
    opts: dict[str, Any] = {"response_timeout": 1.0, "throttle_retry_after": 0.1, **options}
    return make_ctx(tmp_path / "vendor", {"smpp": smpp_settings(peer.address, **opts)})


def test_unanswered_submits_are_held_then_reconciled_by_an_authoritative_lookup_and_sent_once(
        tmp_path: Path, vendor_peer: SmppPeer) -> None:
    (tmp_path / "vendor").mkdir()
    ctx = vendor_ctx(tmp_path, vendor_peer, **VENDOR_LOOKUP)
    cid = bulk_campaign(ctx, 40, channel="smpp", phone_start=1)
    vendor_peer.mute(5)  # the peer logs these five submits but never answers (nor accepts) them
    first = run(ctx, dispatcher(ctx, "smpp", max_inflight=1), cid)
    assert first.progress.held == 5
    with ctx.db.transaction() as s:
        held = s.scalars(select(Message.reason).where(Message.campaign_id == cid, Message.state == "held")).all()
    assert held == ["outcome_unknown"] * 5
    second = run(ctx, dispatcher(ctx, "smpp"), cid)
    assert second.reconciled == {"submitted": 0, "requeued": 5, "held": 0}
    got = accepted(vendor_peer)
    assert all(got[k] == 1 for k in keys(cid, 40))


def test_a_lookup_miss_that_is_not_authoritative_holds_instead_of_resending(
        tmp_path: Path, vendor_peer: SmppPeer) -> None:
    """The SMSC answers "query failed" for a message it did receive (another node, expired store): a miss is
    not proof. Before, reconciliation queued such messages again and they were delivered twice."""
    (tmp_path / "vendor").mkdir()
    ctx = vendor_ctx(tmp_path, vendor_peer, query_by_reference=True)  # not declared authoritative
    cid = bulk_campaign(ctx, 10, channel="smpp", phone_start=1)
    with ctx.db.transaction() as s:
        rows = s.execute(select(Message.id, Message.idempotency_key, Message.phone, Message.text).where(
            Message.campaign_id == cid).order_by(Message.id)).all()
        s.execute(update(Message).where(Message.id.in_([r.id for r in rows])).values(
            state="submitting", channel="smpp", submitting_at=ctx.now(), attempts=1))

    async def send_then_die() -> None:  # sent with a reference the SMSC will not find again
        ch = ctx.channel("smpp")
        await ch.send_batch([OutboundMessage(r.id, r.idempotency_key + "-other-node", r.phone, r.text or "")
                             for r in rows[:4]])
        await ctx.close_channels()

    asyncio.run(send_then_die())
    out = run(ctx, dispatcher(ctx, "smpp"), cid)
    assert out.reconciled == {"submitted": 0, "requeued": 0, "held": 10}
    with ctx.db.transaction() as s:
        reasons = s.scalars(select(Message.reason).where(Message.campaign_id == cid)).all()
    assert reasons == ["query_miss"] * 10
    assert sum(accepted(vendor_peer).values()) == 4, "nothing was sent again on a guess"


def test_a_standard_smsc_without_reference_lookup_leaves_a_crash_held_not_resent(
        ctx: AppContext, peer: SmppPeer) -> None:
    cid = bulk_campaign(ctx, 8, channel="smpp", phone_start=1)
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.campaign_id == cid).values(
            state="submitting", channel="smpp", submitting_at=ctx.now(), attempts=1))
    out = run(ctx, dispatcher(ctx, "smpp"), cid)
    assert out.reconciled == {"submitted": 0, "requeued": 0, "held": 8}
    assert out.stopped == "done" and sum(accepted(peer).values()) == 0
    with ctx.db.transaction() as s:
        reasons = s.scalars(select(Message.reason).where(Message.campaign_id == cid)).all()
    assert reasons == ["crash_unreconciled"] * 8


def test_a_silent_smsc_makes_reconciliation_hold_within_the_deadline_not_hang(
        tmp_path: Path, vendor_peer: SmppPeer) -> None:
    """query_sm never answered: before, the restarted sender waited forever and printed nothing."""
    (tmp_path / "vendor").mkdir()
    ctx = vendor_ctx(tmp_path, vendor_peer, response_timeout=0.5, **VENDOR_LOOKUP)
    cid = bulk_campaign(ctx, 5, channel="smpp", phone_start=1)
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.campaign_id == cid).values(
            state="submitting", channel="smpp", submitting_at=ctx.now(), attempts=1))
    vendor_peer.mute_queries(True)
    started = time.monotonic()
    said: list[str] = []
    from dunning.dispatch.reconcile import reconcile

    async def go() -> dict[str, int]:
        try:
            return await reconcile(ctx.db, ctx.channel("smpp"), "smpp", ctx.now(), campaign_id=cid,
                                   on_wait=said.append)
        finally:
            await ctx.close_channels()

    got = asyncio.run(go())
    assert time.monotonic() - started < 5.0
    assert got == {"submitted": 0, "requeued": 0, "held": 5}
    assert said and "核实" in said[0] and "Ctrl+C" in said[0], "the command says what it waits for"
    with ctx.db.transaction() as s:
        details = s.execute(select(Message.reason, Message.detail).where(Message.campaign_id == cid)).all()
    assert all(r == "query_failed" and "未应答 query_sm" in (d or "") for r, d in details)
    assert sum(accepted(vendor_peer).values()) == 0


def test_a_dead_senders_in_flight_messages_are_settled_by_the_providers_answer(
        tmp_path: Path, vendor_peer: SmppPeer) -> None:
    (tmp_path / "vendor").mkdir()
    ctx = vendor_ctx(tmp_path, vendor_peer, **VENDOR_LOOKUP)
    cid = bulk_campaign(ctx, 20, channel="smpp", phone_start=1)
    with ctx.db.transaction() as s:
        rows = s.execute(select(Message.id, Message.idempotency_key, Message.phone, Message.text).where(
            Message.campaign_id == cid).order_by(Message.id).limit(10)).all()
        s.execute(update(Message).where(Message.id.in_([r.id for r in rows])).values(
            state="submitting", channel="smpp", submitting_at=ctx.now(), attempts=1))

    async def send_half_then_die() -> None:  # what a sender killed right after the network call leaves
        ch = ctx.channel("smpp")
        await ch.send_batch([OutboundMessage(r.id, r.idempotency_key, r.phone, r.text or "") for r in rows[:6]])
        await ctx.close_channels()

    asyncio.run(send_half_then_die())
    out = run(ctx, dispatcher(ctx, "smpp", receipt_wait=1.0), cid)
    assert out.reconciled == {"submitted": 6, "requeued": 4, "held": 0}
    got = accepted(vendor_peer)
    assert all(got[k] == 1 for k in keys(cid, 20))
    with ctx.db.transaction() as s:
        parts = s.scalar(select(func.count()).select_from(MessagePart).where(
            MessagePart.message_id.in_([r.id for r in rows[:6]])))
    assert parts == 6, "reconciled messages get their provider ids, so their receipts can settle them"


def test_one_sender_per_campaign(ctx: AppContext, tmp_path: Path, peer: SmppPeer) -> None:
    cid = bulk_campaign(ctx, 100, channel="slow", phone_start=1)
    reached, on_progress = _sending(1)  # it holds the campaign's lease once it sends
    t, box = _dispatch_in_thread(ctx, dispatcher(ctx, "slow", on_progress=on_progress), cid)
    assert reached.wait(timeout=30), "the first sender never got going"
    other = make_ctx(tmp_path, {"slow": smpp_settings(peer.address, rate=50)},
                     database_url=ctx.settings.resolved_database_url)  # another process, as it were
    second = run(other, dispatcher(other, "slow"), cid)
    assert second.stopped == "busy" and "另一个发送进程" in second.detail
    lifecycle.pause(ctx, cid, actor="ops")
    t.join(timeout=30)


def test_sweeper_expires_silent_messages_and_a_late_receipt_still_settles_them(ctx: AppContext) -> None:
    cid = bulk_campaign(ctx, 3, channel="smpp", phone_start=1)
    now = ctx.now()
    with ctx.db.transaction() as s:
        ids = s.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)).all()
        for i, mid in enumerate(ids):
            s.execute(update(Message).where(Message.id == mid).values(
                state="submitted", channel="smpp", submitted_at=now - timedelta(hours=80 if i < 2 else 1)))
            s.add(MessagePart(message_id=mid, channel="smpp", provider_id=f"p{mid}", part_no=1))
    assert sending.sweep_expired(ctx) == 2
    assert states(ctx, cid) == {"expired": 2, "submitted": 1}
    with ctx.db.transaction() as s:
        detail = s.scalar(select(Message.detail).where(Message.id == ids[0]))
        assert detail is not None and "72 小时" in detail
        assert s.scalars(select(AuditEvent.action)).all() == ["messages.expired"]
        ingest_events(s, "smpp", [DeliveryReport(f"p{ids[0]}", DeliveryStatus.DELIVERED)], now=now,
                      stop_keywords=[], dispute_keywords=[])
    assert states(ctx, cid) == {"delivered": 1, "expired": 1, "submitted": 1}


def test_progress_reports_delivered_and_rate(ctx: AppContext) -> None:
    cid = bulk_campaign(ctx, 300, channel="smpp", phone_start=1)
    seen: list[Progress] = []
    out = run(ctx, dispatcher(ctx, "smpp", receipt_wait=2.0, on_progress=lambda p: seen.append(
        Progress(**{k: getattr(p, k) for k in p.__dataclass_fields__}))), cid)
    assert out.progress.submitted == 300
    assert seen[-1].delivered >= 290  # the peer reports almost every number delivered
    assert seen[-1].rate > 0 and seen[-1].channel == "smpp"


def test_dispatch_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    ctx = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox", rate=100_000)}, database_url=pg_url)
    cid = bulk_campaign(ctx, 500, channel="sandbox", phone_start=700_000)
    out = run(ctx, dispatcher(ctx, "sandbox", max_inflight=2), cid)
    assert out.stopped == "done" and out.progress.submitted == 500
    st = states(ctx, cid)
    assert st.get("submitted", 0) + st.get("delivered", 0) + st.get("failed", 0) + st.get("expired", 0) == 500
    assert st.get("delivered", 0) > 450
    ctx.db.dispose()
