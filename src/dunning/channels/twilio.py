"""Twilio Programmable Messaging through the official SDK (async client), for international numbers.

Contract (beyond :mod:`dunning.channels.base`):

* One Messages ``create`` per message (Twilio has no batch send), ``concurrency`` in flight; free text.
* ``options.api_base`` replaces ``https://api.twilio.com`` (an injected endpoint for tests and regional
  proxies); credentials are ``options.account_sid`` + ``secrets.auth_token``; ``options.from_`` or
  ``options.messaging_service_sid`` is the sender.
* ``StatusCallback`` is ``options.status_callback`` with ``ref=<idempotency key>`` appended, so the key reaches
  Twilio with the message. ``provider_id`` is the Message SID; ``part_ids`` repeats it ``num_segments`` times
  (Twilio bills segments but ids only the message).
* HTTP 429 → :class:`RateLimitedError`; 401/403 → the whole call raises :class:`PermanentChannelError`; 400
  for one number (21211 invalid, 21610 unsubscribed, 21614 not mobile...) → that message's error; 5xx →
  :class:`TransientChannelError`; a request whose answer was lost → ``channel.outcome_unknown``.
* Status callbacks and incoming-message webhooks are verified with ``X-Twilio-Signature`` using
  :class:`twilio.request_validator.RequestValidator` and the auth token; ``WebhookRequest.url`` must be the
  full URL Twilio called (scheme, host, path and query).
* ``check`` fetches the account resource: authentication only, nothing is sent.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from dunning.channels import base
from dunning.channels.base import DeliveryStatus, OutboundMessage, SubmitResult, WebhookRequest
from dunning.channels.common import ChannelBase
from dunning.config import ChannelSettings
from dunning.errors import ChannelError, PermanentChannelError, RateLimitedError, TransientChannelError

_TWILIO_BASE = "https://api.twilio.com"
_FINAL = {
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


class _RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's aiohttp client with the API host swapped for ``api_base``."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self.api_base = api_base.rstrip("/")

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(_TWILIO_BASE):
            url = self.api_base + url[len(_TWILIO_BASE):]
        return await super().request(method, url, *args, **kwargs)


class TwilioChannel(ChannelBase, kind="twilio", max_batch=500):
    no_status_query = "Twilio cannot look messages up by client reference"

    def __init__(self, name: str, settings: ChannelSettings, **_io: object) -> None:
        self.name = name
        o = settings.options
        self.account_sid = str(o.get("account_sid", ""))
        self.api_base = str(o.get("api_base", _TWILIO_BASE))
        self.from_ = str(o.get("from_", o.get("from", "")))
        self.messaging_service_sid = str(o.get("messaging_service_sid", ""))
        self.status_callback = str(o.get("status_callback", ""))
        self.concurrency = int(o.get("concurrency", 32))
        self.timeout = float(o.get("timeout", 10.0))
        token = settings.secrets.get("auth_token")
        self._auth_token = token.get_secret_value() if token else ""
        self._validator = RequestValidator(self._auth_token)
        self._http: _RebasedHttpClient | None = None
        self._client: Client | None = None

    async def open(self) -> None:
        if self._client is None:
            self._http = _RebasedHttpClient(self.api_base, self.timeout)
            self._client = Client(self.account_sid, self._auth_token, http_client=self._http)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None

    async def check(self) -> None:
        await self.open()
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        try:
            await self._client.api.v2010.accounts(self.account_sid).fetch_async()
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except aiohttp.ClientError as exc:
            raise TransientChannelError(f"无法访问 Twilio：{exc}", f"cannot reach Twilio: {exc}") from exc

    def _rest_error(self, exc: TwilioRestException) -> ChannelError:
        msg = str(exc.msg)
        if exc.status == 429:
            return RateLimitedError(f"Twilio 限流：{msg}", f"Twilio rate limited: {msg}", retry_after=1.0)
        if exc.status in (401, 403):
            return PermanentChannelError("Twilio 认证失败：请检查 account_sid 和 auth_token",
                                         f"Twilio authentication failed: {msg}", code="channel.auth")
        if exc.status >= 500:
            return TransientChannelError(f"Twilio 服务异常：{msg}", f"Twilio server error: {msg}")
        return PermanentChannelError(f"Twilio 拒绝（{exc.code}）：{msg}", f"Twilio rejected ({exc.code}): {msg}",
                                     code=f"channel.twilio.{exc.code}")

    def _callback_for(self, key: str) -> str:
        if not self.status_callback:
            return ""
        sep = "&" if "?" in self.status_callback else "?"
        return f"{self.status_callback}{sep}{urllib.parse.urlencode({'ref': key})}"

    async def _send(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        await self.open()
        sem = asyncio.Semaphore(self.concurrency)

        async def one(m: OutboundMessage) -> SubmitResult:
            async with sem:
                return await self._send_one(m)

        results = list(await asyncio.gather(*(one(m) for m in messages)))
        errors = [r.error for r in results]
        if all(e is not None for e in errors):
            first = errors[0]
            if first is not None and all(type(e) is type(first) for e in errors) and (
                    isinstance(first, RateLimitedError) or first.code in ("channel.auth", "channel.unreachable")):
                raise first
        return results

    async def _send_one(self, m: OutboundMessage) -> SubmitResult:
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        kwargs: dict[str, Any] = {"to": m.phone, "body": m.text}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self.from_
        callback = self._callback_for(m.idempotency_key)
        if callback:
            kwargs["status_callback"] = callback
        try:
            msg = await self._client.messages.create_async(**kwargs)
        except TwilioRestException as exc:
            return SubmitResult(m.message_id, None, self._rest_error(exc))
        except aiohttp.ClientConnectorError as exc:
            return SubmitResult(m.message_id, None, TransientChannelError(
                f"无法连接 Twilio：{exc}", f"cannot connect to Twilio: {exc}", code="channel.unreachable"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SubmitResult(m.message_id, None, ChannelError(
                "Twilio 未应答，结果未知：需对账，不可直接重发", f"no answer from Twilio ({exc}): outcome unknown",
                code="channel.outcome_unknown"))
        sid = str(msg.sid)
        try:
            segments = max(1, int(msg.num_segments or 1))
        except ValueError:
            segments = 1
        return SubmitResult(m.message_id, sid, None, (sid,) * segments)

    @staticmethod
    def _params(request: WebhookRequest) -> dict[str, str]:
        if request.method.upper() == "POST":
            return dict(urllib.parse.parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        return dict(request.query)

    def verify_webhook(self, request: WebhookRequest) -> bool:
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or not self._auth_token:
            return False
        return bool(self._validator.validate(request.url, self._params(request), signature))

    def parse_webhook(self, request: WebhookRequest) -> list[base.ChannelEvent]:
        p = self._params(request)
        raw = urllib.parse.urlencode(p)
        sid = p.get("MessageSid") or p.get("SmsSid") or ""
        status = p.get("MessageStatus") or p.get("SmsStatus")
        if status and status != "received":
            return [base.DeliveryReport(provider_id=sid, status=_FINAL.get(status, DeliveryStatus.UNKNOWN),
                                   error_code=p.get("ErrorCode") or None, done_at=datetime.now(UTC), raw=raw)]
        if "Body" in p:
            return [base.InboundMessage(phone=p.get("From", ""), text=p["Body"], received_at=datetime.now(UTC),
                                   provider_id=sid or None, raw=raw)]
        return []
