"""Read models for the console and the API: what a page shows, computed in one place, scoped to the viewer.

Contracts:

* Phone numbers leave this module masked (``138****8000``) unless the viewer's role may see them
  (:data:`FULL_PHONE_ROLES`); borrower names are always masked here.
* An ``agency`` viewer sees only the accounts assigned to their agency and the messages to those accounts;
  anything else answers "not found", never "forbidden" (which would confirm it exists).
* Lists page by keyset (``cursor`` = the last id seen, newest first), so a page never shifts while new rows
  arrive.
* Nothing here writes, except the audit event of a personal-data export (the reject report download);
  actions go through their own services, which write the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, distinct, exists, func, or_, select, true
from sqlalchemy.orm import Session

from dunning.db.models import (
    Account,
    AuditEvent,
    Campaign,
    DeliveryReportRow,
    Import,
    Message,
    MessagePart,
    Payment,
    RejectRow,
    Reply,
    Strategy,
    TemplateRecord,
    TemplateVersion,
)
from dunning.domain.masking import mask_name
from dunning.domain.states import CampaignState
from dunning.errors import InputError, NotFoundError
from dunning.services import audit
from dunning.services.calendar import next_year_warning
from dunning.services.campaigns import lifecycle
from dunning.services.context import AppContext
from dunning.services.guard.masking import mask_raw_row, masked_report
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.queries.audit import AuditFilter, audit_conditions
from dunning.services.queries.campaigns import CampaignProgress
from dunning.services.queries.campaigns import progress_rows as _progress_rows
from dunning.services.queries.labels import MESSAGE_STATE_ZH
from dunning.services.queries.messages import normalise_phone_query
from dunning.services.queries.scope import (
    FULL_PHONE_ROLES,
    REJECT_DETAIL_ROLES,
    mask_text_phones,
    may_see_phone,
    show_phone,
)
from dunning.services.queries.scope import agency_of as _agency
from dunning.services.queries.scope import scoped_messages as _scoped_messages
from dunning.services.queries.scope import utc as _utc
from dunning.services.queries.templates import TemplateSummary, list_templates

T = TypeVar("T")

ACTIVE_STATES = tuple(s.value for s in (CampaignState.PLANNED, CampaignState.PILOTING, CampaignState.PILOT_APPROVED,
                                        CampaignState.SENDING, CampaignState.PAUSED))


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: int | None = None


# ------------------------------------------------------------------------------------------- campaigns


def _campaign(s: Session, campaign_id: int) -> Campaign:
    c = s.get(Campaign, campaign_id)
    if c is None:
        raise NotFoundError(f"批次 #{campaign_id} 不存在", f"campaign #{campaign_id} does not exist",
                            code="not_found.campaign")
    return c


def campaign_progress(ctx: AppContext, viewer: Principal, campaign_id: int) -> CampaignProgress:
    """Message counts by state (and the pilot's), read from the database: what every live view polls."""
    with ctx.db.transaction() as s:
        return _progress_rows(s, [_campaign(s, campaign_id)], _agency(viewer))[0]


def list_campaigns(ctx: AppContext, viewer: Principal, *, cursor: int | None = None,
                   limit: int = 20, state: str | None = None) -> Page[CampaignProgress]:
    with ctx.db.transaction() as s:
        q = select(Campaign).order_by(Campaign.id.desc()).limit(limit + 1)
        if cursor is not None:
            q = q.where(Campaign.id < cursor)
        if state:
            q = q.where(Campaign.state == state)
        rows = list(s.scalars(q).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(_progress_rows(s, rows, _agency(viewer)), rows[-1].id if more else None)


@dataclass
class Funnel:
    planned: int
    sent: int
    delivered: int
    repaid: int | None  # None while no repayment has been imported at all

    def stages(self) -> list[tuple[str, str, int | None]]:
        return [("planned", "计划发送", self.planned), ("sent", "已提交", self.sent),
                ("delivered", "已送达", self.delivered), ("repaid", "已还款", self.repaid)]


@dataclass
class MessageSample:
    message_id: int
    segment: str | None
    step: str
    variant: str | None
    template: str | None
    phone: str
    text: str
    chars: int
    parts: int
    state: str
    is_pilot: bool


@dataclass
class CampaignView:
    progress: CampaignProgress
    plan: dict[str, Any]
    funnel: Funnel
    samples: list[MessageSample]
    strategy: str
    import_id: int
    reasons: dict[str, int] = field(default_factory=dict)
    pilot: dict[str, Any] | None = None  # lifecycle.pilot_report once a pilot has started


def campaign_view(ctx: AppContext, viewer: Principal, campaign_id: int) -> CampaignView:
    """Everything the campaign page shows: live counts, plan, funnel, rendered samples, the pilot's go/no-go."""
    agency = _agency(viewer)
    with ctx.db.transaction() as s:
        c = _campaign(s, campaign_id)
        progress = _progress_rows(s, [c], agency)[0]
        scoped = _scoped_messages(agency).where(Message.campaign_id == campaign_id)
        reasons = {str(k): int(v) for k, v in s.execute(
            scoped.with_only_columns(Message.reason, func.count()).where(Message.state == "suppressed")
            .group_by(Message.reason)).all()}
        payments_known = s.scalar(select(func.count()).select_from(Payment)) or 0
        repaid: int | None = None
        if payments_known:
            paid_after = exists().where(Payment.loan_id == Message.loan_id, Payment.paid_at >= Message.submitted_at)
            repaid = int(s.scalar(scoped.with_only_columns(func.count(distinct(Message.loan_id))).where(
                Message.state == "delivered", paid_after)) or 0)
        funnel = Funnel(progress.to_send, progress.accepted + progress.counts.get("failed", 0)
                        + progress.counts.get("expired", 0), progress.counts.get("delivered", 0), repaid)
        # One rendered sample per segment × step × variant: the pilot's when there is one, else the plan's.
        base = scoped.where(Message.campaign_id == campaign_id, Message.text.is_not(None))
        has_pilot = s.scalar(base.with_only_columns(func.count()).where(Message.is_pilot.is_(True))) or 0
        if has_pilot:
            base = base.where(Message.is_pilot.is_(True))
        else:
            base = base.where(Message.state != "suppressed")
        first_ids = [r[0] for r in s.execute(
            base.with_only_columns(func.min(Message.id)).group_by(Message.segment, Message.step, Message.variant)
            .limit(24)).all()]
        samples = []
        if first_ids:
            rows = s.execute(
                select(Message, TemplateRecord.code).outerjoin(
                    TemplateVersion, TemplateVersion.id == Message.template_version_id)
                .outerjoin(TemplateRecord, TemplateRecord.id == TemplateVersion.template_id)
                .where(Message.id.in_(first_ids)).order_by(Message.segment, Message.step, Message.variant)).all()
            for m, code in rows:
                text = m.text or ""
                samples.append(MessageSample(m.id, m.segment, m.step, m.variant, code, show_phone(viewer, m.phone),
                                             text, len(text), m.parts, m.state, m.is_pilot))
        strat = s.get(Strategy, c.strategy_id)
        name = f"{strat.name} v{strat.version}" if strat else str(c.strategy_id)
        piloted = bool(c.pilot_summary)
    pilot = lifecycle.pilot_report(ctx, campaign_id) if piloted else None
    return CampaignView(progress, dict(c.plan_summary or {}), funnel, samples, name, c.import_id, reasons, pilot)


# ------------------------------------------------------------------------------------------- dashboard


@dataclass
class Alert:
    level: str  # danger | warn | info
    text_zh: str
    text_en: str
    link: str | None = None


@dataclass
class ChannelHealth:
    name: str
    kind: str
    enabled: bool
    rate: float
    priority: int
    submitted: int
    delivered: int
    failed: int
    status: str  # ok | degraded | failing | idle | disabled
    tried: int = 0  # messages handed to the channel in the window (any outcome)

    @property
    def failure_rate(self) -> float:
        return self.failed / self.tried if self.tried else 0.0


@dataclass
class DashboardView:
    today: date
    campaigns: list[CampaignProgress]
    alerts: list[Alert]
    channels: list[ChannelHealth]
    imports_today: int
    sent_today: int
    delivered_today: int


def dashboard(ctx: AppContext, viewer: Principal) -> DashboardView:
    """Today's and still-active campaigns with live counts, alerts that need a person, channel health."""
    agency = _agency(viewer)
    now = ctx.now()
    today = ctx.today()
    midnight = datetime.combine(today, datetime.min.time(), ctx.tz).astimezone(UTC)
    with ctx.db.transaction() as s:
        rows = list(s.scalars(select(Campaign).where(or_(Campaign.as_of == today, Campaign.state.in_(ACTIVE_STATES)))
                              .order_by(Campaign.id.desc()).limit(20)).all())
        progress = _progress_rows(s, rows, agency)
        if agency is not None:  # an agency sees the campaigns that reach its own accounts, never a row of "0 / 0"
            progress = [p for p in progress if p.counts]
        imports_today = int(s.scalar(select(func.count()).select_from(Import).where(Import.created_at >= midnight))
                            or 0) if agency is None else 0
        day = _scoped_messages(agency).where(Message.submitted_at >= midnight)
        sent_today = int(s.scalar(day.with_only_columns(func.count())) or 0)
        delivered_today = int(s.scalar(day.with_only_columns(func.count()).where(Message.state == "delivered"))
                              or 0)
        channels = [] if agency is not None else _channel_health(ctx, s, now)
    alerts: list[Alert] = []
    if agency is None:
        for p in progress:
            link = f"/campaigns/{p.campaign_id}"
            if p.state == CampaignState.PILOTING and p.pilot_total and not p.pilot_pending:
                alerts.append(Alert("warn", f"批次 #{p.campaign_id} 试发已完成，等待合规审核人批准（四眼原则）。",
                                    f"Campaign #{p.campaign_id}: pilot finished, waiting for a second person's "
                                    "approval.", link))
            elif p.state == CampaignState.PAUSED:
                alerts.append(Alert("danger", f"批次 #{p.campaign_id} 已暂停：{p.pause_reason or '未说明原因'}",
                                    f"Campaign #{p.campaign_id} is paused: {p.pause_reason or 'no reason given'}",
                                    link))
        for ch in channels:
            if ch.status == "failing":
                alerts.append(Alert("danger", f"通道 {ch.name} 近一小时失败率 {ch.failure_rate:.0%}，请检查通道或切换备用通道。",
                                    f"Channel {ch.name}: {ch.failure_rate:.0%} failed in the last hour; check it "
                                    "or fail over.", None))
        warning = next_year_warning(ctx, today)
        if warning is not None:
            alerts.append(Alert("warn", warning[0], warning[1], "/admin/calendar"))
    return DashboardView(today, progress, alerts, channels, imports_today, sent_today, delivered_today)


def _channel_health(ctx: AppContext, s: Session, now: datetime) -> list[ChannelHealth]:
    """Per channel over the last hour. "Submitted" counts as the "submitted today" card does (every message with a
    submission time in the window, whatever became of it), so the two figures agree when the day is an hour old;
    failures are failed or expired among the messages tried in the window."""
    since = now - timedelta(hours=1)
    submitted_n = dict(s.execute(select(Message.channel, func.count()).where(
        Message.submitted_at >= since, Message.channel.is_not(None)).group_by(Message.channel)).all())
    stats: dict[str, dict[str, int]] = {}
    for ch, state_name, n in s.execute(select(Message.channel, Message.state, func.count()).where(
            Message.submitting_at >= since, Message.channel.is_not(None)).group_by(Message.channel, Message.state)):
        stats.setdefault(str(ch), {})[str(state_name)] = int(n)
    out = []
    for name, cfg in ctx.settings.channels.items():
        st = stats.get(name, {})
        submitted = int(submitted_n.get(name, 0))
        failed = st.get("failed", 0) + st.get("expired", 0)
        tried = sum(st.values())
        h = ChannelHealth(name, cfg.kind, cfg.enabled, cfg.rate, cfg.priority, submitted, st.get("delivered", 0),
                          failed, "ok", tried)
        if not cfg.enabled:
            h.status = "disabled"
        elif tried == 0:
            h.status = "idle"
        elif h.failure_rate >= 0.2:
            h.status = "failing"
        elif h.failure_rate >= 0.05:
            h.status = "degraded"
        out.append(h)
    return out


# -------------------------------------------------------------------------------------------- messages


@dataclass
class MessageRow:
    message_id: int
    campaign_id: int
    loan_id: str
    phone: str
    state: str
    reason: str | None
    segment: str | None
    step: str
    variant: str | None
    is_pilot: bool
    parts: int
    submitted_at: datetime | None
    final_at: datetime | None

    @property
    def state_zh(self) -> str:
        return MESSAGE_STATE_ZH.get(self.state, self.state)


def search_messages(ctx: AppContext, viewer: Principal, *, loan_id: str | None = None, phone: str | None = None,
                    campaign_id: int | None = None, state: str | None = None, cursor: int | None = None,
                    limit: int = 50) -> Page[MessageRow]:
    """Messages by any of loan id, phone, campaign, state (none required), newest first, scoped to the viewer
    (the API's keyset pages; the console's numbered pages with every filter: :mod:`queries.messages`)."""
    loan_id = (loan_id or "").strip() or None
    phone_e164 = normalise_phone_query(phone) if phone and phone.strip() else None
    limit = max(1, min(limit, 200))
    q = _scoped_messages(_agency(viewer)).order_by(Message.id.desc()).limit(limit + 1)
    if loan_id is not None:
        q = q.where(Message.loan_id == loan_id[:64])
    if phone_e164 is not None:
        q = q.where(Message.phone.in_((phone_e164, phone_e164[3:])))
    if campaign_id is not None:
        q = q.where(Message.campaign_id == campaign_id)
    if state:
        q = q.where(Message.state == state)
    if cursor is not None:
        q = q.where(Message.id < cursor)
    with ctx.db.transaction() as s:
        rows = list(s.scalars(q).all())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [MessageRow(m.id, m.campaign_id, m.loan_id, show_phone(viewer, m.phone), m.state, m.reason, m.segment,
                        m.step, m.variant, m.is_pilot, m.parts, _utc(m.submitted_at), _utc(m.final_at)) for m in rows]
    return Page(items, rows[-1].id if more else None)


@dataclass
class TimelineEntry:
    at: datetime | None
    kind: str  # planned | submitting | submitted | part | dlr | reply | final | audit
    text_zh: str
    text_en: str


@dataclass
class MessageDetail:
    row: MessageRow
    text: str
    detail: str | None
    channel: str | None
    provider_id: str | None
    attempts: int
    template: str | None
    template_version: int | None
    account: dict[str, Any]
    timeline: list[TimelineEntry]


def message_detail(ctx: AppContext, viewer: Principal, message_id: int) -> MessageDetail:
    """One message's full history: plan, claims, provider ids per part, every DLR, replies, final state."""
    agency = _agency(viewer)
    with ctx.db.transaction() as s:
        row = s.execute(_scoped_messages(agency).where(Message.id == message_id)).scalars().first()
        if row is None:
            raise NotFoundError(f"短信 #{message_id} 不存在", f"message #{message_id} does not exist",
                                code="not_found.message")
        m: Message = row
        acct = s.get(Account, m.account_id)
        tv = s.get(TemplateVersion, m.template_version_id) if m.template_version_id else None
        code = s.get(TemplateRecord, tv.template_id).code if tv else None  # type: ignore[union-attr]
        parts = s.scalars(select(MessagePart).where(MessagePart.message_id == m.id).order_by(MessagePart.part_no)).all()
        dlrs = s.scalars(select(DeliveryReportRow).where(DeliveryReportRow.message_id == m.id)
                         .order_by(DeliveryReportRow.id)).all()
        replies = s.scalars(select(Reply).where(Reply.message_id == m.id).order_by(Reply.id)).all()
        camp = s.get(Campaign, m.campaign_id)
        created = _utc(camp.created_at) if camp else None
    timeline = [TimelineEntry(created, "planned",
                              f"计划：分群 {m.segment or '—'} · 步骤 {m.step} · 变体 {m.variant or '—'}",
                              f"planned: segment {m.segment or '—'}, step {m.step}, variant {m.variant or '—'}")]
    if m.state == "suppressed":
        timeline.append(TimelineEntry(_utc(m.final_at) or created, "final", f"已抑制（{m.reason}）",
                                      f"suppressed ({m.reason})"))
    if m.submitting_at:
        timeline.append(TimelineEntry(_utc(m.submitting_at), "submitting",
                                      f"提交通道 {m.channel}（第 {m.attempts} 次尝试）",
                                      f"submitting to {m.channel} (attempt {m.attempts})"))
    if m.submitted_at:
        timeline.append(TimelineEntry(_utc(m.submitted_at), "submitted", f"通道已受理，编号 {m.provider_id}",
                                      f"accepted by the channel, id {m.provider_id}"))
    for p in parts:
        timeline.append(TimelineEntry(_utc(m.submitted_at), "part", f"第 {p.part_no} 段：{p.provider_id} · {p.status or '等待回执'}",
                                      f"part {p.part_no}: {p.provider_id} · {p.status or 'awaiting DLR'}"))
    for d in dlrs:
        timeline.append(TimelineEntry(_utc(d.received_at), "dlr",
                                      f"状态报告：{d.status}（错误码 {d.error_code or '—'}）",
                                      f"delivery report: {d.status} (error {d.error_code or '—'})"))
    for r in replies:
        shown = r.text if may_see_phone(viewer) else mask_text_phones(r.text)
        timeline.append(TimelineEntry(_utc(r.received_at), "reply", f"回复（{r.classification}）：{shown}",
                                      f"reply ({r.classification}): {shown}"))
    if m.final_at and m.state != "suppressed":
        timeline.append(TimelineEntry(_utc(m.final_at), "final",
                                      f"最终状态：{MESSAGE_STATE_ZH.get(m.state, m.state)}" + (f"（{m.reason}）" if m.reason else ""),
                                      f"final state: {m.state}" + (f" ({m.reason})" if m.reason else "")))
    order = {"planned": 0, "submitting": 1, "submitted": 2, "part": 3, "dlr": 4, "final": 5, "reply": 6}
    timeline.sort(key=lambda e: (e.at or datetime.min.replace(tzinfo=UTC), order.get(e.kind, 9)))
    account = {}
    if acct is not None:
        account = {"loan_id": acct.loan_id, "name": mask_name(acct.name), "amount_due_fen": acct.amount_due_fen,
                   "due_date": acct.due_date.isoformat(), "dpd": acct.dpd, "bucket": acct.bucket,
                   "product": acct.product, "agency": acct.agency, "import_id": acct.import_id}
    mrow = MessageRow(m.id, m.campaign_id, m.loan_id, show_phone(viewer, m.phone), m.state, m.reason, m.segment,
                      m.step, m.variant, m.is_pilot, m.parts, _utc(m.submitted_at), _utc(m.final_at))
    return MessageDetail(mrow, m.text or "", m.detail, m.channel, m.provider_id, m.attempts, code,
                         tv.version if tv else None, account, timeline)


# --------------------------------------------------------------------------------------------- imports


@dataclass
class ImportRow:
    import_id: int
    as_of: date
    files: list[str]
    rows: int
    accepted: int
    rejected: int
    created_by: str
    created_at: datetime | None
    has_report: bool
    kind: str = "portfolio"  # portfolio | payments (one numbering for both)


@dataclass
class RejectReason:
    code: str
    count: int
    example: str


@dataclass
class ImportView:
    row: ImportRow
    reasons: list[RejectReason]
    samples: list[dict[str, Any]]  # only for roles that may see reject details
    campaigns: list[tuple[int, str, str]]


def _import_row(imp: Import) -> ImportRow:
    return ImportRow(imp.id, imp.as_of, [Path(str(f)).name for f in imp.files], imp.rows, imp.accepted,
                     imp.rejected, imp.created_by, _utc(imp.created_at), bool(imp.reject_report), imp.kind)


def list_imports(ctx: AppContext, *, cursor: int | None = None, limit: int = 20) -> Page[ImportRow]:
    with ctx.db.transaction() as s:
        q = select(Import).where(Import.kind == "portfolio").order_by(Import.id.desc()).limit(limit + 1)
        if cursor is not None:
            q = q.where(Import.id < cursor)
        rows = list(s.scalars(q).all())
        more = len(rows) > limit
        return Page([_import_row(i) for i in rows[:limit]], rows[limit - 1].id if more else None)


def import_view(ctx: AppContext, viewer: Principal, import_id: int, *, samples: int = 20) -> ImportView:
    with ctx.db.transaction() as s:
        imp = s.get(Import, import_id)
        if imp is None:
            raise NotFoundError(f"导入批次 #{import_id} 不存在", f"import #{import_id} does not exist",
                                code="not_found.import")
        examples = dict(s.execute(select(RejectRow.reason, func.min(RejectRow.message_zh))
                                  .where(RejectRow.import_id == import_id).group_by(RejectRow.reason)).all())
        reasons = sorted((RejectReason(str(k), int(v), str(examples.get(k, ""))) for k, v in (imp.reasons or {}).items()),
                         key=lambda r: -r.count)
        sample_rows: list[dict[str, Any]] = []
        if viewer.role in REJECT_DETAIL_ROLES or viewer.role is Role.ADMIN:
            for r in s.scalars(select(RejectRow).where(RejectRow.import_id == import_id).order_by(RejectRow.id)
                               .limit(samples)).all():
                raw = r.raw if may_see_phone(viewer) else mask_raw_row(r.raw)  # names too
                sample_rows.append({"file": Path(r.source_file).name, "row": r.source_row, "reason": r.reason,
                                    "message": r.message_zh, "raw": raw})
        camps = [(c.id, c.name, c.state) for c in s.scalars(select(Campaign).where(Campaign.import_id == import_id)
                                                               .order_by(Campaign.id)).all()]
        return ImportView(_import_row(imp), reasons, sample_rows, camps)


def reject_report(ctx: AppContext, import_id: int, fmt: str, *, actor: str,
                  viewer: Principal | None = None) -> Path | bytes:
    """The reject report of an import (``csv`` or ``xlsx``); the download is audited (it holds raw rows). For a
    ``viewer`` whose role sees masked phones the content comes back with names and mobiles masked (bytes)."""
    if fmt not in ("csv", "xlsx"):
        raise InputError("格式应为 csv 或 xlsx", "format must be csv or xlsx", code="input.format")
    with ctx.db.transaction() as s:
        imp = s.get(Import, import_id)
        path = imp.reject_report if imp is not None else None
    if not path:
        raise NotFoundError(f"导入批次 #{import_id} 没有拒绝明细（没有被拒绝的行）",
                            f"import #{import_id} has no reject report", code="not_found.report")
    p = Path(path).with_suffix(f".{fmt}")
    if not p.exists():
        raise NotFoundError(f"拒绝明细文件已不存在：{p.name}", f"reject report file is gone: {p.name}",
                            code="not_found.report")
    masked = viewer is not None and not may_see_phone(viewer)
    with ctx.db.transaction() as s:
        audit.record(s, at=ctx.now(), actor=actor, action="import.rejects_download", entity="import",
                     entity_id=import_id, after={"format": fmt, "masked": masked})
    return masked_report(p, fmt) if masked else p


# ----------------------------------------------------------------------------------------------- audit


@dataclass
class AuditRow:
    event_id: int
    at: datetime | None
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def audit_log(ctx: AppContext, f: AuditFilter, *, cursor: int | None = None, limit: int = 50) -> Page[AuditRow]:
    limit = max(1, min(limit, 200))
    conds = audit_conditions(ctx, f)
    if cursor is not None:
        conds.append(AuditEvent.id < cursor)
    with ctx.db.transaction() as s:
        rows = list(s.scalars(select(AuditEvent).where(and_(true(), *conds)).order_by(AuditEvent.id.desc())
                              .limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([AuditRow(e.id, _utc(e.at), e.actor, e.action, e.entity, e.entity_id, e.before, e.after)
                 for e in rows], rows[-1].id if more else None)


def audit_facets(ctx: AppContext) -> dict[str, list[str]]:
    """The distinct actions, entities and actors, for the filter menus."""
    with ctx.db.transaction() as s:
        return {
            "actions": sorted(str(a) for a in s.scalars(select(AuditEvent.action).distinct().limit(200)).all()),
            "entities": sorted(str(a) for a in s.scalars(select(AuditEvent.entity).distinct().limit(100)).all()),
            "actors": sorted(str(a) for a in s.scalars(select(AuditEvent.actor).distinct().limit(200)).all()),
        }


# ------------------------------------------------------------------------------------------- templates


@dataclass
class TemplateVersionRow:
    version_id: int
    version: int
    status: str
    author: str
    reviewer: str | None
    text: str
    variables: dict[str, Any]
    findings: list[dict[str, Any]]
    created_at: datetime | None
    approved_at: datetime | None


def template_history(ctx: AppContext, code: str) -> tuple[TemplateSummary, list[TemplateVersionRow]]:
    with ctx.db.transaction() as s:
        rec = s.scalars(select(TemplateRecord).where(TemplateRecord.code == code)).first()
        if rec is None:
            raise NotFoundError(f"模板 {code} 不存在", f"template {code!r} does not exist", code="not_found.template")
        vs = s.scalars(select(TemplateVersion).where(TemplateVersion.template_id == rec.id)
                       .order_by(TemplateVersion.version.desc())).all()
        rows = [TemplateVersionRow(v.id, v.version, v.status, v.author, v.reviewer, v.text, dict(v.variables or {}),
                                   list(v.findings or []), _utc(v.created_at), _utc(v.approved_at)) for v in vs]
    approved = [r for r in rows if r.status == "approved"]
    summary = TemplateSummary(rec.code, rec.name, rec.tone, rec.stage, rec.profile, rows[0].version if rows else 0,
                              rows[0].status if rows else "", approved[0].version if approved else None,
                              rows[0].text if rows else "")
    return summary, rows


def message_state_zh(state: str) -> str:
    return MESSAGE_STATE_ZH.get(state, state)


__all__ = [
    "FULL_PHONE_ROLES", "Alert", "AuditFilter", "AuditRow", "CampaignProgress", "CampaignView", "ChannelHealth",
    "DashboardView", "Funnel", "ImportRow", "ImportView", "MessageDetail", "MessageRow", "Page",
    "audit_facets", "audit_log", "campaign_progress", "campaign_view", "dashboard", "import_view", "list_campaigns",
    "list_imports", "list_templates", "may_see_phone", "message_detail", "reject_report", "search_messages",
    "template_history",
]


# ---------------------------------------------------------------------------------------- template check


@dataclass
class Segment:
    text: str
    severity: str | None = None
    title: str = ""

    @property
    def finding(self) -> bool:
        return self.severity is not None


@dataclass
class TemplateCheck:
    """What the editor shows while a template is typed: findings highlighted in place, length, previews."""

    segments: list[Segment]
    findings: list[dict[str, Any]]
    chars: int
    parts: int
    previews: list[dict[str, Any]]
    error_zh: str | None = None
    error_en: str | None = None


_SEVERITY_RANK = {"info": 1, "warn": 2, "block": 3}


def parse_variables(text: str) -> dict[str, str]:
    """``name: type`` per line (blank lines and ``#`` comments ignored)."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, vtype = line.partition(":")
        if not sep or not name.strip() or not vtype.strip():
            raise InputError(f"变量第 {n} 行应为「名称: 类型」，例如 amount: money", f"variable line {n} must be "
                             "'name: type', e.g. amount: money", code="template.variables")
        out[name.strip()] = vtype.strip()
    return out


def format_variables(variables: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in variables.items())


def highlight(text: str, findings: list[dict[str, Any]]) -> list[Segment]:
    """Cut ``text`` into runs, each carrying the most severe finding that covers it (whole-text findings,
    e.g. a missing element, are listed but not painted over the text)."""
    sev: list[str | None] = [None] * len(text)
    titles: list[list[str]] = [[] for _ in text]
    for f in findings:
        start, end = max(0, int(f["start"])), min(len(text), int(f["end"]))
        if end <= start or (start == 0 and end >= len(text)):
            continue
        for i in range(start, end):
            if sev[i] is None or _SEVERITY_RANK.get(f["severity"], 0) > _SEVERITY_RANK.get(sev[i] or "", 0):
                sev[i] = f["severity"]
            titles[i].append(f"{f['rule']}: {f['message_zh']}")
    segs: list[Segment] = []
    for i, ch in enumerate(text):
        title = "；".join(titles[i])
        if segs and segs[-1].severity == sev[i] and segs[-1].title == title:
            segs[-1].text += ch
        else:
            segs.append(Segment(ch, sev[i], title))
    return segs


def template_check(ctx: AppContext, text: str, variables_text: str, *, profile: str = "CN", tone: str = "neutral",
                   stage: str = "") -> TemplateCheck:
    """Lint a template as typed (spans in its own text), its worst-case length with the signature, and its
    renderings for the sample accounts — all through :mod:`dunning.services.templates`."""
    from dunning.services import templates as tsvc
    from dunning.templates import TemplateSpec

    text = text[:1000]
    try:
        variables = parse_variables(variables_text)
        result = tsvc.lint(ctx, [TemplateSpec(id="draft", text=text, variables=variables, tone=tone,
                                              stage=stage, profile=profile)])[0]
    except InputError as exc:
        return TemplateCheck([Segment(text)], [], len(text), 0, [], exc.message_zh, exc.message_en)
    error: tuple[str | None, str | None] = (None, None)
    try:  # the same findings as `dunning templates lint`, whether or not the text can be rendered yet
        rows = tsvc.preview(ctx, text=text, variables=variables, profile=profile)
    except InputError as exc:  # a binding or syntax problem: a finding of its own; no previews until fixed
        rows, error = [], (exc.message_zh, exc.message_en)
    findings = [f.to_dict() for f in result.findings]
    previews = [{"label": r.loan_id, "text": r.text, "chars": r.length, "parts": r.segments,
                 "blocks": sum(1 for f in r.findings if f.severity == "block")} for r in rows[:3]]
    return TemplateCheck(highlight(text, findings), findings, result.worst_case_length, result.segments, previews,
                         *error)
