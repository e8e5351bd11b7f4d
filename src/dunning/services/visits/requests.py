"""Visit requests, the policy checks, and registration (报备): a supervisor who is not the requester approves or
rejects with a reason; an approved visit gets a registration number the borrower can verify publicly."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dunning.db.models import Account
from dunning.db.types import to_utc
from dunning.db.visit_models import FieldStaff, Visit
from dunning.domain.visits import VisitState
from dunning.errors import InputError, NotFoundError, PermissionDenied, StateError
from dunning.services import audit
from dunning.services.agencies.gate import require_noticed
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits.policy import Labelled, VisitPolicy, load_policy
from dunning.strategy.calendar import holiday_name

_V = VisitState
# States in which a visit counts against the borrower's monthly limit.
COUNTED: tuple[VisitState, ...] = (_V.REQUESTED, _V.APPROVED, _V.IN_FIELD, _V.CLOSED)
# Registered and not yet checked out: the team may check in, raise an SOS.
OPEN: tuple[VisitState, ...] = (_V.APPROVED, _V.IN_FIELD)
# Approved, whatever came of it since: the public check answers "genuine" for these.
REGISTERED: tuple[VisitState, ...] = (_V.APPROVED, _V.IN_FIELD, _V.CLOSED)
STATE_ZH: dict[str, str] = {_V.REQUESTED: "待审批", _V.APPROVED: "已报备", _V.REJECTED: "已驳回",
                            _V.IN_FIELD: "外访中", _V.CLOSED: "已结束", _V.CANCELLED: "已取消"}
REG_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
REQUESTERS = (Role.COLLECTOR, Role.TEAM_LEAD)
APPROVERS = (Role.SUPERVISOR,)


# A reason a request is refused: a code and what it says in Chinese and English, like every labelled code.
Problem = Labelled


@dataclass(frozen=True)
class VisitRequest:
    loan_id: str
    address: str
    purpose: str
    window_start: datetime
    window_end: datetime
    members: tuple[str, ...]
    risk_notes: str = ""
    lat: float | None = None
    lon: float | None = None


def scope_agency(p: Principal) -> str | None:
    """The agency whose visits ``p`` may see, or None for all (staff without an agency)."""
    if p.role is Role.AGENCY or (p.agency and p.role is not Role.ADMIN):
        return p.agency or "\x00none"
    return None


def check_window(ctx: AppContext, policy: VisitPolicy, start: datetime, end: datetime) -> list[Problem]:
    tz = ctx.tz
    ls, le = to_utc(start).astimezone(tz), to_utc(end).astimezone(tz)
    out: list[Problem] = []
    if le <= ls:
        out.append(Problem("visits.window", "外访时段无效：结束时间须晚于开始时间", "the window must end after it starts"))
        return out
    early, late = policy.earliest.strftime("%H:%M"), policy.latest.strftime("%H:%M")
    if ls.time() < policy.earliest or le.date() != ls.date() or le.time() > policy.latest:
        out.append(Problem("visits.window", f"外访时段须在当地 {early}–{late} 之内（{ls:%H:%M}–{le:%H:%M} 不符合）",
                           f"the visit window must lie within {early}–{late} local time "
                           f"({ls:%H:%M}–{le:%H:%M} does not)"))
    if not policy.holidays_allowed and (name := holiday_name(ls.date())) is not None:
        out.append(Problem("visits.holiday", f"法定节假日（{name}）不安排外访", f"no visits on a statutory holiday ({name})"))
    return out


def check_team(s: Session, policy: VisitPolicy, members: tuple[str, ...], day: date) -> list[Problem]:
    out: list[Problem] = []
    names = sorted(set(members))
    if len(names) < policy.min_team:
        out.append(Problem("visits.team_size", f"外访至少 {policy.min_team} 人同行（现为 {len(names)} 人）",
                           f"a visit needs at least {policy.min_team} people (has {len(names)})"))
    staff = {f.username: f for f in s.scalars(select(FieldStaff).where(FieldStaff.username.in_(names)))}
    oldest = day - timedelta(days=policy.training_max_age_days)
    for n in names:
        f = staff.get(n)
        if f is None:
            out.append(Problem("visits.credential", f"{n} 未在外访人员名册中登记", f"{n} is not in the field-staff registry"))
        elif f.credential_valid_until < day:
            out.append(Problem("visits.credential", f"{f.display_name} 的工作证件已于 {f.credential_valid_until} 过期",
                               f"{n}'s credential expired on {f.credential_valid_until}"))
        elif f.trained_on < oldest:
            out.append(Problem("visits.training", f"{f.display_name} 的合规培训已超过一年（{f.trained_on}）",
                               f"{n}'s conduct training is more than a year old ({f.trained_on})"))
    return out


def _month_count(s: Session, ctx: AppContext, loan_id: str, day: date) -> int:
    first = datetime(day.year, day.month, 1, tzinfo=ctx.tz)
    nxt = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=ctx.tz)
    q = select(func.count()).select_from(Visit).where(Visit.loan_id == loan_id, Visit.state.in_(COUNTED),
                                                       Visit.window_start >= first.astimezone(UTC),
                                                       Visit.window_start < nxt.astimezone(UTC))
    return int(s.scalar(q) or 0)


def _refuse(problems: list[Problem]) -> InputError:
    return InputError("；".join(p.zh for p in problems), "; ".join(p.en for p in problems), code=problems[0].code)


def request_visit(ctx: AppContext, p: Principal, req: VisitRequest, *, policy: VisitPolicy | None = None) -> Visit:
    """Record a visit request after every policy check; all failures are reported at once (InputError)."""
    pol = policy or load_policy()
    if not p.has(*REQUESTERS):
        raise PermissionDenied("只有外访员或外访组长可以申请外访", "only collectors and team leads request visits")
    if not req.purpose.strip():
        raise InputError("请填写外访目的", "a purpose is required", code="visits.input")
    now = ctx.now()
    with ctx.db.transaction() as s:
        acct = s.scalars(select(Account).where(Account.loan_id == req.loan_id).order_by(Account.id.desc())).first()
        if acct is None:
            raise NotFoundError(f"账户 {req.loan_id} 不存在", f"no account {req.loan_id!r}", code="not_found.account")
        agency = scope_agency(p)
        if agency is not None and acct.agency != agency:
            raise NotFoundError(f"账户 {req.loan_id} 不存在", f"no account {req.loan_id!r}", code="not_found.account")
        if agency is not None:  # an agency's visit waits for the entrustment notice to be delivered
            require_noticed(s, req.loan_id, agency)
        address = req.address.strip() or (acct.address or "")
        lat, lon = (req.lat, req.lon) if req.lat is not None and req.lon is not None else (acct.lat, acct.lon)
        if not address:
            raise InputError("请填写外访地址（账户导入中没有地址）", "an address is required (the account has none)",
                             code="visits.input")
        day = to_utc(req.window_start).astimezone(ctx.tz).date()
        problems = check_window(ctx, pol, req.window_start, req.window_end) + check_team(s, pol, req.members, day)
        if _month_count(s, ctx, req.loan_id, day) >= pol.max_per_borrower_month:
            problems.append(Problem("visits.monthly", f"该借款人本月外访已达上限 {pol.max_per_borrower_month} 次",
                                    f"this borrower already has {pol.max_per_borrower_month} visits this month"))
        if problems:
            raise _refuse(problems)
        v = Visit(loan_id=req.loan_id, phone=acct.phone, agency=acct.agency, address=address, lat=lat, lon=lon, purpose=req.purpose.strip(), risk_notes=req.risk_notes.strip(),
                  window_start=to_utc(req.window_start), window_end=to_utc(req.window_end),
                  members=sorted(set(req.members)), state=VisitState.REQUESTED.value, requested_by=p.username,
                  requested_at=now, decision_reason="", recording_confirmed=False, notes="")
        s.add(v)
        s.flush()
        audit.record(s, at=now, actor=p.username, action="visit.request", entity="visit", entity_id=v.id,
                     after={"loan_id": v.loan_id, "window": [v.window_start.isoformat(), v.window_end.isoformat()],
                            "members": v.members})
        s.expunge(v)
    return v


def get_visit(s: Session, p: Principal, visit_id: int) -> Visit:
    v = s.get(Visit, visit_id)
    agency = scope_agency(p)
    if v is None or (agency is not None and v.agency != agency):
        raise NotFoundError(f"外访 #{visit_id} 不存在", f"no visit #{visit_id}", code="not_found.visit")
    return v


def _reg_no(day: date) -> str:
    return f"REG-{day:%Y%m%d}-" + "".join(secrets.choice(REG_ALPHABET) for _ in range(6))


def decide(ctx: AppContext, p: Principal, visit_id: int, *, approve: bool, reason: str = "",
           policy: VisitPolicy | None = None) -> Visit:
    """Approve (issues the registration number) or reject with a reason; never by the requester."""
    pol = policy or load_policy()
    if not p.has(*APPROVERS):
        raise PermissionDenied("只有外访主管可以审批外访", "only supervisors approve visits")
    if not approve and not reason.strip():
        raise InputError("驳回须填写原因", "a rejection needs a reason", code="visits.reason")
    now = ctx.now()
    with ctx.db.transaction() as s:
        v = get_visit(s, p, visit_id)
        if v.state != VisitState.REQUESTED:
            raise StateError(f"外访 #{visit_id} 当前为「{STATE_ZH[v.state]}」，不能审批",
                             f"visit #{visit_id} is {v.state}, not awaiting a decision", code="visits.state")
        if v.requested_by == p.username:
            raise StateError("申请人不能审批自己的外访（四眼原则）", "the requester may not approve their own visit",
                             code="visits.four_eyes")
        if approve:
            day = to_utc(v.window_start).astimezone(ctx.tz).date()
            problems = check_window(ctx, pol, v.window_start, v.window_end) + check_team(
                s, pol, tuple(v.members), day)
            if problems:
                raise _refuse(problems)
            v.reg_no = _reg_no(day)
        v.state = (VisitState.APPROVED if approve else VisitState.REJECTED).value
        v.decided_by, v.decided_at, v.decision_reason = p.username, now, reason.strip()
        audit.record(s, at=now, actor=p.username, action="visit.approve" if approve else "visit.reject",
                     entity="visit", entity_id=v.id, after={"reg_no": v.reg_no, "reason": v.decision_reason})
        s.flush()
        s.expunge(v)
    return v


@dataclass(frozen=True)
class RegistrationAnswer:
    """What the public may learn of a registration number: genuine or not, who and when — no debt detail."""

    genuine: bool
    reg_no: str
    staff: tuple[tuple[str, str], ...] = ()  # (display name, credential number)
    day: date | None = None
    state_zh: str = ""


def verify_registration(ctx: AppContext, reg_no: str) -> RegistrationAnswer:
    code = reg_no.strip().upper()[:32]
    with ctx.db.transaction() as s:
        v = s.scalars(select(Visit).where(Visit.reg_no == code)).first() if code else None
        if v is None or v.state not in REGISTERED:
            return RegistrationAnswer(False, code)
        staff = {f.username: f for f in s.scalars(select(FieldStaff).where(FieldStaff.username.in_(v.members)))}
        people = tuple((staff[m].display_name, staff[m].credential_no) if m in staff else (m, "—")
                       for m in v.members)
        return RegistrationAnswer(True, code, people, to_utc(v.window_start).astimezone(ctx.tz).date(),
                                  STATE_ZH[v.state])
