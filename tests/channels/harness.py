"""One harness per channel kind: how to build the adapter against its peer and how to make the peer do things.

The contract suite (``test_contract.py``) only talks to :class:`Harness`; each subclass knows its peer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

import pytest
from pydantic import SecretStr

from dunning.channels import registry
from dunning.channels.base import Channel, ChannelEvent, OutboundMessage, SubmitResult, WebhookRequest
from dunning.channels.sandbox import _unit
from dunning.config import ChannelSettings
from dunning.domain.sms import measure
from dunning.errors import ChannelError, PermanentChannelError, RateLimitedError
from tests.peers.http_peers import CloudPeer, JsonGatewayPeer, Received, TwilioPeer, WebhookSink
from tests.peers.kannel import BLACKLIST_PHONE, PASSWORD, SENDER, USERNAME, KannelPeer
from tests.peers.smpp_peer import SmppPeer

WEBHOOK_SECRET = "whsec-test-0123456789"
LONG_ZH = "您好，您在阳光消费金融的借款已逾期三天，应还金额人民币一千二百三十四元五角六分。" * 3  # > 70 chars
_counter = itertools.count(1)


def ok_phone() -> str:
    """A mainland mobile number every peer accepts and reports delivered (ends in 5)."""
    return f"+86139{next(_counter) % 10_000_000:07d}5"[:14]


def ucs2_parts(units: int) -> int:
    """Parts of a UCS-2 text of ``units`` code units as a carrier bills them: 70 in one, 67 per part beyond."""
    return 1 if units <= 70 else -(-units // 67)


class Harness:
    kind: ClassVar[str]
    reject_phone: str = "+8613800000000"
    fail_phone: str = "+8613800000001"
    supports_batch_error = True
    supports_mo = True
    supports_webhooks = True
    template_based = False

    def settings(self, *, bad_credentials: bool = False) -> ChannelSettings:
        raise NotImplementedError

    def io(self) -> dict[str, Any]:
        return {}

    def require(self, supported: bool, lacking: str) -> None:
        """Skip the test unless ``supported``; the reason is the kind and what it ``lacking``."""
        if not supported:
            pytest.skip(f"{self.kind} {lacking}")

    def build(self, *, bad_credentials: bool = False) -> Channel:
        return registry.create(f"test-{self.kind}", self.settings(bad_credentials=bad_credentials), **self.io())

    @asynccontextmanager
    async def opened(self, *, connect: bool = True) -> AsyncIterator[Channel]:
        """A built channel (opened first unless ``connect`` is false), closed however the block ends."""
        ch = self.build()
        try:
            if connect:
                await ch.open()
            yield ch
        finally:
            await ch.close()

    async def send(self, msgs: list[OutboundMessage]) -> list[SubmitResult]:
        """One batch through a channel built for it and closed after."""
        async with self.opened(connect=False) as ch:
            return await ch.send_batch(msgs)

    def message(self, i: int, phone: str | None = None, text: str = "您好，请于本月25日前还款，详询95000。",
                *, key: str | None = None) -> OutboundMessage:
        key = key or f"{self.kind}-{uuid.uuid4().hex}"
        params = {"1": text} if self.template_based else {}
        return OutboundMessage(i, key, phone or ok_phone(), text,
                               template_code="SMS_0001" if self.template_based else None, params=params,
                               signature="阳光消费金融")

    def rejected_message(self, i: int) -> OutboundMessage:
        return self.message(i, self.reject_phone)

    def failing_message(self, i: int) -> OutboundMessage:
        """Accepted, but its delivery report says failed."""
        return self.message(i, self.fail_phone)

    def expected_parts(self, text: str) -> int:
        return 1

    # ---- peer effects
    def arm_batch_error(self) -> type[ChannelError]:
        raise NotImplementedError

    def disarm(self) -> None:
        pass

    def broken_channel(self) -> bool:
        """True when the batch error comes from a differently built channel rather than a peer switch."""
        return False

    def inject_mo(self, phone: str, text: str) -> None:
        raise NotImplementedError

    def sent_count(self) -> int:
        raise NotImplementedError

    def accepted_count(self, keys: frozenset[str]) -> int:
        """Sends the peer accepted so far (``keys``: the messages a peer that queues may still be passing on).
        The HTTP peers record only what they accept, so by default it is :meth:`sent_count`."""
        return self.sent_count()

    def carried_keys(self, expect: frozenset[str] = frozenset()) -> set[str] | None:
        return None

    async def events(self, channel: Channel, until: Callable[[list[ChannelEvent]], bool],
                     timeout: float = 10.0) -> list[ChannelEvent]:
        got: list[ChannelEvent] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got.extend(await channel.poll_events())
            ack = getattr(channel, "acknowledge", None)
            if ack is not None:
                await ack()  # nothing to store here: acknowledge at once
            if until(got):
                break
            await asyncio.sleep(0.05)
        return got

    def genuine_webhooks(self) -> list[WebhookRequest]:
        return []


class SandboxHarness(Harness):
    kind = "sandbox"
    supports_batch_error = False
    supports_mo = False

    def settings(self, *, bad_credentials: bool = False) -> ChannelSettings:
        return ChannelSettings(kind="sandbox", options={"seed": 7, "submit_failure_rate": 0.3, "delivered_rate": 0.6,
                                                       "expired_rate": 0.0, "reply_rate": 0.0},
                               secrets={"webhook_secret": SecretStr(WEBHOOK_SECRET)})

    def _key(self, want: Callable[[str], bool]) -> str:
        while True:
            key = f"sandbox-{uuid.uuid4().hex}"
            if want(key):
                return key

    def message(self, i: int, phone: str | None = None, text: str = "您好，请于本月25日前还款，详询95000。",
                *, key: str | None = None) -> OutboundMessage:
        key = key or self._key(lambda k: _unit(7, k, "submit") >= 0.3 and _unit(7, k, "dlr") < 0.6)
        return super().message(i, phone, text, key=key)

    def rejected_message(self, i: int) -> OutboundMessage:
        return super().message(i, key=self._key(lambda k: _unit(7, k, "submit") < 0.3))

    def failing_message(self, i: int) -> OutboundMessage:
        return super().message(i, key=self._key(lambda k: _unit(7, k, "submit") >= 0.3 and _unit(7, k, "dlr") >= 0.6))

    def sent_count(self) -> int:
        return 0

    def genuine_webhooks(self) -> list[WebhookRequest]:
        # the sandbox documents its callback as a JSON body signed with hex HMAC-SHA256 of the webhook secret
        # signed over the timestamp, the method, the path and the body (see SandboxChannel.sign)
        body = json.dumps({"dlr": [{"id": "sbx-1", "stat": "DELIVRD", "err": "000"}], "mo": []}).encode()
        ts = str(int(time.time()))
        sig = hmac.new(WEBHOOK_SECRET.encode(), f"{ts}\nPOST\n/sandbox\n".encode() + body, hashlib.sha256).hexdigest()
        return [WebhookRequest("POST", "/sandbox", {"x-sandbox-timestamp": ts, "x-sandbox-signature": sig}, body)]


class SmppHarness(Harness):
    kind = "smpp"
    supports_webhooks = False

    def __init__(self, peer: SmppPeer) -> None:
        self.peer = peer

    def settings(self, *, bad_credentials: bool = False, **options: Any) -> ChannelSettings:
        return ChannelSettings(kind="smpp", options={
            "system_id": self.peer.system_id, "source_addr": SENDER, "window": 64, "receipt_timezone": "UTC",
            "connect_timeout": 5.0, "response_timeout": 5.0, "reconnect_initial": 0.1, "reconnect_max": 1.0,
            **options}, secrets={"password": SecretStr("wrong" if bad_credentials else self.peer.password)})

    def build_with(self, **options: Any) -> Channel:
        return registry.create("test-smpp", self.settings(**options), address=self.peer.address)

    def io(self) -> dict[str, Any]:
        return {"address": self.peer.address}

    def expected_parts(self, text: str) -> int:
        return measure(text, "intl").parts  # the one segmentation, default alphabet GSM 03.38

    def arm_batch_error(self) -> type[ChannelError]:
        self.peer.throttle(100_000)
        return RateLimitedError

    def disarm(self) -> None:
        self.peer.throttle(0)

    def inject_mo(self, phone: str, text: str) -> None:
        self.peer.send_mo(phone, text)

    def sent_count(self) -> int:
        return len(self.peer.entries())

    def accepted_count(self, keys: frozenset[str]) -> int:
        return sum(1 for e in self.peer.entries() if e["status"] == 0)

    def carried_keys(self, expect: frozenset[str] = frozenset()) -> set[str] | None:
        return set(self.peer.accepted_refs())


class _WebhookHarness(Harness):
    prefix: ClassVar[str]

    def __init__(self, sink: WebhookSink) -> None:
        self.sink = sink
        self._seen: list[WebhookRequest] = []

    def _request(self, r: Received) -> WebhookRequest:
        return WebhookRequest(r.method, self.sink.base_url + r.path, r.headers, r.body, r.query)

    async def events(self, channel: Channel, until: Callable[[list[ChannelEvent]], bool],
                     timeout: float = 10.0) -> list[ChannelEvent]:
        got: list[ChannelEvent] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await asyncio.to_thread(self.sink.drain, 1, 0.3, 0.05)
            for r in batch:
                if not r.route.startswith(self.prefix):
                    continue
                req = self._request(r)
                self._seen.append(req)
                if not channel.verify_webhook(req):
                    raise AssertionError(f"a genuine {self.kind} callback failed verification: {r.path}")
                got.extend(channel.parse_webhook(req))
            if until(got):
                break
        return got

    def genuine_webhooks(self) -> list[WebhookRequest]:
        return list(self._seen)


class _HttpPeerHarness(_WebhookHarness):
    """A provider API simulated by a peer of :mod:`tests.peers.http_peers`: it records what it accepted in
    ``sent`` and fails the next ``throttle_calls`` calls as a whole with its rate-limit answer when armed."""

    throttle_calls: ClassVar[int] = 1

    def __init__(self, sink: WebhookSink, peer: Any) -> None:
        super().__init__(sink)
        self.peer = peer

    def arm_batch_error(self) -> type[ChannelError]:
        self.peer.throttle(self.throttle_calls)
        return RateLimitedError

    def disarm(self) -> None:
        self.peer.throttle(0)

    def sent_count(self) -> int:
        return len(self.peer.sent)


class KannelHarness(_WebhookHarness):
    kind = "http"
    prefix = "/kannel/"
    reject_phone = BLACKLIST_PHONE

    def __init__(self, sink: WebhookSink, kannel: KannelPeer, smpp: SmppPeer) -> None:
        super().__init__(sink)
        self.kannel = kannel
        self.smpp = smpp

    def settings(self, *, bad_credentials: bool = False) -> ChannelSettings:
        return ChannelSettings(kind="http", options={
            "format": "kannel", "base_url": self.kannel.base_url, "username": USERNAME, "sender": SENDER,
            "callback_url": self.sink.url("/kannel/dlr"), "meta_ref": "dunning_ref", "dlr_mask": 19},
            secrets={"password": SecretStr("wrong" if bad_credentials else PASSWORD),
                     "webhook_secret": SecretStr(WEBHOOK_SECRET)})

    def arm_batch_error(self) -> type[ChannelError]:
        return PermanentChannelError

    def broken_channel(self) -> bool:
        return True

    def inject_mo(self, phone: str, text: str) -> None:
        self.smpp.send_mo(phone, text)

    def sent_count(self) -> int:
        return len(self.smpp.entries())

    def accepted_count(self, keys: frozenset[str]) -> int:
        # Kannel passes earlier tests' messages on in the background: count only this test's
        return sum(1 for e in self.smpp.entries() if e["status"] == 0 and e.get("ref") in keys)

    def carried_keys(self, expect: frozenset[str] = frozenset()) -> set[str] | None:
        # Kannel answers 202 before it submits to the SMSC: give it a moment to pass the key on
        deadline = time.monotonic() + 10
        keys = set(self.smpp.accepted_refs())
        while not expect <= keys and time.monotonic() < deadline:
            time.sleep(0.1)
            keys = set(self.smpp.accepted_refs())
        return keys


class JsonHarness(_HttpPeerHarness):
    kind = "http"
    prefix = "/json/"
    api_key = "jg-key-1"

    peer: JsonGatewayPeer

    def settings(self, *, bad_credentials: bool = False) -> ChannelSettings:
        return ChannelSettings(kind="http", options={
            "format": "json", "base_url": self.peer.base_url, "sender": SENDER,
            "callback_url": self.sink.url("/json/cb")},
            secrets={"api_key": SecretStr("nope" if bad_credentials else self.api_key),
                     "webhook_secret": SecretStr(WEBHOOK_SECRET)})

    def expected_parts(self, text: str) -> int:
        return ucs2_parts(len(text.encode("utf-16-be")) // 2)

    def inject_mo(self, phone: str, text: str) -> None:
        self.peer.send_mo(self.sink.url("/json/cb"), phone, text)

    def carried_keys(self, expect: frozenset[str] = frozenset()) -> set[str] | None:
        return {str(s["ref"]) for s in self.peer.sent}


class _CloudHarness(_HttpPeerHarness):
    """A template-based cloud (Aliyun, Tencent): an access key pair and a webhook token in the settings."""

    template_based = True
    key_option: ClassVar[str]
    secret_option: ClassVar[str]
    options: ClassVar[dict[str, str]]
    peer: CloudPeer

    def settings(self, *, bad_credentials: bool = False) -> ChannelSettings:
        secret = SecretStr("bad" if bad_credentials else self.peer.secret)
        return ChannelSettings(kind=self.kind, options={
            "endpoint": f"127.0.0.1:{self.peer.port}", "sign_name": "阳光消费金融", **self.options,
            self.key_option: self.peer.key_id},
            secrets={self.secret_option: secret, "webhook_token": SecretStr(self.token)})


class AliyunHarness(_CloudHarness):
    kind = "aliyun"
    prefix = "/aliyun/"
    token = "ali-token-1"
    key_option, secret_option = "access_key_id", "access_key_secret"
    options = {"protocol": "http"}

    def inject_mo(self, phone: str, text: str) -> None:
        self.peer.send_mo(phone.removeprefix("+86"), text)

    def carried_keys(self, expect: frozenset[str] = frozenset()) -> set[str] | None:
        return {str(s["out_id"]) for s in self.peer.sent}


class TencentHarness(_CloudHarness):
    kind = "tencent"
    prefix = "/tencent/"
    token = "tc-token-1"
    key_option, secret_option = "secret_id", "secret_key"
    options = {"scheme": "http", "sdk_app_id": "1400000001"}
    throttle_calls = 1000

    def expected_parts(self, text: str) -> int:
        return ucs2_parts(len(text) + 20)  # the peer bills parameters plus a 20-character template body

    def inject_mo(self, phone: str, text: str) -> None:
        self.peer.send_mo(phone, text)

    def carried_keys(self, expect: frozenset[str] = frozenset()) -> set[str] | None:
        return {k for s in self.peer.sent for k in str(s["session_context"]).split(",")}


class TwilioHarness(_HttpPeerHarness):
    kind = "twilio"
    prefix = "/twilio/"

    throttle_calls = 1000
    peer: TwilioPeer

    def settings(self, *, bad_credentials: bool = False) -> ChannelSettings:
        return ChannelSettings(kind="twilio", options={
            "api_base": self.peer.base_url, "account_sid": self.peer.account_sid, "from_": "+15005550006",
            "status_callback": self.sink.url("/twilio/status")},
            secrets={"auth_token": SecretStr("bad" if bad_credentials else self.peer.auth_token)})

    def expected_parts(self, text: str) -> int:
        return ucs2_parts(len(text.encode("utf-16-be")) // 2)

    def inject_mo(self, phone: str, text: str) -> None:
        self.peer.send_mo(self.sink.url("/twilio/sms"), phone, text)

    def carried_keys(self, expect: frozenset[str] = frozenset()) -> set[str] | None:
        out = set()
        for s in self.peer.sent:
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(str(s["status_callback"])).query))
            if "ref" in q:
                out.add(q["ref"])
        return out


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def provider_ids(results: Sequence[Any]) -> set[str]:
    return {pid for r in results for pid in (r.part_ids or (r.provider_id,)) if pid}
