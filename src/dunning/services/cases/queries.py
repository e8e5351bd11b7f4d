"""Read models of cases: the queue (filters, SLA colour, keyset pages) and the case page with the borrower's
timeline, scoped to the viewer — operators every case, compliance the complaints, an agency user the cases of
their agency's accounts (anything else is "not found"). Phones are masked for agency users."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dunning.db.bulk import read_frame
from dunning.db.case_models import Case, CaseNote
from dunning.db.models import Message, Payment, Reply
from dunning.domain.cases import (
    CASE_STATE_EN,
    CASE_STATE_ZH,
    CASE_TYPE_EN,
    CASE_TYPE_ZH,
    OPEN_STATES,
    CaseType,
    case_number,
)
from dunning.domain.masking import mask_phone
from dunning.errors import NotFoundError
from dunning.services.cases.commands import visible
from dunning.services.cases.policy import load_case_policy
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role

DUE_SOON = timedelta(hours=24)
_OPEN = tuple(s.value for s in OPEN_STATES)
_NONE = "\x00none"


def sla_of(state: str, due: datetime | None, ack_due: datetime | None, acknowledged: datetime | None,
           now: datetime) -> str:
    """``closed`` | ``overdue`` (past due, or past the acknowledgement time unacknowledged) | ``due_soon`` | ``ok``."""
    if state not in _OPEN:
        return "closed"
    if (due and now >= due) or (ack_due and acknowledged is None and now >= ack_due):
        return "overdue"
    if (due and now >= due - DUE_SOON) or (ack_due and acknowledged is None and now >= ack_due - DUE_SOON):
        return "due_soon"
    return "ok"


def show_phone(viewer: Principal, phone: str) -> str:
    return mask_phone(phone) if viewer.role is Role.AGENCY else phone


def _scope(viewer: Principal) -> Any:
    """The SQL condition of the cases ``viewer`` may see (mirrors :func:`commands.visible`)."""
    if viewer.role is Role.AGENCY:
        return Case.agency == (viewer.agency or _NONE)
    if viewer.has(Role.OPERATOR):
        return and_(True)
    if viewer.role is Role.COMPLIANCE:
        return Case.type == CaseType.COMPLAINT.value
    return Case.id < 0


@dataclass
class CaseRow:
    id: int
    number: str
    type: str
    type_zh: str
    type_en: str
    state: str
    state_zh: str
    state_en: str
    source: str
    phone: str
    loan_ids: list[str]
    team: str
    owner: str | None
    opened_at: datetime
    ack_due_at: datetime | None
    due_at: datetime
    resolved_at: datetime | None
    outcome: str | None
    sla: str
    summary: str


@dataclass
class CasePage:
    items: list[CaseRow]
    next_cursor: int | None
    counts: dict[str, int] = field(default_factory=dict)  # open cases of the viewer by SLA


def _row(c: Case, viewer: Principal, now: datetime) -> CaseRow:
    return CaseRow(c.id, case_number(c.id), c.type, CASE_TYPE_ZH.get(c.type, c.type), CASE_TYPE_EN.get(c.type, c.type),
                   c.state, CASE_STATE_ZH.get(c.state, c.state), CASE_STATE_EN.get(c.state, c.state), c.source,
                   show_phone(viewer, c.phone), list(c.loan_ids or []), c.team, c.owner, c.opened_at or now,
                   c.ack_due_at, c.due_at or now, c.resolved_at, c.outcome,
                   sla_of(c.state, c.due_at, c.ack_due_at, c.acknowledged_at, now), c.summary[:80])


def list_cases(ctx: AppContext, viewer: Principal, *, type: str | None = None, state: str | None = None,
               due: str | None = None, overdue: bool = False, owner: str | None = None, team: str | None = None,
               cursor: int | None = None, limit: int = 50) -> CasePage:
    """The queue, most urgent first within a page of ids (keyset by id, newest first). ``state`` ``open`` means
    any open state; ``due`` ``today`` / ``week`` keeps open cases due by the end of today / in 7 days;
    ``overdue`` keeps open cases past their due (or acknowledgement) time."""
    now = ctx.now()
    q = select(Case).where(_scope(viewer))
    if type:
        q = q.where(Case.type == type)
    if state == "open":
        q = q.where(Case.state.in_(_OPEN))
    elif state:
        q = q.where(Case.state == state)
    if owner:
        q = q.where(Case.owner.is_(None)) if owner == "-" else q.where(Case.owner == owner)
    if team:
        q = q.where(Case.team == team)
    if due in ("today", "week"):
        local = now.astimezone(ctx.tz)
        end = datetime.combine(local.date() + timedelta(days=1 if due == "today" else 7), datetime.min.time(), ctx.tz)
        q = q.where(Case.state.in_(_OPEN), Case.due_at <= end.astimezone(UTC))
    if overdue:
        q = q.where(Case.state.in_(_OPEN), or_(Case.due_at <= now, and_(Case.ack_due_at <= now,
                                                                           Case.acknowledged_at.is_(None))))
    if cursor:
        q = q.where(Case.id < cursor)
    with ctx.db.transaction() as s:
        rows = list(s.scalars(q.order_by(Case.id.desc()).limit(limit + 1)).all())
        counts = _sla_counts(s, viewer, now)
    more = len(rows) > limit
    rows = rows[:limit]
    return CasePage([_row(c, viewer, now) for c in rows], rows[-1].id if more and rows else None, counts)


def _sla_counts(s: Session, viewer: Principal, now: datetime) -> dict[str, int]:
    frame = sla_frame(s, now, scope=_scope(viewer))
    return {str(k): int(v) for k, v in frame.group_by("sla").len().iter_rows()}


def sla_frame(s: Session, now: datetime, *, scope: Any = None) -> pl.DataFrame:
    """Every open case (id, type, team, owner, due times) with its SLA class, computed in one Polars pass:
    the overdue queue of the whole book without a Python loop."""
    q = select(Case.id, Case.type, Case.team, Case.owner, Case.due_at, Case.ack_due_at, Case.acknowledged_at
               ).where(Case.state.in_(_OPEN))
    if scope is not None:
        q = q.where(scope)
    ts = pl.Datetime("us", "UTC")
    frame = read_frame(s, q, schema={"id": pl.Int64, "type": pl.Utf8, "team": pl.Utf8, "owner": pl.Utf8,
                                     "due_at": pl.Datetime("us"), "ack_due_at": pl.Datetime("us"),
                                     "acknowledged_at": pl.Datetime("us")})
    frame = frame.with_columns(pl.col(c).dt.replace_time_zone("UTC") if frame.schema[c] != ts else pl.col(c)
                               for c in ("due_at", "ack_due_at", "acknowledged_at"))
    at = pl.lit(now.astimezone(UTC)).cast(ts)
    unacked = pl.col("acknowledged_at").is_null() & pl.col("ack_due_at").is_not_null()
    overdue = (pl.col("due_at") <= at) | (unacked & (pl.col("ack_due_at") <= at))
    soon = (pl.col("due_at") <= at + DUE_SOON) | (unacked & (pl.col("ack_due_at") <= at + DUE_SOON))
    return frame.with_columns(pl.when(overdue).then(pl.lit("overdue")).when(soon).then(pl.lit("due_soon"))
                              .otherwise(pl.lit("ok")).alias("sla"))


# ------------------------------------------------------------------------------------------------ one case


@dataclass
class TimelineItem:
    at: datetime | None
    kind: str  # opened | message | reply | payment | note | state | assign | outcome
    text_zh: str
    text_en: str
    author: str = ""


@dataclass
class CaseView:
    case: CaseRow
    message_id: int | None
    subject: str | None
    acknowledged_at: datetime | None
    outcome_data: dict[str, Any]
    outcomes: dict[str, dict[str, str]]  # outcome → its fields (kind)
    timeline: list[TimelineItem]
    may_assign: bool


def case_view(ctx: AppContext, viewer: Principal, case_id: int) -> CaseView:
    now = ctx.now()
    with ctx.db.transaction() as s:
        c = s.get(Case, case_id)
        if c is None or not visible(viewer, c):
            raise NotFoundError(f"案件 {case_number(case_id)} 不存在", f"case {case_number(case_id)} not found",
                                code="not_found.case")
        notes = s.scalars(select(CaseNote).where(CaseNote.case_id == c.id).order_by(CaseNote.id)).all()
        msgs = s.scalars(select(Message).where(Message.phone == c.phone, Message.is_test.is_(False))
                         .order_by(Message.id.desc()).limit(30)).all()
        replies = s.scalars(select(Reply).where(Reply.phone == c.phone).order_by(Reply.id.desc()).limit(30)).all()
        pays = s.scalars(select(Payment).where(Payment.loan_id.in_(list(c.loan_ids or [])))
                         .order_by(Payment.paid_at.desc()).limit(30)).all() if c.loan_ids else []
        row = _row(c, viewer, now)
        items = [TimelineItem(c.opened_at, "opened", f"开立（来源：{c.source}）：{c.summary}",
                              f"opened (source: {c.source}): {c.summary}", c.opened_by)]
        for m in msgs:
            when = m.submitted_at or m.scheduled_at
            text = m.text or ""
            items.append(TimelineItem(when, "message", f"短信 #{m.id}（{m.state}{'，' + m.reason if m.reason else ''}）：{text}",
                                      f"SMS #{m.id} ({m.state}{', ' + m.reason if m.reason else ''}): {text}"))
        for r in replies:
            items.append(TimelineItem(r.received_at, "reply", f"回复（{r.classification}）：{r.text}",
                                      f"reply ({r.classification}): {r.text}"))
        for p in pays:
            items.append(TimelineItem(p.paid_at, "payment", f"还款 {p.loan_id}：¥{p.amount_fen / 100:,.2f}",
                                      f"payment {p.loan_id}: ¥{p.amount_fen / 100:,.2f}"))
        for n in notes:
            zh, en = _note_text(n)
            items.append(TimelineItem(n.at, n.kind, zh, en, n.author))
        outcomes = {k: {f: str(t) for f, t in v.items()} for k, v in load_case_policy(ctx.settings.policy_profile).rule(c.type).outcomes.items()}
        subject = f"{c.subject_type}#{c.subject_id}" if c.subject_type else None
        view = CaseView(row, c.message_id, subject, c.acknowledged_at, dict(c.outcome_data or {}), outcomes,
                        sorted(items, key=lambda i: i.at or now, reverse=True), viewer.role is not Role.AGENCY)
    return view


def _note_text(n: CaseNote) -> tuple[str, str]:
    d = n.data or {}
    if n.kind == "state":
        return (f"状态：{CASE_STATE_ZH.get(d.get('from', ''), '')} → {CASE_STATE_ZH.get(d.get('to', ''), '')}"
                f"{'：' + n.text if n.text else ''}",
                f"state: {d.get('from')} → {d.get('to')}{': ' + n.text if n.text else ''}")
    if n.kind == "assign":
        return f"分派给 {d.get('owner') or '（未指定）'}（{d.get('team')}）", f"assigned to {d.get('owner') or '—'} ({d.get('team')})"
    if n.kind == "outcome":
        terms = "，".join(f"{k}={v}" for k, v in (d.get("terms") or {}).items())
        return (f"结案：{d.get('outcome')}{'（' + terms + '）' if terms else ''}{'：' + n.text if n.text else ''}",
                f"closed: {d.get('outcome')}{' (' + terms + ')' if terms else ''}{': ' + n.text if n.text else ''}")
    return f"备注：{n.text}", f"note: {n.text}"


def open_summary(ctx: AppContext, *, overdue_only: bool = False) -> list[dict[str, Any]]:
    """Open cases counted by type, team and SLA class (the whole book; for the CLI, the demo and the bench)."""
    with ctx.db.transaction() as s:
        frame = sla_frame(s, ctx.now())
    if overdue_only:
        frame = frame.filter(pl.col("sla") == "overdue")
    counts = frame.group_by("type", "team", "sla").len().sort("type", "team", "sla")
    return [{"type": t, "team": team, "sla": sla, "count": int(n)} for t, team, sla, n in counts.iter_rows()]
