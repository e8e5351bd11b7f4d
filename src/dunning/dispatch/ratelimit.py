"""Rate limiting. A limiter answers "may I send n now, and if not, how long to wait" — a pure decision.

``GcraLimiter`` keeps one number per key, the GCRA theoretical arrival time (TAT), in a :class:`LimiterStore`
changed only by compare-and-set, so many processes can share it: :class:`MemoryStore` (one process: tests),
:class:`~dunning.dispatch.state.DbLimiterStore` (SQLite or PostgreSQL) and :class:`RedisLimiterStore`.

The promise is strict: over *any* one-second window the cells granted never exceed ``rate``, while the
sustained rate stays close to it. Plain GCRA with a burst of ``N`` cells lets ``rate + N − 1`` through a
one-second window. So the limiter runs at an effective rate

    r' = (⌊rate⌋·(1 − margin) + 1 − N) / (1 + jitter)

with a tolerance ``τ`` of ``N − 1`` cells, and ``jitter`` seconds of lateness are allowed for: a poller
(:meth:`GcraLimiter.decide`) that comes back up to ``jitter`` late keeps its place (the theoretical arrival
time restarts from ``now − jitter``). For sends ``p..q`` inside one window, ``Σ n·T ≤ g_q − g_p + jitter + τ + T``, hence at most
``r'·(1 + jitter) + N − 1 ≤ ⌊rate⌋·(1 − margin)`` cells; ``margin`` (0.5 %) is left for the network between
us and the provider.

:func:`batch_size_for` keeps ``N`` near 1.5 % of the rate, so the sustained rate is about 96 % of the
configured one (``rate = 200``: 193 per second).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class LimiterStore(Protocol):
    """Where a limiter keeps one float per key.

    ``update`` is the limiter's only write: atomically read the value, call ``step(old)`` (which reads the
    clock itself, so the decision is made while no other writer can move the value) and store what it returns
    (``None``: leave the value as it is). Stores implement it with a compare-and-set.
    """

    def get(self, key: str) -> float | None: ...
    def compare_and_set(self, key: str, old: float | None, new: float) -> bool: ...
    def update(self, key: str, step: Callable[[float | None], float | None]) -> None: ...


@dataclass
class MemoryStore:
    """One process's memory: for tests and single-process tools, never the truth for a deployment."""

    values: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, key: str, step: Callable[[float | None], float | None]) -> None:
        with self._lock:
            new = step(self.values.get(key))
            if new is not None:
                self.values[key] = new

    def get(self, key: str) -> float | None:
        return self.values.get(key)

    def compare_and_set(self, key: str, old: float | None, new: float) -> bool:
        if self.values.get(key) != old:
            return False
        self.values[key] = new
        return True


