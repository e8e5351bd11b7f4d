"""The outbox in SQL: claim, re-check, record, release, reconcile and expire messages — each one transaction.

Every function here is synchronous and short; the async engine runs them on its single database thread, so
they never block the network I/O of a send in flight.

Statements are plain SQL sent as executemany batches (:mod:`dunning.db.rawsql`), because this is the hot path:
three to five row operations per message at tens of thousands of messages a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from dunning.channels.base import OutboundMessage, SubmitResult
from dunning.db.rawsql import Sql, fetch, fetch_rows, insert_rows, json_column, run, run_many, update_rows
from dunning.dispatch.retry import GiveUp, RetryPolicy
from dunning.domain.states import MessageState
from dunning.errors import ChannelError, RateLimitedError
from dunning.templates import provider_code

# States that count as "this phone was contacted" for the contact budget (claimed and not since refused).
CONTACT_STATES = ("submitting", "submitted", "delivered", "held", "expired")
BLOCKING_FLAGS = {"opted_out": "opted_out", "dispute": "dispute", "do_not_contact": "do_not_contact"}
OUTCOME_UNKNOWN = "channel.outcome_unknown"
PARTIAL = "channel.partial"


# ------------------------------------------------------------------------------------------------ claim


@dataclass(frozen=True, slots=True)
class ContactBudget:
    max_per_day: int = 1
    max_per_7d: int = 4


@dataclass
class Claim:
    messages: list[OutboundMessage]
    suppressed: dict[int, str] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)  # attempt number of each claimed message (1 = first)
    exhausted: bool = False  # nothing queued is left at all (not even retries waiting for their backoff)
    expired: int = 0  # queued messages whose own send window closed, expired by this call
    failed: dict[int, str] = field(default_factory=dict)  # claimed but failed before sending: id → reason


TEMPLATE_UNREGISTERED = "template_unregistered"
TEMPLATE_PARAMS_MISSING = "template_params_missing"


def template_keys(name: str, channel: Any) -> tuple[str, ...]:
    """Where a claim for channel ``name`` looks up a version's provider template code in ``channel_codes``: the
    channel's name, then its kind (``aliyun``, ``tencent``); ``()`` for channels that send free text."""
    if not channel.capabilities.template_based:
        return ()
    kind = str(getattr(channel, "kind", name))
    return (name,) if kind == name else (name, kind)


