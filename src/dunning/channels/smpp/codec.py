"""SMPP 3.4 PDUs that the SMPP adapter needs, as plain bytes in and out, plus SMS segmentation.

Only the subset an ESME transceiver uses: bind_*, unbind, enquire_link, submit_sm, deliver_sm, query_sm, their
responses and generic_nack. Encoding is hand-rolled with ``struct`` because it sits on the hot path (one
submit_sm and one deliver_sm per message part at thousands per second); see :mod:`dunning.channels.smpp.channel`.

Contracts:

* :func:`split_frames` takes a byte buffer and returns the complete PDUs in it plus the unconsumed tail.
* :func:`parse_pdu` never raises on a well-framed PDU with a malformed body: fields it cannot read are left at
  their defaults (a peer's bad receipt must not kill the connection).
* :func:`segment_text` turns a text into (data_coding, [short_message bytes]) with concatenation UDH when it
  does not fit one SMS. The parts are :func:`dunning.domain.sms.segment`'s (the one segmentation); each is
  encoded in the SMSC's default alphabet (``data_coding = 0``: GSM 03.38 unpacked one septet per octet, IA5/ASCII
  or Latin-1, per channel), or the whole text in UCS-2 when a character is outside it.
* :func:`decode_text` reads a deliver_sm's text per its data_coding (0 the channel's alphabet, 3 Latin-1,
  8 UCS-2); bytes it cannot decode are kept as ``\\xNN``, never dropped.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass, field

from dunning.domain.sms import ALPHABETS, GSM_ESCAPE, GSM_EXT_TABLE, GSM_TABLE, segment

__all__ = ["ALPHABETS"]  # re-exported for the adapters' option checks

# command ids
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
QUERY_SM = 0x00000003
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESP = 0x80000000

# command_status values the adapter acts on
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RQUERYFAIL = 0x67
ESME_RX_T_APPN = 0x64  # temporary application error
ESME_RX_P_APPN = 0x65  # permanent application error

STATUS_NAMES: dict[int, str] = {
    0x00: "ESME_ROK", 0x01: "ESME_RINVMSGLEN", 0x02: "ESME_RINVCMDLEN", 0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS", 0x05: "ESME_RALYBND", 0x08: "ESME_RSYSERR", 0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR", 0x0C: "ESME_RINVMSGID", 0x0D: "ESME_RBINDFAIL", 0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID", 0x14: "ESME_RMSGQFUL", 0x45: "ESME_RSUBMITFAIL", 0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED", 0x62: "ESME_RINVEXPIRY", 0x64: "ESME_RX_T_APPN", 0x65: "ESME_RX_P_APPN",
    0x66: "ESME_RX_R_APPN", 0x67: "ESME_RQUERYFAIL",
}

# TLV tags
TLV_USER_MESSAGE_REFERENCE = 0x0204
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_STATE = 0x0427
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_CLIENT_REF = 0x1501  # vendor-specific range: our idempotency key, logged by the peer
TLV_CLIENT_PARTS = 0x1502  # vendor-specific: comma-separated part ids in a query_sm_resp

ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_DELIVERY_RECEIPT = 0x04
ESM_INTERMEDIATE = 0x20

DC_DEFAULT = 0x00
DC_IA5 = 0x01
DC_LATIN1 = 0x03
DC_UCS2 = 0x08

_HEADER = struct.Struct(">IIII")

def cstr(value: str, encoding: str = "ascii") -> bytes:
    return value.encode(encoding, "replace") + b"\x00"


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return _HEADER.pack(16 + len(body), command_id, status, sequence) + body


def bind(command_id: int, sequence: int, system_id: str, password: str, system_type: str = "",
         addr_ton: int = 0, addr_npi: int = 0, address_range: str = "") -> bytes:
    body = (cstr(system_id) + cstr(password) + cstr(system_type) + bytes((0x34, addr_ton, addr_npi))
            + cstr(address_range))
    return pdu(command_id, sequence, body)


def submit_sm(sequence: int, *, source_addr: str, source_ton: int, source_npi: int, destination_addr: str,
              dest_ton: int, dest_npi: int, short_message: bytes, data_coding: int, esm_class: int = 0,
              registered_delivery: int = 1, service_type: str = "", tlvs: bytes = b"") -> bytes:
    body = b"".join((
        cstr(service_type),
        bytes((source_ton, source_npi)), cstr(source_addr),
        bytes((dest_ton, dest_npi)), cstr(destination_addr),
        bytes((esm_class, 0, 0)),  # esm_class, protocol_id, priority_flag
        b"\x00\x00",  # schedule_delivery_time, validity_period: both "now"/"default"
        bytes((registered_delivery, 0, data_coding, 0, len(short_message))),
        short_message,
        tlvs,
    ))
    return pdu(SUBMIT_SM, sequence, body)


def query_sm(sequence: int, *, message_id: str, source_addr: str, source_ton: int, source_npi: int,
             tlvs: bytes = b"") -> bytes:
    body = cstr(message_id) + bytes((source_ton, source_npi)) + cstr(source_addr) + tlvs
    return pdu(QUERY_SM, sequence, body)


@dataclass(slots=True)
class Pdu:
    """A decoded PDU. Body fields are filled for the commands the adapter reads, the rest stay empty."""

    command_id: int
    status: int
    sequence: int
    body: bytes
    message_id: str = ""
    system_id: str = ""
    source_ton: int = 0
    source_addr: str = ""
    destination_addr: str = ""
    esm_class: int = 0
    data_coding: int = 0
    short_message: bytes = b""
    message_state: int | None = None
    tlvs: dict[int, bytes] = field(default_factory=dict)


def split_frames(buffer: bytes | bytearray) -> tuple[list[bytes], bytes]:
    """Complete PDUs at the head of ``buffer`` and the remaining bytes. Raises ValueError on a bad length."""
    frames: list[bytes] = []
    pos = 0
    end = len(buffer)
    while end - pos >= 4:
        (length,) = struct.unpack_from(">I", buffer, pos)
        if length < 16 or length > 65536:
            raise ValueError(f"invalid PDU length {length}")
        if end - pos < length:
            break
        frames.append(bytes(buffer[pos : pos + length]))
        pos += length
    return frames, bytes(buffer[pos:])


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    nul = data.find(b"\x00", pos)
    if nul < 0:
        return data[pos:].decode("latin-1"), len(data)
    return data[pos:nul].decode("latin-1"), nul + 1


def _tlvs(data: bytes, pos: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while pos + 4 <= len(data):
        tag, length = struct.unpack_from(">HH", data, pos)
        pos += 4
        out[tag] = data[pos : pos + length]
        pos += length
    return out


def parse_pdu(frame: bytes) -> Pdu:
    _, command_id, status, sequence = _HEADER.unpack_from(frame, 0)
    body = frame[16:]
    p = Pdu(command_id, status, sequence, body)
    try:
        if command_id in (SUBMIT_SM | RESP, QUERY_SM | RESP) and body:
            p.message_id, pos = _cstring(body, 0)
            if command_id == QUERY_SM | RESP and pos + 1 < len(body):
                _, pos = _cstring(body, pos)  # final_date
                p.message_state = body[pos]
                p.tlvs = _tlvs(body, pos + 2)  # after message_state and error_code
        elif command_id in (BIND_TRANSCEIVER | RESP, BIND_TRANSMITTER | RESP, BIND_RECEIVER | RESP) and body:
            p.system_id, pos = _cstring(body, 0)
            p.tlvs = _tlvs(body, pos)
        elif command_id == DELIVER_SM:
            _, pos = _cstring(body, 0)  # service_type
            p.source_ton = body[pos]
            p.source_addr, pos = _cstring(body, pos + 2)
            p.destination_addr, pos = _cstring(body, pos + 2)
            p.esm_class = body[pos]
            pos += 3  # esm_class, protocol_id, priority_flag
            _, pos = _cstring(body, pos)  # schedule_delivery_time
            _, pos = _cstring(body, pos)  # validity_period
            pos += 2  # registered_delivery, replace_if_present_flag
            p.data_coding = body[pos]
            sm_length = body[pos + 2]
            pos += 3
            p.short_message = body[pos : pos + sm_length]
            p.tlvs = _tlvs(body, pos + sm_length)
            if TLV_MESSAGE_PAYLOAD in p.tlvs and not p.short_message:
                p.short_message = p.tlvs[TLV_MESSAGE_PAYLOAD]
            state = p.tlvs.get(TLV_MESSAGE_STATE)
            if state:
                p.message_state = state[0]
    except (IndexError, struct.error):
        pass  # a truncated body: keep what was read; callers treat missing fields as unknown
    return p


# A charmap codec table (code point → septet, or ESC + code): encoded in C, no Python loop per character.
_GSM_CODE: dict[int, int | bytes] = {ord(ch): i for i, ch in enumerate(GSM_TABLE) if i != GSM_ESCAPE}
_GSM_CODE.update({ord(ch): bytes((GSM_ESCAPE, code)) for ch, code in GSM_EXT_TABLE.items()})
_GSM_EXT_CHAR = {code: ch for ch, code in GSM_EXT_TABLE.items()}
_DATA_CODING = {"gsm7": DC_DEFAULT, "ascii": DC_DEFAULT, "latin1": DC_DEFAULT, "ucs2": DC_UCS2}


def gsm7_encode(text: str) -> bytes:
    """GSM 03.38 septets, one per octet (unpacked, as SMPP carries them); extension characters as ESC + code.
    Raises ``UnicodeEncodeError`` (a ``ValueError``) on a character outside the alphabet."""
    return codecs.charmap_encode(text, "strict", _GSM_CODE)[0]


def gsm7_decode(data: bytes) -> str:
    """Unpacked GSM 03.38 septets to text. An unknown extension code reads as its basic character (03.38 says
    so); an octet above 0x7F or a trailing escape is kept as ``\\xNN``."""
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == GSM_ESCAPE and i + 1 < n and data[i + 1] < 0x80:
            code = data[i + 1]
            out.append(_GSM_EXT_CHAR.get(code) or GSM_TABLE[code])
            i += 2
            continue
        out.append(GSM_TABLE[b] if b < 0x80 and b != GSM_ESCAPE else f"\\x{b:02x}")
        i += 1
    return "".join(out)


def encode_text(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding`` (``gsm7``, ``ascii``, ``latin1`` or ``ucs2``)."""
    if encoding == "gsm7":
        return gsm7_encode(text)
    if encoding == "ascii":
        return text.encode("ascii")
    if encoding == "latin1":
        return text.encode("latin-1")
    return text.encode("utf-16-be")


