"""One SMPP session: connect, bind, enquire_link, reconnect; and the channel's options.

Contracts:

* One bind (``bind_mode``: transceiver by default) carries submits, receipts and MO; ``enquire_link`` every
  ``enquire_link_interval`` seconds, and a peer that does not answer it is dropped. A lost connection is
  re-established in the background with exponential backoff and jitter (``reconnect_initial`` ..
  ``reconnect_max`` seconds). A rejected bind (bad system_id or password) stops reconnecting and surfaces as
  :class:`PermanentChannelError` from every later call.
* Every request has a deadline: ``connect_timeout`` for connect (and for :meth:`Session.bound` to wait for a
  bind), ``response_timeout`` for bind, enquire_link and :meth:`Session.answer`.
* Frames are split and decoded here; responses go to the :class:`~dunning.channels.smpp.window.Window`,
  deliver_sm to the ``on_deliver`` callback with its (connection, sequence) for a later deliver_sm_resp,
  enquire_link and unbind are answered at once, anything else gets a generic_nack.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from dunning.channels.smpp import codec as P
from dunning.channels.smpp.window import Window
from dunning.config import ChannelSettings
from dunning.errors import ChannelError, PermanentChannelError, TransientChannelError

_BIND_REJECTED = frozenset({P.ESME_RBINDFAIL, P.ESME_RINVPASWD, P.ESME_RINVSYSID})
BIND_COMMANDS = {
    "transceiver": P.BIND_TRANSCEIVER,
    "transmitter": P.BIND_TRANSMITTER,
    "receiver": P.BIND_RECEIVER,
}


def status_name(status: int) -> str:
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
        if opts.bind_mode not in BIND_COMMANDS:
            raise PermanentChannelError(f"SMPP 绑定方式 {opts.bind_mode} 无效（可选 transceiver/transmitter/receiver）",
                                        f"invalid SMPP bind_mode {opts.bind_mode!r}")
        if address is not None:
            opts = cls(**{**values, "host": address[0], "port": int(address[1])})
        return opts


class Link(asyncio.Protocol):
    """One TCP connection of a :class:`Session`."""

    def __init__(self, session: Session) -> None:
        self.session = session
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
            self.session.on_frame(self, P.parse_pdu(frame), replies)
        if replies and self.writable():
            assert self.transport is not None  # nosec B101  # narrows a type for mypy; writable() checked it
            self.transport.write(b"".join(replies))

    def writable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.session.on_lost(self)


class Session:
    def __init__(self, name: str, options: SmppOptions, password: str, window: Window,
                 on_deliver: Callable[[P.Pdu, tuple[Link | None, int]], None]) -> None:
        self.name = name
        self.options = options
        self._password = password
        self.window = window
        self._on_deliver = on_deliver
        self.link: Link | None = None
        self._bound: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._fatal: ChannelError | None = None
        self._last_error: ChannelError | None = None
        self._closing = False
        self.reconnects = 0  # connections established after the first one (observable by tests and ops)

    @property
    def transport(self) -> asyncio.Transport | None:
        """The current connection's transport while it can be written to, else None."""
        link = self.link
        return link.transport if link is not None and link.writable() else None

    def request(self, command_id: int, body: bytes) -> asyncio.Future[P.Pdu]:
        return self.window.request(self.transport, command_id, body)

    async def answer(self, command_id: int, body: bytes, what: str) -> P.Pdu:
        """One request and its response within ``response_timeout``; a silent SMSC raises, never hangs."""
        fut = self.request(command_id, body)
        try:
            return await asyncio.wait_for(fut, timeout=self.options.response_timeout)
        except TimeoutError:
            self.window.forget([fut])
            raise TransientChannelError(
                f"SMPP 服务器 {self.options.response_timeout:g} 秒内未应答 {what}：结果未知",
                f"SMSC did not answer {what} within {self.options.response_timeout:g} s: outcome unknown",
                code="channel.timeout") from None

    async def bound(self) -> None:
        """Return once bound (starting the supervisor if needed), within ``connect_timeout``, or raise."""
        if self._bound is None:
            self._bound = asyncio.Event()
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

    async def close(self) -> None:
        self._closing = True
        link = self.link
        if link is not None and link.writable():
            with contextlib.suppress(ChannelError, TimeoutError):
                await asyncio.wait_for(self.request(P.UNBIND, b""), timeout=1.0)
            if link.transport is not None:
                link.transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.lost), timeout=1.0)
        for task in (self._keepalive, self._supervisor):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._keepalive = self._supervisor = None
        self.window.fail_pending()
        self.link = None
        self._closing = False
        self._fatal = None
        if self._bound is not None:
            self._bound.clear()

    async def _supervise(self) -> None:
        """Connect, bind, wait for the link to drop, back off, repeat — until closed or bind is refused."""
        assert self._bound is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        delay = self.options.reconnect_initial
        connected_once = False
        while not self._closing:
            try:
                link = await self._connect_and_bind()
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
            self._keepalive = asyncio.create_task(self._enquire_loop(link))
            await link.lost
            self._bound.clear()
            if self._keepalive is not None:
                self._keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._keepalive
                self._keepalive = None

    async def _connect_and_bind(self) -> Link:
        loop = asyncio.get_running_loop()
        o = self.options
        try:
            _, link = await asyncio.wait_for(
                loop.create_connection(lambda: Link(self), o.host, o.port), timeout=o.connect_timeout)
        except (TimeoutError, OSError) as exc:
            raise TransientChannelError(f"连接失败：{exc}", f"connect failed: {exc}") from exc
        self.link = link
        body = P.cstr(o.system_id) + P.cstr(self._password) + P.cstr(o.system_type) + bytes((0x34, 0, 0)) + P.cstr("")
        try:
            resp = await asyncio.wait_for(self.request(BIND_COMMANDS[o.bind_mode], body), timeout=o.response_timeout)
        except (TimeoutError, ChannelError) as exc:
            if link.transport is not None:
                link.transport.abort()
            raise TransientChannelError(f"绑定无应答：{exc}", f"bind got no answer: {exc}") from exc
        if resp.status != P.ESME_ROK:
            if link.transport is not None:
                link.transport.close()
            name = status_name(resp.status)
            if resp.status in _BIND_REJECTED:
                raise PermanentChannelError(
                    f"SMPP 绑定被拒绝（{name}）：请检查 system_id 和密码",
                    f"SMPP bind rejected ({name}): check system_id and password",
                )
            raise TransientChannelError(f"SMPP 绑定失败（{name}）", f"SMPP bind failed ({name})")
        return link

    async def _enquire_loop(self, link: Link) -> None:
        while True:
            await asyncio.sleep(self.options.enquire_link_interval)
            try:
                await asyncio.wait_for(self.request(P.ENQUIRE_LINK, b""), timeout=self.options.response_timeout)
            except (TimeoutError, ChannelError):
                if link.transport is not None:
                    link.transport.abort()  # a silent peer: force a reconnect
                return

    def on_frame(self, link: Link, pdu: P.Pdu, replies: list[bytes]) -> None:
        cid = pdu.command_id
        if cid & P.RESP:
            self.window.resolve(pdu)
        elif cid == P.DELIVER_SM:
            # Store, then acknowledge: the deliver_sm_resp is written by the channel's acknowledge(), after
            # the caller has committed the event. An SMSC redelivers what was never acknowledged.
            self._on_deliver(pdu, (self.link, pdu.sequence))
        elif cid == P.ENQUIRE_LINK:
            replies.append(P.pdu(P.ENQUIRE_LINK | P.RESP, pdu.sequence))
        elif cid == P.UNBIND:
            replies.append(P.pdu(P.UNBIND | P.RESP, pdu.sequence))
            current = self.link
            if current is not None and current.transport is not None:
                asyncio.get_running_loop().call_soon(current.transport.close)
        else:
            replies.append(P.pdu(P.GENERIC_NACK, pdu.sequence, status=P.ESME_RINVCMDID))

    def on_lost(self, link: Link) -> None:
        if link is self.link:
            self.window.fail_pending()
