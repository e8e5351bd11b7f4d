"""The channel protocol every SMS adapter implements, its value types and its capabilities.

Contract (checked by ``tests/channels/test_contract.py`` for every registered kind):

* ``send_batch`` submits at most ``capabilities.max_batch`` messages and returns one :class:`SubmitResult` per
  input message, in input order. A per-message rejection is a result with ``error`` set; a failure of the whole
  call (connection lost, throttled, bad credentials) raises a :class:`~dunning.errors.ChannelError` subclass.
  It never returns a bare bool.
* ``idempotency_key`` is stable for a message across retries and restarts; adapters pass it to the provider
  where the protocol has a place for it (client reference, ``outId``, ``SessionContext``...).
* Delivery reports (DLR) and replies (MO) come back either through a webhook (``verify_webhook`` then
  ``parse_webhook``) or, for connection-oriented channels, through ``poll_events``. Both yield the same
  :class:`DeliveryReport` / :class:`InboundMessage` values, which the delivery service ingests.
* Store, then acknowledge: a channel whose provider waits for an acknowledgement of each receipt or reply
  (SMPP's deliver_sm_resp) has an ``async acknowledge()`` method; the caller invokes it after committing what
  ``poll_events`` handed over. Webhook routes answer 200 only after the commit.
* Every network call has a deadline from settings (``timeout`` / ``response_timeout``); a timeout means the
  outcome is unknown, never "not sent".
* Lookups: ``query_status`` answers what the provider knows; ``None`` ("not found") proves the provider never
  had the message only where the adapter sets ``absence_is_proof = True`` (a lookup it declares authoritative).
  Otherwise a miss, like a timeout, leaves the message held for a person — never resent on a guess.
* All I/O is injected (``transport`` for HTTP adapters, an address for socket adapters) so tests run the real
  adapter against a local peer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

from dunning.errors import ChannelError


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel kind can do, declared on its class. The defaults describe the common case: a free-text
    channel with receipts and replies, no rate of its own and no status lookup."""

    max_batch: int
    max_rate: float | None = None
    free_text: bool = True
    template_based: bool = False
    delivery_reports: bool = True
    inbound: bool = True
    status_query: bool = False


# The three per-message value types below are NamedTuples, not frozen dataclasses: the dispatcher creates
# hundreds of thousands of them a minute, and a frozen dataclass's __init__ (one object.__setattr__ per field,
# plus a fresh dict for ``params``) cost a fifth of a claim. They stay immutable and typed.
NO_PARAMS: Mapping[str, str] = MappingProxyType({})


class OutboundMessage(NamedTuple):
    message_id: int
    idempotency_key: str
    phone: str  # E.164, e.g. +8613812348000
    text: str  # the full rendered text, signature included
    template_code: str | None = None  # for template-based providers (Aliyun, Tencent)
    params: Mapping[str, str] = NO_PARAMS
    signature: str | None = None
    parts: int = 1  # PDUs the message takes (planning's segmentation): what a rate in parts counts


class SubmitResult(NamedTuple):
    message_id: int
    provider_id: str | None  # the provider's id of the (first part of the) message
    error: ChannelError | None = None
    part_ids: tuple[str, ...] = ()  # provider ids of every part of a concatenated message, when known

    @property
    def accepted(self) -> bool:
        return self.error is None


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # an intermediate or undecodable report: stored, does not finalise the message


class DeliveryReport(NamedTuple):
    provider_id: str
    status: DeliveryStatus
    error_code: str | None = None
    done_at: datetime | None = None
    raw: str = ""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    phone: str
    text: str
    received_at: datetime | None = None
    provider_id: str | None = None
    raw: str = ""


ChannelEvent = DeliveryReport | InboundMessage


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """An HTTP callback as the web layer received it; headers lower-cased."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    client: str = ""  # the caller's address (after trusted-proxy resolution), for source allow-lists


@runtime_checkable
class Channel(Protocol):
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    name: str

    async def open(self) -> None:
        """Connect / bind / authenticate. Idempotent."""

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]: ...

    async def poll_events(self) -> list[ChannelEvent]:
        """DLRs and MOs received since the last call (connection-oriented channels); ``[]`` otherwise."""
        ...

    def verify_webhook(self, request: WebhookRequest) -> bool: ...

    def parse_webhook(self, request: WebhookRequest) -> list[ChannelEvent]: ...

    async def query_status(self, idempotency_keys: Sequence[str]) -> dict[str, SubmitResult | None]:
        """For reconciliation after a crash: what the provider knows of these keys (``None`` = never seen).

        Only meaningful when ``capabilities.status_query``; others raise ``NotImplementedError``.
        """
        ...

    async def check(self) -> None:
        """Bind/authenticate only; nothing is sent. Raises a ChannelError when it cannot."""
        ...

    async def close(self) -> None: ...