def claim(engine: Engine, sql: Sql, *, campaign_id: int, channel: str, n: int, now: datetime, pilot_only: bool,
          tz: ZoneInfo, budget: ContactBudget, template_keys: Sequence[str] = ()) -> Claim:
    """Move up to ``n`` due queued messages to ``submitting`` (committed before any network call).

    The claimed rows are then re-checked in the same transaction — opt-out / dispute / do-not-contact flags,
    payment in full, the contact budget — and the ones that must not go are ``suppressed`` instead.
    On PostgreSQL the claim skips rows another transaction holds (``FOR UPDATE SKIP LOCKED``).

    For a template-based channel (``template_keys`` non-empty, see :func:`template_keys`) each message also
    carries its template version's provider code (``channel_codes``, looked up once per version in this claim)
    and the variable values stored at planning. A message whose version has no code for the channel is
    ``failed`` (``template_unregistered``, with a detail naming the template, version and channel) instead of
    being sent: the provider would refuse it, and retrying cannot help until someone registers the code.
    """
    pilot = " AND is_pilot = ?" if pilot_only else ""
    base = [campaign_id, MessageState.QUEUED.value]
    # Each message carries the window planning gave it (its recipient's zone, its day): nothing goes before
    # ``send_after`` and nothing at or after ``send_before`` — a campaign resumed the next day does not send
    # yesterday's texts (see ``expire_late``).
    pick = (f"SELECT id FROM messages WHERE campaign_id = ? AND state = ?{pilot} "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "AND (send_after IS NULL OR send_after <= ?) AND (send_before IS NULL OR send_before > ?) "
            "ORDER BY id LIMIT ?")
    pick_params = [*base, *([True] if pilot_only else []), sql.ts(now), sql.ts(now), sql.ts(now), n]
    returning = "RETURNING id, idempotency_key, phone, text, loan_id, account_id, attempts"
    if template_keys:
        returning += ", template_version_id, params"
    returning += ", parts"  # last: the limiter counts PDUs where the channel's rate is in parts
    pi = 9 if template_keys else 7
    with engine.begin() as conn:
        if sql.pg:
            # A materialised CTE runs the LIMIT once (an IN-subquery may be re-run by the planner and claim
            # more than n); SKIP LOCKED lets concurrent claimers pass each other.
            rows = fetch(
                conn, sql,
                f"WITH picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                "UPDATE messages AS m SET state = 'submitting', submitting_at = ?, channel = ?, "
                "attempts = m.attempts + 1 FROM picked WHERE m.id = picked.id AND m.state = 'queued' "
                + returning.replace("RETURNING ", "RETURNING m.").replace(", ", ", m."),
                [*pick_params, sql.ts(now), channel],
            )
        else:
            # SQLite has one writer at a time: read the candidates first (a WAL read, no lock held; the driver
            # opens the transaction at the first write), then claim those still queued. The lease makes this
            # sender the campaign's only claimer, so normally every candidate is claimed; if something else moved
            # one meanwhile (a cancel), the rows this UPDATE claimed are read back under its write lock.
            cols = returning.removeprefix("RETURNING ").split(", ")
            candidates = fetch_rows(conn, sql, cols, pick.removeprefix("SELECT id "), pick_params)
            rows = []
            if candidates:
                stamp = sql.ts(now)
                tail, ids = sql.in_list([r[0] for r in candidates])
                claimed = run(conn, sql, "UPDATE messages SET state = 'submitting', submitting_at = ?, channel = ?, "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                                         f"attempts = attempts + 1 WHERE id{tail} AND state = 'queued'",
                              [stamp, channel, *ids]).rowcount
                if claimed == len(candidates):
                    for r in candidates:  # JSON rows are lists: count the attempt in place
                        r[6] = int(r[6]) + 1  # type: ignore[index]
                    rows = candidates
                else:
                    won: dict[int, int] = {int(i): int(a) for i, a in fetch_rows(
                        conn, sql, ["id", "attempts"], f"FROM messages WHERE id{tail} AND state = 'submitting' "
                        "AND submitting_at = ? AND channel = ?", [*ids, stamp, channel])}
                    rows = [(*r[:6], won[r[0]], *r[7:]) for r in candidates if r[0] in won]
        if not rows:
            # Nothing due: expire what can no longer go (only here, so a busy send never pays for the scan).
            expired = _expire_late(conn, sql, campaign_id, now)
            left = run(conn, sql, f"SELECT 1 FROM messages WHERE campaign_id = ? AND state = ?{pilot} LIMIT 1",  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                       [*base, *([True] if pilot_only else [])]).first()
            return Claim([], {}, exhausted=left is None, expired=expired)
        rows.sort(key=lambda r: r[0])
        attempts = {r[0]: int(r[6]) for r in rows}
        failed: dict[int, str] = {}
        codes: dict[int, str] = {}
        if template_keys:
            codes, failed = _template_codes(conn, sql, rows, channel, template_keys, now)
            if failed:
                rows = [r for r in rows if r[0] not in failed]
        why = _recheck(conn, sql, rows, now, tz, budget,
                       since=_snapshot_start(conn, sql, campaign_id, tz)) if rows else {}
        if why:
            run_many(conn, sql,
                     "UPDATE messages SET state = 'suppressed', reason = ?, final_at = ? "
                     "WHERE id = ? AND state = 'submitting'",
                     [(reason, sql.ts(now), mid) for mid, reason in why.items()])
    if template_keys:
        out = [OutboundMessage(r[0], r[1], r[2], r[3] or "", template_code=codes[r[7]],
                               params=json.loads(r[8]) if r[8] else {}, parts=int(r[pi] or 1))
               for r in rows if r[0] not in why]
    else:
        out = [OutboundMessage(r[0], r[1], r[2], r[3] or "", parts=int(r[pi] or 1)) for r in rows if r[0] not in why]
    return Claim(out, why, attempts, failed=failed)


