"""What the template-based cloud providers (Aliyun, Tencent) share: grouping a batch into API calls, running
them concurrently, folding whole-call failures into per-message results, and their unsigned pushes.

Contracts:

* :func:`send_grouped` returns one :class:`SubmitResult` per message, in input order. A message without
  ``template_code`` gets the ``missing_template()`` error and is never sent. The others are grouped by
  ``key(message)`` (insertion order kept), cut into calls of at most ``per_call`` messages and sent ``concurrency``
  calls at a time; a call that raises a :class:`ChannelError` gives that error to each of its messages. When
  every call raised and nothing was accepted, the first call's error is raised instead (a whole-batch failure).
* :func:`token_matches` checks a push URL's ``token`` in constant time; no configured token accepts nothing.
* :func:`cn_time` reads the providers' ``YYYY-MM-DD HH:MM:SS`` China-time stamps; anything else is None.
* :meth:`TemplatedOptions.from_settings` reads the options both providers take: ``sign_name``, ``batch_size``
  (numbers per call, at most the API's ``max_per_call``), ``concurrency`` (8 calls at once),
  ``per_number_retry_after`` (an hour) and the secret ``webhook_token``; :func:`secret` reads a secret, or an
  option of that name where a non-secret value may stand in the settings file (an access key id).
* :meth:`TemplatedChannel._per_number_cap` is a provider's per-number frequency cap as a
  :class:`RateLimitedError` with code ``channel.per_number_cap`` (retried after ``per_number_retry_after``
  seconds, for that message only).
* :class:`TemplatedChannel` is the adapter both build on (``max_batch`` 1000, template-based, no free text): it
  reads the options above and ``timeout`` (seconds, 10), sends through
  :func:`send_grouped` (grouped by ``_group_key``, each call by ``_send_group``; a message without a template
  code gets the class's ``missing_template`` refusal), accepts a push whose ``token`` matches, and reads a push
  body (a JSON object or array) item by item with ``_push_event`` (``None`` skips an item).
* :func:`receipt_status`: delivered when the provider says so, else expired when its error says ``EXPIRED``,
  else failed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from dunning.channels.base import ChannelEvent, DeliveryStatus, OutboundMessage, SubmitResult, WebhookRequest
from dunning.channels.common import ChannelBase
from dunning.config import ChannelSettings
from dunning.errors import ChannelError, PermanentChannelError, RateLimitedError

K = TypeVar("K", bound=Hashable)
CN = ZoneInfo("Asia/Shanghai")


async def send_grouped(messages: Sequence[OutboundMessage], *, key: Callable[[OutboundMessage], K], per_call: int,
                       concurrency: int, send: Callable[[K, list[OutboundMessage]], Awaitable[list[SubmitResult]]],
                       missing_template: Callable[[], ChannelError]) -> list[SubmitResult]:
    results: dict[int, SubmitResult] = {}
    groups: dict[K, list[OutboundMessage]] = {}
    for m in messages:
        if not m.template_code:
            results[m.message_id] = SubmitResult(m.message_id, None, missing_template())
        else:
            groups.setdefault(key(m), []).append(m)
    calls = [(k, g[i : i + per_call]) for k, g in groups.items() for i in range(0, len(g), per_call)]
    sem = asyncio.Semaphore(concurrency)

    async def run(k: K, chunk: list[OutboundMessage]) -> list[SubmitResult] | ChannelError:
        async with sem:
            try:
                return await send(k, chunk)
            except ChannelError as exc:
                return exc

    outcomes = await asyncio.gather(*(run(k, c) for k, c in calls))
    whole: list[ChannelError] = []
    for (_, chunk), outcome in zip(calls, outcomes, strict=True):
        if isinstance(outcome, ChannelError):
            whole.append(outcome)
            for m in chunk:
                results[m.message_id] = SubmitResult(m.message_id, None, outcome)
        else:
            for r in outcome:
                results[r.message_id] = r
    if whole and len(whole) == len(calls) and not any(r.accepted for r in results.values()):
        raise whole[0]
    return [results[m.message_id] for m in messages]


def secret(settings: ChannelSettings, name: str, *, option: bool = False) -> str:
    if name in settings.secrets:
        return settings.secrets[name].get_secret_value()
    return str(settings.options.get(name, "")) if option else ""


@dataclass(frozen=True, slots=True)
class TemplatedOptions:
    sign_name: str
    per_call: int
    concurrency: int
    per_number_retry_after: float
    webhook_token: str

    @classmethod
    def from_settings(cls, settings: ChannelSettings, max_per_call: int) -> TemplatedOptions:
        o = settings.options
        return cls(sign_name=str(o.get("sign_name", "")),
                   per_call=min(max_per_call, int(o.get("batch_size", max_per_call))),
                   concurrency=int(o.get("concurrency", 8)),
                   per_number_retry_after=float(o.get("per_number_retry_after", 3600.0)),
                   webhook_token=secret(settings, "webhook_token"))


def text_options(settings: ChannelSettings, **defaults: str) -> list[str]:
    """The string options ``defaults`` names, in its order, each ``defaults[name]`` when unset."""
    return [str(settings.options.get(name, default)) for name, default in defaults.items()]


def token_matches(request: WebhookRequest, token: str) -> bool:
    if not token:
        return False
    return hmac.compare_digest(request.query.get("token", ""), token)


def cn_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CN)
    except ValueError:
        return None


def receipt_status(ok: bool, error: str) -> DeliveryStatus:
    if ok:
        return DeliveryStatus.DELIVERED
    return DeliveryStatus.EXPIRED if "EXPIRED" in error.upper() else DeliveryStatus.FAILED


class TemplatedChannel(ChannelBase):
    missing_template: ClassVar[tuple[str, str]]  # the refusal of a message without a template code (zh, en)

    def __init_subclass__(cls, *, kind: str | None = None, **capabilities: Any) -> None:
        super().__init_subclass__(kind=kind, **({"max_batch": 1000, "free_text": False, "template_based": True}
                                                | capabilities))

    def __init__(self, name: str, settings: ChannelSettings, *, max_per_call: int) -> None:
        self.name = name
        self.timeout = float(settings.options.get("timeout", 10.0))
        t = TemplatedOptions.from_settings(settings, max_per_call=max_per_call)
        self.sign_name, self.per_call, self.concurrency = t.sign_name, t.per_call, t.concurrency
        self.per_number_retry_after, self._webhook_token = t.per_number_retry_after, t.webhook_token

    async def open(self) -> None:
        raise NotImplementedError

    def _group_key(self, m: OutboundMessage) -> Hashable:
        raise NotImplementedError

    async def _send_group(self, key: Any, chunk: list[OutboundMessage]) -> list[SubmitResult]:
        raise NotImplementedError

    def _push_event(self, item: dict[str, Any], raw: str) -> ChannelEvent | None:
        raise NotImplementedError

    async def _send(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        await self.open()
        zh, en = self.missing_template
        return await send_grouped(
            messages, key=self._group_key, per_call=self.per_call, concurrency=self.concurrency,
            send=self._send_group,
            missing_template=lambda: PermanentChannelError(zh, en, code="channel.template_required"))

    def _per_number_cap(self, message_zh: str, message_en: str) -> RateLimitedError:
        err = RateLimitedError(message_zh, message_en, retry_after=self.per_number_retry_after)
        err.code = "channel.per_number_cap"
        return err

    def verify_webhook(self, request: WebhookRequest) -> bool:
        return token_matches(request, self._webhook_token)

    def parse_webhook(self, request: WebhookRequest) -> list[ChannelEvent]:
        payload = json.loads(request.body)
        items = payload if isinstance(payload, list) else [payload]
        events = (self._push_event(item, json.dumps(item, ensure_ascii=False)) for item in items)
        return [e for e in events if e is not None]
