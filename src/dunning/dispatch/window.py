"""The daily send window a run keeps to, in the campaign's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo


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
