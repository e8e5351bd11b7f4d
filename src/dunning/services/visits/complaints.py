"""Complaints about a visit: a complaint case (``services/cases``) opened from the visit, linked to it by the case's
subject (``subject_type = "visit"``, ``subject_id`` = the visit id), and the visit's side of it: the complaints
that name it, with the conduct checklist the team confirmed at check-in (who, when, which rules, recording)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dunning.db.case_models import Case, CaseNote
from dunning.db.types import to_utc
from dunning.db.visit_models import VisitEvent
from dunning.domain.cases import CASE_STATE_ZH, CaseType, case_number
from dunning.errors import InputError, PermissionDenied
from dunning.services.cases.commands import CaseRef, OpenRequest, may_work, open_in
from dunning.services.cases.policy import load_case_policy
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits.policy import VisitPolicy, load_policy
from dunning.services.visits.requests import get_visit

SUBJECT = "visit"


@dataclass(frozen=True)
class ChecklistAnswer:
    code: str
    zh: str
    en: str
    confirmed: bool


@dataclass(frozen=True)
class ConductRecord:
    """What the team confirmed at check-in: every rule of the policy's checklist, ticked or not."""

    by: str
    at: datetime
    recording: bool
    answers: tuple[ChecklistAnswer, ...]


@dataclass(frozen=True)
class VisitComplaint:
    case_id: int
    number: str
    state: str
    state_zh: str
    summary: str
    opened_by: str
    opened_at: datetime


def open_visit_complaint(ctx: AppContext, p: Principal, visit_id: int, summary: str,
                         source: str = "manual") -> CaseRef:
    """Open a complaint case about visit ``visit_id`` for the borrower's phone. An open complaint of the borrower
    takes it as a note (the case rule) and, if it names no subject yet, is linked to this visit."""
    if not may_work(p, CaseType.COMPLAINT) or p.role is Role.AGENCY:
        raise PermissionDenied("您的角色不能开立投诉案件", "your role may not open a complaint")
    if not summary.strip():
        raise InputError("请填写投诉内容", "describe the complaint", code="visits.complaint")
    policy = load_case_policy(ctx.settings.policy_profile)
    now = ctx.now()
    with ctx.db.transaction() as s:
        v = get_visit(s, p, visit_id)
        if not v.phone:
            raise InputError("该外访的账户没有手机号，请在案件页按来电号码开立", "the visit's account has no phone: "
                             "open the case from the cases page with the caller's number", code="visits.complaint")
        ref = open_in(s, OpenRequest(type=CaseType.COMPLAINT.value, phone=v.phone, source=source,
                                     summary=f"{_prefix(v.id)}（{v.reg_no or '未登记'}）：{summary.strip()}",
                                     loan_ids=(v.loan_id,), subject_type=SUBJECT, subject_id=str(v.id)),
                      actor=p.username, now=now, policy=policy, tz=ctx.tz)
        case = s.get(Case, ref.id)
        if case is not None and case.subject_type is None:
            case.subject_type, case.subject_id = SUBJECT, str(v.id)
        s.add(VisitEvent(visit_id=v.id, at=now, actor=p.username, kind="complaint",
                         detail={"case": ref.number, "created": ref.created}))
    return ref


def _prefix(visit_id: int) -> str:
    return f"外访 #{visit_id}"


def visit_complaints(ctx: AppContext, p: Principal, visit_id: int) -> list[VisitComplaint]:
    """Complaint cases linked to the visit (any state), oldest first. The text shown is what was said about this
    visit: the case's summary, or the notes it took when an open complaint of the borrower took the request."""
    with ctx.db.transaction() as s:
        v = get_visit(s, p, visit_id)
        rows = s.scalars(select(Case).where(Case.subject_type == SUBJECT, Case.subject_id == str(v.id))
                         .order_by(Case.id)).all()
        mark = _prefix(v.id) + "（"
        notes: dict[int, list[str]] = {}
        for n in s.scalars(select(CaseNote).where(CaseNote.case_id.in_([c.id for c in rows]),
                                                  CaseNote.text.like(f"{mark}%")).order_by(CaseNote.id)):
            notes.setdefault(n.case_id, []).append(n.text)
        return [VisitComplaint(c.id, case_number(c.id), c.state, CASE_STATE_ZH.get(c.state, c.state),
                               "；".join([c.summary] * c.summary.startswith(mark) + notes.get(c.id, []))
                               or c.summary, c.opened_by, to_utc(c.opened_at)) for c in rows]


def conduct_record(ctx: AppContext, p: Principal, visit_id: int, *,
                   policy: VisitPolicy | None = None) -> ConductRecord | None:
    """The checklist the team confirmed at the visit's check-in, or None before any check-in."""
    pol = policy or load_policy()
    with ctx.db.transaction() as s:
        v = get_visit(s, p, visit_id)
        e = s.scalars(select(VisitEvent).where(VisitEvent.visit_id == v.id, VisitEvent.kind == "check_in")
                      .order_by(VisitEvent.id).limit(1)).first()
        if e is None:
            return None
        ticked = set((e.detail or {}).get("checklist") or [])
        return ConductRecord(e.actor, to_utc(e.at), bool((e.detail or {}).get("recording")),
                             tuple(ChecklistAnswer(c.code, c.zh, c.en, c.code in ticked) for c in pol.checklist))
