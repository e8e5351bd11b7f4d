"""Delivery reports (DLR) and replies (MO) pushed by providers. Authenticated by the channel's signature check.

A request whose signature does not verify is refused (401) and logged with the channel and client address —
never parsed; a verified request already seen within the replay window is refused (409). The body is read
with a limit (413 past ``MAX_BODY``, never read whole first). Kannel calls its ``dlr-url`` and ``get-url`` with
GET, so the route takes GET as well as POST. Every verified event is handed to
:func:`dunning.services.campaigns.delivery.ingest_events`.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from dunning.channels.base import DeliveryReport, InboundMessage, WebhookRequest
from dunning.entrypoints.api import schemas as S
from dunning.entrypoints.http.security import client_ip, public
from dunning.errors import DunningError, InputError, NotFoundError
from dunning.services.campaigns.delivery import ingest_events
from dunning.services.context import AppContext
from dunning.services.guard import replay
from dunning.services.identity.auth import Principal
from dunning.services.policy import policy_for

log = logging.getLogger("dunning.webhooks")
MAX_BODY = 1 << 20
_PHONE = re.compile(r"\+?[0-9]{3,20}")  # what the 20-character phone column can hold, digits only

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class WebhookRejected(DunningError, code="webhook.signature"):
    http_status = 401


class WebhookReplayed(DunningError, code="webhook.replay"):
    http_status = 409


async def _limited_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (the declared length is checked first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InputError("回调内容过大", "callback body too large", code="input.too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError("回调内容过大", "callback body too large", code="input.too_large")
        chunks.append(chunk)
    return b"".join(chunks)


Keywords = tuple[tuple[str, ...], tuple[str, ...], dict[str, tuple[str, ...]]]


def _keywords(request: Request) -> Keywords:
    """The reply keywords of the effective policy (stop, dispute, per case type), loaded once per app."""
    cached: Keywords | None = getattr(request.app.state, "reply_keywords", None)
    if cached is None:
        policy = policy_for(request.app.state.ctx)
        cached = (tuple(policy.stop_keywords), tuple(policy.dispute_keywords), dict(policy.case_keywords))
        request.app.state.reply_keywords = cached
    return cached


@router.api_route("/{channel}/{kind}", methods=["GET", "POST"], response_model=S.WebhookOut,
                  responses={401: {"model": S.ErrorOut, "description": "签名无效 / bad signature"},
                             404: {"model": S.ErrorOut, "description": "未配置的通道 / unknown channel"},
                             409: {"model": S.ErrorOut, "description": "重放的回调 / replayed callback"},
                             413: {"model": S.ErrorOut, "description": "请求过大 / body too large"},
                             422: {"model": S.ErrorOut, "description": "无法解析 / unparseable"}},
                  summary="通道回调：状态报告（dlr）或上行回复（mo） / provider callback: DLR or MO")
async def webhook(request: Request, channel: str, kind: Literal["dlr", "mo"],
                  _p: Principal | None = public(csrf=False)) -> dict[str, Any]:
    ctx: AppContext = request.app.state.ctx
    cfg = ctx.settings.channels.get(channel)
    if cfg is None or not cfg.enabled:
        log.warning("webhook for unknown channel %r from %s refused", channel[:64], client_ip(request))
        raise NotFoundError(f"未配置通道 {channel[:64]}", f"channel {channel[:64]!r} is not configured",
                            code="not_found.channel")
    body = await _limited_body(request, MAX_BODY)
    headers = {k.lower(): v for k, v in request.headers.items()}
    req = WebhookRequest(method=request.method, url=str(request.url), headers=headers, body=body,
                         query=dict(request.query_params), client=client_ip(request))
    ch = ctx.channel(channel)
    if not ch.verify_webhook(req):
        log.warning("webhook %s/%s from %s refused: signature does not verify", channel, kind, client_ip(request))
        raise WebhookRejected("回调签名校验失败，已拒绝", "callback signature does not verify; refused")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    key = getattr(ch, "replay_key", lambda _r: None)(req)  # a channel may name what makes a callback unique
    digest = replay.request_digest(channel, request.method, key or target, {} if key else headers,
                                   b"" if key else body)
    if not await run_in_threadpool(replay.remember, ctx, channel, digest):
        log.warning("webhook %s/%s from %s refused: replay of a request already seen", channel, kind,
                    client_ip(request))
        raise WebhookReplayed("重复的回调请求，已拒绝", "callback already received (replay); refused")
    try:
        events = ch.parse_webhook(req)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:  # nested bodies: 422
        log.warning("webhook %s/%s from %s refused: cannot parse (%s)", channel, kind, client_ip(request),
                    type(exc).__name__)
        raise InputError("回调内容无法解析", f"callback body cannot be parsed ({type(exc).__name__})",
                         code="input.webhook") from None
    bad_sender = [e for e in events if isinstance(e, InboundMessage) and not _PHONE.fullmatch(e.phone or "")]
    if bad_sender:  # an object, 5,000 digits…: refused, never squeezed into the phone column
        log.warning("webhook %s/%s from %s refused: MO sender is not a phone number", channel, kind,
                    client_ip(request))
        raise InputError("上行短信的发送号码不是有效的电话号码，已拒绝", "MO sender is not a phone number",
                         code="input.webhook_sender")
    wanted = DeliveryReport if kind == "dlr" else InboundMessage
    others = [e for e in events if not isinstance(e, wanted)]
    if others:  # some providers post both kinds to one URL: accept them, but say so in the log
        log.info("webhook %s/%s carried %d events of the other kind", channel, kind, len(others))
    stop, dispute, cases = _keywords(request)

    def ingest() -> dict[str, int]:
        with ctx.db.transaction() as s:
            return ingest_events(s, channel, events, now=ctx.now(), stop_keywords=stop, dispute_keywords=dispute,
                                 case_keywords=cases)

    # Store, then acknowledge: the transaction has committed when ingest() returns; an error raised by it
    # answers 5xx, so the provider retries instead of believing the events were kept.
    try:
        counts = await run_in_threadpool(ingest)
    except BaseException:
        await run_in_threadpool(replay.forget, ctx, digest)  # not stored: the provider's retry must pass
        raise
    return {"channel": channel, **counts}
