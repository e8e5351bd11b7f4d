"""The one contract every channel kind passes, each against its real peer on 127.0.0.1.

Parametrised over sandbox, smpp (npm smpp SMSC), http in Kannel form (bearerbox + smsbox in front of the SMPP
peer), http in JSON form, aliyun / tencent / twilio (official SDKs against local servers speaking their APIs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from dunning.channels.base import (
    Channel,
    ChannelEvent,
    DeliveryReport,
    DeliveryStatus,
    InboundMessage,
    SubmitResult,
)
from dunning.errors import ChannelError, PermanentChannelError
from tests.channels.harness import LONG_ZH, Harness, ok_phone, provider_ids, run


def test_channel_satisfies_protocol(harness: Harness) -> None:
    async def body() -> None:
        ch = harness.build()
        assert isinstance(ch, Channel)
        caps = ch.capabilities
        assert caps.max_batch >= 1
        assert caps.template_based == harness.template_based
        await ch.close()

    run(body())


def test_batch_results_in_order_with_provider_ids(harness: Harness) -> None:
    async def body() -> list[SubmitResult]:
        msgs = [harness.message(100 + i) for i in range(5)]
        results = await harness.send(msgs)
        assert [r.message_id for r in results] == [m.message_id for m in msgs]
        assert all(r.accepted and r.error is None for r in results), [r.error for r in results]
        ids = [r.provider_id for r in results]
        assert all(ids) and len(set(ids)) == len(ids)
        assert all(r.part_ids and r.part_ids[0] == r.provider_id for r in results)
        return results

    run(body())


def test_per_message_rejection_leaves_the_rest_accepted(harness: Harness) -> None:
    async def body() -> None:
        results = await harness.send([harness.message(1), harness.rejected_message(2), harness.message(3)])
        assert [r.message_id for r in results] == [1, 2, 3]
        assert results[0].accepted and results[2].accepted
        assert not results[1].accepted
        assert isinstance(results[1].error, PermanentChannelError)
        assert results[1].error.message_zh and results[1].error.code.startswith("channel.")
        assert results[1].provider_id is None

    run(body())


def test_whole_batch_failure_raises_a_typed_error(harness: Harness) -> None:
    harness.require(harness.supports_batch_error, "has no whole-call failure to provoke")

    async def body() -> None:
        expected = harness.arm_batch_error()
        ch = harness.build(bad_credentials=harness.broken_channel())
        msgs = [harness.message(i) for i in range(3)]
        keys = frozenset(m.idempotency_key for m in msgs)
        accepted_before = harness.accepted_count(keys)
        try:
            with pytest.raises(expected) as info:
                await ch.send_batch(msgs)
        finally:
            harness.disarm()
            await ch.close()
        assert isinstance(info.value, ChannelError)
        assert info.value.retryable == (expected is not PermanentChannelError)
        carried = harness.carried_keys()
        if carried is not None:
            assert not carried & keys, "a failed batch must not have been accepted"
        # the peer accepted nothing of the batch (Aliyun's batch reference is a digest, not a key: counted here)
        assert harness.accepted_count(keys) == accepted_before, "a failed batch must not have been accepted"

    run(body())


def test_delivery_report_round_trip(harness: Harness) -> None:
    async def body() -> None:
        ch = harness.build()
        good, bad = harness.message(1), harness.failing_message(2)
        try:
            results = await ch.send_batch([good, bad])
            assert all(r.accepted for r in results), [r.error for r in results]
            want = provider_ids(results)

            def complete(evs: list[ChannelEvent]) -> bool:
                final = {e.provider_id for e in evs if isinstance(e, DeliveryReport)
                         and e.status is not DeliveryStatus.UNKNOWN}
                return want <= final

            events = await harness.events(ch, complete, timeout=15)
        finally:
            await ch.close()
        reports = [e for e in events if isinstance(e, DeliveryReport) and e.provider_id in want
                   and e.status is not DeliveryStatus.UNKNOWN]
        by_id = {r.provider_id: r.status for r in reports}
        assert set(by_id) == want, f"missing reports for {want - set(by_id)}"
        good_ids = set(results[0].part_ids)
        bad_ids = set(results[1].part_ids)
        assert {by_id[i] for i in good_ids} == {DeliveryStatus.DELIVERED}
        assert {by_id[i] for i in bad_ids} <= {DeliveryStatus.FAILED, DeliveryStatus.EXPIRED}
        assert all(r.raw for r in reports)

    run(body())


def test_inbound_reply_round_trip(harness: Harness) -> None:
    harness.require(harness.supports_mo, "simulates its own replies")

    async def body() -> None:
        ch = harness.build()
        phone = ok_phone()
        text = f"退订 {uuid.uuid4().hex[:6]}"
        try:
            await ch.open()
            await asyncio.sleep(0.1)  # a receiver must be bound before the SMSC can deliver
            harness.inject_mo(phone, text)
            events = await harness.events(
                ch, lambda evs: any(isinstance(e, InboundMessage) and e.text == text for e in evs), timeout=15)
        finally:
            await ch.close()
        mos = [e for e in events if isinstance(e, InboundMessage) and e.text == text]
        assert len(mos) == 1
        assert mos[0].phone == phone

    run(body())


def test_webhook_verification_rejects_a_bad_signature(harness: Harness) -> None:
    async def body() -> None:
        ch = harness.build()
        try:
            if harness.supports_webhooks and harness.kind != "sandbox":
                results = await ch.send_batch([harness.message(1)])
                want = provider_ids(results)
                await harness.events(ch, lambda evs: any(
                    isinstance(e, DeliveryReport) and e.provider_id in want for e in evs), timeout=15)
            genuine = harness.genuine_webhooks()
            if not harness.supports_webhooks:
                assert genuine == []
                return
            assert genuine, "no callback arrived to verify"
            for req in genuine[-2:]:
                assert ch.verify_webhook(req)
                forged = dataclasses.replace(
                    req,
                    body=req.body + b" " if req.body else req.body,
                    headers={k: ("0" * len(v) if "signature" in k else v) for k, v in req.headers.items()},
                    query={k: ("forged" if k in ("sig", "token") else v) for k, v in req.query.items()},
                    url=req.url.replace("sig=", "sig=forged").replace("token=", "token=forged"),
                )
                assert not ch.verify_webhook(forged)
                unsigned = dataclasses.replace(
                    req, headers={k: v for k, v in req.headers.items() if "signature" not in k},
                    query={k: v for k, v in req.query.items() if k not in ("sig", "token")})
                if unsigned != req:
                    assert not ch.verify_webhook(unsigned)
        finally:
            await ch.close()

    run(body())


def test_check_authenticates_without_sending(harness: Harness) -> None:
    async def body() -> None:
        before = harness.sent_count()
        async with harness.opened(connect=False) as ch:
            await ch.check()
        assert harness.sent_count() == before
        if harness.kind == "sandbox":
            return
        bad = harness.build(bad_credentials=True)
        try:
            with pytest.raises(PermanentChannelError) as info:
                await bad.check()
        finally:
            await bad.close()
        assert info.value.message_zh
        assert harness.sent_count() == before

    run(body())


def test_long_chinese_text_goes_as_concatenated_parts(harness: Harness) -> None:
    assert len(LONG_ZH) > 70

    async def body() -> None:
        msg = harness.message(1, text=LONG_ZH)
        [result] = await harness.send([msg])
        assert result.accepted, result.error
        assert len(result.part_ids) == harness.expected_parts(LONG_ZH)
        assert result.provider_id == result.part_ids[0]

    run(body())


def test_idempotency_key_reaches_the_peer(harness: Harness) -> None:
    async def body() -> None:
        msg = harness.message(1)
        [result] = await harness.send([msg])
        assert result.accepted
        keys = harness.carried_keys(frozenset({msg.idempotency_key}))
        harness.require(keys is not None, "has no peer to carry the key to")
        assert msg.idempotency_key in keys

    run(body())


def test_close_is_clean_and_idempotent(harness: Harness) -> None:
    async def body() -> None:
        ch = harness.build()
        await ch.open()
        await ch.send_batch([harness.message(1)])
        await ch.close()
        await ch.close()
        await asyncio.sleep(0)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == [], others

    run(body())
