"""Ingest delivery reports (DLR) and replies (MO), from webhooks and from connection-oriented channels alike.

Every DLR is stored, matched or not. A multi-part message has one final state: failed if any part failed,
delivered only when every part is delivered (a later part's success never hides an earlier failure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from dunning.channels.base import ChannelEvent, DeliveryReport, DeliveryStatus, InboundMessage
from dunning.channels.dlr import part_state
from dunning.db.bulk import Sql, fetch_rows, insert_rows, key_in
from dunning.db.models import Message, PhoneFlag, Reply
from dunning.dispatch.outbox import move_where
from dunning.domain.masking import mask_phone
from dunning.domain.replies import classify_reply
from dunning.domain.states import MessageState, move
from dunning.services import audit

_CHUNK = 2000
SETTLEABLE = (MessageState.SUBMITTED, MessageState.HELD, MessageState.EXPIRED, MessageState.SUBMITTING)


def ingest_events(
    s: Session,
    channel: str,
    events: Sequence[ChannelEvent],
    *,
    now: datetime,
    stop_keywords: Sequence[str],
    dispute_keywords: Sequence[str],
    case_keywords: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, int]:
    """Store receipts and replies. With ``case_keywords`` (the policy's), replies that ask for one open borrower
    cases (:mod:`dunning.services.cases.intake`) in the same transaction; ``counts["cases"]`` says how many."""
    dlrs = [e for e in events if isinstance(e, DeliveryReport)]
    mos = [e for e in events if isinstance(e, InboundMessage)]
    counts = {"dlr": len(dlrs), "dlr_unmatched": 0, "mo": len(mos), "opt_out": 0, "dispute": 0, "cases": 0}
    if dlrs:
        counts["dlr_unmatched"] = _ingest_dlrs(s, channel, dlrs, now)
    if mos:
        kinds, stored = _ingest_mos(s, channel, mos, now, stop_keywords, dispute_keywords, bool(case_keywords))
        for kind in kinds:
            if kind in counts:
                counts[kind] += 1
        if case_keywords and stored:
            from dunning.services.cases.intake import open_from_replies, reply_frame
            from dunning.services.cases.policy import load_case_policy

            opened = open_from_replies(s, reply_frame(stored), case_keywords, load_case_policy(), now)
            counts["cases"] = sum(opened.values())
    return counts


def _ingest_dlrs(s: Session, channel: str, dlrs: Sequence[DeliveryReport], now: datetime) -> int:
    """Store every report and settle the messages whose parts are now final; returns the number of reports for
    ids we never sent (kept, with no message).

    Plain SQL executemany (:mod:`dunning.db.bulk`): a busy channel returns tens of thousands of receipts a
    second, and the ORM's per-row work cost several times the database's. A part's state is what its stored
    reports say (:func:`~dunning.channels.dlr.part_state`), so a receipt writes its report row and, when it
    settles a message, the message row — no part row (issue #23: one row update less per message). Most
    messages have one part: the batch's reports settle them directly, and an earlier final state is kept by
    the message's own state machine (a ``failed`` message is not settled again). Messages of several parts are
    settled from all their parts' reports (:func:`_settle`).
    """
    conn = s.connection()
    sql = Sql(conn.engine)
    part_of: dict[str, tuple[int, int]] = {}  # provider id → (message id, parts)
    ids = list({d.provider_id for d in dlrs})
    for i in range(0, len(ids), _CHUNK):
        tail, params = sql.in_list(ids[i:i + _CHUNK])
        for pid, mid, parts in fetch_rows(
                conn, sql, ["p.provider_id", "p.message_id",
                            "(SELECT COUNT(*) FROM message_parts q WHERE q.message_id = p.message_id)"],
                f"FROM message_parts p WHERE p.channel = ? AND p.provider_id{tail}", [channel, *params]):
            part_of[str(pid)] = (int(mid), int(parts))
    received = sql.ts(now)
    stamps: dict[datetime | None, Any] = {}
    rows: list[tuple[Any, ...]] = []
    said: dict[str, list[str]] = {}  # provider id → this batch's statuses, in order
    for d in dlrs:  # one pass: the report rows and what each matched part's reports say
        done = d.done_at
        if done not in stamps:
            stamps[done] = sql.ts(done)
        pid = d.provider_id
        hit = part_of.get(pid)
        st = str(d.status)
        rows.append((channel, pid, hit[0] if hit else None, st, d.error_code, stamps[done], received, d.raw))
        if hit is not None:
            said.setdefault(pid, []).append(st)
    insert_rows(conn, sql, "delivery_reports", ["channel", "provider_id", "message_id", "status", "error_code", "done_at",
                                                "received_at", "raw"], rows)
    settled: dict[str, list[int]] = {}  # single-part messages by their new state
    several: set[int] = set()
    for pid, statuses in said.items():
        mid, parts = part_of[pid]
        if parts > 1:
            several.add(mid)
        elif (state := part_state(statuses)) is not None:
            settled.setdefault(state, []).append(mid)
    ts = sql.ts(now)
    for st, mids in settled.items():
        _update_messages(conn, sql, st, _REASON.get(st), ts, mids)
    if several:
        _settle(conn, sql, sorted(several), now)
    return sum(1 for d in dlrs if d.provider_id not in part_of)


_REASON = {"failed": "dlr_failed", "expired": "dlr_expired"}
# What a final delivery report does to a message still awaiting one (checked against MESSAGE_TRANSITIONS).
_SETTLE = {st: move(SETTLEABLE, st) for st in (MessageState.DELIVERED, MessageState.FAILED, MessageState.EXPIRED)}


def _update_messages(conn: Connection, sql: Sql, state: str, reason: str | None, at: Any, ids: list[int]) -> None:
    """Messages ``ids`` reach their final ``state`` (if still awaiting one, or expired by the sweep).

    Set-based: one ``UPDATE … WHERE id IN (…)`` per chunk of ids (about half the cost of a row-by-row
    executemany, and this runs for every message of a campaign)."""
    mv = _SETTLE[MessageState(state)]
    ids.sort()
    for i in range(0, len(ids), _CHUNK):
        tail, params = sql.in_list(ids[i:i + _CHUNK])
        move_where(conn, sql, mv, "reason = ?, final_at = ?", f"id{tail}", [reason, at, *params])


def _settle(conn: Connection, sql: Sql, message_ids: list[int], now: datetime) -> None:
    """Derive each message's final state from its parts' reports (all of them, this batch's included): failed
    if any part failed, expired if any expired, delivered when every part is delivered; otherwise unchanged."""
    final: dict[str, list[int]] = {}
    for i in range(0, len(message_ids), _CHUNK):
        tail, params = sql.in_list(message_ids[i:i + _CHUNK])
        parts: dict[int, dict[tuple[str, str], list[str]]] = {}  # message → (channel, provider id) → statuses
        for mid, ch, pid in fetch_rows(conn, sql, ["message_id", "channel", "provider_id"],
                                       f"FROM message_parts WHERE message_id{tail}", params):
            parts.setdefault(int(mid), {})[(str(ch), str(pid))] = []
        for mid, ch, pid, st in fetch_rows(conn, sql, ["message_id", "channel", "provider_id", "status"],
                                           f"FROM delivery_reports WHERE message_id{tail} ORDER BY id", params):
            said = parts.get(int(mid), {}).get((str(ch), str(pid)))
            if said is not None:
                said.append(str(st))
        for mid, by_part in parts.items():
            states = [part_state(statuses) for statuses in by_part.values()]
            if DeliveryStatus.FAILED in states:
                final.setdefault(MessageState.FAILED.value, []).append(mid)
            elif DeliveryStatus.EXPIRED in states:
                final.setdefault(MessageState.EXPIRED.value, []).append(mid)
            elif all(st == DeliveryStatus.DELIVERED for st in states):
                final.setdefault(MessageState.DELIVERED.value, []).append(mid)
    ts = sql.ts(now)
    for st, mids in final.items():
        _update_messages(conn, sql, st, _REASON.get(st), ts, mids)


def _ingest_mos(s: Session, channel: str, mos: Sequence[InboundMessage], now: datetime, stop_kw: Sequence[str],
                dispute_kw: Sequence[str], with_ids: bool = False
                ) -> tuple[list[str], list[tuple[int, str, int | None, str, datetime]]]:
    """Store each reply against the phone's latest sent message; an opt-out or dispute raises the phone's flag
    (again, if it was cleared) with an audit event. Returns each reply's classification, in order, and (with
    ``with_ids``) each stored reply as (id, phone, message id, text, received at) for opening cases.

    One query for the latest messages and one for the flags of the whole batch: a large campaign's replies
    arrive by the hundreds with its receipts."""
    kinds = [classify_reply(mo.text, stop_kw, dispute_kw) for mo in mos]
    phones = sorted({mo.phone for mo in mos})
    last: dict[str, int] = {}
    flags: dict[tuple[str, str], PhoneFlag] = {}
    for i in range(0, len(phones), _CHUNK):
        chunk = phones[i:i + _CHUNK]
        last.update((str(phone), int(mid)) for phone, mid in s.execute(
            select(Message.phone, func.max(Message.id))
            .where(key_in(s, Message.phone, chunk), Message.state.in_((MessageState.SUBMITTED, MessageState.DELIVERED)))
            .group_by(Message.phone)).all())
        flags.update(((f.phone, f.kind), f) for f in s.scalars(select(PhoneFlag).where(key_in(s, PhoneFlag.phone, chunk))))
    rows: list[dict[str, Any]] = [
        {"channel": channel, "phone": mo.phone, "text": mo.text, "classification": kind,
         "message_id": last.get(mo.phone), "received_at": mo.received_at or now}
        for mo, kind in zip(mos, kinds, strict=True)]
    stored: list[tuple[int, str, int | None, str, datetime]] = []
    if with_ids:
        ids = s.scalars(insert(Reply).returning(Reply.id, sort_by_parameter_order=True), rows).all()
        stored = [(int(i), r["phone"], r["message_id"], r["text"], r["received_at"]) for i, r in zip(ids, rows, strict=True)]
    else:
        s.execute(insert(Reply), rows)
    for mo, kind in zip(mos, kinds, strict=True):
        if kind not in ("opt_out", "dispute"):
            continue
        flag = "opted_out" if kind == "opt_out" else "dispute"
        existing = flags.get((mo.phone, flag))
        if existing is not None and existing.cleared_at is None:
            continue
        detail = f"短信回复：{mo.text[:50]}"
        if existing is None:  # a cleared flag is raised again by a new reply
            flags[(mo.phone, flag)] = PhoneFlag(phone=mo.phone, kind=flag, detail=detail, created_at=now)
            s.add(flags[(mo.phone, flag)])
        else:
            existing.cleared_at, existing.detail = None, detail
        audit.record(s, at=now, actor="system", action=f"phone.{flag}", entity="phone",
                     entity_id=mask_phone(mo.phone), after={"reply": mo.text[:50], "message_id": last.get(mo.phone)})
    return kinds, stored
