"""What every service needs, built once by an entry point: settings, database, clock, channels."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dunning.channels import registry
from dunning.channels.base import Channel
from dunning.config import Settings, get_settings
from dunning.db.engine import Database, open_database
from dunning.errors import ConfigError


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class BusinessClock:
    """A clock that starts at ``start`` and advances with real elapsed time (drills, the demo at night)."""

    start: datetime
    origin: float = field(default_factory=time.monotonic)

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Callable[[], datetime] = _utcnow
    channel_io: dict[str, dict[str, Any]] = field(default_factory=dict)  # injected seams per channel name
    _channels: dict[str, Channel] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    @property
    def data_dir(self) -> Path:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return self.settings.data_dir

    def channel(self, name: str) -> Channel:
        """The channel instance ``name`` from settings (built once per context)."""
        if name not in self._channels:
            cfg = self.settings.channels.get(name)
            if cfg is None:
                known = ", ".join(self.settings.channels) or "（无）"
                raise ConfigError(f"未配置通道 {name}（已配置：{known}）", f"channel {name!r} is not configured")
            self._channels[name] = registry.create(name, cfg, **self.channel_io.get(name, {}))
        return self._channels[name]

    async def close_channels(self) -> None:
        for ch in self._channels.values():
            await ch.close()
        self._channels.clear()


def build_context(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> AppContext:
    settings = settings or get_settings()
    db = open_database(settings.resolved_database_url)
    if clock is None and settings.business_time is not None:
        start = settings.business_time
        clock = BusinessClock(start if start.tzinfo else start.replace(tzinfo=UTC))
    ctx = AppContext(settings=settings, db=db, clock=clock or _utcnow)
    from dunning.services.calendar import calendar_for  # the calendar service needs the context type

    calendar_for(ctx)  # install the holiday calendar (shipped + imported years) for strategy.calendar's functions
    return ctx
