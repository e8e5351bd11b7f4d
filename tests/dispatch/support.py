"""Helpers shared by dispatch tests, the sender process and the benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dunning.channels.base import ChannelEvent
from dunning.config import ChannelSettings, Settings
from dunning.dispatch.engine import Dispatcher, Route, SendWindow
from dunning.dispatch.ratelimit import GcraLimiter, LimiterStore, batch_size_for
from dunning.dispatch.state import DbLimiterStore
from dunning.services.campaigns.delivery import ingest_events
from dunning.services.context import AppContext, BusinessClock, build_context
from tests.dispatch.factories import bulk_campaign
from tests.peers.smpp_peer import SmppPeer

# 10:00 Asia/Shanghai: inside every send window.
BUSINESS_NOON = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
WINDOW = SendWindow(ZoneInfo("Asia/Shanghai"), time(8, 0), time(22, 0))


def smpp_settings(address: tuple[str, int], *, rate: float = 100_000.0, fallback: str | None = None,
                  password: str = "secret", **options: Any) -> ChannelSettings:
    opts: dict[str, Any] = {"host": address[0], "port": address[1], "system_id": "dunning", "password": password,
                            "window": 256, "reconnect_initial": 0.05, "reconnect_max": 0.5, **options}
    return ChannelSettings(kind="smpp", rate=rate, fallback=fallback, options=opts)


def make_ctx(data_dir: Path, channels: dict[str, ChannelSettings], *, database_url: str | None = None,
             clock: Any = None, **settings: Any) -> AppContext:
    s = Settings(data_dir=data_dir, database_url=database_url, secret_key="test-secret-key",  # type: ignore[arg-type]
                 channels=channels, **settings)
    return build_context(s, clock=clock or BusinessClock(BUSINESS_NOON))


def ingest(ctx: AppContext) -> Any:
    """The delivery service as the dispatcher's ``on_events`` (keywords of the CN policy's core)."""

    def on_events(name: str, events: Sequence[ChannelEvent]) -> None:
        with ctx.db.transaction() as s:
            ingest_events(s, name, events, now=ctx.now(), stop_keywords=["退订", "TD"],
                          dispute_keywords=["不是本人"])

    return on_events


def limiter(ctx: AppContext, name: str, store: LimiterStore | None = None, batch: int = 1000) -> GcraLimiter:
    rate = ctx.settings.channels[name].rate
    return GcraLimiter(rate=rate, max_batch=batch_size_for(rate, batch), store=store or DbLimiterStore(ctx.db.engine))


def dispatcher(ctx: AppContext, name: str, *, fallbacks: Sequence[str] = (), store: LimiterStore | None = None,
               **kw: Any) -> Dispatcher:
    """A dispatcher for channel ``name`` of ``ctx`` with the delivery service attached and a shared limiter."""
    store = store or DbLimiterStore(ctx.db.engine)
    options: dict[str, Any] = {
        "db": ctx.db, "channel": ctx.channel(name), "channel_name": name, "window": WINDOW, "clock": ctx.now,
        "limiter": limiter(ctx, name, store), "on_events": ingest(ctx), "batch_size": 1000,
        "fallbacks": [Route(f, ctx.channel(f), limiter(ctx, f, store),
                            ctx.settings.channels[f].effective_rate_unit == "parts") for f in fallbacks],
        "count_parts": ctx.settings.channels[name].effective_rate_unit == "parts",
    }
    options.update(kw)
    return Dispatcher(**options)


def warm_up(peer: SmppPeer, workdir: Path, n: int = 200) -> int:
    """Send ``n`` messages through ``peer`` (a database of their own, no rate) before a test times the peer's log;
    returns the number of log lines to skip.

    A carrier's SMSC is running warm when we bind. The node peer is not: logging our own write times beside its
    log showed its first submits stamped 20–36 ms after we wrote them (later ones within a millisecond), which
    squeezes the first second of a rate test into less than a second of its clock (200–201 counted where our own
    writes never exceeded 195)."""
    ctx = make_ctx(workdir / "warm-up", {"smpp": smpp_settings(peer.address)})
    cid = bulk_campaign(ctx, n, channel="smpp", phone_start=90_000_000)

    async def go() -> str:
        try:
            return (await dispatcher(ctx, "smpp").run(cid)).stopped
        finally:
            await ctx.close_channels()

    stopped = asyncio.run(go())
    ctx.db.dispose()
    if stopped != "done":
        raise RuntimeError(f"warming the SMPP peer up stopped with {stopped!r}")
    return len(peer.entries())
