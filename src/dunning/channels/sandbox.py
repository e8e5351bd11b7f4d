"""The sandbox channel: a simulated SMS provider, the embedded default.

It behaves like a provider with webhooks: ``send_batch`` accepts or rejects each message, and shortly after
it produces delivery reports (and a few replies) as JSON webhook bodies. ``poll_events`` hands those bodies to
``parse_webhook`` — the very parser a real callback goes through — so DLR handling is exercised end to end.

Outcomes are a pure function of ``(seed, idempotency_key)``, so a run is reproducible whatever the batching.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dunning.channels.base import (
    ChannelEvent,
    DeliveryReport,
    InboundMessage,
    OutboundMessage,
    SubmitResult,
    WebhookRequest,
)
from dunning.channels.common import ChannelBase
from dunning.channels.dlr import stat_status
from dunning.config import ChannelSettings
from dunning.errors import ConfigError, PermanentChannelError

# Replies a simulated borrower may send; a mix of opt-out, dispute, promise and chatter.
_REPLIES: tuple[str, ...] = ("退订", "已还款", "不是本人", "好的，明天还", "TD", "收到", "投诉", "打错了")


class SandboxOptions(BaseModel):
    """The simulated provider's behaviour, read from the channel's ``options`` (rates are shares of messages)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    seed: int = 7
    latency_ms: float = Field(0.0, ge=0)
    submit_failure_rate: float = Field(0.0, ge=0, le=1)
    delivered_rate: float = Field(0.985, ge=0, le=1)
    expired_rate: float = Field(0.005, ge=0, le=1)
    reply_rate: float = Field(0.005, ge=0, le=1)

    @classmethod
    def of(cls, name: str, options: Mapping[str, Any]) -> SandboxOptions:
        try:
            return cls.model_validate(dict(options))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"沙箱通道 {name} 的设置 {where} 不正确：{err['msg']}",
                              f"sandbox channel {name!r}: option {where}: {err['msg']}") from None


