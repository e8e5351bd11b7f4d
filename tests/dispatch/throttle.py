"""The throttling scenario shared by ``tests/dispatch/test_throttle.py`` and ``bench/throttle.py``.

An SMSC that accepts at most ``smsc_rate`` PDUs in any second (the standard-mode peer's ``--max-rate``, answering
ESME_RTHROTTLED beyond) and a channel configured far above it: the campaign of two-part Chinese messages must
finish with no fragment (no message with only some of its parts at the SMSC), nothing twice, nothing missing,
and throttled submits a small share of accepted ones (the channel backs off instead of hammering).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dunning.db.models import Message
from tests.dispatch.crash import TWO_PART_TEXT
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import dispatcher, make_ctx, smpp_settings
from tests.peers.smpp_peer import SmppPeer

THROTTLED = 0x58


@dataclass
class ThrottleReport:
    """One throttling scenario: the PDUs the SMPP peer accepted and throttled and the long messages' fragments,
    the states the messages ended in; then the peer's busiest second, how the run ended and how long it took,
    and what arrived twice or never."""

    messages: int
    accepted_pdus: int = 0
    throttled_pdus: int = 0
    fragments: int = 0
    states: dict[str, int] = field(default_factory=dict)
    busiest_second: int = 0
    stopped: str = ""
    seconds: float = 0.0
    duplicates: int = 0
    missing: int = 0

    @property
    def throttled_share(self) -> float:
        return self.throttled_pdus / self.accepted_pdus if self.accepted_pdus else 0.0


def run_throttle_scenario(workdir: Path, peer: SmppPeer, *, messages: int, smsc_rate: int = 300,
                          rate: float = 1000.0, timeout: float = 600.0,
                          database_url: str | None = None) -> ThrottleReport:
    peer.rate(smsc_rate)
    ctx = make_ctx(workdir, {"smpp": smpp_settings(peer.address, rate=rate, throttle_retry_after=0.5)},
                   database_url=database_url)
    cid = bulk_campaign(ctx, messages, channel="smpp", phone_start=1, text=TWO_PART_TEXT, parts=2)
    report = ThrottleReport(messages)
    started = time.monotonic()

    async def go() -> Any:
        try:
            return await asyncio.wait_for(dispatcher(ctx, "smpp", max_inflight=2, receipt_wait=0.5).run(cid),
                                          timeout=timeout)
        finally:
            await ctx.close_channels()

    out = asyncio.run(go())
    report.seconds = time.monotonic() - started
    report.stopped = out.stopped
    entries = peer.entries()
    report.accepted_pdus = sum(1 for e in entries if e["status"] == 0)
    report.throttled_pdus = sum(1 for e in entries if e["status"] == THROTTLED)
    per_second = Counter(int(e["t"]) // 1000 for e in entries if e["status"] == 0)
    report.busiest_second = max(per_second.values(), default=0)
    got: dict[str, Counter[int]] = defaultdict(Counter)
    for e in entries:
        if e["status"] == 0:
            got[e["ref"]][int(e.get("part", 1))] += 1
    keys = [f"c{cid}|L{cid}-{i}|M1" for i in range(messages)]
    report.fragments = sum(1 for k in keys if got[k] and set(got[k]) != {1, 2})
    report.duplicates = sum(1 for k in keys if any(n > 1 for n in got[k].values()))
    report.missing = sum(1 for k in keys if not got[k])
    with ctx.db.transaction() as s:
        report.states = {str(k): int(v) for k, v in s.execute(
            select(Message.state, func.count()).where(Message.campaign_id == cid).group_by(Message.state)).all()}
    ctx.db.dispose()
    return report
