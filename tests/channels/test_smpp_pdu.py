"""The SMPP codec's promises, checked on generated input, and checked against an independent implementation.

* :func:`parse_pdu` never raises on a framed PDU, whatever its body (a peer's bad receipt must not kill the
  connection), and :func:`split_frames` either raises ``ValueError`` (bad length) or returns frames that parse.
* What we encode, we decode: submit_sm (same layout as deliver_sm) with its addresses, esm_class, data_coding,
  short_message and TLVs; texts split into UDH parts decode and reassemble to the text.
* ``smpplib`` (another SMPP 3.4 implementation, in the test extra) decodes what we encode (bind, submit_sm with
  UDH parts in UCS-2 and GSM 03.38, query_sm, deliver_sm_resp), and we decode what smpplib encodes (deliver_sm
  receipts with TLVs or receipt text only, a concatenated UCS-2 MO, submit_sm_resp, query_sm_resp,
  bind_transceiver_resp, generic_nack).
"""

from __future__ import annotations

import struct
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import smpplib.consts
import smpplib.gsm
import smpplib.smpp
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.channels.base import DeliveryStatus
from dunning.channels.smpp import codec as P
from dunning.channels.smpp.receipts import Inbox, parse_receipt
from dunning.domain.sms import GSM_EXTENSION, GSM_TABLE
from tests.channels.test_smpp_codec import smpplib_decode

COMMANDS = [P.GENERIC_NACK, P.BIND_TRANSCEIVER | P.RESP, P.BIND_TRANSMITTER | P.RESP, P.BIND_RECEIVER | P.RESP,
            P.SUBMIT_SM | P.RESP, P.QUERY_SM | P.RESP, P.DELIVER_SM, P.ENQUIRE_LINK, P.UNBIND, P.SUBMIT_SM]
GSM_TEXT = st.text(alphabet=[c for c in GSM_TABLE if c != "\x1b"] + sorted(GSM_EXTENSION), max_size=600)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
P_TZ = ZoneInfo("Asia/Shanghai")


class _Sequence:
    """smpplib numbers PDUs through its client; a counter is all it needs here."""

    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def smpplib_pdu(name: str, sequence: int, **fields: Any) -> bytes:
    pdu = smpplib.smpp.make_pdu(name, client=_Sequence(), **fields)
    pdu.sequence = sequence
    return bytes(pdu.generate())


def smpplib_parse(frame: bytes) -> Any:
    return smpplib.smpp.parse_pdu(frame, client=_Sequence(), allow_unknown_opt_params=True)


# ----------------------------------------------------------------------------------------------- never raises


@settings(max_examples=400, deadline=None)
@given(command_id=st.sampled_from(COMMANDS) | st.integers(0, 2**32 - 1), status=st.integers(0, 2**32 - 1),
       sequence=st.integers(0, 2**32 - 1), body=st.binary(max_size=400))
def test_parse_pdu_never_raises_on_any_body(command_id: int, status: int, sequence: int, body: bytes) -> None:
    frame = struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body
    p = P.parse_pdu(frame)
    assert (p.command_id, p.status, p.sequence, p.body) == (command_id, status, sequence, body)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600))
def test_split_frames_raises_only_value_error_and_its_frames_parse(data: bytes) -> None:
    try:
        frames, rest = P.split_frames(data)
    except ValueError:
        return
    assert b"".join(frames) + rest == data
    for frame in frames:
        P.parse_pdu(frame)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), esm=st.sampled_from([0x00, 0x04, 0x20, 0x40, 0x44]), dc=st.integers(0, 255))
def test_a_malformed_deliver_sm_still_becomes_an_event(body: bytes, esm: int, dc: int) -> None:
    """The receipt and MO parsers never raise either: whatever arrives is stored (and acknowledged later)."""
    frame = P.pdu(P.DELIVER_SM, 7, body)
    p = P.parse_pdu(frame)
    p.esm_class, p.data_coding = esm, dc
    inbox: Inbox[object] = Inbox(P_TZ, "gsm7")
    inbox.on_deliver(p, (None, 7))
    events = inbox.poll()
    assert len(events) <= 1
    assert inbox.handed() == ([(None, 7)] if events else [])


# ------------------------------------------------------------------------------------------------ round trips


