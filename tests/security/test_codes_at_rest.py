"""Point 3: the database alone cannot produce a verification code — stored texts carry a placeholder, the code is
filled in from the keyed HMAC as the message leaves, and the filled code verifies."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from dunning.channels.base import OutboundMessage, SubmitResult
from dunning.db.models import Message
from dunning.services.context import build_context
from dunning.services.demo import run_demo
from dunning.services.guard.codefill import CodeFillingChannel
from dunning.services.verification.codes import ALPHABET, CODE_PLACEHOLDER, stored_hash
from tests.conftest import make_settings

CODE = re.compile(rf"验证码([{ALPHABET}]{{6}})")


class Capture:
    kind = "capture"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult]:
        self.sent.extend(messages)
        return [SubmitResult(m.message_id, f"p{m.message_id}") for m in messages]


def test_stored_texts_hold_no_code_and_the_sent_text_holds_one_that_verifies(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.business_time = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    run_demo(accounts=300, seed=3, settings=settings, as_of=date(2026, 11, 23))
    ctx = build_context(settings)
    with ctx.db.transaction() as s:
        rows = s.execute(select(Message.idempotency_key, Message.phone, Message.text, Message.verify_code_hash)
                         .where(Message.text.is_not(None))).all()
    assert rows and all(CODE.search(r.text) is None for r in rows), "no stored text carries a code"
    assert all(CODE_PLACEHOLDER in r.text for r in rows)

    inner = Capture()
    ch = CodeFillingChannel(inner, settings.secret())  # type: ignore[arg-type]
    out = [OutboundMessage(i, r.idempotency_key, r.phone, r.text) for i, r in enumerate(rows[:20])]
    asyncio.run(ch.send_batch(out))
    for sent, r in zip(inner.sent, rows[:20], strict=True):
        m = CODE.search(sent.text)
        assert m is not None and CODE_PLACEHOLDER not in sent.text
        assert len(sent.text) == len(r.text)  # the same length, so the same number of parts
        assert stored_hash(settings.secret(), r.phone, m.group(1)) == r.verify_code_hash
    assert ch.kind == "capture"  # everything else is the inner channel
