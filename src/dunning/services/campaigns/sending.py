"""Sending: build the dispatcher for a campaign (routes, shared limiter, budget, breaker) and run it.

The dispatch engine lives in :mod:`dunning.dispatch`; this module wires it to settings, the campaign's strategy
and the delivery-ingest service, and turns what the engine reports into campaign state and audit events:

* ``breaker`` / ``channel_down`` → the campaign is paused with the engine's Chinese reason
  (``campaign.pause_reason``) and an audit event ``campaign.paused`` by ``system``;
* a failover → audit ``channel.failover``; a crash reconciliation → audit ``dispatch.reconciled``.

Entry points: :func:`run_dispatch` (in-process, the embedded default), :func:`start_dispatch` (in-process or
enqueued for a Celery worker after the caller's commit, by ``settings.dispatch_mode``), :func:`sweep_expired`
(the DLR timeout sweeper) and :func:`reconcile_channel` (an operator's manual reconciliation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from dunning.channels.base import ChannelEvent
from dunning.db.models import Campaign, Strategy
from dunning.dispatch.engine import (
    Budget,
    Dispatcher,
    DispatchOutcome,
    Progress,
    Route,
    SendWindow,
)
from dunning.dispatch.ratelimit import GcraLimiter, LimiterStore, RedisLimiterStore, batch_size_for
from dunning.dispatch.reconcile import expire_stale, reconcile
from dunning.dispatch.state import DbLimiterStore
from dunning.domain.states import CampaignState
from dunning.errors import ConfigError, NotFoundError
from dunning.services import audit
from dunning.services.campaigns.delivery import ingest_events
from dunning.services.context import AppContext
from dunning.strategy import StrategySpec, parse_strategy

DISPATCH_TASK = "dunning.dispatch_campaign"


def campaign_window(spec: StrategySpec) -> SendWindow:
    """The strategy's window, never wider than the legal 08:00–22:00."""
    start = max(spec.send_window.start, time(8, 0))
    end = min(spec.send_window.end, time(22, 0))
    return SendWindow(ZoneInfo(spec.timezone), start, end)


def _reply_keywords(ctx: AppContext, profile: str) -> tuple[list[str], list[str], dict[str, tuple[str, ...]]]:
    from dunning.services.policy import policy_for

    policy = policy_for(ctx, profile)
    return list(policy.stop_keywords), list(policy.dispute_keywords), dict(policy.case_keywords)


def route_names(ctx: AppContext, name: str) -> list[str]:
    """``name`` followed by its ``fallback`` chain (enabled channels only, each once)."""
    chain: list[str] = []
    current: str | None = name
    while current is not None and current not in chain:
        cfg = ctx.settings.channels.get(current)
        if cfg is None:
            if not chain:
                known = ", ".join(ctx.settings.channels) or "（无）"
                raise ConfigError(f"未配置通道 {current}（已配置：{known}）", f"channel {current!r} is not configured")
            break  # a dangling fallback: the chain ends here
        if cfg.enabled or not chain:
            chain.append(current)
        current = cfg.fallback
    return chain


def limiter_store(ctx: AppContext) -> LimiterStore:
    """Shared limiter state: Redis when ``redis_url`` is set, else the database (never one process's memory)."""
    if ctx.settings.redis_url:
        return RedisLimiterStore.from_url(ctx.settings.redis_url)
    return DbLimiterStore(ctx.db.engine)


def channel_limiter(ctx: AppContext, name: str, store: LimiterStore) -> GcraLimiter:
    cfg = ctx.settings.channels[name]
    caps = ctx.channel(name).capabilities
    rate = min(cfg.rate, caps.max_rate) if caps.max_rate else cfg.rate
    max_batch = batch_size_for(rate, min(ctx.settings.dispatch_batch_size, caps.max_batch))
    return GcraLimiter(rate=rate, max_batch=max_batch, store=store)


