"""SMPP 3.4 transceiver channel (carrier-direct / aggregator SMSC): the first-class path for collection SMS.

Why not ``smpplib``: it is a blocking-socket client whose read loop runs in the caller's thread and whose
responses reach one global handler, not the request that caused them. Driving it from asyncio would take a
thread hop per PDU and a hand-made sequence → request map anyway, and it has no reconnect. A windowed,
pipelined ESME on an :class:`asyncio.Protocol` is small and keeps thousands of submits per second on one
connection without threads.

The package: :mod:`~dunning.channels.smpp.codec` (PDUs as bytes, the SMS encodings over
:func:`dunning.domain.sms.segment`), :mod:`~dunning.channels.smpp.session` (connect, bind, enquire_link,
reconnect; the options), :mod:`~dunning.channels.smpp.window` (sequence correlation, the submit window, the
back-off), :mod:`~dunning.channels.smpp.receipts` (receipt and MO parsing, acknowledgements owed) and
:mod:`~dunning.channels.smpp.channel` (:class:`SmppChannel`: submits, query_sm, events).

Contract (beyond :mod:`dunning.channels.base`):

* One transceiver bind (``bind_mode = "transceiver"``) carries submits, receipts and MO; ``enquire_link`` every
  ``enquire_link_interval`` seconds; a lost connection is re-established in the background with exponential
  backoff and jitter (``reconnect_initial`` .. ``reconnect_max`` seconds). A rejected bind (bad system_id or
  password) stops reconnecting and surfaces as :class:`PermanentChannelError`.
* At most ``window`` submit_sm are unanswered at any time, shared by every concurrent ``send_batch``.
* Each message goes as one submit_sm per part: GSM-safe ASCII 160/153, otherwise UCS-2 70/67 with an 8-bit
  concatenation UDH. ``SubmitResult.part_ids`` lists every part's SMSC message_id; ``provider_id`` is part 1's.
* The idempotency key travels in the vendor TLV ``client_ref_tlv`` (default 0x1501) on every part, so the
  SMSC's log can prove exactly-once; ``query_status`` asks the SMSC by that reference with a query_sm
  (a vendor extension, ``query_by_reference``; an SMSC that does not support it makes it raise
  :class:`PermanentChannelError` with code ``channel.query_unsupported``).
* Outcomes per message: ESME_RTHROTTLED / ESME_RMSGQFUL → :class:`RateLimitedError` (remaining messages of
  the batch are not sent); other error statuses → :class:`PermanentChannelError` naming the status. When the
  connection drops or a response times out after a part was written, the outcome is unknown: the result
  carries a non-retryable ``ChannelError`` with code ``channel.outcome_unknown`` — the message may have been
  sent, so it must be reconciled, never blindly resent. A batch in which nothing was accepted and every
  message was throttled (or never written) raises instead of returning.
* No fragments: a concatenated message's parts go back to back, in order (a kill can hardly fall between
  them). When some parts were accepted and others throttled, never written or unanswered (link lost), the
  missing parts — part 1 included — are retried with the same UDH reference for up to
  ``partial_retry_seconds`` (an accepted part is never resent), so the handset can assemble the whole text; if
  they still fail, or one was refused for good, the result is a non-retryable error ``channel.partial`` that
  keeps the accepted part ids (recorded as partial). A batch stopped by throttling writes no further message.
* Back-off: on ESME_RTHROTTLED / ESME_RMSGQFUL the channel paces its own submits (:class:`Aimd`: cut to a bit
  below what the SMSC accepted in the last second, probe upward slowly, never above the configured ``rate``).
* Receipts (deliver_sm with esm_class 0x04/0x20) become :class:`DeliveryReport` keyed by the
  ``receipted_message_id`` TLV, else the ``id:`` of the receipt text; ``message_state`` TLV wins over
  ``stat:``; receipts without ``sub``/``dlvrd`` or with undecodable text are accepted (an unattributable one is
  kept with an empty ``provider_id`` and status UNKNOWN). Other deliver_sm are MO replies
  (:class:`InboundMessage`), concatenated MO reassembled. Store, then acknowledge: a deliver_sm_resp is sent
  only by :meth:`SmppChannel.acknowledge`, which the caller invokes after committing the events
  :meth:`SmppChannel.poll_events` handed over; what a crash or a dropped link leaves unacknowledged, the SMSC
  redelivers.
* Every request has a deadline (``connect_timeout`` for connect, ``response_timeout`` for bind, submit,
  query_sm and enquire_link): a silent SMSC makes the call raise, never hang; a submit or query that timed out
  has an unknown outcome.
"""

from __future__ import annotations

from dunning.channels.smpp.channel import SmppChannel
from dunning.channels.smpp.session import SmppOptions
from dunning.channels.smpp.window import Aimd

__all__ = ["Aimd", "SmppChannel", "SmppOptions"]
