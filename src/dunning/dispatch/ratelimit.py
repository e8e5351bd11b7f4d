"""Rate limiting. A limiter answers "may I send n now, and if not, how long to wait" — a pure decision.

``GcraLimiter`` keeps its state in a :class:`LimiterStore`. ``MemoryStore`` serves one process (tests, the
embedded single-sender default); shared stores (database, Redis) hold the same state for many workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class LimiterStore(Protocol):
    def get(self, key: str) -> float | None: ...
    def compare_and_set(self, key: str, old: float | None, new: float) -> bool: ...


@dataclass
class MemoryStore:
    values: dict[str, float] = field(default_factory=dict)

    def get(self, key: str) -> float | None:
        return self.values.get(key)

    def compare_and_set(self, key: str, old: float | None, new: float) -> bool:
        if self.values.get(key) != old:
            return False
        self.values[key] = new
        return True


@dataclass
class GcraLimiter:
    """Generic cell rate algorithm: ``rate`` per second with a burst of ``burst`` cells.

    The theoretical arrival time (TAT) is the only state, so a shared store needs one atomic compare-and-set.
    """

    rate: float
    burst: float = 1.0
    store: LimiterStore = field(default_factory=MemoryStore)
    clock: Callable[[], float] | None = None

    def _now(self) -> float:
        if self.clock is not None:
            return self.clock()
        return asyncio.get_event_loop().time()

    def decide(self, key: str, n: int) -> float:
        """Reserve ``n`` cells; return 0 if granted now, else the seconds to wait before trying again."""
        interval = 1.0 / self.rate
        while True:
            now = self._now()
            old = self.store.get(key)
            tat = max(old if old is not None else now, now)
            new_tat = tat + n * interval
            # A batch larger than the burst is admitted once the bucket has fully drained.
            allow_at = new_tat - max(self.burst, n) * interval
            if allow_at > now:
                return allow_at - now
            if self.store.compare_and_set(key, old, new_tat):
                return 0.0

    async def acquire(self, key: str, n: int) -> None:
        while True:
            wait = self.decide(key, n)
            if wait <= 0:
                return
            await asyncio.sleep(wait)