_REDIS_CAS = """
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or (cur ~= false and cur == ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


class RedisLimiterStore:
    """TAT values in Redis; compare-and-set is one Lua script (atomic on the server).

    Values are stored as ``repr(float)`` so the comparison is exact; keys expire once they are in the past by
    more than a minute, so an idle channel leaves nothing behind.
    """

    def __init__(self, client: Any, prefix: str = "dunning:rate:") -> None:
        self.client = client
        self.prefix = prefix
        self._cas = client.register_script(_REDIS_CAS)

    @classmethod
    def from_url(cls, url: str, prefix: str = "dunning:rate:") -> RedisLimiterStore:
        import redis

        return cls(redis.Redis.from_url(url), prefix)

    def get(self, key: str) -> float | None:
        raw = self.client.get(self.prefix + key)
        return None if raw is None else float(raw)

    def compare_and_set(self, key: str, old: float | None, new: float) -> bool:
        ttl_ms = max(60_000, int((new - time.time()) * 1000) + 60_000)
        done = self._cas(keys=[self.prefix + key], args=["" if old is None else repr(old), repr(new), ttl_ms])
        return bool(done)

    def update(self, key: str, step: Callable[[float | None], float | None]) -> None:
        # Optimistic: a Redis round trip is well under a millisecond, so the clock read in step() is fresh.
        while True:
            old = self.get(key)
            new = step(old)
            if new is None or self.compare_and_set(key, old, new):
                return


def batch_size_for(rate: float, max_batch: int, share: float = 0.015) -> int:
    """The largest batch that keeps the strict one-second promise within ~``share`` of the rate."""
    return max(1, min(max_batch, int(rate * share)))


@dataclass
class GcraLimiter:
    """Generic cell rate algorithm, strict over any one-second window (see the module docstring).

    ``rate`` cells per second; ``max_batch`` the largest number of cells one call may ask for (it sets the
    tolerance); ``clock`` returns seconds — wall-clock time by default, because processes sharing a store must
    share a time base.
    """

    rate: float
    max_batch: int = 1
    store: LimiterStore = field(default_factory=MemoryStore)
    clock: Callable[[], float] = time.time
    margin: float = 0.005
    jitter: float = 0.02
    burst: float | None = None  # older spelling of max_batch (clamped by batch_size_for)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.burst is not None:
            self.max_batch = max(self.max_batch, batch_size_for(self.rate, int(self.burst)))
        self.max_batch = max(1, int(self.max_batch))
        whole = math.floor(self.rate) if self.rate >= 1 else self.rate
        effective = (whole * (1.0 - self.margin) + 1 - self.max_batch) / (1.0 + self.jitter)
        if effective <= 0:
            raise ValueError(f"max_batch {self.max_batch} too large for rate {self.rate}; use batch_size_for()")
        self.interval = 1.0 / effective
        self.tolerance = (self.max_batch - 1) * self.interval

    @property
    def effective_rate(self) -> float:
        return 1.0 / self.interval

    def decide(self, key: str, n: int) -> float:
        """Take ``n`` cells; return 0 if granted now, else the seconds to wait before asking again.

        More than ``max_batch`` cells are granted only once the bucket has drained (then a window may see up to
        ``n − max_batch`` cells more than the rate: callers size batches with :func:`batch_size_for`).
        """
        wait = [0.0]

        def step(old: float | None) -> float | None:
            now = self.clock()
            start = max(old if old is not None else now, now - self.jitter)
            wait[0] = start + (n - 1) * self.interval - max(self.tolerance, (n - 1) * self.interval) - now
            if wait[0] > 1e-9:
                return None
            wait[0] = 0.0
            return start + n * self.interval

        self.store.update(key, step)
        return wait[0]

    def reserve(self, key: str, n: int, horizon: float) -> tuple[bool, float]:
        """Take ``n`` cells for the earliest slot within ``horizon`` seconds: ``(True, at)`` — they are yours, to be
        sent at ``at`` (on :attr:`clock`, now or later); ``(False, wait)`` — no slot that soon, ask again in ``wait``
        seconds.

        The decision is :meth:`decide`'s, made ahead of time, except that a reservation made after a pause starts
        from now: :meth:`decide` lets a poller that came back up to ``jitter`` late keep its place, but a caller
        of this method may itself send up to ``jitter`` after its slot (a caller later than that must not use
        the cells), and the effective rate allows for one ``jitter``, not both (with both, one window at the SMSC
        held 2,010 PDUs at rate 2,000). So the window promise holds when the caller sends at the slot, up to
        ``jitter`` late. A caller that reserves while its previous cells are on the
        wire takes the limiter (a thread hop, a store round trip) off the path from slot to send, so scheduling
        delays of a busy process cost no cells as long as they stay within ``jitter``.
        """
        out = [False, 0.0]

        def step(old: float | None) -> float | None:
            now = self.clock()
            start = max(old if old is not None else now, now)
            due = start + (n - 1) * self.interval - max(self.tolerance, (n - 1) * self.interval) - now
            if due > horizon + 1e-9:
                out[:] = [False, due - horizon]
                return None
            out[:] = [True, now + max(0.0, due)]
            return start + n * self.interval

        self.store.update(key, step)
        return bool(out[0]), float(out[1])

    async def acquire(self, key: str, n: int, *, on_wait: Callable[[], bool] | None = None) -> bool:
        """Wait until ``n`` cells are granted. ``on_wait`` is asked between sleeps; False abandons the wait."""
        while True:
            wait = self.decide(key, n)
            if wait <= 0:
                return True
            if on_wait is not None and not on_wait():
                return False
            await asyncio.sleep(min(wait, 0.25))


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The largest number of events inside any half-open window ``[t, t + window)`` (times need not be sorted)."""
    ts = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ts):
        while ts[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def sustained_rate(times: list[float]) -> float:
    """Events per second between the first and the last event (the span a steady sender needs)."""
    if len(times) < 2:
        return math.inf if times else 0.0
    ts = sorted(times)
    return (len(ts) - 1) / (ts[-1] - ts[0])
