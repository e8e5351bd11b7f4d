"""Case commands: open, assign (one or many), note, move, resolve. One transaction each, with an audit event
(who, before, after) and a line in the case's history."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from dunning.db.case_models import Case, CaseNote
from dunning.db.models import Account, Message
from dunning.domain.cases import (
    CASE_STATE_ZH,
    CASE_TYPE_ZH,
    CLOSED_STATES,
    OPEN_STATES,
    CaseState,
    CaseType,
    case_can,
    case_number,
)
from dunning.domain.masking import mask_phone
from dunning.errors import InputError, NotFoundError, PermissionDenied, StateError
from dunning.services import audit
from dunning.services.cases.due import due_at
from dunning.services.cases.policy import CasePolicy, load_case_policy
from dunning.services.cases.suppression import raise_flags, release_flags
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role

NOTE_MAX = 2000
SOURCES = ("reply", "self_service", "hotline", "manual")
_OPEN = tuple(s.value for s in OPEN_STATES)


@dataclass(frozen=True)
class CaseRef:
    id: int
    number: str
    type: str
    state: str
    due_at: datetime
    created: bool = True  # False when an open case of the same type for the phone took the request


@dataclass(frozen=True)
class OpenRequest:
    type: str
    phone: str
    source: str = "manual"
    summary: str = ""
    message_id: int | None = None
    loan_ids: tuple[str, ...] = ()
    subject_type: str | None = None
    subject_id: str | None = None


# ------------------------------------------------------------------------------------------- who may do what


def may_work(viewer: Principal, case_type: str) -> bool:
    """Operators work every case; compliance works complaints; agency users their accounts' cases (see queries)."""
    if viewer.has(Role.OPERATOR, Role.AGENCY):
        return True
    return viewer.role is Role.COMPLIANCE and case_type == CaseType.COMPLAINT


def visible(viewer: Principal, case: Case) -> bool:
    if viewer.role is Role.AGENCY:
        return viewer.agency is not None and case.agency == viewer.agency
    return may_work(viewer, case.type)


def _load(s: Session, viewer: Principal, case_id: int, *, for_update: bool = True) -> Case:
    case = s.get(Case, case_id, with_for_update=for_update)
    if case is None or not visible(viewer, case):  # "not found", never "forbidden": it would confirm it exists
        raise NotFoundError(f"案件 {case_number(case_id)} 不存在", f"case {case_number(case_id)} not found",
                            code="not_found.case")
    return case


def _note(s: Session, case: Case, at: datetime, author: str, kind: str, text: str = "",
          data: dict[str, Any] | None = None) -> None:
    s.add(CaseNote(case_id=case.id, at=at, author=author, kind=kind, text=text, data=data or {}))
    case.updated_at = at


def clean_text(text: str, limit: int = NOTE_MAX) -> str:
    t = text.strip()
    if len(t) > limit:
        raise InputError(f"内容过长（最多 {limit} 字）", f"text too long (at most {limit} characters)",
                         code="input.too_long")
    return t


def normalise_phone(raw: str) -> str:
    try:
        num = phonenumbers.parse(raw.strip(), "CN")
    except phonenumbers.NumberParseException:
        num = None
    if num is None or not phonenumbers.is_valid_number(num):
        raise InputError("手机号无法识别", "phone number not recognised", code="input.phone")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


# ------------------------------------------------------------------------------------------------- open


def _borrower(s: Session, phone: str, message_id: int | None, loan_ids: tuple[str, ...]
              ) -> tuple[list[str], str | None, int | None]:
    """Loan ids, agency and related message of a phone: from the given message, else its latest messages."""
    q = (select(Message.id, Message.loan_id, Account.agency).join(Account, Account.id == Message.account_id)
         .where(Message.phone == phone).order_by(Message.id.desc()).limit(20))
    if message_id is not None:
        q = q.where(Message.id == message_id)
    rows = s.execute(q).all()
    loans = list(dict.fromkeys([*loan_ids, *(r.loan_id for r in rows)]))[:10]
    return loans, (rows[0].agency if rows else None), (rows[0].id if rows else None)


