"""Webhook replay refusal: a verified request is remembered by a digest for the replay window; the same request
again (a captured callback posted twice) is refused. Requests older than the window are refused by the
channel's timestamp check, so rows older than it are pruned."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from dunning.db.security_models import WebhookSeen
from dunning.services.context import AppContext

WINDOW = timedelta(minutes=10)
# headers that make one signed request distinct (signatures, timestamps, nonces)
_SIGNED_HEADERS = ("signature", "timestamp", "nonce")


def request_digest(channel: str, method: str, target: str, headers: Mapping[str, str], body: bytes) -> str:
    """What identifies one delivery of one request: channel, method, path with query, signing headers, body."""
    h = hashlib.sha256()
    for part in (channel, method.upper(), target):
        h.update(part.encode() + b"\0")
    signed: Iterable[tuple[str, str]] = sorted(
        (k.lower(), v) for k, v in headers.items() if any(w in k.lower() for w in _SIGNED_HEADERS))
    for k, v in signed:
        h.update(f"{k}={v}".encode() + b"\0")
    h.update(body)
    return h.hexdigest()


def remember(ctx: AppContext, channel: str, digest: str) -> bool:
    """Record ``digest``; ``False`` when it was seen within the window (a replay)."""
    now = ctx.now()
    try:
        with ctx.db.transaction() as s:
            s.execute(delete(WebhookSeen).where(WebhookSeen.seen_at < now - WINDOW))
            s.add(WebhookSeen(digest=digest, channel=channel[:64], seen_at=now))
    except IntegrityError:
        return False
    return True


def forget(ctx: AppContext, digest: str) -> None:
    """Undo :func:`remember` when the request could not be stored, so the provider's retry is accepted."""
    with ctx.db.transaction() as s:
        s.execute(delete(WebhookSeen).where(WebhookSeen.digest == digest))
