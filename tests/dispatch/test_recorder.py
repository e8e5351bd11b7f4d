"""Provider ids are stored as each channel call answers (group commit), not when the whole claim is done:
after a kill only what was really in flight is unknown (#15)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dunning.channels.base import OutboundMessage, SubmitResult
from dunning.config import ChannelSettings
from dunning.domain.states import MessageState
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import dispatcher, limiter, make_ctx
from tests.dispatch.test_engine import _dispatch_in_thread, states


class GatedChannel:
    """The sandbox channel, except that every call after the first waits for ``gate`` (a slow provider)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.gate = threading.Event()
        self.calls = 0
        self.waiting = threading.Event()

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        self.calls += 1
        if self.calls > 1:
            self.waiting.set()
            opened = await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 30)
            assert opened, "the test never opened the gate"
        results: list[SubmitResult] = await self.inner.send_batch(messages)
        return results

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_calls_provider_ids_are_stored_while_the_claims_other_calls_are_still_on_the_wire(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox", rate=100_000.0)})
    cid = bulk_campaign(ctx, 30, channel="sandbox")
    channel = GatedChannel(ctx.channel("sandbox"))
    # calls of 10 messages, one claim of all 30: three calls of one claim, the second and third held back
    d = dispatcher(ctx, "sandbox", channel=channel, limiter=limiter(ctx, "sandbox", batch=10), max_inflight=1)
    t, box = _dispatch_in_thread(ctx, d, cid)
    try:
        assert channel.waiting.wait(timeout=30), "the second call never started"
        deadline = time.monotonic() + 10
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            seen = states(ctx, cid)
            if seen.get(MessageState.SUBMITTING, 0) == 20:
                break
            time.sleep(0.02)
        answered = sum(n for st, n in seen.items() if st not in (MessageState.SUBMITTING, MessageState.QUEUED))
        # the first call's ten messages are stored with their provider ids; only the calls on the wire are open
        assert seen.get(MessageState.SUBMITTING) == 20 and answered == 10, seen
    finally:
        channel.gate.set()
        t.join(timeout=60)
    assert box and box[0].stopped == "done"
    final = states(ctx, cid)
    assert final.get(MessageState.SUBMITTING, 0) == 0 and sum(final.values()) == 30
    assert box[0].progress.submitted == 30
    ctx.db.dispose()
