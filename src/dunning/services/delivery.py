"""Ingest delivery reports (DLR) and replies (MO), from webhooks and from connection-oriented channels alike.

Every DLR is stored, matched or not. A multi-part message has one final state: failed if any part failed,
delivered only when every part is delivered (a later part's success never hides an earlier failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from dunning.channels.base import ChannelEvent, DeliveryReport, DeliveryStatus, InboundMessage
from dunning.db.models import DeliveryReportRow, Message, MessagePart, PhoneFlag, Reply
from dunning.domain.masking import mask_phone
from dunning.domain.replies import classify_reply
from dunning.domain.states import MessageState
from dunning.services import audit

MT: Table = Message.__table__  # type: ignore[assignment]
PT: Table = MessagePart.__table__  # type: ignore[assignment]
_CHUNK = 500
SETTLEABLE = (MessageState.SUBMITTED, MessageState.HELD, MessageState.EXPIRED, MessageState.SUBMITTING)


def ingest_events(
    s: Session,
    channel: str,
    events: Sequence[ChannelEvent],
    *,
    now: datetime,
    stop_keywords: Sequence[str],
    dispute_keywords: Sequence[str],
) -> dict[str, int]:
    dlrs = [e for e in events if isinstance(e, DeliveryReport)]
    mos = [e for e in events if isinstance(e, InboundMessage)]
    counts = {"dlr": len(dlrs), "dlr_unmatched": 0, "mo": len(mos), "opt_out": 0, "dispute": 0}
    if dlrs:
        counts["dlr_unmatched"] = _ingest_dlrs(s, channel, dlrs, now)
    for mo in mos:
        kind = _ingest_mo(s, channel, mo, now, stop_keywords, dispute_keywords)
        if kind in counts:
            counts[kind] += 1
    return counts


def _ingest_dlrs(s: Session, channel: str, dlrs: Sequence[DeliveryReport], now: datetime) -> int:
    part_of: dict[str, int] = {}
    ids = list({d.provider_id for d in dlrs})
    for i in range(0, len(ids), _CHUNK):
        part_of.update(
            s.execute(
                select(MessagePart.provider_id, MessagePart.message_id).where(
                    MessagePart.channel == channel, MessagePart.provider_id.in_(ids[i:i + _CHUNK])
                )
            ).all()
        )
    s.execute(
        insert(DeliveryReportRow),
        [
            {"channel": channel, "provider_id": d.provider_id, "message_id": part_of.get(d.provider_id),
             "status": d.status.value, "error_code": d.error_code, "done_at": d.done_at, "received_at": now,
             "raw": d.raw}
            for d in dlrs
        ],
    )
    final = [d for d in dlrs if d.status != DeliveryStatus.UNKNOWN and d.provider_id in part_of]
    if final:
        s.execute(
            update(PT)
            # Worst part wins: some gateways (Kannel) send one receipt per part under one id; a later
            # "delivered" must never overwrite an earlier "failed".
            .where(PT.c.channel == channel, PT.c.provider_id == bindparam("pid"),
                   or_(PT.c.status.is_(None), PT.c.status != DeliveryStatus.FAILED.value))
            .values(status=bindparam("st")),
            [{"pid": d.provider_id, "st": d.status.value} for d in final],
        )
        _settle(s, sorted({part_of[d.provider_id] for d in final}), now)
    return sum(1 for d in dlrs if d.provider_id not in part_of)


def _settle(s: Session, message_ids: list[int], now: datetime) -> None:
    """Derive each message's final state from its parts' states."""
    updates = []
    for i in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[i:i + _CHUNK]
        rows = s.execute(
            select(
                MessagePart.message_id,
                func.count(),
                func.sum(case((MessagePart.status == "delivered", 1), else_=0)),
                func.sum(case((MessagePart.status == "failed", 1), else_=0)),
                func.sum(case((MessagePart.status == "expired", 1), else_=0)),
            )
            .where(MessagePart.message_id.in_(chunk))
            .group_by(MessagePart.message_id)
        ).all()
        for mid, total, delivered, failed, expired in rows:
            if failed:
                updates.append({"mid": mid, "st": MessageState.FAILED.value, "why": "dlr_failed"})
            elif expired:
                updates.append({"mid": mid, "st": MessageState.EXPIRED.value, "why": "dlr_expired"})
            elif delivered == total:
                updates.append({"mid": mid, "st": MessageState.DELIVERED.value, "why": None})
    if updates:
        s.execute(
            update(MT)
            .where(MT.c.id == bindparam("mid"), or_(*(MT.c.state == st.value for st in SETTLEABLE)))
            .values(state=bindparam("st"), reason=bindparam("why"), final_at=now),
            updates,
        )


def _ingest_mo(
    s: Session, channel: str, mo: InboundMessage, now: datetime, stop_kw: Sequence[str], dispute_kw: Sequence[str]
) -> str:
    kind = classify_reply(mo.text, stop_kw, dispute_kw)
    last = s.scalars(
        select(Message.id).where(Message.phone == mo.phone, Message.state.in_(
            (MessageState.SUBMITTED, MessageState.DELIVERED))).order_by(Message.id.desc()).limit(1)
    ).first()
    s.add(Reply(channel=channel, phone=mo.phone, text=mo.text, classification=kind, message_id=last,
                received_at=mo.received_at or now))
    if kind in ("opt_out", "dispute"):
        flag = "opted_out" if kind == "opt_out" else "dispute"
        existing = s.scalars(select(PhoneFlag).where(PhoneFlag.phone == mo.phone, PhoneFlag.kind == flag)).first()
        if existing is None or existing.cleared_at is not None:  # a cleared flag is raised again by a new reply
            if existing is None:
                s.add(PhoneFlag(phone=mo.phone, kind=flag, detail=f"短信回复：{mo.text[:50]}", created_at=now))
            else:
                existing.cleared_at, existing.detail = None, f"短信回复：{mo.text[:50]}"
            audit.record(s, at=now, actor="system", action=f"phone.{flag}", entity="phone",
                         entity_id=mask_phone(mo.phone), after={"reply": mo.text[:50], "message_id": last})
    return kind