def _template_codes(conn: Connection, sql: Sql, rows: Sequence[Any], channel: str, keys: Sequence[str],
                    now: datetime) -> tuple[dict[int, str], dict[int, str]]:
    """The provider template code of each claimed row's version (one query for the claim's versions), and the
    rows that cannot go through this channel — ``failed`` here with a reason and a Chinese detail.

    Rows are ``(id, key, phone, text, loan_id, account_id, attempts, template_version_id, params)``."""
    versions = sorted({int(r[7]) for r in rows if r[7] is not None})
    found: dict[int, tuple[str, int, Any, Any]] = {}
    if versions:
        in_v, p_v = sql.in_list(versions)
        for vid, tcode, version, channel_codes, variables in run(
                conn, sql, "SELECT v.id, t.code, v.version, v.channel_codes, v.variables FROM template_versions v "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                           f"JOIN templates t ON t.id = v.template_id WHERE v.id{in_v}", p_v).all():
            found[int(vid)] = (str(tcode), int(version), json_column(channel_codes), json_column(variables))
    codes: dict[int, str] = {}
    failed: dict[int, tuple[str, str]] = {}
    for vid, (tcode, version, channel_codes, _) in found.items():
        code = provider_code(channel_codes, keys)
        if code:
            codes[vid] = code
        else:
            failed[vid] = (TEMPLATE_UNREGISTERED, unregistered_detail(tcode, version, channel))
    out: dict[int, str] = {}
    fail_rows: list[tuple[Any, ...]] = []
    ts = sql.ts(now)
    for r in rows:
        vid = r[7]
        if vid is None or int(vid) not in found:
            reason, detail = TEMPLATE_UNREGISTERED, f"该短信没有模板版本，不能经模板通道 {channel} 发送"
        elif int(vid) in failed:
            reason, detail = failed[int(vid)]
        elif not r[8] and found[int(vid)][3]:
            tcode, version = found[int(vid)][:2]
            reason, detail = TEMPLATE_PARAMS_MISSING, (
                f"该短信规划时未记录模板 {tcode} 版本 {version} 的变量值，不能经模板通道 {channel} 发送：请重新规划批次")
        else:
            continue
        out[r[0]] = reason
        fail_rows.append((reason, detail, ts, r[0]))
    run_many(conn, sql, "UPDATE messages SET state = 'failed', reason = ?, detail = ?, final_at = ? "
                        "WHERE id = ? AND state = 'submitting'", fail_rows)
    return codes, out


def unregistered_detail(template: str, version: int, channel: str) -> str:
    return (f"模板 {template} 版本 {version} 未在通道 {channel} 登记模板编号：请用 dunning templates codes {template} "
            f"--version {version} --set {channel}=编号 登记后重新发送")



LATE_DETAIL = "已过该短信的发送时段，未发送（不会延后发送）"


def _expire_late(conn: Connection, sql: Sql, campaign_id: int, now: datetime) -> int:
    """Queued messages whose own window has closed become ``expired`` (reason ``window``), never sent late."""
    res = run(conn, sql, "UPDATE messages SET state = 'expired', reason = 'window', final_at = ?, detail = ? "
                         "WHERE campaign_id = ? AND state = 'queued' AND send_before IS NOT NULL AND send_before <= ?",
              [sql.ts(now), LATE_DETAIL, campaign_id, sql.ts(now)])
    return int(res.rowcount or 0)


def _snapshot_start(conn: Connection, sql: Sql, campaign_id: int, tz: ZoneInfo) -> datetime | None:
    """Local midnight of the campaign's portfolio snapshot: the export's amounts already reflect payments made
    before it, so only later payments count towards "paid" (as at planning)."""
    row = run(conn, sql, "SELECT i.as_of FROM campaigns c JOIN imports i ON i.id = c.import_id WHERE c.id = ?",
              [campaign_id]).first()
    if row is None or row[0] is None:
        return None
    as_of = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0])[:10])
    return datetime.combine(as_of, time(0), tz)


