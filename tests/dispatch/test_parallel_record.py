"""On PostgreSQL the submit outcomes are written on a database thread of their own, beside the claims (#23): a slow
outcome write does not hold up the next batch, and a claim that ran beside an outcome write that put a message
back in the queue does not end the run with that message left behind."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from dunning.channels.base import OutboundMessage, SubmitResult
from dunning.config import ChannelSettings
from dunning.dispatch import outbox
from dunning.dispatch.retry import RetryPolicy
from dunning.domain.states import MessageState
from dunning.errors import TransientChannelError
from dunning.services.context import AppContext
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import dispatcher, make_ctx
from tests.dispatch.test_engine import _dispatch_in_thread, states

WAIT = 30.0  # seconds a test waits for a step of the run before it fails (never reached when the code is right)


class CountingChannel:
    """The sandbox channel, counting calls and sends per message; ``fail_once`` answers a transient error for that
    message the first time it is sent (the provider asks to try it again)."""

    def __init__(self, inner: Any, fail_once: int | None = None) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.fail_once = fail_once
        self.calls = 0
        self.sent: dict[int, int] = {}
        self.second_call = threading.Event()

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        self.calls += 1
        if self.calls >= 2:
            self.second_call.set()
        for m in messages:
            self.sent[m.message_id] = self.sent.get(m.message_id, 0) + 1
        failing = [m for m in messages if m.message_id == self.fail_once and self.sent[m.message_id] == 1]
        results: list[SubmitResult] = await self.inner.send_batch([m for m in messages if m not in failing])
        return results + [SubmitResult(m.message_id, None, TransientChannelError("通道繁忙，请稍后重试"))
                          for m in failing]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def ctx(tmp_path: Path, pg_url: str) -> Any:
    c = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox", rate=100_000.0)}, database_url=pg_url)
    yield c
    c.db.dispose()


def test_a_slow_outcome_write_does_not_hold_up_the_next_batch(ctx: AppContext, monkeypatch: Any) -> None:
    cid = bulk_campaign(ctx, 20, channel="sandbox", phone_start=710_000)
    channel = CountingChannel(ctx.channel("sandbox"))
    writing, release = threading.Event(), threading.Event()
    real_record, real_claim = outbox.record, outbox.claim
    claims = 0

    def slow_record(*args: Any, **kwargs: Any) -> Any:
        if not writing.is_set():  # the first batch's outcomes: the database is slow to write them
            writing.set()
            assert release.wait(WAIT), "the test never let the first outcome write finish"
        return real_record(*args, **kwargs)

    def claim(*args: Any, **kwargs: Any) -> Any:
        nonlocal claims
        claims += 1
        if claims == 2:  # the next batch is claimed only once the first batch's outcome write is under way
            assert writing.wait(WAIT), "the outcome write never started (it waits behind this claim)"
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "record", slow_record)
    monkeypatch.setattr(outbox, "claim", claim)
    d = dispatcher(ctx, "sandbox", channel=channel, batch_size=10, max_claim=10, max_inflight=2)
    t, box = _dispatch_in_thread(ctx, d, cid)
    try:
        # the second batch is claimed and handed to the channel while the first one's outcomes are still being
        # written (with one database thread the claim would wait behind that write, or the write behind it)
        assert channel.second_call.wait(WAIT), "the next batch waited for the previous batch's outcome write"
        assert not release.is_set()
    finally:
        release.set()
        t.join(timeout=90)
    assert box and box[0].stopped == "done" and box[0].progress.submitted == 20
    assert sorted(channel.sent.values()) == [1] * 20  # each message sent once
    st = states(ctx, cid)
    assert st.get(MessageState.SUBMITTING, 0) == 0 and st.get(MessageState.QUEUED, 0) == 0, st


def test_a_message_put_back_while_the_last_claim_ran_is_still_sent(ctx: AppContext, monkeypatch: Any) -> None:
    """The run's last claim finds nothing queued while the outcome write of the batch on the wire puts a message
    back (the provider asked to retry it) and that batch ends before the claim returns: the run claims again
    instead of stopping as done with the message left queued."""
    cid = bulk_campaign(ctx, 10, channel="sandbox", phone_start=720_000)
    with ctx.db.transaction() as s:
        from sqlalchemy import func, select

        from dunning.db.models import Message

        last = int(s.execute(select(func.max(Message.id)).where(Message.campaign_id == cid)).scalar_one())
    channel = CountingChannel(ctx.channel("sandbox"), fail_once=last)
    claimed_empty = threading.Event()  # the claim beside the outcome write has read the queue (and found it empty)
    batch_ended = threading.Event()  # the batch whose outcome write put the message back has left the run
    real_record, real_claim = outbox.record, outbox.claim

    def record(*args: Any, **kwargs: Any) -> Any:
        if any(r.message_id == last for r in kwargs["results"]):
            assert claimed_empty.wait(WAIT), "the claim beside this write never ran"
        return real_record(*args, **kwargs)

    def claim(*args: Any, **kwargs: Any) -> Any:
        got = real_claim(*args, **kwargs)
        if not got.messages and channel.sent.get(last) == 1 and not claimed_empty.is_set():
            claimed_empty.set()
            assert batch_ended.wait(WAIT), "the batch on the wire never ended"
        return got

    def on_progress(p: Any) -> None:
        # Called at the end of a batch's send task; once the retried message's outcome is counted, signal after
        # the task has returned and its done-callbacks (which take it off the run's in-flight set) have run.
        if p.retried and not batch_ended.is_set():
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, loop.call_soon, batch_ended.set)

    monkeypatch.setattr(outbox, "record", record)
    monkeypatch.setattr(outbox, "claim", claim)
    d = dispatcher(ctx, "sandbox", channel=channel, batch_size=5, max_claim=5, max_inflight=1,
                   retry=RetryPolicy(base=0.0), progress_interval=0.0, on_progress=on_progress)
    t, box = _dispatch_in_thread(ctx, d, cid)
    t.join(timeout=90)
    assert claimed_empty.is_set() and batch_ended.is_set(), "the interleaving under test did not happen"
    assert box and box[0].stopped == "done"
    assert channel.sent[last] == 2  # refused once, then sent again
    st = states(ctx, cid)
    assert st.get(MessageState.QUEUED, 0) == 0, f"a message was left queued when the run ended: {st}"
