"""How a claim is cut: messages per claim (sized in time) and per channel call (sized by the limiter).

Pure functions of a route's capabilities and limiter and the dispatcher's configuration, so one configuration
serves every run.
"""

from __future__ import annotations

from dataclasses import dataclass

from dunning.channels.base import Channel, OutboundMessage
from dunning.dispatch.ratelimit import GcraLimiter


@dataclass
class Route:
    """A channel the dispatcher may send through, with its limiter (keyed by the channel's name)."""

    name: str
    channel: Channel
    limiter: GcraLimiter
    count_parts: bool = False  # the limiter counts PDUs (rate_unit = "parts"), not messages


@dataclass(frozen=True, slots=True)
class ClaimSizing:
    """How much one claim holds: about ``seconds`` of sending, between ``minimum`` and ``maximum`` messages
    (see :class:`~dunning.dispatch.engine.Dispatcher`), in calls of at most ``batch_size``."""

    batch_size: int = 500
    seconds: float = 0.05
    maximum: int = 10_000
    minimum: int = 64

    def chunk(self, route: Route) -> int:
        """Messages per channel call: the channel's and the limiter's largest batch, the configured size."""
        return max(1, min(self.batch_size, route.channel.capabilities.max_batch, route.limiter.max_batch))

    def chunks(self, route: Route, messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
        """Channel calls: at most :meth:`chunk` messages and, where the rate counts parts, at most the limiter's
        batch in PDUs (a message's parts always travel in one call)."""
        size = self.chunk(route)
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

    def claim(self, route: Route, avg_parts: float = 1.0) -> int:
        """Messages per claim: about ``seconds`` of sending at the limiter's rate, paced chunk by chunk, so the
        database work per message stays low (one claim and one record transaction for several channel calls).
        At low rates, where the strict rate promise keeps chunks small, up to ``batch_size``; at high rates up
        to ``maximum``. Channels whose calls are smaller than the limiter's batch get one call a claim.
        ``avg_parts``: PDUs per message in the last claim (claims are sized in time, rates in parts)."""
        chunk = self.chunk(route)
        if chunk < route.limiter.max_batch:
            return chunk
        cap = self.batch_size if chunk < self.batch_size else max(self.batch_size, self.maximum)
        rate = route.limiter.effective_rate / (avg_parts if route.count_parts else 1.0)
        per_claim = max(1, max(int(rate * self.seconds), self.minimum) // chunk)
        return max(chunk, min(cap, chunk * per_claim))