def _unit(seed: int, key: str, salt: str) -> float:
    """A deterministic number in [0, 1) from the seed and a message key."""
    h = hashlib.blake2b(f"{seed}:{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


class _Units:
    """:func:`_unit` for one seed, cheaper: the hash state of ``"{seed}:{salt}:"`` is computed once and copied
    per message (the sandbox stands in for a provider in the throughput benchmark, so it must cost little)."""

    def __init__(self, seed: int) -> None:
        self._prefix = {salt: hashlib.blake2b(f"{seed}:{salt}:".encode(), digest_size=8)
                        for salt in ("submit", "dlr", "which")}

    def prefix(self, salt: str) -> Any:
        """The hash state of ``"{seed}:{salt}:"``, to ``copy()`` and ``update(key)``."""
        return self._prefix[salt]

    def __call__(self, key: bytes, salt: str) -> float:
        h = self._prefix[salt].copy()
        h.update(key)
        return int.from_bytes(h.digest(), "big") / 2**64


class SandboxChannel(ChannelBase, kind="sandbox", max_batch=1000):
    no_status_query = "sandbox channel keeps no provider-side state across processes"

    def __init__(self, name: str, settings: ChannelSettings, **_io: object) -> None:
        self.name = name
        o = settings.options
        self.options = SandboxOptions.of(name, o)
        # The application context hands every sandbox a per-install secret (``webhook_secret``); one built
        # without it signs its own simulated callbacks with a random key nobody else knows.
        secret = settings.secrets.get("webhook_secret")
        self._webhook_secret = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
        self.max_skew = float(o.get("max_skew_seconds", 300.0))
        self._pending: list[bytes] = []
        self._open = False
        self._units = _Units(self.options.seed)

    async def open(self) -> None:
        self._open = True

    async def check(self) -> None:
        await self.open()

    async def close(self) -> None:
        self._open = False

    async def _send(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        if self.options.latency_ms:
            await asyncio.sleep(self.options.latency_ms / 1000.0)
        results: list[SubmitResult] = []
        dlrs: list[list[str]] = []
        mos: list[dict[str, str]] = []
        now = datetime.now(UTC).isoformat()
        o = self.options
        delivered_below, expired_below = o.delivered_rate, o.delivered_rate + o.expired_rate
        unit, dlr_prefix = self._units, self._units.prefix("dlr")
        for m in messages:
            key = m.idempotency_key.encode()
            if o.submit_failure_rate and unit(key, "submit") < o.submit_failure_rate:
                results.append(
                    SubmitResult(
                        m.message_id,
                        None,
                        PermanentChannelError("沙箱通道拒绝：号码不可达", "sandbox rejected: number unreachable"),
                    )
                )
                continue
            # One hash gives the delivery outcome and the provider id (unique per key like any 64-bit hash).
            h = dlr_prefix.copy()
            h.update(key)
            digest = h.digest()
            provider_id = "sbx-" + digest.hex()
            results.append(SubmitResult(m.message_id, provider_id, None, (provider_id,)))
            u_dlr = int.from_bytes(digest, "big") / 2**64
            if u_dlr < delivered_below:
                stat, err = "DELIVRD", "000"
            elif u_dlr < expired_below:
                stat, err = "EXPIRED", "006"
            else:
                stat, err = "UNDELIV", "001"
            dlrs.append([provider_id, stat, err])
            # Whether the borrower replies: the digest's low 32 bits (independent enough of the threshold its
            # high bits decided the outcome by), so the 99.5 % who do not reply cost no second hash.
            if stat == "DELIVRD" and o.reply_rate and int.from_bytes(digest[4:], "big") / 2**32 < o.reply_rate:
                reply = _REPLIES[int(unit(key, "which") * len(_REPLIES))]
                mos.append({"from": m.phone, "text": reply, "received": now, "ref": provider_id})
        if dlrs or mos:
            # Compact webhook form: a batch's reports as [id, stat, err] rows sharing one "done" time.
            self._pending.append(json.dumps({"done": now, "dlr": dlrs, "mo": mos}, ensure_ascii=False).encode())
        return results

    def sign(self, timestamp: str, method: str, url: str, body: bytes) -> str:
        """The signature of a whole request: hex HMAC-SHA256 over the timestamp, the method, the path with its
        query and the body (``X-Sandbox-Timestamp`` / ``X-Sandbox-Signature``)."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        msg = f"{timestamp}\n{method.upper()}\n{target}\n".encode() + body
        return hmac.new(self._webhook_secret, msg, hashlib.sha256).hexdigest()

    async def poll_events(self) -> list[ChannelEvent]:
        bodies, self._pending = self._pending, []
        events: list[ChannelEvent] = []
        ts = str(int(time.time()))
        for body in bodies:
            headers = {"x-sandbox-timestamp": ts, "x-sandbox-signature": self.sign(ts, "POST", "/sandbox", body)}
            req = WebhookRequest("POST", "/sandbox", headers, body)
            if self.verify_webhook(req):
                events.extend(self.parse_webhook(req))
        return events

    def verify_webhook(self, request: WebhookRequest) -> bool:
        ts = request.headers.get("x-sandbox-timestamp", "")
        try:
            if abs(time.time() - float(ts)) > self.max_skew:
                return False  # outside the replay window
        except ValueError:
            return False
        given = request.headers.get("x-sandbox-signature", "")
        return hmac.compare_digest(given, self.sign(ts, request.method, request.url, request.body))

    def parse_webhook(self, request: WebhookRequest) -> list[ChannelEvent]:
        payload = json.loads(request.body)
        events: list[ChannelEvent] = []
        stamps: dict[str, datetime] = {}  # a batch's reports share one timestamp: parse it once
        shared_done = payload.get("done")
        for d in payload.get("dlr", []):
            # A report is {"id", "stat", "err", "done"} or, in the compact batch form, [id, stat, err] with the
            # batch's "done".
            if isinstance(d, list):
                pid, stat, err, done = str(d[0]), d[1] if len(d) > 1 else None, d[2] if len(d) > 2 else None, \
                    shared_done
            else:
                pid, stat, err, done = str(d["id"]), d.get("stat"), d.get("err"), d.get("done", shared_done)
            if done and done not in stamps:
                stamps[done] = datetime.fromisoformat(done)
            events.append(
                DeliveryReport(
                    provider_id=pid,
                    status=stat_status(str(stat)),
                    error_code=str(err) if err else None,
                    done_at=stamps[done] if done else None,
                    raw=f"id:{pid} stat:{stat} err:{err} done:{done}",
                )
            )
        for mo in payload.get("mo", []):
            events.append(
                InboundMessage(
                    phone=str(mo["from"]),
                    text=str(mo["text"]),
                    received_at=datetime.fromisoformat(mo["received"]) if mo.get("received") else None,
                    provider_id=mo.get("ref"),
                    raw=json.dumps(mo, ensure_ascii=False),
                )
            )
        return events
