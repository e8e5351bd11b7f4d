"""One delivered message with a verification code, for the service and page tests of the authenticity check."""

from __future__ import annotations

from sqlalchemy import update

from dunning.db.models import Message
from dunning.services.context import AppContext
from dunning.services.verification.codes import code_for, stored_hash
from tests.foundation.factories import phones, seed_campaign

PHONE = "+8613800000007"


def deliver_with_code(ctx: AppContext, text: str | None = None) -> tuple[str, str]:
    """(code, loan id) of a message to PHONE marked delivered now with its code's hash; ``text`` may use
    ``{code}``."""
    cid = seed_campaign(ctx, [PHONE, *phones(3, start=50)])
    secret = ctx.settings.secret()
    key = f"c{cid}|L{cid}-0|M1"
    code = code_for(secret, key)
    values: dict[str, object] = {"state": "delivered", "submitted_at": ctx.now(),
                                 "verify_code_hash": stored_hash(secret, PHONE, code)}
    if text is not None:
        values["text"] = text.format(code=code)
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.idempotency_key == key).values(**values))
    return code, f"L{cid}-0"
