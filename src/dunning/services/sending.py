"""Sending: build the dispatcher for a campaign (channel, window, limiter, budget) and run it.

The dispatch engine itself lives in :mod:`dunning.dispatch`; this module wires it to settings, the campaign's
strategy and the delivery-ingest service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from dunning.db.models import Campaign, Strategy
from dunning.dispatch.engine import Budget, Dispatcher, DispatchOutcome, Progress, SendWindow, reconcile
from dunning.dispatch.ratelimit import GcraLimiter
from dunning.errors import NotFoundError
from dunning.services.context import AppContext
from dunning.services.delivery import ingest_events
from dunning.services.policy import policy_for
from dunning.strategy import StrategySpec, parse_strategy


def campaign_window(spec: StrategySpec) -> SendWindow:
    """The strategy's window, never wider than the legal 08:00–22:00."""
    start = max(spec.send_window.start, time(8, 0))
    end = min(spec.send_window.end, time(22, 0))
    return SendWindow(ZoneInfo(spec.timezone), start, end)



def _reply_keywords(ctx: AppContext, profile: str) -> tuple[list[str], list[str]]:
    policy = policy_for(ctx, profile)
    return list(policy.stop_keywords), list(policy.dispute_keywords)


def _make_dispatcher(ctx: AppContext, c: Campaign, spec: StrategySpec,
                     on_progress: Callable[[Progress], None] | None) -> Dispatcher:
    ch_cfg = ctx.settings.channels[c.channel]
    channel = ctx.channel(c.channel)
    stop_kw, dispute_kw = _reply_keywords(ctx, spec.profile)

    def on_events(name: str, events: Any) -> None:
        with ctx.db.transaction() as s:
            ingest_events(s, name, events, now=ctx.now(), stop_keywords=stop_kw, dispute_keywords=dispute_kw)

    return Dispatcher(
        db=ctx.db, channel=channel, channel_name=c.channel, window=campaign_window(spec), clock=ctx.now,
        limiter=GcraLimiter(rate=ch_cfg.rate, burst=max(1.0, min(ch_cfg.rate, 1000.0))),
        budget=Budget(spec.budget.max_per_day, spec.budget.max_per_7d),
        batch_size=ctx.settings.dispatch_batch_size, on_events=on_events, on_progress=on_progress,
    )


def run_dispatch(ctx: AppContext, campaign_id: int, *, pilot_only: bool,
                  on_progress: Callable[[Progress], None] | None) -> DispatchOutcome:
    with ctx.db.transaction() as s:
        c = s.get(Campaign, campaign_id)
        if c is None:
            raise NotFoundError(f"批次 #{campaign_id} 不存在", f"campaign #{campaign_id} does not exist")
        row = s.get(Strategy, c.strategy_id)
        assert row is not None
        spec, _ = parse_strategy(row.body, f"{row.name} v{row.version}")

    async def go() -> DispatchOutcome:
        try:
            channel = ctx.channel(c.channel)
            await reconcile(ctx.db, channel, c.channel, ctx.now())
            dispatcher = _make_dispatcher(ctx, c, spec, on_progress)
            outcome = await dispatcher.run(campaign_id, pilot_only=pilot_only)
            # Collect the receipts that are still on their way.
            for _ in range(3):
                await asyncio.sleep(0.05)
                events = await channel.poll_events()
                if events and dispatcher.on_events is not None:
                    dispatcher.on_events(c.channel, events)
            return outcome
        finally:
            await ctx.close_channels()

    return asyncio.run(go())


