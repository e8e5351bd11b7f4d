"""The receipt and reply pump of one run: poll the channels used, record, then acknowledge.

Delivery reports and replies are polled while sending and handed to ``on_events`` (on a thread of their own,
so recording them overlaps the send path's database work) only after every batch that was on the wire when
they were polled has been recorded, so a receipt never arrives before the message part it settles.
Store, then acknowledge: the provider is told the events arrived only once they are committed.
"""

from __future__ import annotations

import asyncio
import functools
import time as _time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from dunning.channels.base import Channel, ChannelEvent


class _Counter(Protocol):
    events: int


async def acknowledge(channel: Channel) -> None:
    """Tell a connection-oriented channel that the events its last ``poll_events`` handed over are committed
    (SMPP sends the deliver_sm_resp now). Channels without an ``acknowledge`` method need nothing."""
    ack = getattr(channel, "acknowledge", None)
    if ack is not None:
        await ack()


@dataclass(frozen=True, slots=True)
class PumpSettings:
    interval: float = 0.25  # how often receipts and replies are collected and recorded …
    per_call: int = 2000  # … in transactions of at most this many
    receipt_wait: float = 0.0  # after the last batch, keep collecting receipts for up to this long …
    receipt_quiet: float = 0.3  # … stopping once none arrived for this long


@dataclass
class EventPump:
    """Collects the events of the channels in ``used`` (name → channel, filled as routes open) for one run.

    ``inflight`` is the run's set of send tasks: events wait for them, so a receipt is never recorded before
    the submission it settles. ``progress.events`` counts what was recorded.
    """

    settings: PumpSettings
    on_events: Callable[[str, Sequence[ChannelEvent]], None] | None
    used: Mapping[str, Channel]
    inflight: set[asyncio.Task[None]]
    progress: _Counter
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="dunning-dispatch-events"))
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump())

    async def finish(self) -> None:
        """Stop polling (never mid-collection), then collect what is left and wait for late receipts."""
        self._stopping = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self._final()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    async def _pump(self) -> None:
        # Stopped by a flag, never cancelled mid-collection: a cancel between poll_events() (which hands the
        # receipts over) and their ingestion would lose them.
        while not self._stopping:
            await asyncio.sleep(self.settings.interval)
            if self._stopping:
                return
            await self.collect()

    async def collect(self) -> int:
        got = 0
        for name, channel in list(self.used.items()):
            events = await channel.poll_events()
            if not events:
                continue
            got += len(events)
            on_flight = [t for t in self.inflight if not t.done()]
            if on_flight:
                await asyncio.wait(on_flight)
            if self.on_events is not None:
                # On a thread (and connection) of their own: recording receipts overlaps the claims and
                # records of the send path instead of queueing behind them (a busy campaign's receipts cost
                # about as much database work as its sends). In transactions of at most ``per_call``, so the
                # send path's own writes are never held up for long by one large batch of receipts.
                loop = asyncio.get_running_loop()
                step = self.settings.per_call
                for i in range(0, len(events), step):
                    await loop.run_in_executor(self._pool, functools.partial(
                        self.on_events, name, events[i:i + step]))
            # Store, then acknowledge: only now, with the events committed, may the provider forget them.
            await acknowledge(channel)
            self.progress.events += len(events)
        return got

    async def _final(self) -> None:
        await self.collect()
        s = self.settings
        if s.receipt_wait <= 0:
            return
        end = _time.monotonic() + s.receipt_wait
        quiet_since = _time.monotonic()
        while _time.monotonic() < end and _time.monotonic() - quiet_since < s.receipt_quiet:
            await asyncio.sleep(min(0.05, s.receipt_quiet))
            if await self.collect():
                quiet_since = _time.monotonic()