def build_dispatcher(ctx: AppContext, c: Campaign, spec: StrategySpec,
                     on_progress: Callable[[Progress], None] | None, **overrides: Any) -> Dispatcher:
    names = route_names(ctx, c.channel)
    store = limiter_store(ctx)
    routes = [Route(n, ctx.channel(n), channel_limiter(ctx, n, store),
                    ctx.settings.channels[n].effective_rate_unit == "parts") for n in names]
    stop_kw, dispute_kw, case_kw = _reply_keywords(ctx, spec.profile)

    def on_events(name: str, events: Sequence[ChannelEvent]) -> None:
        with ctx.db.transaction() as s:
            ingest_events(s, name, events, now=ctx.now(), stop_keywords=stop_kw, dispute_keywords=dispute_kw,
                          case_keywords=case_kw)

    primary = routes[0]
    options: dict[str, Any] = {
        "db": ctx.db, "channel": primary.channel, "channel_name": primary.name, "window": campaign_window(spec),
        "clock": ctx.now, "limiter": primary.limiter, "fallbacks": routes[1:], "count_parts": primary.count_parts,
        "budget": Budget(spec.budget.max_per_day, spec.budget.max_per_7d),
        "batch_size": ctx.settings.dispatch_batch_size, "on_events": on_events, "on_progress": on_progress,
        "breaker_threshold": ctx.settings.breaker_threshold, "reconcile_grace": 1.0, "receipt_wait": 2.0,
    }
    options.update(overrides)
    return Dispatcher(**options)


def _load(ctx: AppContext, campaign_id: int) -> tuple[Campaign, StrategySpec]:
    with ctx.db.transaction() as s:
        c = s.get(Campaign, campaign_id)
        if c is None:
            raise NotFoundError(f"批次 #{campaign_id} 不存在", f"campaign #{campaign_id} does not exist",
                                code="not_found.campaign")
        row = s.get(Strategy, c.strategy_id)
        if row is None:
            raise NotFoundError(f"批次 #{campaign_id} 的策略不存在", f"strategy of campaign #{campaign_id} is missing")
        spec, _ = parse_strategy(row.body, f"{row.name} v{row.version}")
    return c, spec


def run_dispatch(ctx: AppContext, campaign_id: int, *, pilot_only: bool,
                 on_progress: Callable[[Progress], None] | None, **overrides: Any) -> DispatchOutcome:
    """Send the campaign's queued messages in this process; returns when done, paused, stopped or busy.

    ``overrides`` reach the :class:`Dispatcher` (tests and benchmarks tune ``receipt_wait``, ``max_inflight``…).
    """
    c, spec = _load(ctx, campaign_id)

    async def go() -> DispatchOutcome:
        try:
            dispatcher = build_dispatcher(ctx, c, spec, on_progress, **overrides)
            return await dispatcher.run(campaign_id, pilot_only=pilot_only)
        finally:
            await ctx.close_channels()

    outcome = asyncio.run(go())
    apply_outcome(ctx, campaign_id, outcome)
    return outcome


def apply_outcome(ctx: AppContext, campaign_id: int, outcome: DispatchOutcome) -> None:
    """Turn what the engine reported into campaign state and audit events (one transaction)."""
    now = ctx.now()
    with ctx.db.transaction() as s:
        c = s.get(Campaign, campaign_id)
        if c is None:
            return
        for src, dst, why in outcome.failovers:
            audit.record(s, at=now, actor="system", action="channel.failover", entity="campaign", entity_id=c.id,
                         before={"channel": src}, after={"channel": dst, "reason": why})
        if any(outcome.reconciled.values()):
            audit.record(s, at=now, actor="system", action="dispatch.reconciled", entity="campaign",
                         entity_id=c.id, after=dict(outcome.reconciled))
        if outcome.stopped in ("breaker", "channel_down"):
            before = c.state
            if c.state == CampaignState.SENDING.value:
                c.state = CampaignState.PAUSED.value
                c.pause_reason = outcome.detail
                c.updated_at = now
            audit.record(s, at=now, actor="system", action=f"campaign.{c.state}" if c.state == "paused"
                         else "dispatch.stopped", entity="campaign", entity_id=c.id, before={"state": before},
                         after={"state": c.state, "pause_reason": outcome.detail, "cause": outcome.stopped})