def open_in(s: Session, req: OpenRequest, *, actor: str, now: datetime, policy: CasePolicy, tz: Any) -> CaseRef:
    """Open a case inside the caller's transaction; an open case of the same type for the phone takes the request
    as a note instead (the borrower asking twice is one piece of work)."""
    if req.type not in policy.types:
        raise InputError(f"未知的案件类型：{req.type}", f"unknown case type: {req.type}", code="input.case_type")
    if req.source not in SOURCES:
        raise InputError(f"未知的案件来源：{req.source}", f"unknown case source: {req.source}", code="input.case_source")
    summary = clean_text(req.summary)
    existing = s.scalars(select(Case).where(Case.phone == req.phone, Case.type == req.type, Case.state.in_(_OPEN))
                         .order_by(Case.id).limit(1)).first()
    if existing is not None:
        _note(s, existing, now, actor, "note", summary or "再次提出同类请求",
              {"source": req.source, "again": True})
        return CaseRef(existing.id, case_number(existing.id), existing.type, existing.state, existing.due_at, False)
    rule = policy.rule(req.type)
    loans, agency, message_id = _borrower(s, req.phone, req.message_id, req.loan_ids)
    case = Case(type=req.type, state=CaseState.NEW.value, source=req.source, phone=req.phone, loan_ids=loans,
                agency=agency, message_id=req.message_id or message_id, subject_type=req.subject_type,
                subject_id=req.subject_id, team=rule.team, summary=summary, opened_by=actor, opened_at=now,
                ack_due_at=due_at(now, rule.acknowledge, tz, policy.working_days) if rule.acknowledge else None,
                due_at=due_at(now, rule.resolve, tz, policy.working_days), outcome_data={}, updated_at=now)
    s.add(case)
    s.flush()
    if rule.suppress == "stop":
        raise_flags(s, [req.phone], f"案件 {case_number(case.id)}（{CASE_TYPE_ZH[req.type]}）处理中", now)
    audit.record(s, at=now, actor=actor, action="case.open", entity="case", entity_id=case.id,
                 after={"type": req.type, "source": req.source, "phone": mask_phone(req.phone), "loans": loans,
                        "due_at": case.due_at.isoformat()})
    return CaseRef(case.id, case_number(case.id), case.type, case.state, case.due_at)


def open_case(ctx: AppContext, viewer: Principal, req: OpenRequest) -> CaseRef:
    """Open a case by hand or from the hotline view (the viewer must be allowed to work that type)."""
    if not may_work(viewer, req.type) or viewer.role is Role.AGENCY:
        raise PermissionDenied("您的角色不能开立此类案件", "your role may not open this kind of case")
    policy = load_case_policy(ctx.settings.policy_profile)
    with ctx.db.transaction() as s:
        return open_in(s, req, actor=viewer.username, now=ctx.now(), policy=policy, tz=ctx.tz)


# ------------------------------------------------------------------------------------------ assign, note


def assign(ctx: AppContext, viewer: Principal, case_ids: list[int], owner: str | None, team: str | None = None) -> int:
    """Give cases to a person (``owner``) and/or a team; returns how many changed. Bulk assignment is one
    transaction: all of them or none."""
    if viewer.role is Role.AGENCY:
        raise PermissionDenied("委外机构用户不能分派案件", "agency users may not assign cases")
    if not case_ids:
        raise InputError("请选择要分派的案件", "select the cases to assign", code="input.empty")
    owner = (owner or "").strip()[:64] or None
    team = (team or "").strip()[:32] or None
    now = ctx.now()
    changed = 0
    with ctx.db.transaction() as s:
        for cid in sorted(set(case_ids)):
            case = _load(s, viewer, cid)
            if CaseState(case.state) in CLOSED_STATES:
                raise StateError(f"案件 {case_number(cid)} 已结案，不能分派", f"case {case_number(cid)} is closed")
            before = {"owner": case.owner, "team": case.team}
            if owner == case.owner and (team is None or team == case.team):
                continue
            case.owner = owner
            if team is not None:
                case.team = team
            _note(s, case, now, viewer.username, "assign", "", {"owner": owner, "team": case.team})
            audit.record(s, at=now, actor=viewer.username, action="case.assign", entity="case", entity_id=cid,
                         before=before, after={"owner": owner, "team": case.team})
            changed += 1
    return changed


def add_note(ctx: AppContext, viewer: Principal, case_id: int, text: str) -> None:
    body = clean_text(text)
    if not body:
        raise InputError("备注不能为空", "the note is empty", code="input.empty")
    now = ctx.now()
    with ctx.db.transaction() as s:
        case = _load(s, viewer, case_id)
        _note(s, case, now, viewer.username, "note", body)
        audit.record(s, at=now, actor=viewer.username, action="case.note", entity="case", entity_id=case_id,
                     after={"chars": len(body)})


