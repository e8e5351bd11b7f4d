"""The outbox claim against a real database (SQLite; PostgreSQL where it is written apart), including a message moved between its read and its write."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, update

from dunning.channels.base import SubmitResult
from dunning.config import ChannelSettings
from dunning.db.bulk import Sql
from dunning.db.models import Message
from dunning.dispatch import outbox
from dunning.dispatch.retry import RetryPolicy
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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_contact_budget_is_rechecked_at_claim_from_each_phones_own_history(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A phone already messaged today, or four times in seven days, is suppressed (``budget``) when claimed;
    older contacts, contacts of other phones and messages that never went do not count — on both databases."""
    db_url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    ctx = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox")}, database_url=db_url)
    base = 10_000 + secrets.randbelow(80_000) * 10  # the PostgreSQL database is shared by the session's tests
    today, week, fresh, old, quiet = (f"+8613912{base + k:06d}" for k in range(5))
    day = timedelta(days=1)
    history = [(today, BUSINESS_NOON - timedelta(hours=1), "delivered"),
               *((week, BUSINESS_NOON - k * day, "submitted") for k in range(1, 5)),
               *((fresh, BUSINESS_NOON - k * day, "delivered") for k in range(1, 4)),
               (old, BUSINESS_NOON - 8 * day, "delivered"),
               (quiet, BUSINESS_NOON - timedelta(hours=2), "suppressed")]
    past = bulk_campaign(ctx, len(history), phones=[p for p, _, _ in history])
    with ctx.db.transaction() as s:
        ids = s.scalars(select(Message.id).where(Message.campaign_id == past).order_by(Message.id)).all()
        for mid, (_, at, state) in zip(ids, history, strict=True):
            s.execute(update(Message).where(Message.id == mid).values(state=state, submitting_at=at))
    cid = bulk_campaign(ctx, 5, phones=[today, week, fresh, old, quiet])
    with ctx.db.transaction() as s:
        phone_of = dict(s.execute(select(Message.id, Message.phone).where(Message.campaign_id == cid)).all())
    got = _claim(ctx, cid, 10)
    assert {phone_of[mid]: why for mid, why in got.suppressed.items()} == {today: "budget", week: "budget"}
    assert sorted(m.phone for m in got.messages) == sorted([fresh, old, quiet])
    ctx.db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_recording_a_submit_leaves_a_message_that_left_submitting_meanwhile_as_it_is(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A message withdrawn (its campaign cancelled) while its batch was on the wire keeps its state and gets no
    provider id when the batch's outcomes are written; the others become ``submitted`` with theirs."""
    db_url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    ctx = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox")}, database_url=db_url)
    base = 10_000 + secrets.randbelow(80_000) * 10
    cid = bulk_campaign(ctx, 3, phones=[f"+8613913{base + k:06d}" for k in range(3)])
    got = _claim(ctx, cid, 3)
    ids = [m.message_id for m in got.messages]
    sql = Sql(ctx.db.engine)
    assert outbox.withdraw(ctx.db.engine, sql, [ids[1]], BUSINESS_NOON) == 1
    outbox.record(ctx.db.engine, sql, channel="sandbox", now=BUSINESS_NOON, retry=RetryPolicy(),
                  attempts=got.attempts, rng=random.Random(0),  # nosec B311  # retry jitter, not security
                  results=[SubmitResult(mid, f"P-{base}-{mid}") for mid in ids])
    with ctx.db.transaction() as s:
        rows = {mid: (state, provider, submitted is not None) for mid, state, provider, submitted in s.execute(
            select(Message.id, Message.state, Message.provider_id, Message.submitted_at)
            .where(Message.campaign_id == cid)).all()}
    assert rows == {ids[0]: ("submitted", f"P-{base}-{ids[0]}", True),
                    ids[1]: ("suppressed", None, False),
                    ids[2]: ("submitted", f"P-{base}-{ids[2]}", True)}
    ctx.db.dispose()
