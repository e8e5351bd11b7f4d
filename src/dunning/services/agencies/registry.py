"""The agency registry (名单制): legal name, documents with expiry, contacts, capacity, regions and buckets, the
entrusted-processing contract (PIPL art. 21), status with reasons, blacklist, and the agency's console users.

An agency's ``name`` is what ``users.agency`` and ``accounts.agency`` hold, so an agency user is linked to its
record by that name and the console's existing scoping keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dunning.db.agency_models import Agency, AgencyDocument
from dunning.domain.agencies import AgencyStatus
from dunning.errors import InputError, PermissionDenied, StateError
from dunning.services import audit
from dunning.services.agencies.records import command, row
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role, add_user

_S = AgencyStatus
STATUSES: tuple[AgencyStatus, ...] = tuple(AgencyStatus)
STATUS_ZH: dict[str, str] = {_S.CANDIDATE: "候选", _S.ACTIVE: "合作中", _S.SUSPENDED: "暂停", _S.TERMINATED: "已终止"}
# candidate → active → suspended ⇄ active; any → terminated (final). A blacklisted agency cannot become active.
TRANSITIONS: dict[AgencyStatus, frozenset[AgencyStatus]] = {
    _S.CANDIDATE: frozenset({_S.ACTIVE, _S.TERMINATED}), _S.ACTIVE: frozenset({_S.SUSPENDED, _S.TERMINATED}),
    _S.SUSPENDED: frozenset({_S.ACTIVE, _S.TERMINATED}), _S.TERMINATED: frozenset()}
EXPIRY_ALERT_DAYS = 30
MANAGERS = (Role.ADMIN, Role.COMPLIANCE)


@dataclass(frozen=True)
class AgencyRow:
    id: int
    name: str
    legal_name: str
    status: AgencyStatus
    status_zh: str
    status_reason: str
    blacklisted: bool
    capacity: int
    regions: list[str]
    buckets: list[str]
    contacts: list[dict[str, Any]]
    pipl_contract_start: date | None
    pipl_contract_end: date | None
    next_evaluation_due: date | None


@dataclass(frozen=True)
class Alert:
    agency: str
    kind: str  # document | pipl_contract | evaluation
    title: str
    due: date
    days_left: int


def _row(a: Agency) -> AgencyRow:
    return AgencyRow(a.id, a.name, a.legal_name, AgencyStatus(a.status), STATUS_ZH[a.status], a.status_reason,
                     a.blacklisted, a.capacity, list(a.regions or []), list(a.buckets or []), list(a.contacts or []),
                     a.pipl_contract_start, a.pipl_contract_end, a.next_evaluation_due)


def get(s: Session, agency_id: int) -> Agency:
    return row(s, Agency, agency_id)


def by_name(s: Session, name: str | None) -> Agency | None:
    return s.scalars(select(Agency).where(Agency.name == name)).first() if name else None


def own_agency_id(ctx: AppContext, viewer: Principal) -> int | None:
    """The agency record an agency user belongs to (None for staff). An agency user without one sees nothing."""
    if viewer.role is not Role.AGENCY:
        return None
    with ctx.db.transaction() as s:
        a = by_name(s, viewer.agency)
        return a.id if a is not None else -1


def create(ctx: AppContext, *, name: str, legal_name: str, actor: str, capacity: int = 0,
           regions: list[str] | None = None, buckets: list[str] | None = None,
           contacts: list[dict[str, Any]] | None = None, pipl_contract_start: date | None = None,
           pipl_contract_end: date | None = None) -> AgencyRow:
    name, legal_name = name.strip(), legal_name.strip()
    if not name or not legal_name:
        raise InputError("请填写机构简称和法定名称", "name and legal name are required", code="agency.name")
    if capacity < 0:
        raise InputError("承接能力不能为负数", "capacity cannot be negative", code="agency.capacity")
    with command(ctx, actor, *MANAGERS) as (s, now):
        if by_name(s, name) is not None:
            raise InputError(f"机构 {name} 已登记", f"agency {name!r} is already registered", code="agency.exists")
        a = Agency(name=name, legal_name=legal_name, status=AgencyStatus.CANDIDATE.value, status_reason="",
                   blacklisted=False, capacity=capacity, regions=regions or [], buckets=buckets or [],
                   contacts=contacts or [],
                   pipl_contract_start=pipl_contract_start, pipl_contract_end=pipl_contract_end,
                   next_evaluation_due=None, created_at=now, updated_at=now)
        s.add(a)
        s.flush()
        audit.record(s, at=now, actor=actor, action="agency.create", entity="agency", entity_id=a.id,
                     after={"name": name, "legal_name": legal_name, "capacity": capacity})
        return _row(a)


def set_status(ctx: AppContext, agency_id: int, status: str, *, reason: str, actor: str) -> AgencyRow:
    """Move an agency along candidate → active → suspended → terminated; every change needs a reason."""
    if status not in STATUSES:
        raise InputError(f"未知状态 {status}", f"unknown status {status!r}", code="agency.status")
    new = AgencyStatus(status)
    if not reason.strip():
        raise InputError("请填写状态变更原因", "a reason is required", code="agency.reason")
    with command(ctx, actor, *MANAGERS) as (s, now):
        a = get(s, agency_id)
        if new not in TRANSITIONS[AgencyStatus(a.status)]:
            raise StateError(f"机构状态不能从「{STATUS_ZH[a.status]}」变为「{STATUS_ZH[new]}」",
                             f"agency cannot go from {a.status} to {new}", code="state.agency")
        if new is AgencyStatus.ACTIVE and a.blacklisted:
            raise StateError("该机构已列入黑名单，不能恢复合作", "a blacklisted agency cannot be activated",
                             code="state.agency_blacklisted")
        if new is AgencyStatus.ACTIVE and a.pipl_contract_end is not None and a.pipl_contract_end < ctx.today():
            raise StateError("委托处理个人信息协议已到期，请先续签", "the PIPL entrusted-processing contract has expired",
                             code="state.agency_contract")
        before = a.status
        a.status, a.status_reason, a.updated_at = new.value, reason.strip()[:500], now
        if new is AgencyStatus.ACTIVE and a.next_evaluation_due is None:
            a.next_evaluation_due = ctx.today() + timedelta(days=365)
        audit.record(s, at=now, actor=actor, action="agency.status", entity="agency", entity_id=a.id,
                     before={"status": before}, after={"status": new.value, "reason": a.status_reason})
        return _row(a)


def blacklist(ctx: AppContext, agency_id: int, *, reason: str, actor: str) -> AgencyRow:
    """Blacklist and terminate (violent collection, a data leak): final, with the reason on record."""
    if not reason.strip():
        raise InputError("请填写列入黑名单的原因", "a reason is required", code="agency.reason")
    with command(ctx, actor, *MANAGERS) as (s, now):
        a = get(s, agency_id)
        before = {"status": a.status, "blacklisted": a.blacklisted}
        a.blacklisted, a.status, a.status_reason = True, AgencyStatus.TERMINATED.value, reason.strip()[:500]
        a.updated_at = now
        audit.record(s, at=now, actor=actor, action="agency.blacklist", entity="agency", entity_id=a.id,
                     before=before, after={"status": AgencyStatus.TERMINATED.value, "blacklisted": True,
                                           "reason": a.status_reason})
        return _row(a)


def add_document(ctx: AppContext, agency_id: int, *, kind: str, title: str, expires_on: date | None,
                 path: str | None, actor: str) -> None:
    if not title.strip():
        raise InputError("请填写文件名称", "a title is required", code="agency.document")
    with command(ctx, actor, *MANAGERS) as (s, now):
        a = get(s, agency_id)
        s.add(AgencyDocument(agency_id=a.id, kind=kind, title=title.strip()[:256], path=path, expires_on=expires_on,
                             added_by=actor, added_at=now))
        audit.record(s, at=now, actor=actor, action="agency.document", entity="agency", entity_id=a.id,
                     after={"kind": kind, "title": title.strip()[:256],
                            "expires_on": expires_on.isoformat() if expires_on else None})


def add_agency_user(ctx: AppContext, agency_id: int, username: str, *, password: str, actor: str) -> None:
    """A console user of the agency: the ``agency`` role, linked to the record by its name."""
    with ctx.db.transaction() as s:
        name = get(s, agency_id).name
    add_user(ctx, username, Role.AGENCY.value, password=password, agency=name, display_name=username, actor=actor)


def list_agencies(ctx: AppContext, viewer: Principal, *, status: str | None = None) -> list[AgencyRow]:
    mine = own_agency_id(ctx, viewer)
    with ctx.db.transaction() as s:
        q = select(Agency).order_by(Agency.name)
        if status:
            q = q.where(Agency.status == status)
        if mine is not None:
            q = q.where(Agency.id == mine)
        return [_row(a) for a in s.scalars(q)]


def public_list(ctx: AppContext) -> list[dict[str, str]]:
    """The agencies currently authorised to collect (名单制), for the public identity page."""
    with ctx.db.transaction() as s:
        rows = s.scalars(select(Agency).where(Agency.status == AgencyStatus.ACTIVE, Agency.blacklisted.is_(False))
                         .order_by(Agency.legal_name)).all()
        return [{"name": a.name, "legal_name": a.legal_name,
                 "until": a.pipl_contract_end.isoformat() if a.pipl_contract_end else ""} for a in rows]


def detail(ctx: AppContext, agency_id: int, viewer: Principal) -> tuple[AgencyRow, list[dict[str, Any]]]:
    mine = own_agency_id(ctx, viewer)
    if mine is not None and mine != agency_id:
        raise PermissionDenied("只能查看本机构的信息", "agency users see only their own agency")
    with ctx.db.transaction() as s:
        a = get(s, agency_id)
        docs = [{"kind": d.kind, "title": d.title, "expires_on": d.expires_on, "added_by": d.added_by}
                for d in s.scalars(select(AgencyDocument).where(AgencyDocument.agency_id == a.id)
                                   .order_by(AgencyDocument.id))]
        return _row(a), docs


def alerts(ctx: AppContext, *, within_days: int = EXPIRY_ALERT_DAYS) -> list[Alert]:
    """Documents, PIPL contracts and yearly evaluations due within ``within_days`` (or overdue), soonest first."""
    today = ctx.today()
    horizon = today + timedelta(days=within_days)
    out: list[Alert] = []
    with ctx.db.transaction() as s:
        live = {a.id: a for a in s.scalars(select(Agency).where(Agency.status != AgencyStatus.TERMINATED))}
        for d in s.scalars(select(AgencyDocument).where(AgencyDocument.expires_on <= horizon)):
            if d.agency_id in live and d.expires_on is not None:
                out.append(Alert(live[d.agency_id].name, "document", d.title, d.expires_on,
                                 (d.expires_on - today).days))
        for a in live.values():
            if a.pipl_contract_end is not None and a.pipl_contract_end <= horizon:
                out.append(Alert(a.name, "pipl_contract", "委托处理个人信息协议", a.pipl_contract_end,
                                 (a.pipl_contract_end - today).days))
            if a.next_evaluation_due is not None and a.next_evaluation_due <= horizon:
                out.append(Alert(a.name, "evaluation", "年度评估", a.next_evaluation_due,
                                 (a.next_evaluation_due - today).days))
    return sorted(out, key=lambda x: x.due)