def segment_text(text: str, concat_ref: int, alphabet: str = "gsm7") -> tuple[int, int, list[bytes]]:
    """``(data_coding, esm_class, parts)``; each part is the short_message bytes, UDH included when split.

    The parts are :func:`dunning.domain.sms.segment`'s, so what planning counted is what is sent; none splits a
    GSM escape sequence or a surrogate pair. ``concat_ref`` (0-255) identifies the parts of one message.
    """
    seg = segment(text, alphabet)
    dc = _DATA_CODING[seg.encoding]
    chunks = [encode_text(part, seg.encoding) for part in seg.parts]
    if len(chunks) == 1:
        return dc, 0, chunks
    total = len(chunks)
    if total > 255:
        raise ValueError("text too long for one concatenated SMS")
    ref = concat_ref & 0xFF
    parts = [bytes((0x05, 0x00, 0x03, ref, total, i + 1)) + chunk for i, chunk in enumerate(chunks)]
    return dc, ESM_UDHI, parts


def decode_text(data: bytes, data_coding: int, esm_class: int = 0, alphabet: str = "gsm7") -> str:
    """The text of a deliver_sm; never raises. ``data_coding`` 0 is the SMSC's default alphabet (the channel's
    ``default_alphabet``), 1 IA5/ASCII, 3 Latin-1, 8 UCS-2; bytes that do not decode are kept as ``\\xNN``."""
    if esm_class & ESM_UDHI and data:
        data = data[data[0] + 1 :]
    coding = data_coding & 0x0F if data_coding < 0xC0 else 0
    if data_coding == DC_UCS2 or coding == DC_UCS2:
        return data.decode("utf-16-be", "backslashreplace")
    if data_coding == DC_LATIN1:
        return data.decode("latin-1")
    if data_coding == DC_IA5:
        return data.decode("ascii", "backslashreplace")
    if data_coding == DC_DEFAULT:
        if alphabet == "gsm7":
            return gsm7_decode(data)
        return data.decode("latin-1") if alphabet == "latin1" else data.decode("ascii", "backslashreplace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def concat_header(data: bytes, esm_class: int) -> tuple[int, int, int] | None:
    """``(ref, total, seq)`` of a concatenation UDH (8- or 16-bit ref), or None."""
    if not esm_class & ESM_UDHI or not data:
        return None
    udh_len = data[0]
    pos = 1
    while pos + 1 < 1 + udh_len and pos + 1 < len(data):
        iei, iel = data[pos], data[pos + 1]
        value = data[pos + 2 : pos + 2 + iel]
        if iei == 0x00 and iel == 3 and len(value) == 3:
            return value[0], value[1], value[2]
        if iei == 0x08 and iel == 4 and len(value) == 4:
            return (value[0] << 8) | value[1], value[2], value[3]
        pos += 2 + iel
    return None
