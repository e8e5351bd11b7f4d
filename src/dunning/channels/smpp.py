"""SMPP 3.4 transceiver channel (carrier-direct / aggregator SMSC): the first-class path for collection SMS.

Why not ``smpplib``: it is a blocking-socket client whose read loop runs in the caller's thread and whose
responses reach one global handler, not the request that caused them. Driving it from asyncio would take a
thread hop per PDU and a hand-made sequence → request map anyway, and it has no reconnect. A windowed,
pipelined ESME on an :class:`asyncio.Protocol` is small (PDU codec in :mod:`dunning.channels.smpp_pdu`) and
keeps thousands of submits per second on one connection without threads.

Contract (beyond :mod:`dunning.channels.base`):

* One transceiver bind (``bind_mode = "transceiver"``) carries submits, receipts and MO; ``enquire_link`` every
  ``enquire_link_interval`` seconds; a lost connection is re-established in the background with exponential
  backoff and jitter (``reconnect_initial`` .. ``reconnect_max`` seconds). A rejected bind (bad system_id or
  password) stops reconnecting and surfaces as :class:`PermanentChannelError`.
* At most ``window`` submit_sm are unanswered at any time, shared by every concurrent ``send_batch``.
* Each message goes as one submit_sm per part: GSM-safe ASCII 160/153, otherwise UCS-2 70/67 with an 8-bit
  concatenation UDH. ``SubmitResult.part_ids`` lists every part's SMSC message_id; ``provider_id`` is part 1's.
* The idempotency key travels in the vendor TLV ``client_ref_tlv`` (default 0x1501) on every part, so the
  SMSC's log can prove exactly-once; ``query_status`` asks the SMSC by that reference with a query_sm
  (a vendor extension, ``query_by_reference``; an SMSC that does not support it makes it raise
  :class:`PermanentChannelError` with code ``channel.query_unsupported``).
* Outcomes per message: ESME_RTHROTTLED / ESME_RMSGQFUL → :class:`RateLimitedError` (remaining messages of
  the batch are not sent); other error statuses → :class:`PermanentChannelError` naming the status. When the
  connection drops or a response times out after a part was written, the outcome is unknown: the result
  carries a non-retryable ``ChannelError`` with code ``channel.outcome_unknown`` — the message may have been
  sent, so it must be reconciled, never blindly resent. A batch in which nothing was accepted and every
  message was throttled (or never written) raises instead of returning.
* No fragments: a concatenated message's parts go back to back, in order (a kill can hardly fall between
  them). When some parts were accepted and others throttled, never written or unanswered (link lost), the
  missing parts — part 1 included — are retried with the same UDH reference for up to
  ``partial_retry_seconds`` (an accepted part is never resent), so the handset can assemble the whole text; if
  they still fail, or one was refused for good, the result is a non-retryable error ``channel.partial`` that
  keeps the accepted part ids (recorded as partial). A batch stopped by throttling writes no further message.
* Back-off: on ESME_RTHROTTLED / ESME_RMSGQFUL the channel paces its own submits (:class:`Aimd`: cut to a bit
  below what the SMSC accepted in the last second, probe upward slowly, never above the configured ``rate``).
* Receipts (deliver_sm with esm_class 0x04/0x20) become :class:`DeliveryReport` keyed by the
  ``receipted_message_id`` TLV, else the ``id:`` of the receipt text; ``message_state`` TLV wins over
  ``stat:``; receipts without ``sub``/``dlvrd`` or with undecodable text are accepted (an unattributable one is
  kept with an empty ``provider_id`` and status UNKNOWN). Other deliver_sm are MO replies
  (:class:`InboundMessage`), concatenated MO reassembled. Store, then acknowledge: a deliver_sm_resp is sent
  only by :meth:`SmppChannel.acknowledge`, which the caller invokes after committing the events
  :meth:`SmppChannel.poll_events` handed over; what a crash or a dropped link leaves unacknowledged, the SMSC
  redelivers.
* Every request has a deadline (``connect_timeout`` for connect, ``response_timeout`` for bind, submit,
  query_sm and enquire_link): a silent SMSC makes the call raise, never hang; a submit or query that timed out
  has an unknown outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from dunning.channels import smpp_pdu as P
from dunning.channels.base import (
    Capabilities,
    ChannelEvent,
    DeliveryReport,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    SubmitResult,
    WebhookRequest,
)
from dunning.channels.registry import register
from dunning.config import ChannelSettings
from dunning.errors import (
    ChannelError,
    PermanentChannelError,
    RateLimitedError,
    TransientChannelError,
)

_RATE_LIMIT_STATUSES = frozenset({P.ESME_RTHROTTLED, P.ESME_RMSGQFUL})
_BIND_REJECTED = frozenset({P.ESME_RBINDFAIL, P.ESME_RINVPASWD, P.ESME_RINVSYSID})

_RECEIPT_FIELD = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err)\s*:\s*([^\s]*)")
_STAT = {
    "DELIVRD": DeliveryStatus.DELIVERED,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "UNDELIV": DeliveryStatus.FAILED,
    "UNDELIVERABLE": DeliveryStatus.FAILED,
    "REJECTD": DeliveryStatus.FAILED,
    "REJECTED": DeliveryStatus.FAILED,
    "DELETED": DeliveryStatus.FAILED,
}
# SMPP 3.4 message_state values (5.2.28)
_STATE = {
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.EXPIRED,
    4: DeliveryStatus.FAILED,
    5: DeliveryStatus.FAILED,
    8: DeliveryStatus.FAILED,
}

_BIND_COMMANDS = {
    "transceiver": P.BIND_TRANSCEIVER,
    "transmitter": P.BIND_TRANSMITTER,
    "receiver": P.BIND_RECEIVER,
}


def _status_name(status: int) -> str:
    return P.STATUS_NAMES.get(status, f"0x{status:08X}")


@dataclass(frozen=True, slots=True)
class SmppOptions:
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = ""
    system_type: str = ""
    bind_mode: str = "transceiver"
    source_addr: str = ""
    source_ton: int | None = None
    source_npi: int | None = None
    dest_ton: int = 1
    dest_npi: int = 1
    service_type: str = ""
    window: int = 128
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 5.0
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    throttle_retry_after: float = 1.0
    partial_retry_seconds: float = 5.0
    client_ref_tlv: int = P.TLV_CLIENT_REF
    # query_sm by our client reference (vendor TLV) instead of the SMSC's message_id: only for SMSCs that
    # implement that extension. Off by default: a standard SMSC answers such a query "query failed".
    query_by_reference: bool = False
    # Set only when the SMSC's by-reference lookup covers every submit it ever accepted (its log is complete):
    # then "query failed" proves the message never arrived and reconciliation may queue it again.
    reference_query_authoritative: bool = False
    receipt_timezone: str = "Asia/Shanghai"
    default_alphabet: str = "gsm7"  # what data_coding 0 means to this SMSC: gsm7 | ascii | latin1 (docs/channels.md)

    @classmethod
    def from_settings(cls, settings: ChannelSettings, address: tuple[str, int] | None) -> SmppOptions:
        o = settings.options
        fields = cls.__dataclass_fields__
        values = {k: v for k, v in o.items() if k in fields}
        if "client_ref_tlv" in values and isinstance(values["client_ref_tlv"], str):
            values["client_ref_tlv"] = int(values["client_ref_tlv"], 0)
        opts = cls(**values)
        if opts.default_alphabet not in P.ALPHABETS:
            raise PermanentChannelError(f"SMPP 通道的 default_alphabet 无效：{opts.default_alphabet}（可选 gsm7/ascii/latin1）",
                              f"invalid SMPP default_alphabet {opts.default_alphabet!r} (gsm7, ascii or latin1)")
        if address is not None:
            opts = cls(**{**values, "host": address[0], "port": int(address[1])})
        return opts


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


@dataclass(slots=True)
class _Batch:
    """Shared by the parts of one send_batch call: once throttled, later messages are not written."""

    throttled: bool = False


@dataclass(slots=True)
class _Part:
    dest: str
    data_coding: int
    esm_class: int
    tlvs: bytes
    short_message: bytes
    future: asyncio.Future[P.Pdu] | None = None
    written: bool = False
    status: int | None = None  # None: no answer (connection lost / timeout / never written)
    message_id: str | None = None


@dataclass(slots=True)
class _Mo:
    parts: dict[int, str] = field(default_factory=dict)
    total: int = 0
    acks: list[tuple[_Protocol | None, int]] = field(default_factory=list)


class _Protocol(asyncio.Protocol):
    def __init__(self, channel: SmppChannel) -> None:
        self.channel = channel
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            frames, self.buffer = P.split_frames(self.buffer + data)
        except ValueError:
            # a peer that breaks framing cannot be resynchronised: drop the link, the supervisor reconnects
            if self.transport is not None:
                self.transport.abort()
            return
        replies: list[bytes] = []
        for frame in frames:
            self.channel._on_frame(P.parse_pdu(frame), replies)
        if replies and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(replies))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.channel._on_lost(self)


@register("smpp")
class SmppChannel:
    kind: ClassVar[str] = "smpp"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=1000,
        max_rate=None,
        free_text=True,
        template_based=False,
        delivery_reports=True,
        inbound=True,
        status_query=True,
    )

    def __init__(self, name: str, settings: ChannelSettings, *, address: tuple[str, int] | None = None,
                 **_io: object) -> None:
        self.name = name
        self.options = SmppOptions.from_settings(settings, address)
        if self.options.bind_mode not in _BIND_COMMANDS:
            raise PermanentChannelError(
                f"SMPP 绑定方式 {self.options.bind_mode} 无效（可选 transceiver/transmitter/receiver）",
                f"invalid SMPP bind_mode {self.options.bind_mode!r}",
            )
        secret = settings.secrets.get("password")
        self._password = secret.get_secret_value() if secret else str(settings.options.get("password", ""))
        src = self.options.source_addr
        self._source_ton = self.options.source_ton if self.options.source_ton is not None else (
            5 if src and not src.lstrip("+").isdigit() else (1 if src.startswith("+") else 0))
        self._source_npi = self.options.source_npi if self.options.source_npi is not None else (
            0 if self._source_ton == 5 else 1)
        self._source_addr = src.lstrip("+")
        self._tz = ZoneInfo(self.options.receipt_timezone)
        self._seq = 0
        self._concat_ref = random.randrange(256)  # nosec B311  # jitter and sequence numbers, not security
        self._pending: dict[int, asyncio.Future[P.Pdu]] = {}
        self._events: deque[ChannelEvent] = deque()
        # deliver_sm not yet acknowledged: per queued event, the (connection, sequence) of its PDUs; those
        # handed out by poll_events() wait in _handed until acknowledge()
        self._event_acks: deque[list[tuple[_Protocol | None, int]]] = deque()
        self._handed: list[tuple[_Protocol | None, int]] = []
        self._mo_acks: dict[int, list[tuple[_Protocol | None, int]]] = {}
        self._mo_parts: dict[tuple[str, int], _Mo] = {}
        self._window: asyncio.Semaphore | None = None
        self._proto: _Protocol | None = None
        self._bound: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._fatal: ChannelError | None = None
        self._last_error: ChannelError | None = None
        self._closing = False
        self.reconnects = 0  # connections established after the first one (observable by tests and ops)
        self._in_flight = 0
        self._aimd = Aimd(ceiling=float(settings.rate))
        self.throttled = 0  # submit_sm answered ESME_RTHROTTLED / ESME_RMSGQFUL (observable by tests and ops)
        self.max_in_flight = 0  # high-water mark of unanswered submit_sm, never above options.window

    # ----------------------------------------------------------------- connection lifecycle

    async def open(self) -> None:
        await self._await_bound()

    async def check(self) -> None:
        """Bind (if not bound) and prove the link with an enquire_link round trip; nothing is submitted."""
        await self._await_bound()
        resp = await self._answer(P.ENQUIRE_LINK, b"", "enquire_link")
        if resp.status != P.ESME_ROK:
            raise TransientChannelError(
                f"SMPP 链路检测失败：{_status_name(resp.status)}", f"enquire_link failed: {_status_name(resp.status)}"
            )

    async def close(self) -> None:
        self._closing = True
        proto = self._proto
        if proto is not None and proto.transport is not None and not proto.transport.is_closing():
            with contextlib.suppress(ChannelError, TimeoutError):
                await asyncio.wait_for(self._request(P.UNBIND, b""), timeout=1.0)
            if proto.transport is not None:
                proto.transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proto.lost), timeout=1.0)
        for task in (self._keepalive, self._supervisor):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._keepalive = self._supervisor = None
        self._fail_pending()
        self._proto = None
        self._closing = False
        self._fatal = None
        if self._bound is not None:
            self._bound.clear()

    async def _await_bound(self) -> None:
        if self._bound is None:
            self._bound = asyncio.Event()
            self._window = asyncio.Semaphore(max(1, int(self.options.window)))
        if self._fatal is not None:
            raise self._fatal
        if self._bound.is_set():
            return
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(self._supervise(), name=f"smpp-{self.name}")
        bound_wait = asyncio.ensure_future(self._bound.wait())
        try:
            await asyncio.wait({bound_wait, self._supervisor}, timeout=self.options.connect_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            bound_wait.cancel()
        if self._fatal is not None:
            raise self._fatal
        if not self._bound.is_set():
            last = self._last_error
            raise TransientChannelError(
                f"无法连接 SMPP 服务器 {self.options.host}:{self.options.port}"
                + (f"：{last.message_zh}" if last else ""),
                f"cannot bind to SMPP server {self.options.host}:{self.options.port}"
                + (f": {last.message_en}" if last else ""),
            )

    async def _supervise(self) -> None:
        """Connect, bind, wait for the link to drop, back off, repeat — until closed or bind is refused."""
        assert self._bound is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        delay = self.options.reconnect_initial
        connected_once = False
        while not self._closing:
            try:
                proto = await self._connect_and_bind()
            except PermanentChannelError as exc:
                self._fatal = exc
                return
            except TransientChannelError as exc:
                self._last_error = exc
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # nosec B311  # jitter and sequence numbers, not security
                delay = min(self.options.reconnect_max, delay * 2)
                continue
            if connected_once:
                self.reconnects += 1
            connected_once = True
            delay = self.options.reconnect_initial
            self._bound.set()
            self._keepalive = asyncio.create_task(self._enquire_loop(proto))
            await proto.lost
            self._bound.clear()
            if self._keepalive is not None:
                self._keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._keepalive
                self._keepalive = None

    async def _connect_and_bind(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.options.host, self.options.port),
                timeout=self.options.connect_timeout,
            )
        except (TimeoutError, OSError) as exc:
            raise TransientChannelError(f"连接失败：{exc}", f"connect failed: {exc}") from exc
        self._proto = proto
        body = (P.cstr(self.options.system_id) + P.cstr(self._password) + P.cstr(self.options.system_type)
                + bytes((0x34, 0, 0)) + P.cstr(""))
        try:
            resp = await asyncio.wait_for(
                self._request(_BIND_COMMANDS[self.options.bind_mode], body), timeout=self.options.response_timeout
            )
        except (TimeoutError, ChannelError) as exc:
            if proto.transport is not None:
                proto.transport.abort()
            raise TransientChannelError(f"绑定无应答：{exc}", f"bind got no answer: {exc}") from exc
        if resp.status != P.ESME_ROK:
            if proto.transport is not None:
                proto.transport.close()
            name = _status_name(resp.status)
            if resp.status in _BIND_REJECTED:
                raise PermanentChannelError(
                    f"SMPP 绑定被拒绝（{name}）：请检查 system_id 和密码",
                    f"SMPP bind rejected ({name}): check system_id and password",
                )
            raise TransientChannelError(f"SMPP 绑定失败（{name}）", f"SMPP bind failed ({name})")
        return proto

    async def _enquire_loop(self, proto: _Protocol) -> None:
        while True:
            await asyncio.sleep(self.options.enquire_link_interval)
            try:
                await asyncio.wait_for(self._request(P.ENQUIRE_LINK, b""), timeout=self.options.response_timeout)
            except (TimeoutError, ChannelError):
                if proto.transport is not None:
                    proto.transport.abort()  # a silent peer: force a reconnect
                return

    # ----------------------------------------------------------------- framing

    def _next_seq(self) -> int:
        self._seq = self._seq + 1 if self._seq < 0x7FFFFFFF else 1
        return self._seq

    def _request(self, command_id: int, body: bytes) -> asyncio.Future[P.Pdu]:
        """Write one request PDU and return the future of its response (not counted in the submit window)."""
        proto = self._proto
        fut: asyncio.Future[P.Pdu] = asyncio.get_running_loop().create_future()
        if proto is None or proto.transport is None or proto.transport.is_closing():
            fut.set_exception(TransientChannelError("SMPP 连接已断开", "SMPP connection is down"))
            return fut
        seq = self._next_seq()
        self._pending[seq] = fut
        proto.transport.write(P.pdu(command_id, seq, body))
        return fut

    def _on_frame(self, pdu: P.Pdu, replies: list[bytes]) -> None:
        cid = pdu.command_id
        if cid & P.RESP:
            fut = self._pending.pop(pdu.sequence, None)
            if fut is not None and not fut.done():
                fut.set_result(pdu)
            return
        if cid == P.DELIVER_SM:
            # Store, then acknowledge: the deliver_sm_resp is written by acknowledge(), after the caller has
            # committed what poll_events() handed over. An SMSC redelivers what was never acknowledged.
            ack = (self._proto, pdu.sequence)
            event = self._event_of(pdu, ack)
            if event is not None:
                self._events.append(event)
                self._event_acks.append(self._mo_acks.pop(id(event), [ack]))
        elif cid == P.ENQUIRE_LINK:
            replies.append(P.pdu(P.ENQUIRE_LINK | P.RESP, pdu.sequence))
        elif cid == P.UNBIND:
            replies.append(P.pdu(P.UNBIND | P.RESP, pdu.sequence))
            proto = self._proto
            if proto is not None and proto.transport is not None:
                asyncio.get_running_loop().call_soon(proto.transport.close)
        else:
            replies.append(P.pdu(P.GENERIC_NACK, pdu.sequence, status=P.ESME_RINVCMDID))

    def _on_lost(self, proto: _Protocol) -> None:
        if proto is self._proto:
            self._fail_pending()

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(TransientChannelError("SMPP 连接中断", "SMPP connection lost"))

    # ----------------------------------------------------------------- submit

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        if len(messages) > self.capabilities.max_batch:
            raise ValueError(f"batch of {len(messages)} exceeds max_batch {self.capabilities.max_batch}")
        if not messages:
            return []
        await self._await_bound()
        batch = _Batch()
        plans = [self._plan(m) for m in messages]
        for parts in plans:
            if batch.throttled:
                break
            # the parts of a message go back to back, in order: a kill can hardly fall between them
            await self._write_parts(parts, batch)
        await self._collect([p for parts in plans for p in parts])
        # No fragments: where some parts were accepted and others throttled or unanswered, the missing ones
        # (part 1 included) are sent again with the same UDH reference until accepted or the deadline passes
        partial = [parts for parts in plans if len(parts) > 1 and any(p.status == P.ESME_ROK for p in parts)
                   and any(p.status != P.ESME_ROK for p in parts)]
        if partial:
            await asyncio.gather(*(self._complete_partial(parts) for parts in partial))
        results = [self._result(m, parts, batch.throttled) for m, parts in zip(messages, plans, strict=True)]
        if all(r.error is not None for r in results):
            errors = [r.error for r in results]
            if all(isinstance(e, RateLimitedError) for e in errors):
                raise RateLimitedError(
                    "SMPP 服务器限流（ESME_RTHROTTLED/ESME_RMSGQFUL），本批未发送",
                    "SMPP server throttled the batch; nothing was sent",
                    retry_after=self.options.throttle_retry_after,
                )
            if all(not p.written for parts in plans for p in parts):
                raise TransientChannelError("SMPP 连接中断，本批未发送", "SMPP connection lost; nothing was sent")
        return results

    def _plan(self, m: OutboundMessage) -> list[_Part]:
        try:
            self._concat_ref = (self._concat_ref + 1) & 0xFF
            dc, esm, chunks = P.segment_text(m.text, self._concat_ref, self.options.default_alphabet)
        except ValueError:
            chunks, dc, esm = [], 0, 0
        tlvs = b""
        if self.options.client_ref_tlv:
            tlvs = P.tlv(self.options.client_ref_tlv, P.cstr(m.idempotency_key, "utf-8"))
        phone = m.phone.strip()
        dest = phone.lstrip("+")
        return [_Part(dest, dc, esm, tlvs, chunk) for chunk in chunks] or [_Part(dest, dc, esm, tlvs, b"", status=-1)]

    async def _write_parts(self, parts: list[_Part], batch: _Batch) -> None:
        assert self._window is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        loop = asyncio.get_running_loop()
        for part in parts:
            if part.status == -1:
                return
            await self._window.acquire()
            pause = self._aimd.delay(time.monotonic()) if self._aimd.rate is not None else 0.0
            if pause > 0:
                await asyncio.sleep(pause)
            proto = self._proto
            if batch.throttled or proto is None or proto.transport is None or proto.transport.is_closing():
                self._window.release()
                return
            seq = self._next_seq()
            frame = P.submit_sm(
                seq, source_addr=self._source_addr, source_ton=self._source_ton, source_npi=self._source_npi,
                destination_addr=part.dest, dest_ton=self.options.dest_ton, dest_npi=self.options.dest_npi,
                short_message=part.short_message, data_coding=part.data_coding, esm_class=part.esm_class,
                service_type=self.options.service_type, tlvs=part.tlvs,
            )
            fut: asyncio.Future[P.Pdu] = loop.create_future()
            fut.add_done_callback(functools.partial(self._answered, batch=batch))
            self._pending[seq] = fut
            part.future = fut
            part.written = True
            proto.transport.write(frame)
            self._in_flight += 1
            if self._in_flight > self.max_in_flight:
                self.max_in_flight = self._in_flight

    def _answered(self, fut: asyncio.Future[P.Pdu], batch: _Batch) -> None:
        """One callback per submit_sm: free its window slot; feed the back-off; note throttling for the batch."""
        self._release_window(fut)
        if fut.cancelled() or fut.exception() is not None:
            return
        status = fut.result().status
        if status == P.ESME_ROK:
            self._aimd.on_accept(time.monotonic())
        elif status in _RATE_LIMIT_STATUSES:
            batch.throttled = True
            self.throttled += 1
            self._aimd.on_throttle(time.monotonic())

    def _release_window(self, _fut: asyncio.Future[P.Pdu]) -> None:
        assert self._window is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        self._in_flight -= 1
        self._window.release()

    async def _collect(self, parts: list[_Part]) -> None:
        futures = [p.future for p in parts if p.future is not None]
        if futures:
            _, pending = await asyncio.wait(futures, timeout=self.options.response_timeout)
            for fut in pending:
                fut.cancel()
            if pending:
                stale = {seq for seq, f in self._pending.items() if f in pending}
                for seq in stale:
                    self._pending.pop(seq, None)
        for p in parts:
            done = p.future
            if done is None or done.cancelled() or done.exception() is not None:
                continue
            resp = done.result()
            p.status = resp.status
            p.message_id = resp.message_id if resp.status == P.ESME_ROK else None

    async def _complete_partial(self, parts: list[_Part]) -> None:
        """Retry the parts not accepted of a message some of whose parts were; an accepted part is never resent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.partial_retry_seconds
        delay = 0.1
        while loop.time() < deadline:
            todo = [p for p in parts if p.status != P.ESME_ROK]
            # throttled, never written, or unanswered (link lost, timeout): a transient failure of a continuation
            # part is retried with the same UDH reference — at worst the handset sees a segment twice and keeps
            # one; a permanent refusal ends the retries and the message is recorded as partial
            retryable = [p for p in todo if not p.written or p.status is None or p.status in _RATE_LIMIT_STATUSES]
            if not todo or len(retryable) != len(todo):
                return  # done, or a part was refused for good
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)
            try:
                await self._await_bound()
            except ChannelError:
                continue
            for p in retryable:
                p.written, p.status, p.future = False, None, None
            await self._write_parts(retryable, _Batch())
            await self._collect(retryable)

    def _result(self, m: OutboundMessage, parts: list[_Part], throttled: bool) -> SubmitResult:
        accepted = tuple(p.message_id for p in parts if p.status == P.ESME_ROK and p.message_id is not None)
        if parts[0].status == -1:
            return SubmitResult(m.message_id, None, PermanentChannelError(
                "短信过长，无法拆分发送", "text too long to segment", code="channel.message_too_long"))
        if len(accepted) == len(parts):
            return SubmitResult(m.message_id, accepted[0], None, accepted)
        if accepted:
            return SubmitResult(m.message_id, accepted[0], ChannelError(
                f"长短信仅部分分段提交成功（{len(accepted)}/{len(parts)}），不可重发",
                f"only {len(accepted)} of {len(parts)} parts accepted; do not resend", code="channel.partial"),
                accepted)
        first = parts[0]
        if first.status in _RATE_LIMIT_STATUSES or (throttled and not any(p.written for p in parts)):
            name = _status_name(first.status) if first.status is not None else "ESME_RTHROTTLED"
            return SubmitResult(m.message_id, None, RateLimitedError(
                f"SMPP 服务器限流（{name}），未发送", f"SMPP server throttled ({name}); not sent",
                retry_after=self.options.throttle_retry_after))
        if not any(p.written for p in parts):
            return SubmitResult(m.message_id, None, TransientChannelError(
                "未发送：SMPP 连接中断", "not sent: SMPP connection lost"))
        if first.status is None:
            return SubmitResult(m.message_id, None, ChannelError(
                "提交后未收到应答（连接中断或超时），结果未知：需对账，不可直接重发",
                "no submit_sm_resp (connection lost or timeout): outcome unknown, reconcile before resending",
                code="channel.outcome_unknown"))
        name = _status_name(first.status)
        transient = first.status in (P.ESME_RSYSERR, P.ESME_RX_T_APPN)
        err_cls = TransientChannelError if transient else PermanentChannelError
        return SubmitResult(m.message_id, None, err_cls(f"SMPP 服务器拒绝：{name}", f"SMSC rejected: {name}",
                                                        code=f"channel.smpp.{name.lower()}"))

    # ----------------------------------------------------------------- reconciliation

    @property
    def absence_is_proof(self) -> bool:
        """Whether a lookup miss proves the SMSC never had the message (see :mod:`dunning.channels.base`).

        Only an SMSC whose by-reference lookup is declared complete (``reference_query_authoritative``) can say
        so; a standard SMSC's "query failed" (unknown id, expired from its store, another node) proves nothing.
        """
        return bool(self.options.query_by_reference and self.options.client_ref_tlv
                    and self.options.reference_query_authoritative)

    async def _answer(self, command_id: int, body: bytes, what: str) -> P.Pdu:
        """One request and its response within ``response_timeout``; a silent SMSC raises, never hangs."""
        fut = self._request(command_id, body)
        try:
            return await asyncio.wait_for(fut, timeout=self.options.response_timeout)
        except TimeoutError:
            self._forget(fut)
            raise TransientChannelError(
                f"SMPP 服务器 {self.options.response_timeout:g} 秒内未应答 {what}：结果未知",
                f"SMSC did not answer {what} within {self.options.response_timeout:g} s: outcome unknown",
                code="channel.timeout") from None

    def _forget(self, *futures: asyncio.Future[P.Pdu]) -> None:
        gone = set(futures)
        for seq in [seq for seq, f in self._pending.items() if f in gone]:
            self._pending.pop(seq, None)

    async def query_status(self, idempotency_keys: Sequence[str]) -> dict[str, SubmitResult | None]:
        """query_sm by client reference (vendor extension, ``query_by_reference``); every query has a deadline.

        ``None`` for a key means "the SMSC answered query failed", which proves absence only where
        :attr:`absence_is_proof`. A query the SMSC does not answer within ``response_timeout`` raises
        :class:`TransientChannelError` (code ``channel.timeout``): the outcome stays unknown.
        """
        if not self.options.query_by_reference or not self.options.client_ref_tlv:
            raise NotImplementedError("SMPP status query by reference is disabled (options.query_by_reference)")
        await self._await_bound()
        assert self._window is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        out: dict[str, SubmitResult | None] = {}
        for start in range(0, len(idempotency_keys), 256):
            keys = idempotency_keys[start : start + 256]
            futs = []
            for key in keys:
                body = (P.cstr("") + bytes((self._source_ton, self._source_npi)) + P.cstr(self._source_addr)
                        + P.tlv(self.options.client_ref_tlv, P.cstr(key, "utf-8")))
                futs.append(self._request(P.QUERY_SM, body))
            try:
                done = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True),
                                              timeout=self.options.response_timeout)
            except TimeoutError:
                self._forget(*futs)
                raise TransientChannelError(
                    f"SMPP 服务器 {self.options.response_timeout:g} 秒内未应答 query_sm：结果未知",
                    f"SMSC did not answer query_sm within {self.options.response_timeout:g} s: outcome unknown",
                    code="channel.timeout") from None
            for key, resp in zip(keys, done, strict=True):
                if isinstance(resp, BaseException):
                    raise TransientChannelError("SMPP 状态查询中断", "SMPP status query interrupted") from resp
                if resp.command_id == P.GENERIC_NACK or resp.status in (P.ESME_RINVCMDID,):
                    raise PermanentChannelError(
                        "该 SMPP 服务器不支持按客户参考号查询", "SMSC does not support query by client reference",
                        code="channel.query_unsupported")
                if resp.status == P.ESME_RQUERYFAIL:
                    out[key] = None
                elif resp.status != P.ESME_ROK:
                    raise TransientChannelError(f"SMPP 状态查询失败：{_status_name(resp.status)}",
                                                f"query_sm failed: {_status_name(resp.status)}")
                else:
                    raw = resp.tlvs.get(P.TLV_CLIENT_PARTS, b"").rstrip(b"\x00").decode("latin-1")
                    parts = tuple(x for x in raw.split(",") if x) or (resp.message_id,)
                    out[key] = SubmitResult(0, resp.message_id, None, parts)
        return out

    # ----------------------------------------------------------------- events

    async def poll_events(self) -> list[ChannelEvent]:
        """Receipts and replies received so far. Their deliver_sm are acknowledged only by :meth:`acknowledge`,
        which the caller invokes once it has committed them (store, then acknowledge)."""
        events = list(self._events)
        self._events.clear()
        for acks in self._event_acks:
            self._handed.extend(acks)
        self._event_acks.clear()
        return events

    async def acknowledge(self) -> int:
        """Send deliver_sm_resp for every event handed out by :meth:`poll_events` (call after committing them).

        Acknowledgements for a connection that has dropped since are discarded: the SMSC redelivers those
        receipts and replies on the next bind, and ingestion tolerates the repeat.
        """
        handed, self._handed = self._handed, []
        by_proto: dict[int, tuple[_Protocol, list[bytes]]] = {}
        for proto, seq in handed:
            if proto is None or proto is not self._proto or proto.transport is None or proto.transport.is_closing():
                continue
            by_proto.setdefault(id(proto), (proto, []))[1].append(P.pdu(P.DELIVER_SM | P.RESP, seq, b"\x00"))
        sent = 0
        for proto, frames in by_proto.values():
            assert proto.transport is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
            proto.transport.write(b"".join(frames))
            sent += len(frames)
        return sent

    def verify_webhook(self, request: WebhookRequest) -> bool:
        return False  # SMPP has no webhooks: receipts arrive on the bound connection

    def parse_webhook(self, request: WebhookRequest) -> list[ChannelEvent]:
        return []

    def _event_of(self, pdu: P.Pdu, ack: tuple[_Protocol | None, int]) -> ChannelEvent | None:
        kind = pdu.esm_class & P.ESM_TYPE_MASK
        if kind in (P.ESM_DELIVERY_RECEIPT, P.ESM_INTERMEDIATE):
            return self._receipt(pdu, intermediate=kind == P.ESM_INTERMEDIATE)
        return self._mo(pdu, ack)

    def _receipt(self, pdu: P.Pdu, *, intermediate: bool) -> DeliveryReport:
        text = pdu.short_message.decode("latin-1")
        if pdu.data_coding in (P.DC_DEFAULT, P.DC_UCS2) and "id:" not in text:
            text = P.decode_text(pdu.short_message, pdu.data_coding, 0, self.options.default_alphabet)
        found = {k.lower(): v for k, v in _RECEIPT_FIELD.findall(text)}
        rid = pdu.tlvs.get(P.TLV_RECEIPTED_MESSAGE_ID)
        provider_id = rid.rstrip(b"\x00").decode("latin-1") if rid else found.get("id", "")
        status = DeliveryStatus.UNKNOWN
        if not intermediate:
            if pdu.message_state is not None:
                status = _STATE.get(pdu.message_state, DeliveryStatus.UNKNOWN)
            elif "stat" in found:
                status = _STAT.get(found["stat"].upper(), DeliveryStatus.UNKNOWN)
        error_code = found.get("err")
        nec = pdu.tlvs.get(P.TLV_NETWORK_ERROR_CODE)
        if error_code is None and nec and len(nec) == 3:
            error_code = str(int.from_bytes(nec[1:], "big"))
        done_at = None
        done = found.get("done date", "")
        if done.isdigit() and len(done) in (10, 12):
            with contextlib.suppress(ValueError):
                done_at = datetime.strptime(done, "%y%m%d%H%M%S" if len(done) == 12 else "%y%m%d%H%M").replace(
                    tzinfo=self._tz)
        raw = text if text.isprintable() else pdu.short_message.hex()
        return DeliveryReport(provider_id=provider_id, status=status, error_code=error_code, done_at=done_at,
                              raw=raw)

    def _mo(self, pdu: P.Pdu, ack: tuple[_Protocol | None, int]) -> InboundMessage | None:
        phone = ("+" if pdu.source_ton == 1 else "") + pdu.source_addr
        text = P.decode_text(pdu.short_message, pdu.data_coding, pdu.esm_class, self.options.default_alphabet)
        concat = P.concat_header(pdu.short_message, pdu.esm_class)
        if concat is not None and concat[1] > 1:
            ref, total, seq = concat
            key = (phone, ref)
            if key not in self._mo_parts and len(self._mo_parts) >= 1000:
                # parts that never completed: drop the oldest rather than grow without bound
                del self._mo_parts[next(iter(self._mo_parts))]
            acc = self._mo_parts.setdefault(key, _Mo(total=total))
            acc.parts[seq] = text
            acc.acks.append(ack)  # a part is acknowledged with its whole reply, never before
            if len(acc.parts) < acc.total:
                return None
            del self._mo_parts[key]
            text = "".join(acc.parts[i] for i in sorted(acc.parts))
            mo = InboundMessage(phone=phone, text=text, received_at=datetime.now(self._tz), provider_id=None,
                                raw=pdu.short_message.hex())
            self._mo_acks[id(mo)] = acc.acks
            return mo
        return InboundMessage(phone=phone, text=text, received_at=datetime.now(self._tz), provider_id=None,
                              raw=pdu.short_message.hex())
