"""Generic HTTP SMS gateway channel, in two forms chosen by ``options.format``.

``format = "kannel"`` (default) speaks Kannel's smsbox ``/cgi-bin/sendsms`` (one GET per message, as Kannel
takes one text per request; requests run concurrently up to ``options.concurrency``):

* the text goes UTF-8 with ``coding=2`` (UCS-2 on the air) unless it is GSM-safe ASCII; Kannel splits long
  texts itself (the sendsms-user needs ``concatenation = true`` and ``max-messages`` > 1);
* Kannel returns no message id, so ``provider_id`` is the idempotency key, which also rides in the
  ``dlr-url`` (``ref=``) and, with ``options.meta_ref = "dunning_ref"``, in ``meta-data=?smpp?dunning_ref=KEY``
  so an SMPP upstream sees it as a TLV (needs a matching ``smpp-tlv`` group in kannel.conf);
* the ``dlr-url`` carries ``sig`` = HMAC-SHA256(webhook_secret, ref) so a forged receipt is rejected; Kannel's
  MO ``get-url`` must carry ``token=`` :meth:`HttpChannel.mo_token` (see docs/channels.md);
* 202/200 "Accepted"/"Queued" → accepted; 403 "Authorization failed" → the whole call raises
  :class:`PermanentChannelError`; 4xx for one number (black list, bad number) → that message's error;
  503/429 → :class:`RateLimitedError`.

``format = "json"`` speaks a JSON aggregator API (the shape most Chinese SMS aggregators offer):

* ``POST {base_url}/sms/batch`` with ``Authorization: Bearer <api_key>`` and
  ``{"sender", "callback_url", "messages": [{"ref", "to", "text"}]}`` answers
  ``{"results": [{"ref", "id", "status": "accepted"|"rejected", "code", "message", "parts": [ids]}]}``;
  HTTP 429 with ``retry_after`` → :class:`RateLimitedError`, 401/403 → :class:`PermanentChannelError`;
* ``GET {base_url}/account`` authenticates without sending (``check``);
* receipts and replies are POSTed to ``callback_url`` as ``{"type": "dlr"|"mo", "events": [...]}`` signed with
  ``X-Signature`` = hex HMAC-SHA256(webhook_secret, timestamp + "." + body) and ``X-Timestamp``.

Either way a response that never came back (read timeout, connection reset after the request was written)
yields a non-retryable ``ChannelError`` with code ``channel.outcome_unknown``: reconcile, do not resend.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from dunning.channels.base import (
    ChannelEvent,
    DeliveryReport,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    SubmitResult,
    WebhookRequest,
)
from dunning.channels.common import ChannelBase
from dunning.channels.dlr import receipt_fields, stat_status
from dunning.config import ChannelSettings
from dunning.domain.sms import ALPHABETS, fits
from dunning.errors import (
    ChannelError,
    PermanentChannelError,
    RateLimitedError,
    TransientChannelError,
)


def _kannel_status(kind: int, stat: str) -> DeliveryStatus:
    """Kannel's dlr-url ``%d`` is a bit set: 1 delivered, 2 failed, 4 buffered, 8 SMSC ack, 16 SMSC reject
    (Kannel 1.4.5 sends 34 for an EXPIRED receipt); the receipt's ``stat:`` refines a failure."""
    if kind & 1:
        return DeliveryStatus.DELIVERED
    if kind & (2 | 16):
        return DeliveryStatus.EXPIRED if stat.upper() == "EXPIRED" else DeliveryStatus.FAILED
    return DeliveryStatus.UNKNOWN

_NACK = re.compile(r"NACK/(0x[0-9a-fA-F]+)")



def _unknown(detail: str) -> ChannelError:
    return ChannelError(
        f"网关未应答（{detail}），结果未知：需对账，不可直接重发",
        f"gateway did not answer ({detail}): outcome unknown, reconcile before resending",
        code="channel.outcome_unknown",
    )


