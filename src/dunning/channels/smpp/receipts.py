"""What arrives in deliver_sm: delivery receipts and MO replies, and the acknowledgements they are owed.

Contracts:

* A deliver_sm with esm_class 0x04 (receipt) or 0x20 (intermediate) becomes a :class:`DeliveryReport` keyed by
  the ``receipted_message_id`` TLV, else the ``id:`` of the receipt text; the ``message_state`` TLV wins over
  ``stat:``; receipts without ``sub``/``dlvrd`` or with undecodable text are accepted (an unattributable one is
  kept with an empty ``provider_id`` and status UNKNOWN). Any other deliver_sm is an MO reply
  (:class:`InboundMessage`); the parts of a concatenated reply are reassembled (at most 1,000 incomplete
  replies are kept, the oldest dropped).
* Store, then acknowledge: :class:`Inbox` keeps, per event, the (connection, sequence) of every PDU it came in.
  :meth:`Inbox.poll` hands the events out and moves their acknowledgements to :meth:`Inbox.handed`, which the
  channel writes as deliver_sm_resp only once the caller has committed the events. A part of a concatenated
  reply is acknowledged with its whole reply, never before.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Generic, TypeVar

from dunning.channels.base import ChannelEvent, DeliveryReport, DeliveryStatus, InboundMessage
from dunning.channels.dlr import receipt_fields, stat_status
from dunning.channels.smpp import codec as P

# SMPP 3.4 message_state values (5.2.28)
_STATE = {
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.EXPIRED,
    4: DeliveryStatus.FAILED,
    5: DeliveryStatus.FAILED,
    8: DeliveryStatus.FAILED,
}

_MAX_OPEN_REPLIES = 1000

C = TypeVar("C")  # the connection a PDU came in on (acknowledged on that connection only)
Ack = tuple[C | None, int]


def parse_receipt(pdu: P.Pdu, *, intermediate: bool, tz: tzinfo, alphabet: str) -> DeliveryReport:
    text = pdu.short_message.decode("latin-1")
    if pdu.data_coding in (P.DC_DEFAULT, P.DC_UCS2) and "id:" not in text:
        text = P.decode_text(pdu.short_message, pdu.data_coding, 0, alphabet)
    found = receipt_fields(text)
    rid = pdu.tlvs.get(P.TLV_RECEIPTED_MESSAGE_ID)
    provider_id = rid.rstrip(b"\x00").decode("latin-1") if rid else found.get("id", "")
    status = DeliveryStatus.UNKNOWN
    if not intermediate:
        if pdu.message_state is not None:
            status = _STATE.get(pdu.message_state, DeliveryStatus.UNKNOWN)
        elif "stat" in found:
            status = stat_status(found["stat"])
    error_code = found.get("err")
    nec = pdu.tlvs.get(P.TLV_NETWORK_ERROR_CODE)
    if error_code is None and nec and len(nec) == 3:
        error_code = str(int.from_bytes(nec[1:], "big"))
    done_at = None
    done = found.get("done date", "")
    if done.isdigit() and len(done) in (10, 12):
        with contextlib.suppress(ValueError):
            done_at = datetime.strptime(done, "%y%m%d%H%M%S" if len(done) == 12 else "%y%m%d%H%M").replace(
                tzinfo=tz)
    raw = text if text.isprintable() else pdu.short_message.hex()
    return DeliveryReport(provider_id=provider_id, status=status, error_code=error_code, done_at=done_at, raw=raw)


@dataclass(slots=True)
class _Reply(Generic[C]):
    parts: dict[int, str] = field(default_factory=dict)
    total: int = 0
    acks: list[Ack[C]] = field(default_factory=list)


class Inbox(Generic[C]):
    """Receipts and replies received and not yet handed out, with the acknowledgements they are owed."""

    def __init__(self, tz: tzinfo, alphabet: str) -> None:
        self.tz = tz
        self.alphabet = alphabet
        self._events: deque[ChannelEvent] = deque()
        self._acks: deque[list[Ack[C]]] = deque()  # per queued event, the PDUs it came in
        self._handed: list[Ack[C]] = []
        self._open: dict[tuple[str, int], _Reply[C]] = {}

    def on_deliver(self, pdu: P.Pdu, ack: Ack[C]) -> None:
        kind = pdu.esm_class & P.ESM_TYPE_MASK
        if kind in (P.ESM_DELIVERY_RECEIPT, P.ESM_INTERMEDIATE):
            report = parse_receipt(pdu, intermediate=kind == P.ESM_INTERMEDIATE, tz=self.tz, alphabet=self.alphabet)
            self._queue(report, [ack])
            return
        phone = ("+" if pdu.source_ton == 1 else "") + pdu.source_addr
        text = P.decode_text(pdu.short_message, pdu.data_coding, pdu.esm_class, self.alphabet)
        acks = [ack]
        concat = P.concat_header(pdu.short_message, pdu.esm_class)
        if concat is not None and concat[1] > 1:
            ref, total, seq = concat
            key = (phone, ref)
            if key not in self._open and len(self._open) >= _MAX_OPEN_REPLIES:
                # parts that never completed: drop the oldest rather than grow without bound
                del self._open[next(iter(self._open))]
            acc = self._open.setdefault(key, _Reply(total=total))
            acc.parts[seq] = text
            acc.acks.append(ack)
            if len(acc.parts) < acc.total:
                return
            del self._open[key]
            text = "".join(acc.parts[i] for i in sorted(acc.parts))
            acks = acc.acks
        self._queue(InboundMessage(phone=phone, text=text, received_at=datetime.now(self.tz), provider_id=None,
                                   raw=pdu.short_message.hex()), acks)

    def _queue(self, event: ChannelEvent, acks: list[Ack[C]]) -> None:
        self._events.append(event)
        self._acks.append(acks)

    def poll(self) -> list[ChannelEvent]:
        """The events received so far; their acknowledgements wait in :meth:`handed` until the caller commits."""
        events = list(self._events)
        self._events.clear()
        for acks in self._acks:
            self._handed.extend(acks)
        self._acks.clear()
        return events

    def handed(self) -> list[Ack[C]]:
        """The acknowledgements of every event handed out since the last call (and forgets them)."""
        handed, self._handed = self._handed, []
        return handed
