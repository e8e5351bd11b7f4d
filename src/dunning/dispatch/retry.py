"""Retry policy as a pure function: a channel error and the attempt count in, a typed decision out."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dunning.errors import ChannelError, RateLimitedError


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base: float = 0.5
    cap: float = 60.0

    def decide(self, error: ChannelError, attempts: int, rng: random.Random | None = None) -> Retry | GiveUp:
        if not error.retryable:
            return GiveUp(error.code)
        if attempts >= self.max_attempts:
            return GiveUp("retries_exhausted")
        if isinstance(error, RateLimitedError):
            return Retry(max(error.retry_after, 0.0))
        return Retry(self.backoff(attempts, rng))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with full jitter: uniform in ``[0, min(cap, base·2^attempt)]``."""
        r = rng or random
        return r.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 32)))
