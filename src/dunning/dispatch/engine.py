"""The outbox dispatcher: claims queued messages, re-checks suppression, sends at the channel's rate.

Exactly-once rests on the state machine, not on memory: a message is moved ``queued → submitting`` (with its
idempotency key, committed) before the network call, and ``submitting → submitted`` with the provider id after.
A crash in between leaves ``submitting`` rows that :func:`reconcile` settles — never a blind resend.

How a run goes (:meth:`Dispatcher.run`):

1. Take the campaign's lease (:class:`~dunning.dispatch.state.CampaignLease`): one sender per campaign, so the
   ``submitting`` rows found now are a dead sender's orphans; reconcile them (provider query where the channel
   has one, else ``held`` for an operator).
2. Loop: re-read the campaign state and the send window, claim a batch (sized so the strict rate promise holds,
   see :mod:`dunning.dispatch.ratelimit`), wait for the shared limiter, hand the batch to a send task.
   Up to ``max_inflight`` batches are on the wire at once (pipelining keeps a windowed protocol such as SMPP
   busy while the database records the previous batch). The send path's database work runs on one thread, in
   order.
3. Each send task re-reads the campaign state right before the network call (a pause or cancel committed
   since the claim puts the batch back untouched), sends, and records the outcome in one transaction.
4. Whole-channel failures: a raised :class:`~dunning.errors.PermanentChannelError` (bind refused, credentials
   revoked) fails over to the next route (the channel's ``fallback``) with the batch put back; without one,
   the run stops with ``channel_down``. Raised transient errors put the batch back after an exponential
   backoff with jitter and count towards the :class:`~dunning.dispatch.breaker.CircuitBreaker`, which stops
   the run with ``breaker`` after N consecutive failed calls. The service layer pauses the campaign with the
   reason and writes the audit event.
5. Delivery reports and replies are polled while sending and handed to ``on_events`` (on a thread of their own,
   so recording them overlaps the send path's database work) only after every batch that was on the wire when
   they were polled has been recorded, so a receipt never arrives before the message part it settles.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time as _time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from dunning.channels.base import Channel, ChannelEvent, OutboundMessage, SubmitResult
from dunning.db.engine import Database
from dunning.db.rawsql import Sql
from dunning.dispatch import outbox
from dunning.dispatch.breaker import CircuitBreaker
from dunning.dispatch.outbox import ContactBudget, Orphan
from dunning.dispatch.ratelimit import GcraLimiter
from dunning.dispatch.retry import RetryPolicy
from dunning.dispatch.state import CampaignLease
from dunning.domain.states import CampaignState
from dunning.errors import ChannelError, PermanentChannelError, RateLimitedError, TransientChannelError

T = TypeVar("T")
_RESERVE_AHEAD = 0.05  # how far ahead a chunk's limiter slot may be reserved (seconds)
Budget = ContactBudget  # the name services and tests use

HOLD_NO_QUERY = "发送过程中断且通道不支持状态查询：请人工核实后再处理，系统不会自动重发"
HOLD_MISS = ("发送过程中断，通道查询答复“查无此短信”，但该查询不能证明未收到（可能已发出）："
             "请人工核实后再处理，系统不会自动重发")


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


@dataclass
class Progress:
    """Live counters of one run (for progress bars and the web console)."""

    total: int
    submitted: int = 0
    failed: int = 0
    suppressed: int = 0
    retried: int = 0
    events: int = 0
    held: int = 0
    delivered: int = 0  # messages of the campaign in state ``delivered`` (refreshed about once a second)
    rate: float = 0.0  # submitted per second since the run started
    elapsed: float = 0.0
    channel: str = ""  # the channel sending now (changes on failover)

    @property
    def done(self) -> int:
        return self.submitted + self.failed + self.suppressed + self.held


@dataclass
class DispatchOutcome:
    """How a run ended. ``stopped``: done | paused | cancelled | window_wait | window_closed | breaker |
    channel_down | busy | lease_lost. ``detail`` is a Chinese sentence for the operator."""

    stopped: str
    progress: Progress
    detail: str = ""
    failovers: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, reason)
    reconciled: dict[str, int] = field(default_factory=dict)


@dataclass
class Route:
    """A channel the dispatcher may send through, with its limiter (keyed by the channel's name)."""

    name: str
    channel: Channel
    limiter: GcraLimiter
    count_parts: bool = False  # the limiter counts PDUs (rate_unit = "parts"), not messages


@dataclass
class _Stop:
    kind: str
    detail: str


@dataclass
class Dispatcher:
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
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # nosec B311  # jitter and sequence numbers, not security
    fallbacks: Sequence[Route] = ()
    breaker_threshold: int = 20
    max_inflight: int = 1  # batches on the wire at once; services raise it for windowed protocols
    lease_ttl: float = 30.0
    reconcile_grace: float = 0.0  # wait before asking a provider about a dead sender's in-flight messages
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

    # ------------------------------------------------------------------ plumbing

    def _routes(self) -> list[Route]:
        return [Route(self.channel_name, self.channel, self.limiter, self.count_parts), *self.fallbacks]

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def _chunk(self, route: Route) -> int:
        """Messages per channel call: the channel's and the limiter's largest batch, the configured size."""
        return max(1, min(self.batch_size, route.channel.capabilities.max_batch, route.limiter.max_batch))

    def _chunks(self, route: Route, messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
        """Channel calls: at most ``_chunk`` messages and, where the rate counts parts, at most the limiter's
        batch in PDUs (a message's parts always travel in one call)."""
        size = self._chunk(route)
        if not route.count_parts or all(m.parts <= 1 for m in messages):
            return [messages[i:i + size] for i in range(0, len(messages), size)]
        cap = max(1, route.limiter.max_batch)
        chunks: list[list[OutboundMessage]] = []
        cur: list[OutboundMessage] = []
        cells = 0
        for m in messages:
            p = max(1, m.parts)
            if cur and (len(cur) >= size or cells + p > cap):
                chunks.append(cur)
                cur, cells = [], 0
            cur.append(m)
            cells += p
        if cur:
            chunks.append(cur)
        return chunks

    def _claim_size(self, route: Route) -> int:
        """Messages per claim: about ``claim_seconds`` of sending at the limiter's rate, paced chunk by chunk, so
        the database work per message stays low (one claim and one record transaction for several channel
        calls). At low rates, where the strict rate promise keeps chunks small, up to ``batch_size``; at high
        rates up to ``max_claim``. Channels whose calls are smaller than the limiter's batch get one call a claim.
        """
        chunk = self._chunk(route)
        if chunk < route.limiter.max_batch:
            return chunk
        cap = self.batch_size if chunk < self.batch_size else max(self.batch_size, self.max_claim)
        rate = route.limiter.effective_rate / (self._avg_parts if route.count_parts else 1.0)
        per_claim = max(1, max(int(rate * self.claim_seconds), self.min_claim) // chunk)
        return max(chunk, min(cap, chunk * per_claim))

    # ------------------------------------------------------------------ run

    async def run(self, campaign_id: int, *, pilot_only: bool = False) -> DispatchOutcome:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dunning-dispatch-db")
        self._limiter_pool = ThreadPoolExecutor(1, thread_name_prefix="dunning-dispatch-limiter")
        self._events_pool = ThreadPoolExecutor(1, thread_name_prefix="dunning-dispatch-events")
        self._sql = Sql(self.db.engine)
        self._inflight: set[asyncio.Task[None]] = set()
        self._stop: _Stop | None = None
        self._failover: tuple[Route, PermanentChannelError] | None = None
        self._breaker = CircuitBreaker(self.breaker_threshold)
        self._used: dict[str, Route] = {}
        self._started = _time.monotonic()
        self._avg_parts = 1.0  # PDUs per message in the last claim (claims are sized in time, rates in parts)
        self._last_progress = 0.0
        self._last_delivered = 0.0
        try:
            lease = await self._db(CampaignLease, self.db.engine, campaign_id, ttl=self.lease_ttl)
            if not await self._db(lease.acquire):
                cur = await self._db(lease.current)
                holder = cur[0] if cur else "?"
                return DispatchOutcome("busy", Progress(0), f"批次 #{campaign_id} 正由另一个发送进程处理（{holder}），未重复发送")
            try:
                reconciled = await self._reconcile_orphans(campaign_id)
                queued = (await self._db(outbox.count_states, self.db.engine, self._sql, campaign_id,
                                         pilot_only)).get("queued", 0)
                progress = Progress(total=queued, channel=self.channel_name)
                self._progress = progress
                self._pump_stopping = False
                self._campaign_state: str | None = None
                pump = asyncio.create_task(self._pump())
                watch = asyncio.create_task(self._watch(campaign_id))
                try:
                    outcome = await self._loop(campaign_id, pilot_only, progress, lease)
                finally:
                    if self._inflight:
                        await asyncio.wait(set(self._inflight))
                    self._pump_stopping = True
                    watch.cancel()
                    await asyncio.gather(pump, watch, return_exceptions=True)
                    await self._final_events()
                    await self._refresh_delivered(campaign_id, force=True)
                    self._emit(force=True)
                outcome.reconciled = reconciled
                return outcome
            finally:
                await self._db(lease.release)
        finally:
            self._pool.shutdown(wait=True)
            self._limiter_pool.shutdown(wait=True)
            self._events_pool.shutdown(wait=True)

    async def _loop(self, campaign_id: int, pilot_only: bool, progress: Progress,
                    lease: CampaignLease) -> DispatchOutcome:
        routes = self._routes()
        idx = 0
        failovers: list[tuple[str, str, str]] = []
        slots = asyncio.Semaphore(max(1, self.max_inflight))
        opened: set[str] = set()
        renewed = _time.monotonic()
        while True:
            route = routes[idx]
            progress.channel = route.name
            if self._failover is not None:
                if self._inflight:
                    await asyncio.wait(set(self._inflight))
                failed_route, exc = self._failover
                self._failover = None
                nxt = idx + 1 if failed_route is route else idx
                if failed_route is route:
                    if nxt >= len(routes):
                        return DispatchOutcome(
                            "channel_down", progress,
                            f"通道 {route.name} 不可用：{exc.message_zh}（{exc.code}）；没有可用的备用通道，批次已暂停",
                            failovers)
                    failovers.append((route.name, routes[nxt].name, f"{exc.message_zh}（{exc.code}）"))
                    idx = nxt
                    self._breaker = CircuitBreaker(self.breaker_threshold)
                continue
            if self._stop is not None:
                return DispatchOutcome(self._stop.kind, progress, self._stop.detail, failovers)

            state = await self._db(outbox.campaign_state, self.db.engine, self._sql, campaign_id)
            if state == CampaignState.PAUSED:
                return DispatchOutcome("paused", progress, "", failovers)
            if state == CampaignState.CANCELLED:
                return DispatchOutcome("cancelled", progress, "", failovers)
            now = self.clock()
            pos = self.window.position(now)
            if pos == "before":
                return DispatchOutcome("window_wait", progress, f"发送时段 {self.window.start:%H:%M} 开始前不发送",
                                       failovers)
            if pos == "after":
                if self._inflight:
                    await asyncio.wait(set(self._inflight))
                n = await self._db(outbox.expire_queued, self.db.engine, self._sql, campaign_id, now)
                progress.suppressed += n
                return DispatchOutcome("window_closed", progress,
                                       f"已过发送时段，{n} 条未发送的短信已过期（不会延后发送）", failovers)
            if _time.monotonic() - renewed > self.lease_ttl / 3:
                if not await self._db(lease.renew):
                    return DispatchOutcome("lease_lost", progress, "发送租约被其他进程接管，本进程停止发送", failovers)
                renewed = _time.monotonic()

            if route.name not in opened:
                try:
                    await route.channel.open()
                    opened.add(route.name)
                except PermanentChannelError as exc:
                    self._failover = (route, exc)
                    continue
                except ChannelError as exc:
                    if self._breaker.on_call_error(exc):
                        return DispatchOutcome("breaker", progress, self._breaker.reason(route.name), failovers)
                    await self._sleep_unless_stopped(self.retry.backoff(self._breaker.consecutive, self.rng))
                    continue
                self._used[route.name] = route

            n = self._claim_size(route)
            claim = await self._db(outbox.claim, self.db.engine, self._sql, campaign_id=campaign_id,
                                   channel=route.name, n=n, now=now, pilot_only=pilot_only, tz=self.window.tz,
                                   budget=self.budget, template_keys=outbox.template_keys(route.name, route.channel))
            if claim.messages:
                self._avg_parts = max(1.0, sum(m.parts for m in claim.messages) / len(claim.messages))
            progress.suppressed += len(claim.suppressed) + claim.expired
            progress.failed += len(claim.failed)
            if not claim.messages:
                if claim.exhausted and not self._inflight:
                    return DispatchOutcome("done", progress, "", failovers)
                if claim.suppressed or claim.failed:
                    continue
                # Nothing due now: batches in flight may put messages back, retries wait for their backoff.
                if self._inflight:
                    await asyncio.wait(set(self._inflight), timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(0.05)
                continue

            await slots.acquire()
            task = asyncio.create_task(self._send(route, claim.messages, claim.attempts, campaign_id, progress))
            self._inflight.add(task)

            def _done(t: asyncio.Task[None]) -> None:
                self._inflight.discard(t)
                slots.release()

            task.add_done_callback(_done)

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        end = _time.monotonic() + seconds
        while self._stop is None and _time.monotonic() < end:
            await asyncio.sleep(min(0.1, max(0.0, end - _time.monotonic())))

    async def _put_back(self, campaign_id: int, ids: list[int]) -> None:
        """Claimed messages that will not go now: back to ``queued``, or withdrawn if the campaign was cancelled
        (a cancelled campaign sends nothing more, not even after a resume)."""
        state = await self._db(outbox.campaign_state, self.db.engine, self._sql, campaign_id)
        if state == CampaignState.CANCELLED:
            await self._db(outbox.withdraw, self.db.engine, self._sql, ids, self.clock())
        else:
            await self._db(outbox.release, self.db.engine, self._sql, ids)

    def _stopping(self, state: str | None) -> bool:
        return (state in (CampaignState.PAUSED, CampaignState.CANCELLED) or self._stop is not None
                or self._failover is not None)

    async def _paced(self, route: Route, messages: list[OutboundMessage],
                     campaign_id: int) -> tuple[list[SubmitResult], list[OutboundMessage], ChannelError | None]:
        """Send ``messages`` chunk by chunk, each chunk as soon as the shared limiter grants it.

        Chunks are launched without waiting for the previous one's answers (a provider's round trip may be
        longer than the gap between grants). The limiter is asked on its own thread, so a busy database thread
        never delays a grant (a late sender only loses time, the limiter's ``jitter`` absorbs up to 20 ms).

        Returns the results of the chunks sent, the messages never handed to the channel (or whose call raised
        an error saying nothing was sent), and that error.
        """
        chunks = self._chunks(route, messages)
        calls: list[tuple[int, asyncio.Task[list[SubmitResult]]]] = []
        unsent: list[OutboundMessage] = []
        loop = asyncio.get_running_loop()
        for i, chunk in enumerate(chunks):
            while True:
                if (any(t.done() and t.exception() is not None for _, t in calls)
                        or self._stopping(self._campaign_state)):
                    unsent.extend(m for c in chunks[i:] for m in c)
                    break
                cells = sum(m.parts for m in chunk) if route.count_parts else len(chunk)
                # the slot is reserved ahead (while the previous chunk is on the wire), then awaited here: the
                # limiter's thread hop and store round trip are off the path from slot to send (#15, rate test)
                granted, at = await loop.run_in_executor(self._limiter_pool, route.limiter.reserve, route.name,
                                                         cells, _RESERVE_AHEAD)
                if granted:
                    if at > route.limiter.clock():
                        await asyncio.sleep(at - route.limiter.clock())
                    if route.limiter.clock() - at > route.limiter.jitter:
                        continue  # we came back too late to use the slot safely: its cells go unused
                    calls.append((i, asyncio.create_task(route.channel.send_batch(chunk))))
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
                results.extend(task.result())
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
        return results, unsent, error

    async def _send(self, route: Route, messages: list[OutboundMessage], attempts: dict[int, int],
                    campaign_id: int, progress: Progress) -> None:
        engine, sql = self.db.engine, self._sql
        state = await self._db(outbox.campaign_state, engine, sql, campaign_id)
        if state == CampaignState.CANCELLED:
            self._campaign_state = state
        if self._stopping(state):
            await self._put_back(campaign_id, [m.message_id for m in messages])
            return
        results, unsent, exc = await self._paced(route, messages, campaign_id)
        unsent_ids = [m.message_id for m in unsent]
        if unsent_ids and self._campaign_state == CampaignState.CANCELLED:
            await self._put_back(campaign_id, unsent_ids)
            unsent_ids = []
        if isinstance(exc, PermanentChannelError):
            await self._db(outbox.release, engine, sql, unsent_ids, detail=outbox.error_detail(exc))
            if self._failover is None:
                self._failover = (route, exc)
        elif isinstance(exc, TransientChannelError | RateLimitedError):
            if isinstance(exc, RateLimitedError):
                delay = max(exc.retry_after, 0.0)
            else:
                delay = self.retry.backoff(self._breaker.consecutive + 1, self.rng)
            await self._db(outbox.release, engine, sql, unsent_ids,
                           not_before=self.clock() + timedelta(seconds=delay), detail=outbox.error_detail(exc))
            progress.retried += len(unsent_ids)
            if self._breaker.on_call_error(exc) and self._stop is None:
                self._stop = _Stop("breaker", self._breaker.reason(route.name))
        elif exc is not None and self._breaker.on_call_error(exc) and self._stop is None:
            self._stop = _Stop("breaker", self._breaker.reason(route.name))
        if unsent_ids and not isinstance(exc, PermanentChannelError | TransientChannelError | RateLimitedError):
            await self._put_back(campaign_id, unsent_ids)
        if results:
            rec = await self._db(outbox.record, engine, sql, channel=route.name, results=results,
                                 now=self.clock(), retry=self.retry, attempts=attempts, rng=self.rng)
            progress.submitted += rec.submitted
            progress.failed += rec.failed
            progress.retried += rec.retried
            progress.held += rec.held
            if self._breaker.on_results(results) and self._stop is None:
                self._stop = _Stop("breaker", self._breaker.reason(route.name))
        await self._refresh_delivered(campaign_id)
        self._emit()

    # ------------------------------------------------------------------ progress and events

    async def _refresh_delivered(self, campaign_id: int, force: bool = False) -> None:
        now = _time.monotonic()
        if not force and now - self._last_delivered < 1.0:
            return
        self._last_delivered = now
        states = await self._db(outbox.count_states, self.db.engine, self._sql, campaign_id)
        self._progress.delivered = states.get("delivered", 0)

    def _emit(self, force: bool = False) -> None:
        p = self._progress
        now = _time.monotonic()
        p.elapsed = now - self._started
        p.rate = p.submitted / p.elapsed if p.elapsed > 0 else 0.0
        if self.on_progress is None:
            return
        if force or now - self._last_progress >= self.progress_interval:
            self._last_progress = now
            self.on_progress(p)

    async def _watch(self, campaign_id: int) -> None:
        """Keep :attr:`_campaign_state` fresh (every 0.2 s) for chunks waiting for their limiter slot."""
        while True:
            self._campaign_state = await self._db(outbox.campaign_state, self.db.engine, self._sql, campaign_id)
            await asyncio.sleep(0.2)

    async def _pump(self) -> None:
        # Stopped by a flag, never cancelled mid-collection: a cancel between poll_events() (which hands the
        # receipts over) and their ingestion would lose them.
        while not self._pump_stopping:
            await asyncio.sleep(self.event_interval)
            if self._pump_stopping:
                return
            await self._collect_events()

    async def _collect_events(self) -> int:
        got = 0
        for route in list(self._used.values()):
            events = await route.channel.poll_events()
            if not events:
                continue
            got += len(events)
            on_flight = [t for t in self._inflight if not t.done()]
            if on_flight:
                await asyncio.wait(on_flight)
            if self.on_events is not None:
                # On a thread (and connection) of their own: recording receipts overlaps the claims and
                # records of the send path instead of queueing behind them (a busy campaign's receipts cost
                # about as much database work as its sends). In transactions of at most ``events_per_call``,
                # so the send path's own writes are never held up for long by one large batch of receipts.
                loop = asyncio.get_running_loop()
                for i in range(0, len(events), self.events_per_call):
                    await loop.run_in_executor(self._events_pool, functools.partial(
                        self.on_events, route.name, events[i:i + self.events_per_call]))
            # Store, then acknowledge: only now, with the events committed, may the provider forget them.
            await acknowledge(route.channel)
            self._progress.events += len(events)
        return got

    async def _final_events(self) -> None:
        await self._collect_events()
        if self.receipt_wait <= 0:
            return
        end = _time.monotonic() + self.receipt_wait
        quiet_since = _time.monotonic()
        while _time.monotonic() < end and _time.monotonic() - quiet_since < self.receipt_quiet:
            await asyncio.sleep(min(0.05, self.receipt_quiet))
            if await self._collect_events():
                quiet_since = _time.monotonic()

    # ------------------------------------------------------------------ crash reconciliation

    async def _reconcile_orphans(self, campaign_id: int) -> dict[str, int]:
        rows = await self._db(outbox.orphans, self.db.engine, self._sql, campaign_id=campaign_id)
        counts = {"submitted": 0, "requeued": 0, "held": 0}
        if not rows:
            return counts
        by_route = {r.name: r for r in self._routes()}
        groups: dict[str | None, list[Orphan]] = {}
        for o in rows:
            groups.setdefault(o.channel, []).append(o)
        for name, group in groups.items():
            route = by_route.get(name) if name is not None else None
            got = await _reconcile_group(self.db, self._sql, route.channel if route else None, name or "?", group,
                                         self.clock(), self.reconcile_grace, run=self._db)
            for k, v in got.items():
                counts[k] += v
        return counts


async def acknowledge(channel: Channel) -> None:
    """Tell a connection-oriented channel that the events its last ``poll_events`` handed over are committed
    (SMPP sends the deliver_sm_resp now). Channels without an ``acknowledge`` method need nothing."""
    ack = getattr(channel, "acknowledge", None)
    if ack is not None:
        await ack()


def absence_is_proof(channel: Channel) -> bool:
    """Whether the adapter declares its lookup authoritative: a miss proves the provider never had the message.

    Adapters say so with an ``absence_is_proof`` attribute (default: no). A miss from any other lookup, a
    timeout or an error is never proof: the message is held for a person, never sent again automatically.
    """
    return bool(getattr(channel, "absence_is_proof", False))


async def _reconcile_group(db: Database, sql: Sql, channel: Channel | None, channel_name: str,
                           rows: Sequence[Orphan], now: datetime, grace: float,
                           run: Callable[..., Any] | None = None,
                           on_wait: Callable[[str], None] | None = None) -> dict[str, int]:
    async def call(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        if run is not None:
            return await run(fn, *a, **kw)
        return fn(*a, **kw)

    counts = {"submitted": 0, "requeued": 0, "held": 0}
    submitting = [r for r in rows if r.state == "submitting"]
    if channel is None or not channel.capabilities.status_query:
        await call(outbox.settle_orphans, db.engine, sql, channel=channel_name, found={}, unknown=[],
                   hold={r.id: (outbox.HOLD_CRASH, HOLD_NO_QUERY) for r in submitting}, now=now)
        counts["held"] = len(submitting)
        return counts
    if grace > 0:
        await asyncio.sleep(grace)
    known: dict[str, SubmitResult | None] = {}
    try:
        await channel.open()
        if on_wait is not None:
            on_wait(f"正在向通道 {channel_name} 查询 {len(rows)} 条结果未知短信的发送结果（每次查询有超时，可按 Ctrl-C 中断）"
                    f" / querying {channel_name} for {len(rows)} messages of unknown outcome")
        for i in range(0, len(rows), 1000):
            known.update(await channel.query_status([r.idempotency_key for r in rows[i:i + 1000]]))
    except (ChannelError, NotImplementedError) as exc:
        no_query = isinstance(exc, NotImplementedError)
        why = exc.message_zh if isinstance(exc, ChannelError) else str(exc)
        detail = HOLD_NO_QUERY if no_query else (
            f"发送过程中断，向通道查询发送结果失败（{why}）：请人工核实后再处理，系统不会自动重发")
        reason = outbox.HOLD_CRASH if no_query else outbox.HOLD_QUERY_FAILED
        await call(outbox.settle_orphans, db.engine, sql, channel=channel_name, found={}, unknown=[],
                   hold={r.id: (reason, detail) for r in submitting}, now=now)
        counts["held"] = len(submitting)
        return counts
    found = {r.id: res for r in rows if (res := known.get(r.idempotency_key)) is not None and res.provider_id}
    missed = [r for r in rows if r.idempotency_key in known and known[r.idempotency_key] is None]
    proof = absence_is_proof(channel)
    unknown = [r.id for r in missed] if proof else []
    hold: dict[int, tuple[str, str]] = {}
    if not proof:
        hold.update({r.id: (outbox.HOLD_QUERY_MISS, HOLD_MISS) for r in missed if r.state == "submitting"})
    settled = set(found) | {r.id for r in missed}
    hold.update({r.id: (outbox.HOLD_CRASH, HOLD_NO_QUERY) for r in submitting if r.id not in settled})
    await call(outbox.settle_orphans, db.engine, sql, channel=channel_name, found=found, unknown=unknown, hold=hold,
               now=now)
    counts.update(submitted=len(found), requeued=len(unknown), held=len(hold))
    return counts


async def reconcile(db: Database, channel: Channel, channel_name: str, now: datetime, *,
                    campaign_id: int | None = None, grace: float = 0.0,
                    on_wait: Callable[[str], None] | None = None) -> dict[str, int]:
    """Settle messages whose send outcome is unknown (``submitting`` after a crash, or held as outcome-unknown).

    Asks the provider where the channel can answer (``capabilities.status_query``): known → ``submitted`` with
    its provider ids; never received, from a lookup the adapter declares authoritative (:func:`absence_is_proof`)
    → ``queued`` again; anything else (a miss of a non-authoritative lookup, a timeout, an error, no lookup at
    all) → ``held`` for a person with a reason. Never resends on a guess. Every held reason a lookup can settle
    is looked up again (``outbox.CHECKABLE_HOLDS``).

    Only call it for rows no live sender owns: the dispatcher calls it for its campaign after taking the
    campaign's lease; called by hand (``campaign_id=None``) it takes every such row of the channel.
    """
    sql = Sql(db.engine)
    rows = outbox.orphans(db.engine, sql, campaign_id=campaign_id, channel=channel_name)
    if not rows:
        return {"submitted": 0, "requeued": 0, "held": 0}
    return await _reconcile_group(db, sql, channel, channel_name, rows, now, grace, on_wait=on_wait)


def expire_stale(db: Database, *, now: datetime, timeout: timedelta) -> int:
    """Mark ``submitted`` messages with no final delivery report after ``timeout`` as ``expired``."""
    hours = timeout.total_seconds() / 3600
    detail = f"提交后 {hours:g} 小时内未收到送达回执，标记为过期（之后收到回执仍会更新状态）"
    return outbox.expire_stale(db.engine, Sql(db.engine), submitted_before=now - timeout, now=now, detail=detail)
