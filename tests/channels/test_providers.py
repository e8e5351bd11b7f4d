"""Provider-specific behaviour of the HTTP-based adapters, table-driven where the shape allows."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter

import pytest

from dunning.channels.base import DeliveryReport, DeliveryStatus, WebhookRequest
from dunning.channels.sandbox import SandboxChannel
from dunning.config import ChannelSettings
from dunning.errors import ConfigError, PermanentChannelError, RateLimitedError
from tests.channels.harness import (
    WEBHOOK_SECRET,
    AliyunHarness,
    JsonHarness,
    KannelHarness,
    TencentHarness,
    ok_phone,
    provider_ids,
    run,
)
from tests.peers.http_peers import AliyunPeer, TencentPeer
from tests.peers.smpp_peer import SmppPeer


def _actions(peer: AliyunPeer | TencentPeer, since: int, header: str) -> Counter[str]:
    return Counter(r.headers.get(header, "") for r in peer.requests[since:])


# ------------------------------------------------------------------------------------------- aliyun


def test_aliyun_splits_batches_at_100_numbers(aliyun: AliyunHarness) -> None:
    async def body() -> None:
        ch = aliyun.build()
        since = len(aliyun.peer.requests)
        results = await ch.send_batch([aliyun.message(i) for i in range(150)])
        await ch.close()
        assert all(r.accepted for r in results)
        assert _actions(aliyun.peer, since, "x-acs-action") == Counter({"SendBatchSms": 2})
        assert len({r.provider_id for r in results}) == 150
        assert all(r.provider_id and r.provider_id.endswith(":" + r.provider_id.split(":")[1]) for r in results)

    run(body())


def test_aliyun_per_number_cap_is_pinned_on_its_message(aliyun: AliyunHarness) -> None:
    async def body() -> None:
        ch = aliyun.build()
        msgs = [aliyun.message(1), aliyun.message(2, "+8613800000009"), aliyun.message(3)]
        sent_before = len(aliyun.peer.sent)
        results = await ch.send_batch(msgs)
        await ch.close()
        assert results[0].accepted and results[2].accepted
        err = results[1].error
        assert isinstance(err, RateLimitedError) and err.code == "channel.per_number_cap"
        assert err.retry_after >= 60
        sent = aliyun.peer.sent[sent_before:]
        assert sorted(s["phone"] for s in sent) == sorted(m.phone.removeprefix("+86") for m in (msgs[0], msgs[2]))
        assert {s["out_id"] for s in sent} == {msgs[0].idempotency_key, msgs[2].idempotency_key}

    run(body())


def test_aliyun_needs_a_template(aliyun: AliyunHarness) -> None:
    async def body() -> None:
        ch = aliyun.build()
        plain = aliyun.message(2)
        plain = type(plain)(2, plain.idempotency_key, plain.phone, plain.text)
        results = await ch.send_batch([aliyun.message(1), plain])
        await ch.close()
        assert results[0].accepted
        assert isinstance(results[1].error, PermanentChannelError)
        assert results[1].error.code == "channel.template_required"

    run(body())


def test_aliyun_bad_template_params_are_sent_per_number(aliyun: AliyunHarness) -> None:
    async def body() -> None:
        ch = aliyun.build()
        msg = aliyun.message(1)
        await ch.send_batch([msg, aliyun.message(2)])
        await ch.close()
        last = [s for s in aliyun.peer.sent if s["phone"] == msg.phone.removeprefix("+86")][-1]
        assert last["template"] == "SMS_0001" and last["params"] == dict(msg.params) and last["sign"] == "阳光消费金融"

    run(body())


# ------------------------------------------------------------------------------------------- tencent


def test_tencent_groups_by_template_params_and_splits_at_200(tencent: TencentHarness) -> None:
    async def body() -> None:
        ch = tencent.build()
        since = len(tencent.peer.requests)
        same = [tencent.message(i, text="您好") for i in range(250)]
        distinct = [tencent.message(300 + i, text=f"您好{i}") for i in range(3)]
        results = await ch.send_batch(same + distinct)
        await ch.close()
        assert all(r.accepted for r in results)
        assert _actions(tencent.peer, since, "x-tc-action") == Counter({"SendSms": 2 + 3})
        sizes = sorted(len(json.loads(r.body)["PhoneNumberSet"]) for r in tencent.peer.requests[since:])
        assert sizes == [1, 1, 1, 50, 200]

    run(body())


@pytest.mark.parametrize(("phone", "code", "error_type"), [
    ("+8613800000009", "channel.per_number_cap", RateLimitedError),
    ("+8613800000000", "channel.tencent.InvalidParameterValue.IncorrectPhoneNumber", PermanentChannelError),
])
def test_tencent_per_number_codes(tencent: TencentHarness, phone: str, code: str, error_type: type) -> None:
    async def body() -> None:
        ch = tencent.build()
        results = await ch.send_batch([tencent.message(1, text="同参"), tencent.message(2, phone, text="同参")])
        await ch.close()
        assert results[0].accepted
        err = results[1].error
        assert isinstance(err, error_type) and err is not None and err.code == code

    run(body())


# ------------------------------------------------------------------------------------------- kannel


@pytest.mark.parametrize(("phone", "status", "error_code"), [
    ("+8613800000000", DeliveryStatus.FAILED, "0x0000000b"),  # accepted by Kannel, rejected by the SMSC
    ("+8613800000002", DeliveryStatus.EXPIRED, "006"),
    ("+8613800000001", DeliveryStatus.FAILED, "001"),
])
def test_kannel_receipts_carry_smsc_outcomes(kannel_h: KannelHarness, phone: str, status: DeliveryStatus,
                                             error_code: str) -> None:
    async def body() -> None:
        ch = kannel_h.build()
        try:
            [r] = await ch.send_batch([kannel_h.message(1, phone)])
            assert r.accepted  # Kannel queues first and learns the outcome later
            events = await kannel_h.events(ch, lambda evs: any(
                isinstance(e, DeliveryReport) and e.provider_id == r.provider_id
                and e.status is not DeliveryStatus.UNKNOWN for e in evs))
        finally:
            await ch.close()
        finals = [e for e in events if isinstance(e, DeliveryReport) and e.provider_id == r.provider_id
                  and e.status is not DeliveryStatus.UNKNOWN]
        assert len(finals) == 1, [e.raw for e in events]
        [report] = finals
        assert report.status is status and report.error_code == error_code

    run(body())


def _through_kannel(kannel_h: KannelHarness, text: str) -> str:
    """Send ``text`` through Kannel; return its key once the SMSC has it."""
    async def body() -> str:
        ch = kannel_h.build()
        msg = kannel_h.message(1, text=text)
        [r] = await ch.send_batch([msg])
        await ch.close()
        assert r.accepted
        return msg.idempotency_key

    key = run(body())
    kannel_h.carried_keys(frozenset({key}))
    return key


def test_kannel_long_text_reaches_the_smsc_as_udh_parts(kannel_h: KannelHarness, smpp_peer: SmppPeer) -> None:
    from tests.channels.harness import LONG_ZH

    key = _through_kannel(kannel_h, LONG_ZH)
    parts = [e for e in smpp_peer.entries() if e["ref"] == key and e["status"] == 0]
    assert sorted(e["part"] for e in parts) == [1, 2] and {e["parts"] for e in parts} == {2}
    assert "".join(e["text"] for e in sorted(parts, key=lambda e: e["part"])) == LONG_ZH


@pytest.mark.parametrize(("text", "dc"), [
    ("Balance $1,234.50 due_date @ once {ref}", 0),  # all GSM 03.38: coding=0, Kannel packs it for the SMSC
    ("Balance $1,234.50 ₩", 8),                       # ₩ is outside the alphabet: the whole text as UCS-2
])
def test_kannel_sends_in_the_smscs_alphabet(kannel_h: KannelHarness, smpp_peer: SmppPeer, text: str,
                                            dc: int) -> None:
    key = _through_kannel(kannel_h, text)
    [entry] = [e for e in smpp_peer.entries() if e["ref"] == key and e["status"] == 0]
    assert entry["dc"] == dc and entry["text"] == text


# ------------------------------------------------------------------------------------------- JSON gateway


def test_json_gateway_rate_limit_carries_retry_after(json_h: JsonHarness) -> None:
    async def body() -> None:
        ch = json_h.build()
        json_h.peer.throttle(1)
        try:
            with pytest.raises(RateLimitedError) as info:
                await ch.send_batch([json_h.message(1)])
        finally:
            json_h.peer.throttle(0)
            await ch.close()
        assert info.value.retry_after == 2

    run(body())


def test_json_callback_with_a_stale_timestamp_is_refused(json_h: JsonHarness) -> None:
    ch = json_h.build()
    body = json.dumps({"type": "dlr", "events": [{"id": "jg-1", "status": "DELIVRD"}]}).encode()
    old = str(int(time.time()) - 3600)
    sig = hmac.new(WEBHOOK_SECRET.encode(), old.encode() + b"." + body, hashlib.sha256).hexdigest()
    req = WebhookRequest("POST", "/json/cb", {"x-timestamp": old, "x-signature": sig}, body)
    assert not ch.verify_webhook(req)
    now = str(int(time.time()))
    fresh = hmac.new(WEBHOOK_SECRET.encode(), now.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert ch.verify_webhook(WebhookRequest("POST", "/json/cb", {"x-timestamp": now, "x-signature": fresh}, body))


def test_json_parts_and_reports_per_part(json_h: JsonHarness) -> None:
    from tests.channels.harness import LONG_ZH

    async def body() -> None:
        ch = json_h.build()
        [r] = await ch.send_batch([json_h.message(1, ok_phone(), LONG_ZH)])
        want = provider_ids([r])
        events = await json_h.events(ch, lambda evs: want <= {e.provider_id for e in evs
                                                               if isinstance(e, DeliveryReport)})
        await ch.close()
        assert len(want) == len(r.part_ids) > 1
        assert want <= {e.provider_id for e in events if isinstance(e, DeliveryReport)}

    run(body())


# ------------------------------------------------------------------------------------------- sandbox


@pytest.mark.parametrize(("options", "field"), [({"delivered_rate": "1.5"}, "delivered_rate"),
                                                 ({"seed": "abc"}, "seed"), ({"latency_ms": -1}, "latency_ms")])
def test_sandbox_refuses_a_bad_option_with_its_name(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        SandboxChannel("sandbox", ChannelSettings(kind="sandbox", options=options))
    assert field in err.value.message_zh and "沙箱通道" in err.value.message_zh


def test_sandbox_reads_its_options_from_strings() -> None:
    ch = SandboxChannel("sandbox", ChannelSettings(kind="sandbox", options={"delivered_rate": "0.5", "seed": "9"}))
    assert (ch.options.delivered_rate, ch.options.seed, ch.options.expired_rate) == (0.5, 9, 0.005)