@settings(max_examples=200, deadline=None)
@given(text=GSM_TEXT | ANY_TEXT, alphabet=st.sampled_from(["gsm7", "ascii", "latin1"]), ref=st.integers(0, 255),
       dest=st.from_regex(r"86[0-9]{11}", fullmatch=True), key=st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True))
def test_what_we_encode_we_decode(text: str, alphabet: str, ref: int, dest: str, key: str) -> None:
    try:
        dc, esm, parts = P.segment_text(text, ref, alphabet)
    except ValueError:
        return  # longer than 255 parts: refused before anything is encoded
    decoded = []
    for i, part in enumerate(parts, start=1):
        frame = P.submit_sm(i, source_addr="10690", source_ton=0, source_npi=1, destination_addr=dest, dest_ton=1,
                            dest_npi=1, short_message=part, data_coding=dc, esm_class=esm,
                            tlvs=P.tlv(P.TLV_CLIENT_REF, P.cstr(key)))
        # submit_sm and deliver_sm share one body layout: read ours back with the deliver_sm decoder
        back = P.parse_pdu(frame[:4] + struct.pack(">I", P.DELIVER_SM) + frame[8:])
        assert (back.sequence, back.source_addr, back.destination_addr) == (i, "10690", dest)
        assert (back.esm_class, back.data_coding, back.short_message) == (esm, dc, part)
        assert back.tlvs == {P.TLV_CLIENT_REF: key.encode() + b"\x00"}
        if len(parts) > 1:
            assert P.concat_header(part, esm) == (ref, len(parts), i)
        decoded.append(P.decode_text(part, dc, esm, alphabet))
    assert "".join(decoded) == text


@given(message_id=st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True), sequence=st.integers(1, 0x7FFFFFFF))
def test_submit_sm_resp_round_trip(message_id: str, sequence: int) -> None:
    p = P.parse_pdu(P.pdu(P.SUBMIT_SM | P.RESP, sequence, P.cstr(message_id)))
    assert (p.sequence, p.message_id, p.status) == (sequence, message_id, 0)


# --------------------------------------------------------------------------------- smpplib decodes what we send


@pytest.mark.parametrize(("text", "alphabet", "want_dc", "want_parts"), [
    ("您好，您的账单已到期，请及时还款。" * 6, "gsm7", P.DC_UCS2, 2),
    ("Your payment of 1,200.00 is due {today} [ref 12] ~ thanks €" * 4, "gsm7", P.DC_DEFAULT, 2),
    ("Short GSM text @£$", "gsm7", P.DC_DEFAULT, 1),
    ("短信", "gsm7", P.DC_UCS2, 1),
])
def test_smpplib_decodes_our_submit_sm(text: str, alphabet: str, want_dc: int, want_parts: int) -> None:
    dc, esm, parts = P.segment_text(text, 99, alphabet)
    assert (dc, len(parts)) == (want_dc, want_parts)
    payloads = []
    for i, part in enumerate(parts, start=1):
        frame = P.submit_sm(40 + i, source_addr="10690", source_ton=0, source_npi=1,
                            destination_addr="8613812345678", dest_ton=1, dest_npi=1, short_message=part,
                            data_coding=dc, esm_class=esm, tlvs=P.tlv(P.TLV_CLIENT_REF, P.cstr("key-7")))
        theirs = smpplib_parse(frame)
        assert theirs.command == "submit_sm" and theirs.sequence == 40 + i and theirs.length == len(frame)
        assert theirs.destination_addr == b"8613812345678" and theirs.source_addr == b"10690"
        assert (theirs.dest_addr_ton, theirs.dest_addr_npi, theirs.registered_delivery) == (1, 1, 1)
        assert theirs.data_coding == dc and theirs.esm_class == esm and theirs.sm_length == len(part)
        sm = bytes(theirs.short_message)
        if want_parts > 1:
            assert esm & smpplib.consts.SMPP_GSMFEAT_UDHI
            assert sm[:6] == bytes((5, 0, 3, 99, want_parts, i))  # IEI 0: 8-bit reference concatenation
            sm = sm[6:]
        payloads.append(sm)
    if dc == P.DC_UCS2:
        assert "".join(b.decode("utf-16-be") for b in payloads) == text
    else:
        assert "".join(smpplib_decode(b) for b in payloads) == text


