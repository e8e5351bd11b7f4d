"""SMPP adapter behaviour beyond the shared contract, against the npm smpp SMSC peer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from dunning.channels.base import DeliveryReport, DeliveryStatus, SubmitResult
from dunning.channels.smpp import SmppChannel
from dunning.channels.smpp import codec as P
from dunning.domain.sms import measure
from dunning.errors import PermanentChannelError, RateLimitedError, TransientChannelError
from tests.channels.harness import LONG_ZH, SmppHarness, ok_phone, provider_ids
from tests.peers.smpp_peer import SmppPeer

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------- segmentation


@pytest.mark.parametrize(
    ("text", "coding", "parts"),
    [
        ("A" * 160, P.DC_DEFAULT, 1),
        ("A" * 161, P.DC_DEFAULT, 2),
        ("A" * 306, P.DC_DEFAULT, 2),
        ("A" * 307, P.DC_DEFAULT, 3),
        ("您" * 70, P.DC_UCS2, 1),
        ("您" * 71, P.DC_UCS2, 2),
        ("您" * 134, P.DC_UCS2, 2),
        ("您" * 135, P.DC_UCS2, 3),
        ("Pay ¥100", P.DC_DEFAULT, 1),  # ¥ is in GSM 03.38 (0x03)
        ("Pay ₩100", P.DC_UCS2, 1),  # ₩ is not
    ],
)
def test_segmentation_table(text: str, coding: int, parts: int) -> None:
    dc, esm, chunks = P.segment_text(text, 7)
    assert dc == coding
    assert len(chunks) == parts == measure(text, "intl").parts
    assert (esm == P.ESM_UDHI) == (parts > 1)
    if parts > 1:
        assert [c[:6] for c in chunks] == [bytes((5, 0, 3, 7, parts, i + 1)) for i in range(parts)]
        # UCS-2 parts fill 140 octets; GSM text goes unpacked (one septet per octet), packed by the SMSC
        assert all(len(c) <= (140 if dc == P.DC_UCS2 else 6 + 153) for c in chunks)
        decoded = "".join(P.decode_text(c, dc, esm) for c in chunks)
    else:
        decoded = P.decode_text(chunks[0], dc)
    assert decoded == text


def test_segmentation_never_splits_a_surrogate_pair() -> None:
    text = "您" * 66 + "😀" + "好" * 10  # the emoji straddles the 67-unit boundary
    dc, _, chunks = P.segment_text(text, 1)
    assert "".join(c[6:].decode("utf-16-be") for c in chunks) == text  # each part decodes on its own


def test_split_frames_keeps_the_incomplete_tail() -> None:
    a = P.pdu(P.ENQUIRE_LINK, 1)
    b = P.pdu(P.ENQUIRE_LINK, 2)
    frames, rest = P.split_frames(a + b[:7])
    assert frames == [a] and rest == b[:7]
    with pytest.raises(ValueError):
        P.split_frames(b"\x00\x00\x00\x03abcd")


# ------------------------------------------------------------------------------------------- against the peer


def test_throttled_submits_are_rate_limited_per_message(smpp: SmppHarness) -> None:
    async def body() -> None:
        msgs = [smpp.message(i) for i in range(6)]
        async with smpp.opened() as ch:
            smpp.peer.throttle(2)
            results = await ch.send_batch(msgs)
        throttled = [r for r in results if isinstance(r.error, RateLimitedError)]
        accepted = [r for r in results if r.accepted]
        assert len(throttled) >= 2 and throttled[0].message_id == 0
        assert all(r.error.retry_after > 0 for r in throttled)  # type: ignore[union-attr]
        assert len(throttled) + len(accepted) == 6
        refs = smpp.peer.accepted_refs()
        assert {m.idempotency_key for m in msgs if refs[m.idempotency_key]} == {
            msgs[r.message_id].idempotency_key for r in accepted}

    run(body())


@pytest.mark.parametrize("status", ["throttled", "msgqful"])
def test_fully_throttled_batch_raises_rate_limited(smpp: SmppHarness, status: str) -> None:
    async def body() -> None:
        async with smpp.opened() as ch:
            smpp.peer.throttle(1000, status)
            with pytest.raises(RateLimitedError):
                await ch.send_batch([smpp.message(i) for i in range(4)])

    run(body())


def test_continuation_part_is_retried_without_resending_part_one(smpp: SmppHarness) -> None:
    async def body() -> SubmitResult:
        msg = smpp.message(1, text=LONG_ZH)
        async with smpp.opened() as ch:
            smpp.peer.throttle(1, after=1)  # part 1 accepted, part 2 throttled once
            [result] = await ch.send_batch([msg])
        n = smpp.expected_parts(LONG_ZH)
        assert n >= 2 and result.accepted and len(result.part_ids) == n
        lines = [e for e in smpp.peer.entries() if e["ref"] == msg.idempotency_key]
        accepted_parts = Counter(e["part"] for e in lines if e["status"] == 0)
        assert accepted_parts == Counter({i: 1 for i in range(1, n + 1)})
        assert any(e["status"] == P.ESME_RTHROTTLED and e["part"] == 2 for e in lines)
        return result

    run(body())


def test_unanswered_submit_is_an_unknown_outcome_not_a_retry(smpp: SmppHarness) -> None:
    async def body() -> None:
        ch = smpp.build_with(response_timeout=0.5)
        try:
            await ch.open()
            smpp.peer.mute(1)
            [r] = await ch.send_batch([smpp.message(1)])
        finally:
            await ch.close()
        assert r.error is not None and r.error.code == "channel.outcome_unknown"
        assert not r.error.retryable

    run(body())


@pytest.mark.parametrize("variant", ["standard", "text_only", "minimal", "undecodable"])
def test_receipt_variants_are_understood(smpp: SmppHarness, variant: str) -> None:
    async def body() -> None:
        async with smpp.opened() as ch:
            smpp.peer.variant(variant)
            results = await ch.send_batch([smpp.message(1), smpp.failing_message(2)])
            want = provider_ids(results)
            events = await smpp.events(ch, lambda evs: want <= {
                e.provider_id for e in evs if isinstance(e, DeliveryReport)})
        by_id = {e.provider_id: e for e in events if isinstance(e, DeliveryReport) and e.provider_id in want}
        assert by_id[results[0].provider_id or ""].status is DeliveryStatus.DELIVERED
        assert by_id[results[1].provider_id or ""].status is DeliveryStatus.FAILED
        if variant != "undecodable":
            assert by_id[results[1].provider_id or ""].error_code == "001"

    run(body())


def test_reconnects_after_the_link_drops(smpp: SmppHarness) -> None:
    async def body() -> None:
        ch = smpp.build()
        assert isinstance(ch, SmppChannel)
        try:
            await ch.open()
            smpp.peer.drop()
            await asyncio.sleep(0.3)
            results = await ch.send_batch([smpp.message(1)])
        finally:
            await ch.close()
        assert results[0].accepted
        assert ch.reconnects >= 1

    run(body())


def test_submit_window_bounds_unanswered_submits(smpp: SmppHarness) -> None:
    async def body() -> None:
        ch = smpp.build_with(window=4)
        assert isinstance(ch, SmppChannel)
        try:
            results = await ch.send_batch([smpp.message(i) for i in range(200)])
        finally:
            await ch.close()
        assert all(r.accepted for r in results)
        assert 1 < ch.max_in_flight <= 4  # pipelined, and never past the window

    run(body())


def test_query_status_by_reference_where_the_smsc_implements_it(vendor_smpp_peer: SmppPeer) -> None:
    smpp = SmppHarness(vendor_smpp_peer)

    async def body() -> None:
        ch = smpp.build_with(query_by_reference=True)
        msg = smpp.message(1, text=LONG_ZH)
        try:
            [sent] = await ch.send_batch([msg])
            found = await ch.query_status([msg.idempotency_key, "never-sent-key"])
        finally:
            await ch.close()
        assert found["never-sent-key"] is None
        got = found[msg.idempotency_key]
        assert got is not None and got.provider_id == sent.provider_id and got.part_ids == sent.part_ids

    run(body())


def test_rejected_bind_is_permanent_and_not_retried(smpp: SmppHarness) -> None:
    async def body() -> None:
        binds = smpp.peer.stats()["binds"]
        ch = smpp.build(bad_credentials=True)
        try:
            with pytest.raises(PermanentChannelError):
                await ch.open()
            with pytest.raises(PermanentChannelError):
                await ch.send_batch([smpp.message(1)])
        finally:
            await ch.close()
        assert smpp.peer.stats()["binds"] == binds

    run(body())


def test_unreachable_smsc_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there

    async def body() -> None:
        from dunning.channels import registry
        from dunning.config import ChannelSettings

        ch = registry.create("x", ChannelSettings(kind="smpp", options={"connect_timeout": 0.5}),
                             address=("127.0.0.1", port))
        try:
            with pytest.raises(TransientChannelError):
                await ch.check()
        finally:
            await ch.close()

    run(body())


@pytest.mark.parametrize("text", ["已还款，请核实", "我已经在上周五通过手机银行还清了全部欠款，" * 5])
def test_mo_reply_carries_phone_and_chinese_text(smpp: SmppHarness, text: str) -> None:
    async def body() -> None:
        phone = ok_phone()
        async with smpp.opened() as ch:
            smpp.peer.send_mo(phone, text)  # the long one arrives as concatenated parts
            events = await smpp.events(ch, lambda evs: any(getattr(e, "phone", None) == phone for e in evs))
            await asyncio.sleep(0.1)
            events += await ch.poll_events()
        [mo] = [e for e in events if getattr(e, "phone", None) == phone]
        assert mo.text == text  # type: ignore[union-attr]

    run(body())


def test_query_by_reference_is_off_by_default_and_a_miss_proves_nothing(vendor_smpp_peer: SmppPeer) -> None:
    smpp = SmppHarness(vendor_smpp_peer)
    plain = smpp.build()
    assert getattr(plain, "absence_is_proof", None) is False
    with pytest.raises(NotImplementedError):
        run(plain.query_status(["k"]))
    run(plain.close())
    assert getattr(smpp.build_with(query_by_reference=True), "absence_is_proof", None) is False
    declared = smpp.build_with(query_by_reference=True, reference_query_authoritative=True)
    assert getattr(declared, "absence_is_proof", None) is True


def test_a_query_the_smsc_never_answers_times_out_instead_of_hanging(vendor_smpp_peer: SmppPeer) -> None:
    smpp = SmppHarness(vendor_smpp_peer)

    async def body() -> None:
        ch = smpp.build_with(query_by_reference=True, response_timeout=0.3)
        vendor_smpp_peer.mute_queries(True)
        try:
            with pytest.raises(TransientChannelError) as err:
                await asyncio.wait_for(ch.query_status(["some-key"]), timeout=5.0)
        finally:
            vendor_smpp_peer.mute_queries(False)
            await ch.close()
        assert err.value.code == "channel.timeout"

    run(body())


def test_receipts_are_acknowledged_only_when_the_caller_says_they_are_stored(smpp: SmppHarness) -> None:
    """Before, deliver_sm_resp went out on arrival: a crash before the write lost the receipt for good. Now an
    unacknowledged receipt is delivered again by the SMSC after a reconnect, and nothing is lost."""
    async def body() -> None:
        ch = smpp.build()
        try:
            [sent] = await ch.send_batch([smpp.message(1)])
            assert sent.accepted
            pid = sent.provider_id

            async def receipt_for(provider_id: str | None) -> list[Any]:
                got: list[Any] = []
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not any(
                        getattr(e, "provider_id", None) == provider_id for e in got):
                    got += await ch.poll_events()
                    await asyncio.sleep(0.02)
                return [e for e in got if getattr(e, "provider_id", None) == provider_id]

            assert await receipt_for(pid), "the receipt arrived"
            assert pid not in smpp.peer.acked()["receipts"], "not acknowledged before the caller stored it"
            smpp.peer.drop()  # the process 'crashed' before storing: the link goes, unacknowledged
            again = await receipt_for(pid)  # the channel reconnects; the SMSC delivers it again
            assert again, "the unacknowledged receipt was redelivered"
            assert await ch.acknowledge() >= 1  # type: ignore[attr-defined]
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and pid not in smpp.peer.acked()["receipts"]:
                await asyncio.sleep(0.02)
            assert pid in smpp.peer.acked()["receipts"]
        finally:
            await ch.close()

    run(body())


def test_a_throttled_part_one_is_sent_again_with_the_same_udh_so_no_tail_fragment_is_left(
        smpp: SmppHarness) -> None:
    """Before, part 1 throttled and part 2 accepted left the borrower a tail fragment without the signature."""
    msg = smpp.message(1, text=LONG_ZH)

    async def body() -> list[SubmitResult]:
        smpp.peer.throttle(1)  # the next submit (part 1) is refused, part 2 right behind it is accepted
        return await smpp.send([msg])

    [res] = run(body())
    assert res.accepted and len(res.part_ids) == 2, res
    mine = [e for e in smpp.peer.entries() if e["ref"] == msg.idempotency_key]
    ok = [e for e in mine if e["status"] == 0]
    assert sorted(e["part"] for e in ok) == [1, 2], mine
    assert len({e["cref"] for e in mine}) == 1, "the resent part carries the same concatenation reference"
