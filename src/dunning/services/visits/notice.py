"""The visit-notice SMS (issue 21): the approved, factual template ``visit_notice`` (institution, staff names,
registration number, date and time, hotline; no debt detail), only for approved visits, through the normal
campaign pipeline — planning's lint, contact window and budget, pilot, four-eyes approval, dispatch, delivery
receipts and the public verification page — like every other message.

:func:`plan_visit_notices` plans one campaign of the notice strategy (``data/visit_notice.yaml``) scoped to the
accounts of the chosen approved visits; the scope carries the visit's columns and ``visit_approved``, the one
place the lint's visit-notice allowance for "上门" applies. Each visit whose notice is planned records its
campaign (``visits.notice_campaign_id``) and is never notified again. :func:`visit_notice` renders the same
template for one visit, as the visit page shows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dunning.compliance import VISIT_NOTICE_TEMPLATE, blocking, lint_text
from dunning.compliance.placeholders import TEXT_MAX
from dunning.db.models import Account, Import, Message
from dunning.db.types import to_utc
from dunning.db.visit_models import FieldStaff, Visit
from dunning.domain.states import REACHED_STATES, MessageState
from dunning.domain.visits import VisitState
from dunning.errors import ComplianceBlocked, InputError, PermissionDenied, StateError
from dunning.services import audit
from dunning.services.campaigns import lifecycle, planning
from dunning.services.campaigns.plan_store import approved_templates
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.policy import policy_for, render_context
from dunning.services.verification.codes import CODE_PLACEHOLDER
from dunning.services.visits.requests import APPROVERS, STATE_ZH, get_visit, scope_agency
from dunning.templates import compile_template


@dataclass(frozen=True)
class VisitNotice:
    visit_id: int
    phone: str | None
    text: str


@dataclass
class NoticePlan:
    """A planned visit-notice campaign: which visits it notifies, and which it could not (with the reason)."""

    campaign_id: int
    planned: int
    suppressed: int
    notified: list[int] = field(default_factory=list)
    not_sent: dict[int, str] = field(default_factory=dict)  # visit id → suppression reason (planning's code)
    already_planned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "planned": self.planned, "suppressed": self.suppressed,
                "notified": self.notified, "not_sent": {str(k): v for k, v in self.not_sent.items()},
                "already_planned": self.already_planned}


def notice_strategy() -> Path:
    return Path(str(resources.files("dunning.data") / "visit_notice.yaml"))


def _local_when(ctx: AppContext, v: Visit) -> str:
    local = to_utc(v.window_start).astimezone(ctx.tz)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def _staff_names(s: Session, v: Visit) -> str:
    names = {f.username: f.display_name for f in s.scalars(select(FieldStaff)
                                                            .where(FieldStaff.username.in_(v.members)))}
    return "、".join(names.get(m, m) for m in v.members)


def _problem(ctx: AppContext, s: Session, v: Visit, now: datetime) -> tuple[str, str] | None:
    """Why ``v`` may not be notified (zh, en), or None."""
    if v.state != VisitState.APPROVED or not v.reg_no:
        return (f"外访 #{v.id} 当前为「{STATE_ZH.get(v.state, v.state)}」：只有已审批登记、尚未开始的外访才能发送外访通知",
                f"visit #{v.id} is {v.state}: only an approved, registered visit that has not started is notified")
    if v.notice_campaign_id is not None:
        return (f"外访 #{v.id} 已由批次 #{v.notice_campaign_id} 发送外访通知，不再重复发送",
                f"visit #{v.id} was already notified by campaign #{v.notice_campaign_id}")
    if to_utc(v.window_start) <= now:
        return (f"外访 #{v.id} 的报备时段已开始，不再发送外访通知", f"visit #{v.id}'s window has begun")
    if len(_staff_names(s, v)) > TEXT_MAX:
        return (f"外访 #{v.id} 的人员姓名合计超过 {TEXT_MAX} 字，通知短信无法完整列出",
                f"visit #{v.id}'s staff names exceed {TEXT_MAX} characters")
    return None


def _chosen(ctx: AppContext, s: Session, p: Principal, visit_ids: list[int] | None, day: date | None,
            now: datetime) -> list[Visit]:
    if visit_ids:
        return [get_visit(s, p, i) for i in dict.fromkeys(visit_ids)]
    assert day is not None  # nosec B101  # one of the two is given (checked by the caller)
    start = datetime.combine(day, datetime.min.time(), ctx.tz)
    q = select(Visit).where(Visit.state == VisitState.APPROVED, Visit.notice_campaign_id.is_(None),
                            Visit.window_start > now, Visit.window_start >= to_utc(start),
                            Visit.window_start < to_utc(start + timedelta(days=1)))
    agency = scope_agency(p)
    if agency is not None:
        q = q.where(Visit.agency == agency)
    return list(s.scalars(q.order_by(Visit.id)))


def plan_visit_notices(ctx: AppContext, p: Principal, visit_ids: list[int] | None = None, *, day: date | None = None,
                       channel: str | None = None) -> NoticePlan:
    """Plan the visit notice for ``visit_ids`` (each must be approved, registered, not started and not yet
    notified: otherwise nothing is planned and the error names each visit and why) or for every such visit of
    ``day`` (local date of the visit). Then pilot, approve and send it like any campaign.

    One campaign per set of visits (its ``batch``): planning the same set again finds it. A visit is recorded
    as notified by the campaign (``notice_campaign_id``) when its message is planned; a message the pipeline
    suppressed (contact budget, window…) leaves the visit free for a later notice. Two supervisors notifying
    the same visit at once: the first to record it wins, the other's campaign is cancelled before anything is
    sent."""
    if not p.has(*APPROVERS):
        raise PermissionDenied("只有外访主管可以发送外访通知", "only supervisors send visit notices")
    if not visit_ids and day is None:
        raise InputError("请指定外访编号或日期", "give visit ids or a day", code="visits.input")
    now = ctx.now()
    with ctx.db.transaction() as s:
        visits = _chosen(ctx, s, p, visit_ids, day, now)
        if not visits:
            raise StateError(f"{day} 没有待通知的已审批外访", f"no approved visit to notify on {day}",
                             code="visits.notice_none")
        problems = [pr for v in visits if (pr := _problem(ctx, s, v, now)) is not None]
        import_id = s.scalar(select(func.max(Import.id)).where(Import.kind == "portfolio"))
        have = set(s.scalars(select(Account.loan_id).where(Account.import_id == import_id,
                                                            Account.loan_id.in_([v.loan_id for v in visits]))))
        problems += [(f"外访 #{v.id} 的账户 {v.loan_id} 不在最新的账户导入批次 #{import_id} 中",
                      f"visit #{v.id}'s account {v.loan_id} is not in the latest import #{import_id}")
                     for v in visits if v.loan_id not in have]
        loans = [v.loan_id for v in visits]
        problems += [(f"外访 #{v.id} 与同批其他外访是同一借款人（{v.loan_id}）：每位借款人一次只发一条通知",
                      f"visit #{v.id} has the same borrower as another visit of the batch")
                     for v in visits if loans.count(v.loan_id) > 1]
        if problems:
            raise StateError("；".join(zh for zh, _en in problems), "; ".join(en for _zh, en in problems),
                             code="visits.notice_state")
        scope = pl.DataFrame({
            "loan_id": loans, "visit_id": [v.id for v in visits], "staff": [_staff_names(s, v) for v in visits],
            "reg_no": [v.reg_no for v in visits], "visit_date": [_local_when(ctx, v) for v in visits],
            "visit_approved": [True] * len(visits)},
            schema={"loan_id": pl.Utf8, "visit_id": pl.Int64, "staff": pl.Utf8, "reg_no": pl.Utf8,
                    "visit_date": pl.Utf8, "visit_approved": pl.Boolean})
    ids = sorted(v.id for v in visits)
    batch = "visits:" + ",".join(map(str, ids))
    if len(batch) > 64:
        batch = "visits#" + hashlib.sha256(batch.encode()).hexdigest()[:32]
    try:
        summary = planning.plan_campaign(ctx, actor=p.username, strategy_path=notice_strategy(), import_id=import_id,
                                         channel=channel, scope=scope, batch=batch, promises=False,
                                         name=f"外访通知 #{'、#'.join(map(str, ids))}"[:256])
    except IntegrityError:
        raise StateError("这些外访的通知正由另一人同时计划，请刷新后查看", "these visits are being notified by "
                         "someone else right now", code="state.concurrent") from None
    return record_notice(ctx, p, summary, scope, batch)


def record_notice(ctx: AppContext, p: Principal, summary: planning.PlanSummary, scope: pl.DataFrame,
                  batch: str) -> NoticePlan:
    """The second half of :func:`plan_visit_notices`: record the planned campaign on its visits (``scope``: the
    campaign's ``loan_id`` and ``visit_id``). When another campaign took one of the visits since the check, the
    record is rolled back whole and this campaign cancelled: nothing of it has gone (it waits for its pilot), so
    no visit is notified twice."""
    try:
        return _record(ctx, p, summary, scope, batch)
    except _Lost as lost:
        lifecycle.cancel(ctx, summary.campaign_id, actor=p.username)
        cid, ids = summary.campaign_id, lost.visits
    raise StateError(f"外访 #{'、#'.join(map(str, ids))} 已由另一批次同时发送通知：本批次 #{cid} 已取消，未发送任何短信",
                     f"visit(s) {ids} were notified by another campaign meanwhile: campaign #{cid} is cancelled",
                     code="state.concurrent")


class _Lost(Exception):  # a signal inside this module, never raised to callers
    def __init__(self, visits: list[int]) -> None:
        super().__init__(visits)
        self.visits = visits


def _record(ctx: AppContext, p: Principal, summary: planning.PlanSummary, scope: pl.DataFrame,
            batch: str) -> NoticePlan:
    """Record the campaign on each visit whose message is planned (atomically: a visit another campaign took
    meanwhile rolls the whole record back, :class:`_Lost`), with the audit rows."""
    cid = summary.campaign_id
    out = NoticePlan(cid, summary.planned, summary.suppressed, already_planned=summary.already_planned)
    with ctx.db.transaction() as s:
        rows = {loan: (state, reason) for loan, state, reason in s.execute(
            select(Message.loan_id, Message.state, Message.reason).where(
                Message.campaign_id == cid, Message.is_test.is_(False))).all()}
        wanted: list[int] = []
        for loan, vid in scope.select("loan_id", "visit_id").iter_rows():  # the visits of one batch: dozens
            state, reason = rows.get(loan, (None, "not_due"))
            if state is None or state == MessageState.SUPPRESSED.value:
                out.not_sent[int(vid)] = str(reason or "not_due")
            else:
                wanted.append(int(vid))
        taken = set(s.scalars(update(Visit).where(
            Visit.id.in_(wanted), Visit.notice_campaign_id.is_(None) | (Visit.notice_campaign_id == cid))
            .values(notice_campaign_id=cid).returning(Visit.id)
            .execution_options(synchronize_session=False)).all()) if wanted else set()
        out.notified = [v for v in wanted if v in taken]
        lost = [v for v in wanted if v not in taken]
        if lost:
            raise _Lost(lost)
        audit.record(s, at=ctx.now(), actor=p.username, action="visit.notice_plan", entity="campaign",
                     entity_id=cid, after={"batch": batch, "visits": out.notified, "not_sent": out.not_sent})
        for vid in out.notified:
            audit.record(s, at=ctx.now(), actor=p.username, action="visit.notice", entity="visit", entity_id=vid,
                         after={"campaign_id": cid})
    return out


def notice_sent(s: Session, v: Visit) -> bool:
    """Whether ``v``'s notice reached the provider (the policy may require it before the visit starts)."""
    if v.notice_campaign_id is None:
        return False
    found = s.scalar(select(func.count()).select_from(Message).where(
        Message.campaign_id == v.notice_campaign_id, Message.loan_id == v.loan_id, Message.is_test.is_(False),
        Message.state.in_(REACHED_STATES)))
    return bool(found)


def visit_notice(ctx: AppContext, p: Principal, visit_id: int) -> VisitNotice:
    """The notice text for one approved visit, rendered from the approved ``visit_notice`` template as the
    campaign renders it (verification code left as its placeholder), linted with the visit-notice allowance."""
    with ctx.db.transaction() as s:
        v = get_visit(s, p, visit_id)
        if v.state != VisitState.APPROVED or not v.reg_no:
            raise StateError("只有已审批登记、尚未开始的外访才能发送外访通知", "only an approved, registered visit "
                             "that has not started may be notified", code="visits.notice_state")
        tv = approved_templates(s, {VISIT_NOTICE_TEMPLATE})[VISIT_NOTICE_TEMPLATE]
        values = {"staff": _staff_names(s, v), "reg_no": v.reg_no, "visit_date": _local_when(ctx, v),
                  "verify_code": CODE_PLACEHOLDER}
        phone = v.phone
    policy = policy_for(ctx)
    text = compile_template(tv.text, tv.variables).render_one(values, render_context(ctx, policy))
    findings = lint_text(text, policy, visit_notice=True)
    if blocking(findings):
        raise ComplianceBlocked("外访通知未通过合规检查：" + "；".join(f.message_zh for f in findings),
                                "the visit notice fails the compliance lint", code="visits.notice_lint")
    return VisitNotice(visit_id, phone, text)