def test_smpplib_decodes_our_bind_query_and_acknowledgement() -> None:
    bind = smpplib_parse(P.bind(P.BIND_TRANSCEIVER, 1, "dunning", "secret", "CMT"))
    assert bind.command == "bind_transceiver" and bind.sequence == 1
    assert (bind.system_id, bind.password, bind.system_type, bind.interface_version) == (
        b"dunning", b"secret", b"CMT", 0x34)
    query = smpplib_parse(P.query_sm(2, message_id="m-9", source_addr="10690", source_ton=0, source_npi=1))
    assert query.command == "query_sm" and (query.message_id, query.source_addr) == (b"m-9", b"10690")
    ack = smpplib_parse(P.pdu(P.DELIVER_SM | P.RESP, 77, b"\x00"))
    assert ack.command == "deliver_sm_resp" and ack.sequence == 77 and ack.status == 0


# --------------------------------------------------------------------------------- we decode what smpplib sends


def test_we_decode_smpplib_receipts_with_tlvs_and_text_only() -> None:
    text = b"id:abc123 sub:001 dlvrd:001 submit date:2612051200 done date:2612051201 stat:UNDELIV err:034 text:"
    with_tlvs = smpplib_pdu("deliver_sm", 9, source_addr_ton=1, source_addr="8613812345678",
                            destination_addr="10690", esm_class=4, data_coding=0, short_message=text,
                            receipted_message_id="abc123", message_state=2)
    p = P.parse_pdu(with_tlvs)
    assert (p.command_id, p.sequence, p.esm_class, p.message_state) == (P.DELIVER_SM, 9, 4, 2)
    report = parse_receipt(p, intermediate=False, tz=P_TZ, alphabet="gsm7")
    # the message_state TLV (2, DELIVERED) wins over the text's stat
    assert (report.provider_id, report.status, report.error_code) == ("abc123", DeliveryStatus.DELIVERED, "034")
    assert report.done_at is not None and report.done_at.strftime("%y%m%d%H%M") == "2612051201"

    text_only = smpplib_pdu("deliver_sm", 10, source_addr_ton=1, source_addr="8613812345678",
                            destination_addr="10690", esm_class=4, data_coding=0, short_message=text)
    report = parse_receipt(P.parse_pdu(text_only), intermediate=False, tz=P_TZ, alphabet="gsm7")
    assert (report.provider_id, report.status, report.error_code) == ("abc123", DeliveryStatus.FAILED, "034")


def test_we_decode_a_concatenated_ucs2_reply_from_smpplib() -> None:
    reply = "我已经还款了，请不要再发短信。" * 6
    parts = smpplib.gsm.make_parts(reply)[0]
    inbox: Inbox[object] = Inbox(P_TZ, "gsm7")
    for seq, part in enumerate(parts, start=20):
        frame = smpplib_pdu("deliver_sm", seq, source_addr_ton=1, source_addr="8613812345678",
                            destination_addr="10690", esm_class=smpplib.consts.SMPP_GSMFEAT_UDHI,
                            data_coding=smpplib.consts.SMPP_ENCODING_ISO10646, short_message=part)
        inbox.on_deliver(P.parse_pdu(frame), (None, seq))
    [mo] = inbox.poll()
    assert len(parts) > 1 and mo.text == reply and mo.phone == "+8613812345678"  # type: ignore[union-attr]
    assert inbox.handed() == [(None, s) for s in range(20, 20 + len(parts))]  # every part, with the reply


def test_we_decode_smpplib_responses() -> None:
    resp = P.parse_pdu(smpplib_pdu("submit_sm_resp", 3, message_id="m-77"))
    assert (resp.command_id, resp.sequence, resp.message_id) == (P.SUBMIT_SM | P.RESP, 3, "m-77")
    query = P.parse_pdu(smpplib_pdu("query_sm_resp", 4, message_id="m-78", final_date="", message_state=3,
                                    error_code=0))
    assert (query.message_id, query.message_state) == ("m-78", 3)
    bound = P.parse_pdu(smpplib_pdu("bind_transceiver_resp", 1, system_id="SMSC"))
    assert (bound.command_id, bound.system_id) == (P.BIND_TRANSCEIVER | P.RESP, "SMSC")
    nack = smpplib.smpp.make_pdu("generic_nack", client=_Sequence(), sequence=5,
                                 status=smpplib.consts.SMPP_ESME_RTHROTTLED)
    nack.sequence = 5
    p = P.parse_pdu(bytes(nack.generate()))
    assert (p.command_id, p.status, p.sequence) == (P.GENERIC_NACK, P.ESME_RTHROTTLED, 5)
