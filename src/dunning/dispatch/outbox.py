"""The outbox in SQL: claim, re-check, record, release, reconcile and expire messages — each one transaction.

Every function here is synchronous and short; the async engine runs them on its single database thread, so
they never block the network I/O of a send in flight.

Statements are plain SQL sent as executemany batches (:mod:`dunning.db.bulk`), because this is the hot path:
three to five row operations per message at tens of thousands of messages a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from dunning.channels.base import OutboundMessage, SubmitResult
from dunning.db.bulk import Sql, fetch, fetch_rows, insert_rows, run, run_many, update_rows
from dunning.dispatch.retry import GiveUp, RetryPolicy
from dunning.dispatch.templating import template_codes
from dunning.domain.states import CONTACT_STATES, MessageState, Move, move
from dunning.errors import ChannelError, RateLimitedError

_M = MessageState
# Every state change this module makes, checked against MESSAGE_TRANSITIONS when the module is imported.
CLAIM = move(_M.QUEUED, _M.SUBMITTING)
SUPPRESS = move(_M.SUBMITTING, _M.SUPPRESSED)  # re-check refused it, or its campaign was cancelled meanwhile
FAIL = move(_M.SUBMITTING, _M.FAILED)
SUBMIT = move(_M.SUBMITTING, _M.SUBMITTED)
REQUEUE = move(_M.SUBMITTING, _M.QUEUED)  # a retry, or never handed to the channel
HOLD = move(_M.SUBMITTING, _M.HELD)
EXPIRE_QUEUED = move(_M.QUEUED, _M.EXPIRED)  # its send window closed
EXPIRE_SUBMITTED = move(_M.SUBMITTED, _M.EXPIRED)  # no final delivery report in time
FOUND = move((_M.SUBMITTING, _M.HELD), _M.SUBMITTED)  # reconciliation: the provider has it
ABSENT = move((_M.SUBMITTING, _M.HELD), _M.QUEUED)  # reconciliation: an authoritative lookup proved absence

_moves: dict[tuple[Move, str, str], str] = {}


def moving(mv: Move, assignments: str = "", where: str = "id = ?") -> str:
    """``UPDATE messages SET state = ?, <assignments> WHERE <where> AND state IN (<src>)`` (cached); its
    parameters are ``(mv.dst, <assignments' and where's, in order>, *mv.src)`` — see :func:`move_params`."""
    key = (mv, assignments, where)
    stmt = _moves.get(key)
    if stmt is None:
        sets = f"state = ?, {assignments}" if assignments else "state = ?"
        src = ", ".join("?" * len(mv.src))
        stmt = _moves[key] = f"UPDATE messages SET {sets} WHERE {where} AND state IN ({src})"  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
    return stmt


def move_params(mv: Move, params: Sequence[Any]) -> tuple[Any, ...]:
    return (mv.dst.value, *params, *(s.value for s in mv.src))


def move_rows(conn: Connection, sql: Sql, mv: Move, assignments: str, rows: Sequence[Sequence[Any]]) -> None:
    """``mv`` for each of ``rows`` = ``(<assignment parameters>, id)``, as one executemany."""
    if rows:
        run_many(conn, sql, moving(mv, assignments), [move_params(mv, r) for r in rows])


def move_where(conn: Connection, sql: Sql, mv: Move, assignments: str, where: str, params: Sequence[Any]) -> int:
    """``mv`` for every row matching ``where``; the number of rows moved."""
    return int(run(conn, sql, moving(mv, assignments, where), move_params(mv, params)).rowcount or 0)


class Claimed(NamedTuple):
    """A claimed row, as :func:`claim` reads it (template columns ``None`` for free-text channels)."""

    id: int
    idempotency_key: str
    phone: str
    text: str | None
    loan_id: int
    account_id: int
    attempts: int
    parts: int | None
    template_version_id: int | None = None
    params: Any = None


_CLAIMED = list(Claimed._fields)
# A campaign's queued messages, through the claim's partial index ``ix_messages_queue`` (migration 0022): no
# index names ``state`` itself, so that the updates after the claim stay HOT on PostgreSQL. A query for queued rows
# says ``queued`` (the planners of both databases use a partial index only for a query that names its condition)
# and may test the state too.
QUEUED_IN_CAMPAIGN = "campaign_id = ? AND queued"
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
    base = [campaign_id, CLAIM.src[0].value]
    # Each message carries the window planning gave it (its recipient's zone, its day): nothing goes before
    # ``send_after`` and nothing at or after ``send_before`` — a campaign resumed the next day does not send
    # yesterday's texts (see ``expire_late``).
    due = (f"FROM messages WHERE {QUEUED_IN_CAMPAIGN} AND state = ?{pilot} "
           "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
           "AND (send_after IS NULL OR send_after <= ?) AND (send_before IS NULL OR send_before > ?) "
           "ORDER BY id LIMIT ?")
    pick_params = [*base, *([True] if pilot_only else []), sql.ts(now), sql.ts(now), sql.ts(now), n]
    cols = _CLAIMED if template_keys else _CLAIMED[:-2]
    stamp = sql.ts(now)
    with engine.begin() as conn:
        if sql.pg:
            # A materialised CTE runs the LIMIT once (an IN-subquery may be re-run by the planner and claim
            # more than n); SKIP LOCKED lets concurrent claimers pass each other. RETURNING reads the counted
            # attempt.
            rows = [Claimed(*r) for r in fetch(
                conn, sql,
                f"WITH picked AS MATERIALIZED (SELECT id {due} FOR UPDATE SKIP LOCKED) "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                "UPDATE messages AS m SET state = ?, submitting_at = ?, channel = ?, attempts = m.attempts + 1 "
                f"FROM picked WHERE m.id = picked.id AND m.state = ? RETURNING {', '.join(f'm.{c}' for c in cols)}",
                [*pick_params, CLAIM.dst.value, stamp, channel, CLAIM.src[0].value],
            )]
            attempts = {r.id: int(r.attempts) for r in rows}
        else:
            # SQLite has one writer at a time: read the candidates first (a WAL read, no lock held; the driver
            # opens the transaction at the first write), then claim those still queued. The lease makes this
            # sender the campaign's only claimer, so normally every candidate is claimed; if something else moved
            # one meanwhile (a cancel), the rows this UPDATE claimed are read back under its write lock.
            rows = [Claimed(*r) for r in fetch_rows(conn, sql, cols, due, pick_params)]
            if rows:
                tail, ids = sql.in_list([r.id for r in rows])
                claimed = move_where(conn, sql, CLAIM, "submitting_at = ?, channel = ?, attempts = attempts + 1",
                                     f"id{tail}", [stamp, channel, *ids])
                if claimed == len(rows):
                    attempts = {r.id: int(r.attempts) + 1 for r in rows}  # read before this claim counted it
                else:
                    attempts = {int(i): int(a) for i, a in fetch_rows(
                        conn, sql, ["id", "attempts"], f"FROM messages WHERE id{tail} AND state = ? "
                        "AND submitting_at = ? AND channel = ?", [*ids, CLAIM.dst.value, stamp, channel])}
                    rows = [r for r in rows if r.id in attempts]
        if not rows:
            # Nothing due: expire what can no longer go (only here, so a busy send never pays for the scan).
            expired = _expire_late(conn, sql, campaign_id, now)
            left = run(conn, sql, f"SELECT 1 FROM messages WHERE {QUEUED_IN_CAMPAIGN} AND state = ?{pilot} LIMIT 1",  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                       [*base, *([True] if pilot_only else [])]).first()
            return Claim([], {}, exhausted=left is None, expired=expired)
        rows.sort(key=lambda r: r.id)
        failed: dict[int, str] = {}
        codes: dict[int, str] = {}
        if template_keys:
            codes, failed, fail_rows = template_codes(conn, sql, rows, channel, template_keys, now)
            move_rows(conn, sql, FAIL, "reason = ?, detail = ?, final_at = ?", fail_rows)
            if failed:
                rows = [r for r in rows if r.id not in failed]
        why = _recheck(conn, sql, rows, now, tz, budget,
                       since=_snapshot_start(conn, sql, campaign_id, tz)) if rows else {}
        move_rows(conn, sql, SUPPRESS, "reason = ?, final_at = ?", [(reason, stamp, mid) for mid, reason in why.items()])
    if template_keys:
        out = [OutboundMessage(r.id, r.idempotency_key, r.phone, r.text or "",
                               template_code=codes[r.template_version_id],  # type: ignore[index]
                               params=json.loads(r.params) if r.params else {}, parts=int(r.parts or 1))
               for r in rows if r.id not in why]
    else:
        out = [OutboundMessage(r.id, r.idempotency_key, r.phone, r.text or "", parts=int(r.parts or 1))
               for r in rows if r.id not in why]
    return Claim(out, why, attempts, failed=failed)


LATE_DETAIL = "已过该短信的发送时段，未发送（不会延后发送）"


def _expire_late(conn: Connection, sql: Sql, campaign_id: int, now: datetime) -> int:
    """Queued messages whose own window has closed become ``expired`` (reason ``window``), never sent late."""
    return move_where(conn, sql, EXPIRE_QUEUED, "reason = 'window', final_at = ?, detail = ?",
                      f"{QUEUED_IN_CAMPAIGN} AND send_before IS NOT NULL AND send_before <= ?",
                      [sql.ts(now), LATE_DETAIL, campaign_id, sql.ts(now)])


def _snapshot_start(conn: Connection, sql: Sql, campaign_id: int, tz: ZoneInfo) -> datetime | None:
    """Local midnight of the campaign's portfolio snapshot: the export's amounts already reflect payments made
    before it, so only later payments count towards "paid" (as at planning)."""
    row = run(conn, sql, "SELECT i.as_of FROM campaigns c JOIN imports i ON i.id = c.import_id WHERE c.id = ?",
              [campaign_id]).first()
    if row is None or row[0] is None:
        return None
    as_of = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0])[:10])
    return datetime.combine(as_of, time(0), tz)


def _recheck(conn: Connection, sql: Sql, rows: Sequence[Claimed], now: datetime, tz: ZoneInfo,
             budget: ContactBudget, *, since: datetime | None = None) -> dict[int, str]:
    """Suppression right before sending; ``rows`` by id.
    ``since``: only payments from then on count towards "paid" (the snapshot's start)."""
    why: dict[int, str] = {}
    phones = sorted({r.phone for r in rows})
    in_phones, p_phones = sql.in_list(phones)
    flagged = dict(fetch(conn, sql, f"SELECT phone, kind FROM phone_flags WHERE cleared_at IS NULL AND phone{in_phones}",  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                         p_phones))
    if flagged:
        for r in rows:
            if r.phone in flagged:
                why[r.id] = BLOCKING_FLAGS.get(flagged[r.phone], str(flagged[r.phone])[:32])
    loans = sorted({r.loan_id for r in rows})
    in_loans, p_loans = sql.in_list(loans)
    after = " AND paid_at >= ?" if since is not None else ""
    paid = dict(fetch(conn, sql, f"SELECT loan_id, SUM(amount_fen) FROM payments WHERE loan_id{in_loans}{after} "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                                 "GROUP BY loan_id", [*p_loans, *([sql.ts(since)] if since is not None else [])]))
    if paid:
        accounts = sorted({r.account_id for r in rows if r.loan_id in paid})
        in_acc, p_acc = sql.in_list(accounts)
        due = dict(fetch(conn, sql, f"SELECT id, amount_due_fen FROM accounts WHERE id{in_acc}", p_acc))  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
        for r in rows:
            if r.loan_id in paid and r.account_id in due and paid[r.loan_id] >= due[r.account_id]:
                why.setdefault(r.id, "paid")
    # Contact budget in the campaign's time zone; the claimed rows themselves are already ``submitting`` and
    # counted by the query, so they are subtracted before counting them in one by one, in id order. Only
    # phones with more than one contact come back (a phone counted once is this claim's own message alone).
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = {phone: (int(day or 0), int(week or 0))
              for phone, day, week in fetch(conn, sql, *_contacts_query(sql, phones, midnight, now))}
    claimed_per_phone: dict[str, int] = {}
    for r in rows:
        claimed_per_phone[r.phone] = claimed_per_phone.get(r.phone, 0) + 1
    taken: dict[str, int] = {}
    for r in rows:
        if r.id in why:
            continue
        phone = r.phone
        own = claimed_per_phone[phone]
        day, week = counts.get(phone, (own, own))
        extra = taken.get(phone, 0)
        if day - own + extra >= budget.max_per_day or week - own + extra >= budget.max_per_7d:
            why[r.id] = "budget"
        else:
            taken[phone] = extra + 1
    return why


def _contacts_query(sql: Sql, phones: Sequence[str], midnight: datetime, now: datetime) -> tuple[str, list[Any]]:
    """Each phone's contacts today and in the last 7 days, for the phones contacted more than once: a query
    giving ``(phone, day, week)`` rows.

    It runs for every claim, so it must cost the claim's phones, never the table's size. On PostgreSQL the
    plain ``phone = ANY(…) AND state … AND submitting_at >= …`` was planned from whatever statistics the table
    had: without any, a scan of the whole table (30 ms a claim at 100,000 messages, growing with the table);
    with those autovacuum takes right after a plan (every message queued, no ``submitting_at`` yet), a scan of
    the ``submitting_at`` index over everything sent in the week. Here each phone is looked up in the phone
    index (a lateral join) and the state and time conditions are counted in the aggregate, where no index can
    be chosen for them: 7–12 ms a claim of 2,000 phones whatever the statistics. SQLite plans the ``IN`` list
    on the phone index."""
    states = [st.value for st in CONTACT_STATES]
    since = [sql.ts(midnight), sql.ts(now - timedelta(days=7))]
    if sql.pg:
        return ("SELECT p.phone, c.day, c.week FROM unnest(?::text[]) AS p(phone) CROSS JOIN LATERAL ("
                "SELECT COUNT(CASE WHEN r.submitting_at >= ? THEN 1 END) AS day, COUNT(*) AS week FROM ("
                "SELECT m.submitting_at FROM messages m WHERE m.phone = p.phone "
                "AND CASE WHEN m.state = ANY(?) THEN m.submitting_at >= ? END) AS r) AS c WHERE c.week > 1",
                [list(phones), since[0], states, since[1]])
    in_phones, p_phones = sql.in_list(phones)
    in_states, p_states = sql.in_list(states)
    return ("SELECT phone, SUM(CASE WHEN submitting_at >= ? THEN 1 ELSE 0 END), COUNT(*) FROM messages "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            f"WHERE phone{in_phones} AND state{in_states} AND submitting_at >= ? GROUP BY phone HAVING COUNT(*) > 1",
            [since[0], *p_phones, *p_states, since[1]])


# ------------------------------------------------------------------------------------------------ record


@dataclass
class Recorded:
    """What one write of submit outcomes stored, by what became of the messages: ``rate_limited`` ones went
    back to the queue without spending an attempt (they are not counted as ``retried``)."""

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
        update_rows(conn, sql, "messages", ["provider_id", "submitted_at"], ok,
                    fixed={"state": SUBMIT.dst.value, "next_attempt_at": None},
                    match={"state": [src.value for src in SUBMIT.src]})
        insert_rows(conn, sql, "message_parts", ["message_id", "channel", "provider_id", "part_no"], parts)
        move_rows(conn, sql, REQUEUE, "next_attempt_at = ?, detail = ?, attempts = attempts - ?", retry_rows)
        move_rows(conn, sql, FAIL, "reason = ?, detail = ?, final_at = ?", fail_rows)
        move_rows(conn, sql, HOLD, "reason = ?, detail = ?", hold_rows)
    out.submitted, out.failed, out.retried, out.held = len(ok), len(fail_rows), len(retry_rows), len(hold_rows)
    return out


def release(engine: Engine, sql: Sql, ids: Iterable[int], *, not_before: datetime | None = None,
            detail: str | None = None) -> int:
    """Put claimed messages that were never handed to a channel back to ``queued`` (no attempt spent)."""
    rows = [(sql.ts(not_before), detail, mid) for mid in ids]
    if not rows:
        return 0
    with engine.begin() as conn:
        move_rows(conn, sql, REQUEUE, "next_attempt_at = ?, detail = COALESCE(?, detail), attempts = attempts - 1",
                  rows)
    return len(rows)


# ------------------------------------------------------------------------------------------------ campaign


def withdraw(engine: Engine, sql: Sql, ids: Iterable[int], now: datetime) -> int:
    """Claimed messages of a campaign cancelled meanwhile: ``suppressed`` (cancelled), never sent."""
    rows = [(sql.ts(now), mid) for mid in ids]
    with engine.begin() as conn:
        move_rows(conn, sql, SUPPRESS, "reason = 'cancelled', final_at = ?", rows)
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
        return move_where(conn, sql, EXPIRE_QUEUED, "reason = 'window', final_at = ?, detail = ?", QUEUED_IN_CAMPAIGN,
                          [sql.ts(now), "超出发送时段，未发送", campaign_id])


def expire_stale(engine: Engine, sql: Sql, *, submitted_before: datetime, now: datetime, detail: str) -> int:
    """Messages ``submitted`` before the cutoff with no final delivery report become ``expired``.

    A report that arrives later still settles them (``expired → delivered / failed`` is allowed).
    """
    with engine.begin() as conn:
        return move_where(conn, sql, EXPIRE_SUBMITTED, "reason = 'dlr_timeout', final_at = ?, detail = ?",
                          "submitted_at < ?", [sql.ts(now), detail, sql.ts(submitted_before)])


# ------------------------------------------------------------------------------------------------ reconcile


# Held reasons (``messages.reason`` of a ``held`` row). All of them can be settled by a provider lookup, so every
# reconciliation looks them up again; a person resolves what no lookup can (``dunning messages resolve``).
HOLD_OUTCOME = "outcome_unknown"  # no submit_sm_resp / HTTP answer: the provider may have it
HOLD_CRASH = "crash_unreconciled"  # the sender died mid-send and the channel has no lookup
HOLD_QUERY_MISS = "query_miss"  # a lookup that is not authoritative did not find it
HOLD_QUERY_FAILED = "query_failed"  # the lookup itself timed out or failed
CHECKABLE_HOLDS = (HOLD_OUTCOME, HOLD_CRASH, HOLD_QUERY_MISS, HOLD_QUERY_FAILED)


def error_detail(exc: ChannelError) -> str:
    return f"{exc.message_zh}（{exc.code}）"
