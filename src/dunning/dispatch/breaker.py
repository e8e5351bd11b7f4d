"""The error circuit breaker: a pure counter of consecutive failed send calls.

A *failure* is a call to a channel in which nothing was accepted — the call raised, or every message came back
with an error — other than the provider asking us to slow down (rate-limited: that is back-pressure, handled
by waiting, not a fault). Any accepted message resets the count. After ``threshold`` failures in a row the
breaker is open and the dispatcher pauses the campaign with :meth:`reason` for the operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dunning.channels.base import SubmitResult
from dunning.errors import ChannelError, RateLimitedError


@dataclass
class CircuitBreaker:
    threshold: int = 20
    consecutive: int = 0
    last_error: ChannelError | None = None

    @property
    def open(self) -> bool:
        return self.threshold > 0 and self.consecutive >= self.threshold

    def on_results(self, results: Sequence[SubmitResult]) -> bool:
        """Count one call's per-message results; True when the breaker is (now) open."""
        if any(r.accepted for r in results):
            self.consecutive = 0
            return False
        errors = [r.error for r in results if r.error is not None]
        if errors and not all(isinstance(e, RateLimitedError) for e in errors):
            self.consecutive += 1
            self.last_error = next(e for e in errors if not isinstance(e, RateLimitedError))
        return self.open

    def on_call_error(self, error: ChannelError) -> bool:
        """Count a call that raised; True when the breaker is (now) open."""
        if not isinstance(error, RateLimitedError):
            self.consecutive += 1
            self.last_error = error
        return self.open

    def reason(self, channel: str) -> str:
        last = self.last_error
        cause = f"{last.message_zh}（{last.code}）" if last is not None else "未知错误"
        return (f"熔断：通道 {channel} 连续 {self.consecutive} 次发送失败，最近一次错误：{cause}。"
                "批次已自动暂停，请检查通道后恢复发送。")
