"""Verification codes are put into a message only as it leaves for the channel.

The stored text (``messages.text``, ``messages.params``) carries :data:`CODE_PLACEHOLDER` where the code goes,
so the database alone cannot produce a code (ADR "codes at rest"); the console shows the placeholder. Every
channel an :class:`~dunning.services.context.AppContext` hands out is wrapped in :class:`CodeFillingChannel`,
whose ``send_batch`` derives each message's code from the keyed HMAC of its idempotency key (the key lives in
settings or the data directory, outside the database) and substitutes it — the text and template parameters a
provider receives are the real ones. The placeholder has the code's width, so length and part counts hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dunning.channels.base import Channel, OutboundMessage, SubmitResult
from dunning.services.verification.codes import CODE_PLACEHOLDER, code_for


def fill_code(m: OutboundMessage, secret: bytes) -> OutboundMessage:
    """``m`` with its verification code in place of the placeholder (unchanged when it has none)."""
    in_text = CODE_PLACEHOLDER in m.text
    in_params = any(isinstance(v, str) and CODE_PLACEHOLDER in v for v in m.params.values()) if m.params else False
    if not in_text and not in_params:
        return m
    code = code_for(secret, m.idempotency_key)
    params = ({k: v.replace(CODE_PLACEHOLDER, code) if isinstance(v, str) else v for k, v in m.params.items()}
              if in_params else m.params)
    return m._replace(text=m.text.replace(CODE_PLACEHOLDER, code), params=params)


class CodeFillingChannel:
    """A channel whose outgoing messages get their codes on the way out; everything else is the inner channel."""

    def __init__(self, inner: Channel, secret: bytes) -> None:
        self.__dict__["_inner"] = inner
        self.__dict__["_secret"] = secret

    @property
    def inner(self) -> Channel:
        return self._inner  # type: ignore[no-any-return]

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        secret = self._secret
        return await self._inner.send_batch([fill_code(m, secret) for m in messages])  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_inner"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__dict__["_inner"], name, value)