# ----------------------------------------------------------------------------------------- state, resolve


def transition(ctx: AppContext, viewer: Principal, case_id: int, to: str, note: str = "") -> str:
    """Move an open case to ``in_progress`` or ``waiting`` (closing goes through :func:`resolve`). The first
    move acknowledges the case."""
    try:
        dst = CaseState(to)
    except ValueError:
        raise InputError(f"未知的案件状态：{to}", f"unknown case state: {to}", code="input.case_state") from None
    if dst in CLOSED_STATES:
        raise InputError("结案请选择处理结果", "closing a case needs an outcome", code="input.case_state")
    body = clean_text(note)
    now = ctx.now()
    with ctx.db.transaction() as s:
        case = _load(s, viewer, case_id)
        src = CaseState(case.state)
        if not case_can(src, dst):
            raise StateError(f"案件不能从「{CASE_STATE_ZH[src]}」变为「{CASE_STATE_ZH[dst]}」",
                             f"a case cannot go from {src.value} to {dst.value}")
        case.state = dst.value
        if case.acknowledged_at is None:
            case.acknowledged_at = now
        _note(s, case, now, viewer.username, "state", body, {"from": src.value, "to": dst.value})
        audit.record(s, at=now, actor=viewer.username, action="case.transition", entity="case", entity_id=case_id,
                     before={"state": src.value}, after={"state": dst.value})
        return dst.value


def _field(kind: str, name: str, raw: Any) -> Any:
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise InputError(f"请填写 {name}", f"{name} is required", code="input.outcome")
    try:
        if kind == "integer":
            value = int(text)
            if not 0 < value <= 120:
                raise ValueError(text)
            return value
        if kind == "date":
            return date.fromisoformat(text).isoformat()
        if kind == "money":
            fen = int((Decimal(re.sub(r"[¥,元\s]", "", text)) * 100).to_integral_value())
            if fen <= 0:
                raise ValueError(text)
            return fen
    except (ValueError, InvalidOperation):
        raise InputError(f"{name} 的值无效：{text[:32]}", f"invalid {name}: {text[:32]}", code="input.outcome") from None
    return text[:200]


def close_in(s: Session, case: Case, *, outcome: str, data: dict[str, Any], state: CaseState, actor: str,
             now: datetime, policy: CasePolicy, note: str = "") -> None:
    """Close ``case`` inside the caller's transaction; releases the phone's stop flag when no stopping case is
    left, or puts it on the do-not-contact list when the outcome says so."""
    rule = policy.rule(case.type)
    src = CaseState(case.state)
    if not case_can(src, state):
        raise StateError(f"案件 {case_number(case.id)} 已结案", f"case {case_number(case.id)} is already closed")
    if outcome not in rule.outcomes:
        raise InputError(f"「{CASE_TYPE_ZH[case.type]}」案件没有处理结果 {outcome}",
                         f"no outcome {outcome!r} for a {case.type} case", code="input.outcome")
    terms = {name: _field(kind, name, data.get(name)) for name, kind in rule.outcomes[outcome].items()}
    case.state, case.outcome, case.outcome_data, case.resolved_at = state.value, outcome, terms, now
    if case.acknowledged_at is None:
        case.acknowledged_at = now
    _note(s, case, now, actor, "outcome", note, {"from": src.value, "to": state.value, "outcome": outcome,
                                                  "terms": terms})
    audit.record(s, at=now, actor=actor, action="case.resolve", entity="case", entity_id=case.id,
                 before={"state": src.value}, after={"state": state.value, "outcome": outcome, "terms": terms})
    if outcome in rule.do_not_contact:
        raise_flags(s, [case.phone], f"案件 {case_number(case.id)}：非本人号码", now, kind="do_not_contact")
    if rule.suppress == "stop":
        s.flush()
        release_flags(s, [case.phone], policy.stopping_types(), now)


def resolve(ctx: AppContext, viewer: Principal, case_id: int, outcome: str, data: dict[str, Any] | None = None,
            *, reject: bool = False, note: str = "") -> None:
    body = clean_text(note)
    policy = load_case_policy(ctx.settings.policy_profile)
    with ctx.db.transaction() as s:
        case = _load(s, viewer, case_id)
        close_in(s, case, outcome=outcome, data=data or {}, state=CaseState.REJECTED if reject else CaseState.RESOLVED,
                 actor=viewer.username, now=ctx.now(), policy=policy, note=body)