def _recheck(conn: Connection, sql: Sql, rows: Sequence[Any], now: datetime, tz: ZoneInfo,
             budget: ContactBudget, *, since: datetime | None = None) -> dict[int, str]:
    """Suppression right before sending; rows are ``(id, key, phone, text, loan_id, account_id)`` by id.
    ``since``: only payments from then on count towards "paid" (the snapshot's start)."""
    why: dict[int, str] = {}
    phones = sorted({r[2] for r in rows})
    in_phones, p_phones = sql.in_list(phones)
    flagged = dict(fetch(conn, sql, f"SELECT phone, kind FROM phone_flags WHERE cleared_at IS NULL AND phone{in_phones}",  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                         p_phones))
    if flagged:
        for r in rows:
            if r[2] in flagged:
                why[r[0]] = BLOCKING_FLAGS.get(flagged[r[2]], str(flagged[r[2]])[:32])
    loans = sorted({r[4] for r in rows})
    in_loans, p_loans = sql.in_list(loans)
    after = " AND paid_at >= ?" if since is not None else ""
    paid = dict(fetch(conn, sql, f"SELECT loan_id, SUM(amount_fen) FROM payments WHERE loan_id{in_loans}{after} "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                                 "GROUP BY loan_id", [*p_loans, *([sql.ts(since)] if since is not None else [])]))
    if paid:
        accounts = sorted({r[5] for r in rows if r[4] in paid})
        in_acc, p_acc = sql.in_list(accounts)
        due = dict(fetch(conn, sql, f"SELECT id, amount_due_fen FROM accounts WHERE id{in_acc}", p_acc))  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
        for r in rows:
            if r[4] in paid and r[5] in due and paid[r[4]] >= due[r[5]]:
                why.setdefault(r[0], "paid")
    # Contact budget in the campaign's time zone; the claimed rows themselves are already ``submitting`` and
    # counted by the query, so they are subtracted before counting them in one by one, in id order. Only
    # phones with more than one contact come back (a phone counted once is this claim's own message alone).
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    states = "','".join(CONTACT_STATES)
    counts = {
        phone: (int(day or 0), int(week or 0))
        for phone, day, week in fetch(
            conn, sql,
            "SELECT phone, SUM(CASE WHEN submitting_at >= ? THEN 1 ELSE 0 END), COUNT(*) FROM messages "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            f"WHERE phone{in_phones} AND state IN ('{states}') AND submitting_at >= ? GROUP BY phone "
            "HAVING COUNT(*) > 1",
            [sql.ts(midnight), *p_phones, sql.ts(now - timedelta(days=7))],
        )
    }
    claimed_per_phone: dict[str, int] = {}
    for r in rows:
        claimed_per_phone[r[2]] = claimed_per_phone.get(r[2], 0) + 1
    taken: dict[str, int] = {}
    for r in rows:
        if r[0] in why:
            continue
        phone = r[2]
        own = claimed_per_phone[phone]
        day, week = counts.get(phone, (own, own))
        extra = taken.get(phone, 0)
        if day - own + extra >= budget.max_per_day or week - own + extra >= budget.max_per_7d:
            why[r[0]] = "budget"
        else:
            taken[phone] = extra + 1
    return why


# ------------------------------------------------------------------------------------------------ record


@dataclass
class Recorded:
    submitted: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0
    rate_limited: int = 0


def record(engine: Engine, sql: Sql, *, channel: str, results: Sequence[SubmitResult], now: datetime,
           retry: RetryPolicy, attempts: dict[int, int], rng: Any) -> Recorded:
    """Write a batch's outcomes: ``submitted`` with provider ids and parts, retry, fail, or hold.

    * accepted → ``submitted`` (+ one ``message_parts`` row per part id);
    * ``channel.outcome_unknown`` (the provider may have it) → ``held``: never resent blindly;
    * ``channel.partial`` (some parts went out) → ``failed`` with the accepted parts recorded;
    * rate-limited → back to ``queued`` after ``retry_after`` without spending an attempt;
    * other errors → the retry policy: ``queued`` with a backoff, or ``failed`` with the error's code.
    """
    out = Recorded()
    ok: list[tuple[Any, ...]] = []
    parts: list[tuple[Any, ...]] = []
    retry_rows: list[tuple[Any, ...]] = []
    fail_rows: list[tuple[Any, ...]] = []
    hold_rows: list[tuple[Any, ...]] = []
    ts = sql.ts(now)
    for r in results:
        if r.error is None:
            ok.append((r.message_id, r.provider_id, ts))
            ids = r.part_ids or ((r.provider_id,) if r.provider_id else ())
            if len(ids) == 1:  # nearly every message: no generator per message
                parts.append((r.message_id, channel, ids[0], 1))
            else:
                parts.extend((r.message_id, channel, pid, i + 1) for i, pid in enumerate(ids))
            continue
        err = r.error
        if err.code == OUTCOME_UNKNOWN:
            hold_rows.append((HOLD_OUTCOME, err.message_zh, r.message_id))
            continue
        if err.code == PARTIAL:
            fail_rows.append((PARTIAL, err.message_zh, ts, r.message_id))
            parts.extend((r.message_id, channel, pid, i + 1) for i, pid in enumerate(r.part_ids))
            continue
        if isinstance(err, RateLimitedError):
            retry_rows.append((sql.ts(now + timedelta(seconds=max(err.retry_after, 0.0))), err.message_zh, 1,
                               r.message_id))
            out.rate_limited += 1
            continue
        decision = retry.decide(err, attempts.get(r.message_id, 1), rng)
        if isinstance(decision, GiveUp):
            fail_rows.append((decision.reason[:32], err.message_zh, ts, r.message_id))
        else:
            retry_rows.append((sql.ts(now + timedelta(seconds=decision.delay)), err.message_zh, 0, r.message_id))
    parts.sort(key=lambda row: row[2])  # index locality: provider ids are often random strings
    with engine.begin() as conn:
        update_rows(conn, sql, "messages", "state = 'submitted', provider_id = v.pid, submitted_at = v.at, "
                                           "next_attempt_at = NULL", ["pid", "at"], ok, "messages.state = 'submitting'")
        insert_rows(conn, sql, "message_parts", ["message_id", "channel", "provider_id", "part_no"], parts)
        run_many(conn, sql, "UPDATE messages SET state = 'queued', next_attempt_at = ?, detail = ?, "
                            "attempts = attempts - ? WHERE id = ? AND state = 'submitting'", retry_rows)
        run_many(conn, sql, "UPDATE messages SET state = 'failed', reason = ?, detail = ?, final_at = ? "
                            "WHERE id = ? AND state = 'submitting'", fail_rows)
        run_many(conn, sql, "UPDATE messages SET state = 'held', reason = ?, detail = ? "
                            "WHERE id = ? AND state = 'submitting'", hold_rows)
    out.submitted, out.failed, out.retried, out.held = len(ok), len(fail_rows), len(retry_rows), len(hold_rows)
    return out