class HttpChannel(ChannelBase, kind="http", max_batch=500):
    no_status_query = "the HTTP gateway forms offer no status query by client reference"

    def __init__(self, name: str, settings: ChannelSettings, *, transport: httpx.AsyncBaseTransport | None = None,
                 **_io: object) -> None:
        self.name = name
        o = settings.options
        self.format = str(o.get("format", "kannel"))
        if self.format not in ("kannel", "json"):
            raise PermanentChannelError(f"HTTP 通道格式 {self.format} 无效（可选 kannel/json）",
                                        f"invalid http channel format {self.format!r}")
        self.base_url = str(o.get("base_url", "http://127.0.0.1:13013")).rstrip("/")
        self.sendsms_path = str(o.get("sendsms_path", "/cgi-bin/sendsms"))
        self.username = str(o.get("username", ""))
        self.sender = str(o.get("sender", ""))
        self.callback_url = str(o.get("callback_url", ""))
        self.dlr_mask = int(o.get("dlr_mask", 19))
        self.smsc = str(o.get("smsc", ""))
        self.meta_ref = str(o.get("meta_ref", ""))
        self.concurrency = int(o.get("concurrency", 32))
        self.timeout = float(o.get("timeout", 10.0))
        # Kannel's SMSC link: texts wholly in its default alphabet go as coding=0 (Kannel converts our UTF-8 to
        # that alphabet, alt-charset on its smsc group), anything else as coding=2 (UCS-2).
        self.default_alphabet = str(o.get("default_alphabet", "gsm7"))
        if self.default_alphabet not in ALPHABETS:
            raise PermanentChannelError(f"HTTP 通道的 default_alphabet 无效：{self.default_alphabet}（可选 gsm7/ascii/latin1）",
                                        f"invalid http default_alphabet {self.default_alphabet!r} (gsm7, ascii or latin1)")
        self.max_skew = float(o.get("max_skew_seconds", 300.0))
        # Kannel calls back with GET and cannot sign what it substitutes (status, time): its callbacks are
        # accepted only from these addresses (smsbox runs beside the server by default).
        self.callback_sources = tuple(ipaddress.ip_network(str(n), strict=False)
                                      for n in o.get("callback_sources", ("127.0.0.1/32", "::1/128")))
        secrets = settings.secrets
        self._password = secrets["password"].get_secret_value() if "password" in secrets else ""
        self._api_key = secrets["api_key"].get_secret_value() if "api_key" in secrets else ""
        secret = secrets.get("webhook_secret")
        self._webhook_secret = secret.get_secret_value().encode() if secret else b""
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    # ----------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, timeout=self.timeout,
                limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> None:
        """Authenticate only. Kannel: a sendsms call without a receiver (rejected after the auth check)."""
        await self.open()
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        try:
            if self.format == "kannel":
                resp = await self._client.get(self.base_url + self.sendsms_path,
                                              params={"username": self.username, "password": self._password})
                body = resp.text
                if "Authorization failed" in body or resp.status_code in (401, 403):
                    raise PermanentChannelError("网关认证失败：请检查用户名和密码",
                                                "gateway authorisation failed: check username and password")
                if "receiver" not in body.lower() and resp.status_code >= 500:
                    raise TransientChannelError(f"网关异常：HTTP {resp.status_code}",
                                                f"gateway error: HTTP {resp.status_code}")
            else:
                resp = await self._client.get(self.base_url + "/account", headers=self._json_headers())
                if resp.status_code in (401, 403):
                    raise PermanentChannelError("网关认证失败：请检查 api_key", "gateway authorisation failed: check api_key")
                if resp.status_code != 200:
                    raise TransientChannelError(f"网关异常：HTTP {resp.status_code}",
                                                f"gateway error: HTTP {resp.status_code}")
        except httpx.TransportError as exc:
            raise TransientChannelError(f"无法连接网关 {self.base_url}：{exc}",
                                        f"cannot reach gateway {self.base_url}: {exc}") from exc

    # ----------------------------------------------------------------- send

    async def _send(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        await self.open()
        if self.format == "json":
            return await self._send_json(messages)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(m: OutboundMessage) -> SubmitResult:
            async with sem:
                return await self._send_kannel(m)

        results = await asyncio.gather(*(one(m) for m in messages))
        errors = [r.error for r in results]
        if all(e is not None for e in errors):
            first = errors[0]
            same = all(type(e) is type(first) and e.code == first.code for e in errors)  # type: ignore[union-attr]
            if same and first is not None and (
                first.code in ("channel.auth", "channel.unreachable") or isinstance(first, RateLimitedError)
            ):
                raise first
        return list(results)

    def ref_signature(self, ref: str) -> str:
        return hmac.new(self._webhook_secret, ref.encode(), hashlib.sha256).hexdigest()[:32]

    def mo_token(self) -> str:
        """The ``token`` Kannel's MO ``get-url`` must carry for :meth:`verify_webhook` to accept replies."""
        return hmac.new(self._webhook_secret, b"kannel-mo", hashlib.sha256).hexdigest()[:32]

    def _dlr_url(self, ref: str) -> str:
        sep = "&" if "?" in self.callback_url else "?"
        # Kannel substitutes the %-escapes when it calls back; ours must survive its URL decoding intact
        return (f"{self.callback_url}{sep}{urlencode({'ref': ref, 'sig': self.ref_signature(ref)})}"
                "&type=%d&fid=%F&reply=%A&ts=%T&to=%p")

    async def _send_kannel(self, m: OutboundMessage) -> SubmitResult:
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        params: dict[str, str] = {
            "username": self.username, "password": self._password, "to": m.phone, "text": m.text,
            "charset": "UTF-8", "coding": "0" if fits(m.text, self.default_alphabet) else "2",
        }
        if self.sender:
            params["from"] = self.sender
        if self.smsc:
            params["smsc"] = self.smsc
        if self.callback_url:
            params["dlr-mask"] = str(self.dlr_mask)
            params["dlr-url"] = self._dlr_url(m.idempotency_key)
        if self.meta_ref:
            params["meta-data"] = f"?smpp?{self.meta_ref}={m.idempotency_key}"
        try:
            resp = await self._client.get(self.base_url + self.sendsms_path, params=params)
        except httpx.ConnectError as exc:
            return SubmitResult(m.message_id, None, TransientChannelError(
                f"无法连接网关：{exc}", f"cannot connect to gateway: {exc}", code="channel.unreachable"))
        except httpx.TransportError as exc:
            return SubmitResult(m.message_id, None, _unknown(type(exc).__name__))
        body = resp.text.strip()
        status = resp.status_code
        if status in (200, 202) and (body.startswith("0:") or body.startswith("3:") or "Accepted" in body):
            key = m.idempotency_key
            return SubmitResult(m.message_id, key, None, (key,))
        if "Authorization failed" in body or status == 401:
            return SubmitResult(m.message_id, None, PermanentChannelError(
                "网关认证失败：请检查用户名和密码", "gateway authorisation failed", code="channel.auth"))
        if status in (429, 503) or "queue" in body.lower():
            return SubmitResult(m.message_id, None, RateLimitedError(
                f"网关繁忙：{body}", f"gateway busy: {body}", retry_after=1.0))
        if status >= 500:
            return SubmitResult(m.message_id, None, TransientChannelError(
                f"网关错误 HTTP {status}：{body}", f"gateway error HTTP {status}: {body}"))
        return SubmitResult(m.message_id, None, PermanentChannelError(
            f"网关拒绝该号码/短信：{body}", f"gateway rejected the message: {body}", code="channel.rejected"))

    def _json_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}", "content-type": "application/json"}

    async def _send_json(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        payload = {
            "sender": self.sender,
            "callback_url": self.callback_url,
            "messages": [{"ref": m.idempotency_key, "to": m.phone, "text": m.text} for m in messages],
        }
        try:
            resp = await self._client.post(self.base_url + "/sms/batch", headers=self._json_headers(),
                                           content=json.dumps(payload, ensure_ascii=False).encode())
        except httpx.ConnectError as exc:
            raise TransientChannelError(f"无法连接网关：{exc}", f"cannot connect to gateway: {exc}") from exc
        except httpx.TransportError as exc:
            lost = _unknown(type(exc).__name__)
            return [SubmitResult(m.message_id, None, lost) for m in messages]
        if resp.status_code == 429:
            retry_after = float(resp.headers.get("retry-after") or _json_field(resp, "retry_after", 1.0))
            raise RateLimitedError("网关限流，本批未发送", "gateway rate-limited the batch", retry_after=retry_after)
        if resp.status_code in (401, 403):
            raise PermanentChannelError("网关认证失败：请检查 api_key", "gateway authorisation failed: check api_key")
        if resp.status_code >= 500:
            raise TransientChannelError(f"网关错误 HTTP {resp.status_code}", f"gateway error HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise PermanentChannelError(f"网关拒绝本批：HTTP {resp.status_code} {resp.text[:200]}",
                                        f"gateway rejected the batch: HTTP {resp.status_code}")
        by_ref: dict[str, Mapping[str, Any]] = {str(r.get("ref")): r for r in resp.json().get("results", [])}
        out: list[SubmitResult] = []
        for m in messages:
            r = by_ref.get(m.idempotency_key)
            if r is None:
                out.append(SubmitResult(m.message_id, None, _unknown("no result for this message")))
            elif r.get("status") == "accepted" and r.get("id"):
                pid = str(r["id"])
                parts = tuple(str(p) for p in r.get("parts") or ()) or (pid,)
                out.append(SubmitResult(m.message_id, pid, None, parts))
            else:
                code = str(r.get("code") or "rejected")
                text = str(r.get("message") or code)
                if code in ("throttled", "rate_limited"):
                    err: ChannelError = RateLimitedError(f"网关限流：{text}", f"rate limited: {text}")
                else:
                    err = PermanentChannelError(f"网关拒绝：{text}", f"gateway rejected: {text}",
                                                code=f"channel.gateway.{code}")
                out.append(SubmitResult(m.message_id, None, err))
        return out

    # ----------------------------------------------------------------- callbacks

    def verify_webhook(self, request: WebhookRequest) -> bool:
        if not self._webhook_secret:
            return False  # refuse to accept unauthenticated callbacks rather than trust anyone
        if self.format == "json":
            ts = request.headers.get("x-timestamp", "")
            given = request.headers.get("x-signature", "")
            try:
                if abs(time.time() - float(ts)) > self.max_skew:
                    return False
            except ValueError:
                return False
            expected = hmac.new(self._webhook_secret, ts.encode() + b"." + request.body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(given, expected)
        if request.client and not self._from_callback_source(request.client):
            return False
        q = request.query
        if "ref" in q:
            return hmac.compare_digest(q.get("sig", ""), self.ref_signature(q["ref"]))
        return hmac.compare_digest(q.get("token", ""), self.mo_token())

    def _from_callback_source(self, client: str) -> bool:
        try:
            addr = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(addr in net for net in self.callback_sources)

    def replay_key(self, request: WebhookRequest) -> str | None:
        """What makes a Kannel receipt unique: its reference once it is final (delivered, failed, rejected) —
        a second final report for the same reference, whatever status it claims, is a replay."""
        if self.format == "json" or "ref" not in request.query:
            return None
        kind = request.query.get("type", "")
        return f"kannel-final|{request.query['ref']}" if kind in ("1", "2", "16") else None

    def parse_webhook(self, request: WebhookRequest) -> list[ChannelEvent]:
        if self.format == "json":
            return self._parse_json(request.body)
        q = request.query
        if "ref" in q:
            reply = q.get("reply", "")
            fields = receipt_fields(reply)
            try:
                kind = int(q.get("type", "0"))
            except ValueError:
                kind = 0
            status = _kannel_status(kind, fields.get("stat", ""))
            nack = _NACK.search(reply)
            error_code = fields.get("err") or (nack.group(1) if nack else None)
            done_at = None
            if q.get("ts", "").isdigit():
                done_at = datetime.fromtimestamp(int(q["ts"]), UTC)
            raw = json.dumps(dict(q), ensure_ascii=False)
            return [DeliveryReport(q["ref"], status, error_code, done_at, raw)]
        if "from" in q:
            return [InboundMessage(phone=q["from"], text=q.get("text", ""), received_at=datetime.now(UTC),
                                   provider_id=None, raw=json.dumps(dict(q), ensure_ascii=False))]
        return []

    def _parse_json(self, body: bytes) -> list[ChannelEvent]:
        payload = json.loads(body)
        events: list[ChannelEvent] = []
        kind = payload.get("type")
        for e in payload.get("events", []):
            raw = json.dumps(e, ensure_ascii=False)
            if kind == "dlr":
                events.append(DeliveryReport(
                    provider_id=str(e.get("id", "")),
                    status=stat_status(str(e.get("status", ""))),
                    error_code=str(e["err"]) if e.get("err") not in (None, "") else None,
                    done_at=_iso(e.get("done_at")), raw=raw))
            elif kind == "mo":
                events.append(InboundMessage(phone=str(e.get("from", "")), text=str(e.get("text", "")),
                                             received_at=_iso(e.get("received_at")),
                                             provider_id=str(e["id"]) if e.get("id") else None, raw=raw))
        return events


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _json_field(resp: httpx.Response, key: str, default: float) -> float:
    try:
        return float(resp.json().get(key, default))
    except (ValueError, AttributeError):
        return default
