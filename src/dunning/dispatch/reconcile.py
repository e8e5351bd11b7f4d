"""Crash reconciliation: settle messages whose send outcome is unknown, never resending on a guess.

A message is ``submitting`` from its claim until its outcome is recorded; a sender that died in between leaves
such rows behind. They are settled here by asking the provider where the channel can answer: known →
``submitted`` with its provider ids; never received, from a lookup the adapter declares authoritative
(:func:`absence_is_proof`) → ``queued`` again; anything else (a miss of a non-authoritative lookup, a timeout,
an error, no lookup at all) → ``held`` for a person with a reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from dunning.channels.base import Channel, SubmitResult
from dunning.db.bulk import Sql, insert_rows, run
from dunning.db.engine import Database
from dunning.dispatch import outbox
from dunning.dispatch.outbox import ABSENT, FOUND, HOLD, move_rows
from dunning.domain.states import MessageState
from dunning.errors import ChannelError

HOLD_NO_QUERY = "发送过程中断且通道不支持状态查询：请人工核实后再处理，系统不会自动重发"
HOLD_MISS = ("发送过程中断，通道查询答复“查无此短信”，但该查询不能证明未收到（可能已发出）："
             "请人工核实后再处理，系统不会自动重发")
QUERY_TIMEOUT = 60.0  # the whole provider lookup of one reconciliation, on top of each call's own deadline

Runner = Callable[..., Awaitable[Any]]
EMPTY = {"submitted": 0, "requeued": 0, "held": 0}


@dataclass(frozen=True, slots=True)
class Orphan:
    id: int
    idempotency_key: str
    channel: str | None
    state: str


def orphans(engine: Engine, sql: Sql, *, campaign_id: int | None = None, channel: str | None = None) -> list[Orphan]:
    """Messages whose send outcome this process does not know: ``submitting``, or held for a reason a lookup can
    settle (:data:`~dunning.dispatch.outbox.CHECKABLE_HOLDS`)."""
    where = [f"{c} = ?" for c, v in (("campaign_id", campaign_id), ("channel", channel)) if v is not None]
    params = [v for v in (campaign_id, channel) if v is not None]
    holds = ", ".join("?" for _ in outbox.CHECKABLE_HOLDS)
    with engine.connect() as conn:
        rows = run(conn, sql,
                   "SELECT id, idempotency_key, channel, state FROM messages WHERE "  # nosec B608  # identifiers and placeholders from code only
                   f"(state = ? OR (state = ? AND reason IN ({holds}))){''.join(f' AND {w}' for w in where)} "
                   "ORDER BY id",
                   [MessageState.SUBMITTING.value, MessageState.HELD.value, *outbox.CHECKABLE_HOLDS, *params]).all()
    return [Orphan(int(r.id), str(r.idempotency_key), r.channel, str(r.state)) for r in rows]


def settle_orphans(engine: Engine, sql: Sql, *, channel: str, found: dict[int, SubmitResult],
                   unknown: Sequence[int], hold: dict[int, tuple[str, str]], now: datetime) -> None:
    """Apply a reconciliation: ``found`` → submitted (+ parts), ``unknown`` → queued again, ``hold`` → held with
    (reason, detail). Rows already held keep their first reason."""
    ts = sql.ts(now)
    with engine.begin() as conn:
        move_rows(conn, sql, FOUND, "provider_id = ?, submitted_at = ?, channel = ?, reason = NULL",
                  [(r.provider_id, ts, channel, mid) for mid, r in found.items()])
        insert_rows(conn, sql, "message_parts", ["message_id", "channel", "provider_id", "part_no"],
                    [(mid, channel, pid, i + 1) for mid, r in found.items()
                     for i, pid in enumerate(r.part_ids or ((r.provider_id,) if r.provider_id else ()))])
        move_rows(conn, sql, ABSENT, "reason = NULL, next_attempt_at = NULL, "
                                     "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END",
                  [(mid,) for mid in unknown])
        move_rows(conn, sql, HOLD, "reason = ?, detail = ?",
                  [(reason, detail, mid) for mid, (reason, detail) in hold.items()])


def absence_is_proof(channel: Channel) -> bool:
    """Whether the adapter declares its lookup authoritative: a miss proves the provider never had the message.

    Adapters say so with an ``absence_is_proof`` attribute (default: no). A miss from any other lookup, a
    timeout or an error is never proof: the message is held for a person, never sent again automatically.
    """
    return bool(getattr(channel, "absence_is_proof", False))


def waiting_message(channel_name: str, n: int, seconds: float) -> str:
    """What an operator sees while a reconciliation waits for the provider (Chinese first, then English)."""
    return (f"正在向通道 {channel_name} 核实 {n} 条中断的短信（最长 {seconds:g} 秒，Ctrl+C 可中断）"
            f" / checking {n} interrupted messages with channel {channel_name} (at most {seconds:g} s, "
            "Ctrl+C interrupts)")


async def reconcile_group(db: Database, sql: Sql, channel: Channel | None, channel_name: str,
                          rows: Sequence[Orphan], now: datetime, grace: float, *,
                          run: Runner | None = None, on_wait: Callable[[str], None] | None = None,
                          timeout: float = QUERY_TIMEOUT) -> dict[str, int]:
    """Settle ``rows`` (all of channel ``channel_name``); ``run`` runs the blocking database calls (the engine's
    database thread), ``on_wait`` hears what the lookup waits for before it waits."""
    async def call(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        if run is not None:
            return await run(fn, *a, **kw)
        return fn(*a, **kw)

    counts = dict(EMPTY)
    submitting = [r for r in rows if r.state == MessageState.SUBMITTING]
    if channel is None or not channel.capabilities.status_query:
        await call(settle_orphans, db.engine, sql, channel=channel_name, found={}, unknown=[],
                   hold={r.id: (outbox.HOLD_CRASH, HOLD_NO_QUERY) for r in submitting}, now=now)
        counts["held"] = len(submitting)
        return counts
    if on_wait is not None:
        on_wait(waiting_message(channel_name, len(rows), grace + timeout))
    if grace > 0:
        await asyncio.sleep(grace)
    known: dict[str, SubmitResult | None] = {}
    try:
        async with asyncio.timeout(timeout):
            await channel.open()
            for i in range(0, len(rows), 1000):
                known.update(await channel.query_status([r.idempotency_key for r in rows[i:i + 1000]]))
    except (ChannelError, NotImplementedError, TimeoutError) as exc:
        no_query = isinstance(exc, NotImplementedError)
        why = exc.message_zh if isinstance(exc, ChannelError) else (
            f"{timeout:g} 秒内未完成" if isinstance(exc, TimeoutError) else str(exc))
        detail = HOLD_NO_QUERY if no_query else (
            f"发送过程中断，向通道查询发送结果失败（{why}）：请人工核实后再处理，系统不会自动重发")
        reason = outbox.HOLD_CRASH if no_query else outbox.HOLD_QUERY_FAILED
        await call(settle_orphans, db.engine, sql, channel=channel_name, found={}, unknown=[],
                   hold={r.id: (reason, detail) for r in submitting}, now=now)
        counts["held"] = len(submitting)
        return counts
    found = {r.id: res for r in rows if (res := known.get(r.idempotency_key)) is not None and res.provider_id}
    missed = [r for r in rows if r.idempotency_key in known and known[r.idempotency_key] is None]
    proof = absence_is_proof(channel)
    unknown = [r.id for r in missed] if proof else []
    hold: dict[int, tuple[str, str]] = {}
    if not proof:
        hold.update({r.id: (outbox.HOLD_QUERY_MISS, HOLD_MISS) for r in missed
                     if r.state == MessageState.SUBMITTING})
    settled = set(found) | {r.id for r in missed}
    hold.update({r.id: (outbox.HOLD_CRASH, HOLD_NO_QUERY) for r in submitting if r.id not in settled})
    await call(settle_orphans, db.engine, sql, channel=channel_name, found=found, unknown=unknown, hold=hold,
               now=now)
    counts.update(submitted=len(found), requeued=len(unknown), held=len(hold))
    return counts


async def reconcile(db: Database, channel: Channel, channel_name: str, now: datetime, *,
                    campaign_id: int | None = None, grace: float = 0.0,
                    on_wait: Callable[[str], None] | None = None) -> dict[str, int]:
    """Settle messages whose send outcome is unknown (``submitting`` after a crash, or held as outcome-unknown).

    See the module docstring for the rules. Every held reason a lookup can settle is looked up again
    (``outbox.CHECKABLE_HOLDS``).

    Only call it for rows no live sender owns: the dispatcher calls it for its campaign after taking the
    campaign's lease; called by hand (``campaign_id=None``) it takes every such row of the channel.
    """
    sql = Sql(db.engine)
    rows = orphans(db.engine, sql, campaign_id=campaign_id, channel=channel_name)
    if not rows:
        return dict(EMPTY)
    return await reconcile_group(db, sql, channel, channel_name, rows, now, grace, on_wait=on_wait)


async def reconcile_routes(db: Database, sql: Sql, channels: dict[str, Channel], campaign_id: int, now: datetime,
                           grace: float, *, run: Runner, on_wait: Callable[[str], None] | None = None,
                           timeout: float = QUERY_TIMEOUT) -> dict[str, int]:
    """Settle a campaign's orphans (after taking its lease), each through the route it was claimed for."""
    rows = await run(orphans, db.engine, sql, campaign_id=campaign_id)
    counts = dict(EMPTY)
    if not rows:
        return counts
    groups: dict[str | None, list[Orphan]] = {}
    for o in rows:
        groups.setdefault(o.channel, []).append(o)
    for name, group in groups.items():
        channel = channels.get(name) if name is not None else None
        got = await reconcile_group(db, sql, channel, name or "?", group, now, grace, run=run, on_wait=on_wait,
                                    timeout=timeout)
        for k, v in got.items():
            counts[k] += v
    return counts


def expire_stale(db: Database, *, now: datetime, timeout: timedelta) -> int:
    """Mark ``submitted`` messages with no final delivery report after ``timeout`` as ``expired``."""
    hours = timeout.total_seconds() / 3600
    detail = f"提交后 {hours:g} 小时内未收到送达回执，标记为过期（之后收到回执仍会更新状态）"
    return outbox.expire_stale(db.engine, Sql(db.engine), submitted_before=now - timeout, now=now, detail=detail)