def release(engine: Engine, sql: Sql, ids: Iterable[int], *, not_before: datetime | None = None,
            detail: str | None = None) -> int:
    """Put claimed messages that were never handed to a channel back to ``queued`` (no attempt spent)."""
    rows = [(sql.ts(not_before), detail, mid) for mid in ids]
    if not rows:
        return 0
    with engine.begin() as conn:
        run_many(conn, sql, "UPDATE messages SET state = 'queued', next_attempt_at = ?, "
                            "detail = COALESCE(?, detail), attempts = attempts - 1 "
                            "WHERE id = ? AND state = 'submitting'", rows)
    return len(rows)


# ------------------------------------------------------------------------------------------------ campaign


def withdraw(engine: Engine, sql: Sql, ids: Iterable[int], now: datetime) -> int:
    """Claimed messages of a campaign cancelled meanwhile: ``suppressed`` (cancelled), never sent."""
    rows = [(sql.ts(now), mid) for mid in ids]
    with engine.begin() as conn:
        run_many(conn, sql, "UPDATE messages SET state = 'suppressed', reason = 'cancelled', final_at = ? "
                            "WHERE id = ? AND state = 'submitting'", rows)
    return len(rows)


def campaign_state(engine: Engine, sql: Sql, campaign_id: int) -> str | None:
    with engine.connect() as conn:
        row = run(conn, sql, "SELECT state FROM campaigns WHERE id = ?", [campaign_id]).first()
    return None if row is None else str(row[0])


def count_states(engine: Engine, sql: Sql, campaign_id: int, pilot_only: bool = False) -> dict[str, int]:
    pilot = " AND is_pilot = ?" if pilot_only else ""
    with engine.connect() as conn:
        return {str(s): int(n) for s, n in run(
            conn, sql, f"SELECT state, COUNT(*) FROM messages WHERE campaign_id = ?{pilot} GROUP BY state",  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            [campaign_id, *([True] if pilot_only else [])]).all()}


def expire_queued(engine: Engine, sql: Sql, campaign_id: int, now: datetime) -> int:
    """The send window closed: queued messages expire (never carried over to a later, unchecked time)."""
    with engine.begin() as conn:
        res = run(conn, sql, "UPDATE messages SET state = 'expired', reason = 'window', final_at = ?, detail = ? "
                             "WHERE campaign_id = ? AND state = 'queued'",
                  [sql.ts(now), "超出发送时段，未发送", campaign_id])
        return int(res.rowcount or 0)


