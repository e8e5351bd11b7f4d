"""The outbox dispatcher: claims queued messages, re-checks suppression, sends at the channel's rate.

Exactly-once rests on the state machine, not on memory: a message is moved ``queued → submitting`` (with its
idempotency key, committed) before the network call, and ``submitting → submitted`` with the provider id after.
A crash in between leaves ``submitting`` rows that :mod:`dunning.dispatch.reconcile` settles — never a blind
resend.

A :class:`Dispatcher` is a frozen configuration: one can run several campaigns, each :meth:`Dispatcher.run`
keeps its state in a :class:`_Run` of its own.

How a run goes:

1. Take the campaign's lease (:class:`~dunning.dispatch.state.CampaignLease`): one sender per campaign, so the
   ``submitting`` rows found now are a dead sender's orphans; reconcile them (provider query where the channel
   has one, else ``held`` for an operator).
2. Loop: re-read the campaign state and the send window, claim a batch (sized so the strict rate promise holds,
   see :mod:`dunning.dispatch.ratelimit`), wait for the shared limiter, hand the batch to a send task.
   Up to ``max_inflight`` batches are on the wire at once (pipelining keeps a windowed protocol such as SMPP
   busy while the database records the previous batch). The claims and the other reads and moves of the run go
   through one database thread, in order; the submit outcomes (:mod:`dunning.dispatch.recorder`) go through a
   second one on PostgreSQL, so the next claim runs while the previous batch's outcomes are written (the two
   touch different rows: a claim only takes ``queued`` rows, with ``SKIP LOCKED``; the outcomes are written to
   this run's ``submitting`` rows). SQLite has one writer at a time, so there both share the one thread.
3. Each send task re-reads the campaign state right before the network call (a pause or cancel committed
   since the claim puts the batch back untouched) and sends; each channel call's outcome is recorded as soon
   as it answers, in group commits (:mod:`dunning.dispatch.recorder`).
4. Whole-channel failures: a raised :class:`~dunning.errors.PermanentChannelError` (bind refused, credentials
   revoked) fails over to the next route (the channel's ``fallback``) with the batch put back; without one,
   the run stops with ``channel_down``. Raised transient errors put the batch back after an exponential
   backoff with jitter and count towards the :class:`~dunning.dispatch.breaker.CircuitBreaker`, which stops
   the run with ``breaker`` after N consecutive failed calls. The service layer pauses the campaign with the
   reason and writes the audit event.
5. Delivery reports and replies are pumped while sending (:mod:`dunning.dispatch.events`).
"""

from __future__ import annotations

import asyncio
import functools
import random
import time as _time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from dunning.channels.base import Channel, ChannelEvent, OutboundMessage, SubmitResult
from dunning.db.bulk import Sql
from dunning.db.engine import Database
from dunning.dispatch import outbox
from dunning.dispatch.batches import ClaimSizing, Route
from dunning.dispatch.breaker import CircuitBreaker
from dunning.dispatch.events import EventPump, PumpSettings
from dunning.dispatch.outbox import ContactBudget
from dunning.dispatch.progress import DispatchOutcome, Progress
from dunning.dispatch.ratelimit import GcraLimiter
from dunning.dispatch.reconcile import QUERY_TIMEOUT, reconcile_routes
from dunning.dispatch.recorder import Recorder, outbox_write
from dunning.dispatch.retry import RetryPolicy
from dunning.dispatch.state import CampaignLease
from dunning.dispatch.templating import template_keys
from dunning.dispatch.window import SendWindow
from dunning.domain.states import CampaignState
from dunning.errors import ChannelError, PermanentChannelError, RateLimitedError, TransientChannelError

__all__ = ["Budget", "DispatchOutcome", "Dispatcher", "Progress", "Route", "SendWindow"]

T = TypeVar("T")
_RESERVE_AHEAD = 0.05  # how far ahead a chunk's limiter slot may be reserved (seconds)
Budget = ContactBudget  # the name services and tests use


