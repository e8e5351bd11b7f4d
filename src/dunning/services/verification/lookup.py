"""Authenticity verification: a recipient (or the hotline on their behalf) checks a message is genuine.

The answer is only ever "genuine: sent by <institution> on <date>, official contact …" or "not found: treat it
as suspicious …" — never an amount, a name or any debt detail. Wrong phone, wrong code, an expired code and a
malformed input all take the same path (one keyed hash, one indexed query, one log insert) and get the same
answer, so neither the body nor the timing tells them apart. Limits are fixed windows counted in the database
(shared by every worker), per IP and per phone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import func, select

from dunning.db.models import AuditEvent, Message, VerificationAttempt
from dunning.domain.masking import mask_phone
from dunning.domain.states import REACHED_STATES
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.verification.codes import ALPHABET, CODE_LENGTH, stored_hash

log = logging.getLogger("dunning.verify")


@dataclass(frozen=True)
class PublicAnswer:
    """What a public page tells a borrower: the outcome's code and what it says, in Chinese and English."""

    result: str
    message_zh: str
    message_en: str

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyAnswer(PublicAnswer):
    """``result``: genuine | not_found | rate_limited."""

    institution: str
    hotline: str
    app: str
    domain: str
    sent_on: str | None = None


def _normalise_phone(raw: str) -> str:
    try:
        num = phonenumbers.parse(raw.strip(), "CN")
    except phonenumbers.NumberParseException:
        return "invalid:" + raw.strip()[:20]
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def _normalise_code(raw: str) -> str:
    code = "".join(ch for ch in raw.upper() if not ch.isspace())[:CODE_LENGTH * 2]
    return code if len(code) == CODE_LENGTH and set(code) <= set(ALPHABET) else "!" * CODE_LENGTH


def _window_start(now: datetime, minutes: int) -> datetime:
    epoch = int(now.timestamp())
    span = minutes * 60
    return datetime.fromtimestamp(epoch - epoch % span, tz=now.tzinfo)


def verify_message(ctx: AppContext, phone: str, code: str, *, ip: str, channel: str = "public",
                   actor: str | None = None) -> VerifyAnswer:
    """Answer one lookup. ``actor`` is the staff member for a hotline lookup: it goes into the audit log (who
    looked up which masked number, with what answer); staff lookups have limits of their own, per user and
    per address (:func:`_staff_limited`)."""
    st = ctx.settings
    ident = st.identity
    secret = st.secret()
    now = ctx.now()
    e164 = _normalise_phone(phone)
    norm_code = _normalise_code(code)
    phone_key = hmac.new(secret, b"verify-phone|" + e164.encode(), hashlib.sha256).hexdigest()
    digest = stored_hash(secret, e164, norm_code)
    common = {"institution": ident.institution, "hotline": ident.hotlines[0] if ident.hotlines else "",
              "app": ident.app_name, "domain": ident.domain}
    with ctx.db.transaction() as s:
        since = _window_start(now, st.verify_window_minutes)
        by_ip = VerificationAttempt.count_since(s, since, VerificationAttempt.ip == ip)
        # per phone, only failed checks count: wrong tries from elsewhere must not block the borrower's own
        # genuine check (which succeeds and is not counted)
        by_phone = VerificationAttempt.count_since(s, since, VerificationAttempt.phone_hash == phone_key,
                                                   VerificationAttempt.outcome.in_(("not_found", "expired", "invalid")))
        row = s.execute(select(Message.verify_code_hash, Message.submitted_at).where(
            Message.verify_code_hash == digest, Message.state.in_(REACHED_STATES)).limit(1)).first()
        matched = row is not None and hmac.compare_digest(row.verify_code_hash or "", digest)
        fresh = matched and row is not None and row.submitted_at is not None and (
            now - row.submitted_at <= timedelta(days=st.verify_code_ttl_days))
        # the per-phone limit stops guessing; the borrower holding the real code still gets their answer
        limited = channel == "public" and (by_ip >= st.verify_max_per_ip
                                           or (by_phone >= st.verify_max_per_phone and not fresh))
        if channel == "hotline":
            limited = _staff_limited(s, ctx, actor or "-", ip, since, now)
        if limited:
            outcome = "rate_limited"
        elif fresh:
            outcome = "genuine"
        elif matched:
            outcome = "expired"
        elif e164.startswith("invalid:"):
            outcome = "invalid"
        else:
            outcome = "not_found"
        masked = mask_phone(e164) if not e164.startswith("invalid:") else "invalid"
        s.add(VerificationAttempt(at=now, ip=ip[:64], phone_hash=phone_key, phone_masked=masked, outcome=outcome,
                                  channel=channel, username=(actor or "-")[:64] if channel == "hotline" else None))
        if actor is not None:
            audit.record(s, at=now, actor=actor, action=f"verify.{channel}_lookup", entity="verification",
                         entity_id=masked, after={"outcome": outcome})
    if outcome == "rate_limited":
        return VerifyAnswer("rate_limited", f"查询过于频繁，请 {st.verify_window_minutes} 分钟后再试，或致电官方客服 {common['hotline']} 核实。",
                            f"Too many attempts; try again in {st.verify_window_minutes} minutes or call {common['hotline']}.",
                            **common)
    if outcome == "genuine":
        assert row is not None and row.submitted_at is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        sent_on = row.submitted_at.astimezone(ctx.tz).date().isoformat()
        return VerifyAnswer(
            "genuine",
            f"真实短信：由{ident.institution}于 {sent_on} 发送。请通过官方App「{ident.app_name}」或官方客服 "
            f"{common['hotline']} 办理，我司不会要求您向个人账户转账。",
            f"Genuine: sent by {ident.institution} on {sent_on}. Use the official app or call {common['hotline']}.",
            sent_on=sent_on, **common)
    return VerifyAnswer(
        "not_found",
        f"未找到该短信：请视为可疑短信，不要付款、不要点击链接，请致电官方客服 {common['hotline']} 核实。",
        f"Not found: treat it as suspicious; do not pay or click; call the official hotline {common['hotline']}.",
        **common)


def _staff_limited(s: Any, ctx: AppContext, actor: str, ip: str, since: datetime, now: datetime) -> bool:
    """Count one staff lookup; ``True`` past the per-user or per-address limit, with an audit alert (once per
    window and user) and a warning in the log."""
    st = ctx.settings
    hotline = VerificationAttempt.channel == "hotline"
    by_user = VerificationAttempt.count_since(s, since, hotline, VerificationAttempt.username == actor[:64])
    by_ip = VerificationAttempt.count_since(s, since, hotline, VerificationAttempt.ip == ip[:64])
    limited = by_user >= st.hotline_max_per_user or by_ip >= st.hotline_max_per_ip
    if limited:
        log.warning("hotline lookups over the limit: user %s from %s (%d by user, %d by address this window)",
                    actor, ip, by_user + 1, by_ip + 1)
        alerted = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "verify.hotline_limited", AuditEvent.actor == actor, AuditEvent.at >= since))
        if not alerted:
            audit.record(s, at=now, actor=actor, action="verify.hotline_limited", entity="user", entity_id=actor,
                         after={"ip": ip[:64], "by_user": by_user + 1, "by_ip": by_ip + 1})
    return bool(limited)