def expire_stale(engine: Engine, sql: Sql, *, submitted_before: datetime, now: datetime, detail: str) -> int:
    """Messages ``submitted`` before the cutoff with no final delivery report become ``expired``.

    A report that arrives later still settles them (``expired → delivered / failed`` is allowed).
    """
    with engine.begin() as conn:
        res = run(conn, sql, "UPDATE messages SET state = 'expired', reason = 'dlr_timeout', final_at = ?, "
                             "detail = ? WHERE state = 'submitted' AND submitted_at < ?",
                  [sql.ts(now), detail, sql.ts(submitted_before)])
        return int(res.rowcount or 0)


# ------------------------------------------------------------------------------------------------ reconcile


# Held reasons (``messages.reason`` of a ``held`` row). All of them can be settled by a provider lookup, so every
# reconciliation looks them up again; a person resolves what no lookup can (``dunning messages resolve``).
HOLD_OUTCOME = "outcome_unknown"  # no submit_sm_resp / HTTP answer: the provider may have it
HOLD_CRASH = "crash_unreconciled"  # the sender died mid-send and the channel has no lookup
HOLD_QUERY_MISS = "query_miss"  # a lookup that is not authoritative did not find it
HOLD_QUERY_FAILED = "query_failed"  # the lookup itself timed out or failed
CHECKABLE_HOLDS = (HOLD_OUTCOME, HOLD_CRASH, HOLD_QUERY_MISS, HOLD_QUERY_FAILED)


@dataclass(frozen=True, slots=True)
class Orphan:
    id: int
    idempotency_key: str
    channel: str | None
    state: str


def orphans(engine: Engine, sql: Sql, *, campaign_id: int | None = None, channel: str | None = None) -> list[Orphan]:
    """Messages whose send outcome this process does not know: ``submitting``, or held for a reason a lookup can
    settle (:data:`CHECKABLE_HOLDS`)."""
    where: list[str] = []
    params: list[Any] = []
    if campaign_id is not None:
        where.append("campaign_id = ?")
        params.append(campaign_id)
    if channel is not None:
        where.append("channel = ?")
        params.append(channel)
    cond = "".join(f" AND {w}" for w in where)
    holds = ", ".join("?" for _ in CHECKABLE_HOLDS)
    with engine.connect() as conn:
        rows = run(conn, sql,
                   "SELECT id, idempotency_key, channel, state FROM messages WHERE "  # nosec B608  # identifiers and placeholders from code only
                   f"(state = 'submitting' OR (state = 'held' AND reason IN ({holds}))){cond} ORDER BY id",
                   [*CHECKABLE_HOLDS, *params]).all()
    return [Orphan(int(r[0]), str(r[1]), r[2], str(r[3])) for r in rows]


def settle_orphans(engine: Engine, sql: Sql, *, channel: str, found: dict[int, SubmitResult],
                   unknown: Sequence[int], hold: dict[int, tuple[str, str]], now: datetime) -> None:
    """Apply a reconciliation: ``found`` → submitted (+ parts), ``unknown`` → queued again, ``hold`` → held with
    (reason, detail). Rows already held keep their first reason."""
    ts = sql.ts(now)
    states = "('submitting','held')"
    with engine.begin() as conn:
        run_many(conn, sql, f"UPDATE messages SET state = 'submitted', provider_id = ?, submitted_at = ?, channel = ?, "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                            f"reason = NULL WHERE id = ? AND state IN {states}",
                 [(r.provider_id, ts, channel, mid) for mid, r in found.items()])
        run_many(conn, sql, "INSERT INTO message_parts (message_id, channel, provider_id, part_no) VALUES (?, ?, ?, ?)",
                 [(mid, channel, pid, i + 1) for mid, r in found.items()
                  for i, pid in enumerate(r.part_ids or ((r.provider_id,) if r.provider_id else ()))])
        run_many(conn, sql, f"UPDATE messages SET state = 'queued', reason = NULL, next_attempt_at = NULL, "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                            f"attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END "
                            f"WHERE id = ? AND state IN {states}", [(mid,) for mid in unknown])
        run_many(conn, sql, "UPDATE messages SET state = 'held', reason = ?, detail = ? "
                            "WHERE id = ? AND state = 'submitting'",
                 [(reason, detail, mid) for mid, (reason, detail) in hold.items()])


def error_detail(exc: ChannelError) -> str:
    return f"{exc.message_zh}（{exc.code}）"
