"""The outbox claim against a real SQLite database, including a message moved between its read and its write."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select, update

from dunning.config import ChannelSettings
from dunning.db.bulk import Sql
from dunning.db.models import Message
from dunning.dispatch import outbox
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import BUSINESS_NOON, make_ctx

TZ = ZoneInfo("Asia/Shanghai")


def _claim(ctx: Any, cid: int, n: int) -> outbox.Claim:
    return outbox.claim(ctx.db.engine, Sql(ctx.db.engine), campaign_id=cid, channel="sandbox", n=n,
                        now=BUSINESS_NOON, pilot_only=False, tz=TZ, budget=outbox.ContactBudget())


def test_claim_takes_queued_messages_once_in_id_order_and_counts_the_attempt(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox")})
    cid = bulk_campaign(ctx, 25)
    first, second, third = _claim(ctx, cid, 10), _claim(ctx, cid, 10), _claim(ctx, cid, 10)
    ids = [m.message_id for c in (first, second, third) for m in c.messages]
    assert len(ids) == 25 and ids == sorted(ids) and len(set(ids)) == 25
    assert all(a == 1 for c in (first, second, third) for a in c.attempts.values())
    assert first.messages[0].text.startswith("【") and first.messages[0].phone.startswith("+86138")
    with ctx.db.transaction() as s:
        states = set(s.scalars(select(Message.state).where(Message.campaign_id == cid)))
    assert states == {"submitting"}
    assert _claim(ctx, cid, 10).exhausted


def test_a_message_cancelled_between_the_claims_read_and_write_is_not_claimed(tmp_path: Path) -> None:
    """On SQLite the claim reads its candidates before taking the write lock; a message another process moves
    out of ``queued`` in that gap (here: withdrawn by a cancel) must not be handed to the channel."""
    ctx = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox")})
    cid = bulk_campaign(ctx, 8)
    with ctx.db.transaction() as s:
        victim = s.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)).all()[3]
    other = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox")})  # a second process's connection

    def cancel_one(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE messages SET state = ?, submitting_at = ?"):  # the claim's write
            with other.db.transaction() as s:
                s.execute(update(Message).where(Message.id == victim).values(state="suppressed", reason="cancelled"))

    event.listen(ctx.db.engine, "before_cursor_execute", cancel_one)
    try:
        got = _claim(ctx, cid, 8)
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", cancel_one)
        other.db.dispose()
    ids = [m.message_id for m in got.messages]
    assert victim not in ids and len(ids) == 7
    assert victim not in got.attempts and all(a == 1 for a in got.attempts.values())
    with ctx.db.transaction() as s:
        assert s.scalar(select(Message.state).where(Message.id == victim)) == "suppressed"
        assert set(s.scalars(select(Message.state).where(Message.id.in_(ids)))) == {"submitting"}