@dataclass
class _Stop:
    kind: str
    detail: str


@dataclass(frozen=True)
class Dispatcher:
    """What to send through and how: immutable, so one configuration can run several campaigns (each
    :meth:`run` keeps its own state in a :class:`_Run`). Derive a variant with :func:`dataclasses.replace`."""

    db: Database
    channel: Channel
    channel_name: str
    window: SendWindow
    clock: Callable[[], datetime]
    limiter: GcraLimiter
    budget: ContactBudget = field(default_factory=ContactBudget)
    batch_size: int = 500
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_events: Callable[[str, Sequence[ChannelEvent]], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    on_wait: Callable[[str], None] | None = None  # hears what reconciliation waits for, before it waits
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # nosec B311  # jitter and sequence numbers, not security
    fallbacks: Sequence[Route] = ()
    breaker_threshold: int = 20
    max_inflight: int = 1  # batches on the wire at once; services raise it for windowed protocols
    lease_ttl: float = 30.0
    reconcile_grace: float = 0.0  # wait before asking a provider about a dead sender's in-flight messages
    reconcile_timeout: float = QUERY_TIMEOUT  # the whole lookup; past it the messages are held for a person
    receipt_wait: float = 0.0  # after the last batch, keep collecting receipts for up to this long …
    receipt_quiet: float = 0.3  # … stopping once none arrived for this long
    event_interval: float = 0.25  # how often receipts and replies are collected and recorded …
    events_per_call: int = 2000  # … in transactions of at most this many
    progress_interval: float = 0.2
    # How much sending one claim holds, and at most how many messages. A claim is what a crash can leave with
    # an unknown outcome (claimed, not yet recorded), so it is sized in time: at rate 2000 with two claims on
    # the wire, 0.05 s keeps that under 200 messages; at very high rates max_claim caps it.
    claim_seconds: float = 0.05
    max_claim: int = 10_000
    min_claim: int = 64  # at low rates, enough per claim that the database keeps up (2 × 64 ≤ 200 unknown)
    count_parts: bool = False  # the primary channel's rate counts PDUs (rate_unit = "parts")

    def routes(self) -> list[Route]:
        return [Route(self.channel_name, self.channel, self.limiter, self.count_parts), *self.fallbacks]

    def sizing(self) -> ClaimSizing:
        return ClaimSizing(self.batch_size, self.claim_seconds, self.max_claim, self.min_claim)

    def pump_settings(self) -> PumpSettings:
        return PumpSettings(self.event_interval, self.events_per_call, self.receipt_wait, self.receipt_quiet)

    async def run(self, campaign_id: int, *, pilot_only: bool = False) -> DispatchOutcome:
        """Send ``campaign_id``'s queued messages until done, paused, cancelled, out of window or stopped."""
        return await _Run(self, campaign_id, pilot_only).go()


class _Run:
    """One run of a :class:`Dispatcher` over one campaign: everything that changes while sending."""

    def __init__(self, cfg: Dispatcher, campaign_id: int, pilot_only: bool) -> None:
        self.cfg = cfg
        self.campaign_id = campaign_id
        self.pilot_only = pilot_only
        self.engine = cfg.db.engine
        self.sql = Sql(cfg.db.engine)
        self.sizing = cfg.sizing()
        self.inflight: set[asyncio.Task[None]] = set()
        self.stop: _Stop | None = None
        self.failover: tuple[Route, PermanentChannelError] | None = None
        self.breaker = CircuitBreaker(cfg.breaker_threshold)
        self.used: dict[str, Channel] = {}
        self.started = _time.monotonic()
        self.avg_parts = 1.0  # PDUs per message in the last claim (claims are sized in time, rates in parts)
        self.last_progress = 0.0
        self.last_delivered = 0.0
        self.count_every = 1.0  # seconds between two refreshes of ``progress.delivered`` (see count_delivered_soon)
        self.counting: asyncio.Task[None] | None = None  # the running refresh of ``progress.delivered``
        self.progress = Progress(0, channel=cfg.channel_name)
        self.campaign_state: str | None = None

    @staticmethod
    async def on(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.on(self.pool, fn, *args, **kwargs)

    async def record_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.on(self.record_pool, fn, *args, **kwargs)

    def beside_claims(self, name: str) -> ThreadPoolExecutor:
        """A database thread of its own on PostgreSQL; on SQLite (one writer at a time) the run's one thread."""
        return ThreadPoolExecutor(1, thread_name_prefix=f"dunning-dispatch-{name}") if self.sql.pg else self.pool

    async def go(self) -> DispatchOutcome:
        cfg, cid = self.cfg, self.campaign_id
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="dunning-dispatch-db")
        self.limiter_pool = ThreadPoolExecutor(1, thread_name_prefix="dunning-dispatch-limiter")
        self.count_pool = self.beside_claims("count")  # the live delivered count
        self.record_pool = self.beside_claims("record")  # submit outcomes, see the module docstring
        self.recorder = Recorder(self.record_db, outbox_write(self.engine, self.sql, cfg.clock, cfg.retry, cfg.rng), self.progress)
        pump = EventPump(cfg.pump_settings(), cfg.on_events, self.used, self.inflight, self.progress)
        try:
            lease = await self.db(CampaignLease, self.engine, cid, ttl=cfg.lease_ttl)
            if not await self.db(lease.acquire):
                cur = await self.db(lease.current)
                holder = cur[0] if cur else "?"
                return DispatchOutcome("busy", Progress(0), f"批次 #{cid} 正由另一个发送进程处理（{holder}），未重复发送")
            try:
                reconciled = await reconcile_routes(
                    cfg.db, self.sql, {r.name: r.channel for r in cfg.routes()}, cid, cfg.clock(),
                    cfg.reconcile_grace, run=self.db, on_wait=cfg.on_wait, timeout=cfg.reconcile_timeout)
                queued = (await self.db(outbox.count_states, self.engine, self.sql, cid,
                                        self.pilot_only)).get("queued", 0)
                self.progress.total = queued
                pump.start()
                watch = asyncio.create_task(self.watch())
                try:
                    outcome = await self.loop(lease)
                finally:
                    if self.inflight:
                        await asyncio.wait(set(self.inflight))
                    await self.recorder.close()
                    watch.cancel()
                    await asyncio.gather(watch, return_exceptions=True)
                    await pump.finish()
                    if self.counting is not None:
                        await asyncio.gather(self.counting, return_exceptions=True)
                    await self.refresh_delivered()
                    self.emit(force=True)
                outcome.reconciled = reconciled
                return outcome
            finally:
                await self.db(lease.release)
        finally:
            self.pool.shutdown(wait=True)
            self.limiter_pool.shutdown(wait=True)
            self.record_pool.shutdown(wait=True)
            self.count_pool.shutdown(wait=True)
            pump.close()

    async def loop(self, lease: CampaignLease) -> DispatchOutcome:
        cfg, cid, progress = self.cfg, self.campaign_id, self.progress
        routes = cfg.routes()
        idx = 0
        failovers: list[tuple[str, str, str]] = []
        slots = asyncio.Semaphore(max(1, cfg.max_inflight))
        opened: set[str] = set()
        renewed = _time.monotonic()
        while True:
            route = routes[idx]
            progress.channel = route.name
            if self.failover is not None:
                if self.inflight:
                    await asyncio.wait(set(self.inflight))
                failed_route, exc = self.failover
                self.failover = None
                nxt = idx + 1 if failed_route is route else idx
                if failed_route is route:
                    if nxt >= len(routes):
                        return DispatchOutcome(
                            "channel_down", progress,
                            f"通道 {route.name} 不可用：{exc.message_zh}（{exc.code}）；没有可用的备用通道，批次已暂停",
                            failovers)
                    failovers.append((route.name, routes[nxt].name, f"{exc.message_zh}（{exc.code}）"))
                    idx = nxt
                    self.breaker = CircuitBreaker(cfg.breaker_threshold)
                continue
            if self.stop is not None:
                return DispatchOutcome(self.stop.kind, progress, self.stop.detail, failovers)

            state = await self.db(outbox.campaign_state, self.engine, self.sql, cid)
            if state == CampaignState.PAUSED:
                return DispatchOutcome("paused", progress, "", failovers)
            if state == CampaignState.CANCELLED:
                return DispatchOutcome("cancelled", progress, "", failovers)
            now = cfg.clock()
            pos = cfg.window.position(now)
            if pos == "before":
                return DispatchOutcome("window_wait", progress, f"发送时段 {cfg.window.start:%H:%M} 开始前不发送",
                                       failovers)
            if pos == "after":
                if self.inflight:
                    await asyncio.wait(set(self.inflight))
                n = await self.db(outbox.expire_queued, self.engine, self.sql, cid, now)
                progress.suppressed += n
                return DispatchOutcome("window_closed", progress,
                                       f"已过发送时段，{n} 条未发送的短信已过期（不会延后发送）", failovers)
            if _time.monotonic() - renewed > cfg.lease_ttl / 3:
                if not await self.db(lease.renew):
                    return DispatchOutcome("lease_lost", progress, "发送租约被其他进程接管，本进程停止发送", failovers)
                renewed = _time.monotonic()

            if route.name not in opened:
                try:
                    await route.channel.open()
                    opened.add(route.name)
                except PermanentChannelError as exc:
                    self.failover = (route, exc)
                    continue
                except ChannelError as exc:
                    if self.breaker.on_call_error(exc):
                        return DispatchOutcome("breaker", progress, self.breaker.reason(route.name), failovers)
                    await self.sleep_unless_stopped(cfg.retry.backoff(self.breaker.consecutive, cfg.rng))
                    continue
                self.used[route.name] = route.channel

            n = self.sizing.claim(route, self.avg_parts)
            # Only a claim that started with no batch in flight has seen every outcome committed: one that ran
            # beside a batch's outcome write may have missed a message that write put back in the queue.
            idle = not self.inflight
            claim = await self.db(outbox.claim, self.engine, self.sql, campaign_id=cid,
                                  channel=route.name, n=n, now=now, pilot_only=self.pilot_only, tz=cfg.window.tz,
                                  budget=cfg.budget, template_keys=template_keys(route.name, route.channel))
            if claim.messages:
                self.avg_parts = max(1.0, sum(m.parts for m in claim.messages) / len(claim.messages))
            progress.suppressed += len(claim.suppressed) + claim.expired
            progress.failed += len(claim.failed)
            if not claim.messages:
                if claim.exhausted and not self.inflight:
                    if idle:
                        return DispatchOutcome("done", progress, "", failovers)
                    continue  # claim once more, now that every outcome is committed
                if claim.suppressed or claim.failed:
                    continue
                # Nothing due now: batches in flight may put messages back, retries wait for their backoff.
                if self.inflight:
                    await asyncio.wait(set(self.inflight), timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(0.05)
                continue

            await slots.acquire()
            task = asyncio.create_task(self.send(route, claim.messages, claim.attempts))
            self.inflight.add(task)

            def _done(t: asyncio.Task[None]) -> None:
                self.inflight.discard(t)
                slots.release()

            task.add_done_callback(_done)

    async def sleep_unless_stopped(self, seconds: float) -> None:
        end = _time.monotonic() + seconds
        while self.stop is None and _time.monotonic() < end:
            await asyncio.sleep(min(0.1, max(0.0, end - _time.monotonic())))

    async def put_back(self, ids: list[int]) -> None:
        """Claimed messages that will not go now: back to ``queued``, or withdrawn if the campaign was cancelled
        (a cancelled campaign sends nothing more, not even after a resume)."""
        state = await self.db(outbox.campaign_state, self.engine, self.sql, self.campaign_id)
        if state == CampaignState.CANCELLED:
            await self.db(outbox.withdraw, self.engine, self.sql, ids, self.cfg.clock())
        else:
            await self.db(outbox.release, self.engine, self.sql, ids)

    def stopping(self, state: str | None) -> bool:
        return (state in (CampaignState.PAUSED, CampaignState.CANCELLED) or self.stop is not None
                or self.failover is not None)

    async def paced(self, route: Route, messages: list[OutboundMessage], attempts: dict[int, int]
                    ) -> tuple[list[asyncio.Future[None]], list[SubmitResult], list[OutboundMessage], ChannelError | None]:
        """Send ``messages`` chunk by chunk, each chunk as soon as the shared limiter grants it.

        Chunks are launched without waiting for the previous one's answers (a provider's round trip may be
        longer than the gap between grants). The limiter is asked on its own thread, so a busy database thread
        never delays a grant (a late sender only loses time, the limiter's ``jitter`` absorbs up to 20 ms).
        Each call's results go to the :class:`~dunning.dispatch.recorder.Recorder` as soon as it answers.

        Returns the recorder's futures of the calls that answered, the results still to record (calls that
        failed with an outcome unknown), the messages never handed to the channel (or whose call raised an
        error saying nothing was sent), and that error.
        """
        chunks = self.sizing.chunks(route, messages)
        calls: list[tuple[int, asyncio.Task[list[SubmitResult]]]] = []
        stored: dict[int, asyncio.Future[None]] = {}

        def answered(i: int, task: asyncio.Task[list[SubmitResult]]) -> None:
            if not task.cancelled() and task.exception() is None:
                stored[i] = self.recorder.put(route.name, task.result(), attempts)
                self.count_call(route, task.result())
        unsent: list[OutboundMessage] = []
        loop = asyncio.get_running_loop()
        for i, chunk in enumerate(chunks):
            while True:
                if (any(t.done() and t.exception() is not None for _, t in calls)
                        or self.stopping(self.campaign_state)):
                    unsent.extend(m for c in chunks[i:] for m in c)
                    break
                cells = sum(m.parts for m in chunk) if route.count_parts else len(chunk)
                # the slot is reserved ahead (while the previous chunk is on the wire), then awaited here: the
                # limiter's thread hop and store round trip are off the path from slot to send (#15, rate test)
                granted, at = await loop.run_in_executor(self.limiter_pool, route.limiter.reserve, route.name,
                                                         cells, _RESERVE_AHEAD)
                if granted:
                    if at > route.limiter.clock():
                        await asyncio.sleep(at - route.limiter.clock())
                    if route.limiter.clock() - at > route.limiter.jitter:
                        continue  # we came back too late to use the slot safely: its cells go unused
                    call = asyncio.create_task(route.channel.send_batch(chunk))
                    call.add_done_callback(functools.partial(answered, i))
                    calls.append((i, call))
                    break
                await asyncio.sleep(min(at, 0.1))
            if unsent:
                break
        results: list[SubmitResult] = []
        error: ChannelError | None = None
        if calls:
            await asyncio.wait([t for _, t in calls])
        for i, task in calls:
            exc = task.exception()
            if exc is None:
                if i not in stored:
                    answered(i, task)
            elif isinstance(exc, ChannelError):
                if error is None or isinstance(exc, PermanentChannelError):
                    error = exc
                if isinstance(exc, TransientChannelError | RateLimitedError | PermanentChannelError):
                    unsent.extend(chunks[i])
                else:
                    # A failure of unknown extent: the provider may have part of the chunk. Hold, never resend.
                    results.extend(SubmitResult(m.message_id, None, ChannelError(
                        exc.message_zh, exc.message_en, code=outbox.OUTCOME_UNKNOWN)) for m in chunks[i])
            else:
                raise exc
        return list(stored.values()), results, unsent, error

    async def send(self, route: Route, messages: list[OutboundMessage], attempts: dict[int, int]) -> None:
        engine, sql, cfg, progress = self.engine, self.sql, self.cfg, self.progress
        state = await self.db(outbox.campaign_state, engine, sql, self.campaign_id)
        if state == CampaignState.CANCELLED:
            self.campaign_state = state
        if self.stopping(state):
            await self.put_back([m.message_id for m in messages])
            return
        stored, results, unsent, exc = await self.paced(route, messages, attempts)
        unsent_ids = [m.message_id for m in unsent]
        if unsent_ids and self.campaign_state == CampaignState.CANCELLED:
            await self.put_back(unsent_ids)
            unsent_ids = []
        if isinstance(exc, PermanentChannelError):
            await self.db(outbox.release, engine, sql, unsent_ids, detail=outbox.error_detail(exc))
            if self.failover is None:
                self.failover = (route, exc)
        elif isinstance(exc, TransientChannelError | RateLimitedError):
            if isinstance(exc, RateLimitedError):
                delay = max(exc.retry_after, 0.0)
            else:
                delay = cfg.retry.backoff(self.breaker.consecutive + 1, cfg.rng)
            await self.db(outbox.release, engine, sql, unsent_ids,
                           not_before=cfg.clock() + timedelta(seconds=delay), detail=outbox.error_detail(exc))
            progress.retried += len(unsent_ids)
            if self.breaker.on_call_error(exc) and self.stop is None:
                self.stop = _Stop("breaker", self.breaker.reason(route.name))
        elif exc is not None and self.breaker.on_call_error(exc) and self.stop is None:
            self.stop = _Stop("breaker", self.breaker.reason(route.name))
        if unsent_ids and not isinstance(exc, PermanentChannelError | TransientChannelError | RateLimitedError):
            await self.put_back(unsent_ids)
        if results:
            stored.append(self.recorder.put(route.name, results, attempts))
            self.count_call(route, results)
        if stored:
            await asyncio.gather(*stored)
        self.count_delivered_soon()
        self.emit()

    def count_call(self, route: Route, results: list[SubmitResult]) -> None:
        if self.breaker.on_results(results) and self.stop is None:
            self.stop = _Stop("breaker", self.breaker.reason(route.name))

    def count_delivered_soon(self) -> None:
        """Refresh ``progress.delivered`` at most once a second, without a batch waiting for it: the count reads
        every row of the campaign (tens of milliseconds at 100,000 messages), which held up the batch and, on
        PostgreSQL, where it has a thread of its own, no longer holds up the next claim either. A count that
        takes longer spaces the next ones out (ten times its own time apart), so that at millions of messages the
        figure's freshness, not the send, gives way: the count is at most a tenth of the database's work."""
        now = _time.monotonic()
        if now - self.last_delivered < self.count_every or (self.counting is not None and not self.counting.done()):
            return
        self.last_delivered = now
        self.counting = asyncio.create_task(self.refresh_delivered())
        # a failed count only leaves the figure stale (the next one retries): consume its error, never log it
        # as an unretrieved task exception
        self.counting.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def refresh_delivered(self) -> None:
        t0 = _time.monotonic()
        states = await self.on(self.count_pool, outbox.count_states, self.engine, self.sql, self.campaign_id)
        self.progress.delivered = states.get("delivered", 0)
        self.count_every = max(1.0, 10 * (_time.monotonic() - t0))

    def emit(self, force: bool = False) -> None:
        p, cfg = self.progress, self.cfg
        now = _time.monotonic()
        p.elapsed = now - self.started
        p.rate = p.submitted / p.elapsed if p.elapsed > 0 else 0.0
        if cfg.on_progress is None:
            return
        if force or now - self.last_progress >= cfg.progress_interval:
            self.last_progress = now
            cfg.on_progress(p)

    async def watch(self) -> None:
        """Keep :attr:`campaign_state` fresh (every 0.2 s) for chunks waiting for their limiter slot."""
        while True:
            self.campaign_state = await self.db(outbox.campaign_state, self.engine, self.sql, self.campaign_id)
            await asyncio.sleep(0.2)

