"""Sequence correlation and the submit window of one SMPP session, and the ESME's own back-off pacing.

Contracts:

* :class:`Window` numbers every request PDU (1 .. 0x7FFFFFFF, wrapping) and hands back the future of its
  response; :meth:`Window.resolve` completes it when the response with that sequence number arrives. A
  response nobody waits for any more (timed out, forgotten) is dropped.
* At most ``size`` submit_sm are unanswered at any time (:meth:`Window.acquire` / :meth:`Window.release`),
  shared by every concurrent caller; ``max_in_flight`` is the high-water mark, never above ``size``.
* :meth:`Window.fail_pending` fails every waiting request (connection lost): their outcome is unknown.
* :class:`Aimd` paces submits after the SMSC throttled (see its docstring); before the first throttle it paces
  nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from dunning.channels.smpp import codec as P
from dunning.errors import TransientChannelError


class Window:
    def __init__(self, size: int) -> None:
        self.size = max(1, int(size))
        self._seq = 0
        self._pending: dict[int, asyncio.Future[P.Pdu]] = {}
        self._slots: asyncio.Semaphore | None = None  # created inside the running loop
        self.in_flight = 0
        self.max_in_flight = 0

    def next_seq(self) -> int:
        self._seq = self._seq + 1 if self._seq < 0x7FFFFFFF else 1
        return self._seq

    def expect(self, seq: int) -> asyncio.Future[P.Pdu]:
        """The future of the response to the request numbered ``seq`` (already written or about to be)."""
        fut: asyncio.Future[P.Pdu] = asyncio.get_running_loop().create_future()
        self._pending[seq] = fut
        return fut

    def request(self, transport: asyncio.Transport | None, command_id: int, body: bytes) -> asyncio.Future[P.Pdu]:
        """Write one request PDU and return the future of its response (not counted in the submit window)."""
        if transport is None or transport.is_closing():
            fut: asyncio.Future[P.Pdu] = asyncio.get_running_loop().create_future()
            fut.set_exception(TransientChannelError("SMPP 连接已断开", "SMPP connection is down"))
            return fut
        seq = self.next_seq()
        fut = self.expect(seq)
        transport.write(P.pdu(command_id, seq, body))
        return fut

    def resolve(self, pdu: P.Pdu) -> None:
        fut = self._pending.pop(pdu.sequence, None)
        if fut is not None and not fut.done():
            fut.set_result(pdu)

    def forget(self, futures: Iterable[asyncio.Future[P.Pdu]]) -> None:
        """Stop waiting for these responses (timed out): a late answer is dropped."""
        gone = set(futures)
        for seq in [seq for seq, f in self._pending.items() if f in gone]:
            self._pending.pop(seq, None)

    def fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(TransientChannelError("SMPP 连接中断", "SMPP connection lost"))

    async def acquire(self) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        await self._slots.acquire()
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight

    def release(self, *_: object) -> None:
        """Free one submit slot (usable as a future's done callback)."""
        assert self._slots is not None  # nosec B101  # narrows a type for mypy; acquire() ran first
        self.in_flight -= 1
        self._slots.release()

    async def collect(self, futures: list[asyncio.Future[P.Pdu]], timeout: float) -> None:
        """Wait up to ``timeout`` for these responses; the unanswered ones are cancelled and forgotten."""
        if not futures:
            return
        _, pending = await asyncio.wait(futures, timeout=timeout)
        for fut in pending:
            fut.cancel()
        if pending:
            self.forget(pending)


@dataclass(slots=True)
class Aimd:
    """Back off like a good ESME: after ESME_RTHROTTLED / ESME_RMSGQFUL, pace submits at a bit less than what the
    SMSC accepted in the last second (multiplicative cut, at most once a second), then probe upward slowly
    (additive, ``probe`` of the pace per second), never above ``ceiling`` (the channel's configured rate).
    Until the first throttle it paces nothing: the dispatcher's limiter alone sets the rate."""

    ceiling: float
    cut: float = 0.85
    probe: float = 0.02
    rate: float | None = None
    next_at: float = 0.0
    cut_at: float = float("-inf")
    grown_at: float = 0.0
    second: int = 0  # accepted submits counted per whole second (O(1) per answer): this one and the last
    this_second: int = 0
    last_second: int = 0

    def _count(self, now: float) -> None:
        sec = int(now)
        if sec != self.second:
            self.last_second = self.this_second if sec == self.second + 1 else 0
            self.this_second, self.second = 0, sec

    def seen(self, now: float) -> float:
        """Accepted submits in about the last second."""
        self._count(now)
        return self.this_second + self.last_second * (1.0 - (now - int(now)))

    def on_accept(self, now: float) -> None:
        self._count(now)
        self.this_second += 1
        if self.rate is not None:
            dt = min(1.0, max(0.0, now - self.grown_at))
            self.rate = min(self.ceiling, self.rate + max(1.0, self.rate * self.probe) * dt)
            self.grown_at = now

    def on_throttle(self, now: float) -> None:
        if now - self.cut_at < 1.0:
            return
        seen = self.seen(now) or self.ceiling
        base = min(self.rate, seen) if self.rate is not None else seen
        self.rate = max(1.0, min(self.ceiling, base * self.cut))
        self.cut_at = self.grown_at = now

    def delay(self, now: float) -> float:
        """Seconds to wait before the next PDU may go (and reserve its slot)."""
        if self.rate is None:
            return 0.0
        at = max(now, self.next_at)
        self.next_at = at + 1.0 / self.rate
        return at - now