def start_dispatch(ctx: AppContext, campaign_id: int, *, pilot_only: bool = False,
                   on_progress: Callable[[Progress], None] | None = None,
                   requested_by: str = "system") -> DispatchOutcome | str:
    """Start sending a campaign the configured way. Call it after the transaction that queued the messages
    committed: ``inline`` runs :func:`run_dispatch` here; ``celery`` enqueues the worker task (ids only) and
    returns its task id."""
    if ctx.settings.dispatch_mode == "celery":
        return enqueue_dispatch(ctx, campaign_id, pilot_only=pilot_only, requested_by=requested_by)
    return run_dispatch(ctx, campaign_id, pilot_only=pilot_only, on_progress=on_progress)


def enqueue_dispatch(ctx: AppContext, campaign_id: int, *, pilot_only: bool = False,
                     requested_by: str = "system") -> str:
    """Enqueue the worker task for a campaign (by task name, so services never import the worker) on the
    settings' ``dispatch_queue``; the worker records what it does in ``requested_by``'s name."""
    from celery import Celery

    if not ctx.settings.broker_url:
        raise ConfigError("dispatch_mode = celery 需要配置 broker_url（redis:// 或 amqp://）",
                          "dispatch_mode = celery needs broker_url (redis:// or amqp://)")
    client = Celery("dunning-client", broker=ctx.settings.broker_url, set_as_current=False)
    try:
        result = client.send_task(DISPATCH_TASK, args=[campaign_id],
                                  kwargs={"pilot_only": pilot_only, "requested_by": requested_by},
                                  queue=ctx.settings.dispatch_queue)
        return str(result.id)
    finally:
        client.close()


def sweep_expired(ctx: AppContext, *, actor: str = "system") -> int:
    """Mark messages submitted more than ``dlr_timeout_hours`` ago without a final report as ``expired``."""
    now = ctx.now()
    n = expire_stale(ctx.db, now=now, timeout=timedelta(hours=ctx.settings.dlr_timeout_hours))
    if n:
        with ctx.db.transaction() as s:
            audit.record(s, at=now, actor=actor, action="messages.expired", entity="messages", entity_id="dlr_timeout",
                         after={"count": n, "timeout_hours": ctx.settings.dlr_timeout_hours})
    return n


def reconcile_channel(ctx: AppContext, channel_name: str, *, actor: str,
                      on_wait: Callable[[str], None] | None = None) -> dict[str, int]:
    """Settle a channel's messages whose outcome is unknown, for campaigns no sender currently holds.

    Messages of a campaign whose lease is held by a live sender are left to that sender.
    """
    from dunning.dispatch.state import CampaignLease

    with ctx.db.transaction() as s:
        campaign_ids = s.scalars(select(Campaign.id).where(
            Campaign.state.in_([CampaignState.SENDING.value, CampaignState.PAUSED.value,
                                CampaignState.PILOTING.value, CampaignState.COMPLETED.value,
                                CampaignState.CANCELLED.value]))).all()
    totals = {"submitted": 0, "requeued": 0, "held": 0}

    async def go() -> None:
        try:
            channel = ctx.channel(channel_name)
            for cid in campaign_ids:
                lease = CampaignLease(ctx.db.engine, cid)
                if not lease.acquire():
                    continue
                try:
                    got = await reconcile(ctx.db, channel, channel_name, ctx.now(), campaign_id=cid,
                                          on_wait=on_wait)
                finally:
                    lease.release()
                for k, v in got.items():
                    totals[k] += v
        finally:
            await ctx.close_channels()

    asyncio.run(go())
    if any(totals.values()):
        with ctx.db.transaction() as s:
            audit.record(s, at=ctx.now(), actor=actor, action="dispatch.reconciled", entity="channel",
                         entity_id=channel_name, after=totals)
    return totals
