"""What every channel adapter shares, so that each module says only what its provider does differently.

Contract:

* ``class X(ChannelBase, kind="k", max_batch=…, **capabilities)`` registers ``X`` under kind ``k`` (as
  :func:`dunning.channels.registry.register` would) and declares ``X.kind`` and ``X.capabilities`` (the other
  keywords are :class:`Capabilities` fields).
* :meth:`ChannelBase.send_batch` refuses more than ``capabilities.max_batch`` messages (``ValueError``),
  answers an empty batch with ``[]`` without touching the provider, and otherwise returns ``_send(messages)``.
* :meth:`ChannelBase.poll_events` hands over nothing (webhook channels); :meth:`ChannelBase.query_status` raises
  ``NotImplementedError`` with the class's ``no_status_query`` reason (channels without a lookup).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

from dunning.channels.base import Capabilities, ChannelEvent, OutboundMessage, SubmitResult
from dunning.channels.registry import ChannelFactory, register


class ChannelBase:
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    no_status_query: ClassVar[str] = "this channel cannot look messages up by client reference"

    def __init_subclass__(cls, *, kind: str | None = None, **capabilities: Any) -> None:
        super().__init_subclass__()
        if kind is not None:
            cls.kind = kind
            cls.capabilities = Capabilities(**capabilities)
            register(kind)(cast(ChannelFactory, cls))

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        if len(messages) > self.capabilities.max_batch:
            raise ValueError(f"batch of {len(messages)} exceeds max_batch {self.capabilities.max_batch}")
        if not messages:
            return []
        return await self._send(messages)

    async def _send(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        raise NotImplementedError

    async def poll_events(self) -> list[ChannelEvent]:
        return []

    async def query_status(self, idempotency_keys: Sequence[str]) -> dict[str, SubmitResult | None]:
        raise NotImplementedError(self.no_status_query)
