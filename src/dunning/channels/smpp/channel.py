"""The SMPP channel: submits (parts, window, back-off, no fragments), query_sm, and receipts handed over for
store-then-acknowledge. The contract is in :mod:`dunning.channels.smpp`; the session, the window and the
receipt parsing live in their own modules."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dunning.channels.base import ChannelEvent, OutboundMessage, SubmitResult, WebhookRequest
from dunning.channels.common import ChannelBase
from dunning.channels.smpp import codec as P
from dunning.channels.smpp.receipts import Inbox
from dunning.channels.smpp.session import Link, Session, SmppOptions, status_name
from dunning.channels.smpp.window import Aimd, Window
from dunning.config import ChannelSettings
from dunning.errors import ChannelError, PermanentChannelError, RateLimitedError, TransientChannelError

_RATE_LIMIT_STATUSES = frozenset({P.ESME_RTHROTTLED, P.ESME_RMSGQFUL})


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



class SmppChannel(ChannelBase, kind="smpp", max_batch=1000, status_query=True):

    def __init__(self, name: str, settings: ChannelSettings, *, address: tuple[str, int] | None = None,
                 **_io: object) -> None:
        self.name = name
        self.options = opts = SmppOptions.from_settings(settings, address)
        secret = settings.secrets.get("password")
        password = secret.get_secret_value() if secret else str(settings.options.get("password", ""))
        src = opts.source_addr
        self._source_ton = opts.source_ton if opts.source_ton is not None else (
            5 if src and not src.lstrip("+").isdigit() else (1 if src.startswith("+") else 0))
        self._source_npi = opts.source_npi if opts.source_npi is not None else (0 if self._source_ton == 5 else 1)
        self._source_addr = src.lstrip("+")
        self._concat_ref = random.randrange(256)  # nosec B311  # jitter and sequence numbers, not security
        self._window = Window(opts.window)
        self._inbox: Inbox[Link] = Inbox(ZoneInfo(opts.receipt_timezone), opts.default_alphabet)
        self._session = Session(name, opts, password, self._window, self._inbox.on_deliver)
        self._aimd = Aimd(ceiling=float(settings.rate))
        self.throttled = 0  # submit_sm answered ESME_RTHROTTLED / ESME_RMSGQFUL (observable by tests and ops)

    @property
    def reconnects(self) -> int:
        """Connections established after the first one (observable by tests and ops)."""
        return self._session.reconnects

    @property
    def max_in_flight(self) -> int:
        """High-water mark of unanswered submit_sm, never above ``options.window``."""
        return self._window.max_in_flight

    # ----------------------------------------------------------------- connection lifecycle

    async def open(self) -> None:
        await self._session.bound()

    async def check(self) -> None:
        """Bind (if not bound) and prove the link with an enquire_link round trip; nothing is submitted."""
        await self._session.bound()
        resp = await self._session.answer(P.ENQUIRE_LINK, b"", "enquire_link")
        if resp.status != P.ESME_ROK:
            raise TransientChannelError(
                f"SMPP 链路检测失败：{status_name(resp.status)}", f"enquire_link failed: {status_name(resp.status)}"
            )

    async def close(self) -> None:
        await self._session.close()

    # ----------------------------------------------------------------- submit

    async def _send(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        await self._session.bound()
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
        for part in parts:
            if part.status == -1:
                return
            await self._window.acquire()
            pause = self._aimd.delay(time.monotonic()) if self._aimd.rate is not None else 0.0
            if pause > 0:
                await asyncio.sleep(pause)
            transport = self._session.transport
            if batch.throttled or transport is None:
                self._window.release()
                return
            seq = self._window.next_seq()
            frame = P.submit_sm(
                seq, source_addr=self._source_addr, source_ton=self._source_ton, source_npi=self._source_npi,
                destination_addr=part.dest, dest_ton=self.options.dest_ton, dest_npi=self.options.dest_npi,
                short_message=part.short_message, data_coding=part.data_coding, esm_class=part.esm_class,
                service_type=self.options.service_type, tlvs=part.tlvs,
            )
            fut = self._window.expect(seq)
            fut.add_done_callback(functools.partial(self._answered, batch=batch))
            part.future = fut
            part.written = True
            transport.write(frame)

    def _answered(self, fut: asyncio.Future[P.Pdu], batch: _Batch) -> None:
        """One callback per submit_sm: free its window slot; feed the back-off; note throttling for the batch."""
        self._window.release()
        if fut.cancelled() or fut.exception() is not None:
            return
        status = fut.result().status
        if status == P.ESME_ROK:
            self._aimd.on_accept(time.monotonic())
        elif status in _RATE_LIMIT_STATUSES:
            batch.throttled = True
            self.throttled += 1
            self._aimd.on_throttle(time.monotonic())

    async def _collect(self, parts: list[_Part]) -> None:
        await self._window.collect([p.future for p in parts if p.future is not None], self.options.response_timeout)
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
                await self._session.bound()
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
            name = status_name(first.status) if first.status is not None else "ESME_RTHROTTLED"
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
        name = status_name(first.status)
        transient = first.status in (P.ESME_RSYSERR, P.ESME_RX_T_APPN)
        err_cls = TransientChannelError if transient else PermanentChannelError
        return SubmitResult(m.message_id, None, err_cls(f"SMPP 服务器拒绝：{name}", f"SMSC rejected: {name}",
                                                        code=f"channel.smpp.{name.lower()}"))

    # ----------------------------------------------------------------- reconciliation

    # ----------------------------------------------------------------- reconciliation

    @property
    def absence_is_proof(self) -> bool:
        """Whether a lookup miss proves the SMSC never had the message (see :mod:`dunning.channels.base`).

        Only an SMSC whose by-reference lookup is declared complete (``reference_query_authoritative``) can say
        so; a standard SMSC's "query failed" (unknown id, expired from its store, another node) proves nothing.
        """
        return bool(self.options.query_by_reference and self.options.client_ref_tlv
                    and self.options.reference_query_authoritative)

    async def query_status(self, idempotency_keys: Sequence[str]) -> dict[str, SubmitResult | None]:
        """query_sm by client reference (vendor extension, ``query_by_reference``); every query has a deadline.

        ``None`` for a key means "the SMSC answered query failed", which proves absence only where
        :attr:`absence_is_proof`. A query the SMSC does not answer within ``response_timeout`` raises
        :class:`TransientChannelError` (code ``channel.timeout``): the outcome stays unknown.
        """
        if not self.options.query_by_reference or not self.options.client_ref_tlv:
            raise NotImplementedError("SMPP status query by reference is disabled (options.query_by_reference)")
        await self._session.bound()
        out: dict[str, SubmitResult | None] = {}
        for start in range(0, len(idempotency_keys), 256):
            keys = idempotency_keys[start : start + 256]
            futs = []
            for key in keys:
                body = (P.cstr("") + bytes((self._source_ton, self._source_npi)) + P.cstr(self._source_addr)
                        + P.tlv(self.options.client_ref_tlv, P.cstr(key, "utf-8")))
                futs.append(self._session.request(P.QUERY_SM, body))
            try:
                done = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True),
                                              timeout=self.options.response_timeout)
            except TimeoutError:
                self._window.forget(futs)
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
                    raise TransientChannelError(f"SMPP 状态查询失败：{status_name(resp.status)}",
                                                f"query_sm failed: {status_name(resp.status)}")
                else:
                    raw = resp.tlvs.get(P.TLV_CLIENT_PARTS, b"").rstrip(b"\x00").decode("latin-1")
                    parts = tuple(x for x in raw.split(",") if x) or (resp.message_id,)
                    out[key] = SubmitResult(0, resp.message_id, None, parts)
        return out

    # ----------------------------------------------------------------- events

    async def poll_events(self) -> list[ChannelEvent]:
        """Receipts and replies received so far. Their deliver_sm are acknowledged only by :meth:`acknowledge`,
        which the caller invokes once it has committed them (store, then acknowledge)."""
        return self._inbox.poll()

    async def acknowledge(self) -> int:
        """Send deliver_sm_resp for every event handed out by :meth:`poll_events` (call after committing them).

        Acknowledgements for a connection that has dropped since are discarded: the SMSC redelivers those
        receipts and replies on the next bind, and ingestion tolerates the repeat.
        """
        current = self._session.link
        by_proto: dict[int, tuple[Link, list[bytes]]] = {}
        for proto, seq in self._inbox.handed():
            if proto is None or proto is not current or not proto.writable():
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
