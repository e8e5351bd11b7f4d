"""Campaigns as the console and the API show them: progress counts per campaign (scoped to the viewer), the
numbered list with filters and export, the API's keyset list, and the campaign page (funnel, samples, pilot)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import distinct, exists, func, select
from sqlalchemy.orm import Session

from dunning.db.models import Account, Campaign, Message, Payment, Strategy, TemplateRecord, TemplateVersion
from dunning.domain.states import ACCEPTED_STATES, CAMPAIGN_STATE_ZH, SENT_STATES, CampaignState
from dunning.errors import InputError
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.transitions import get_campaign
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.queries.filters import Filter
from dunning.services.queries.paging import CursorPage, ListPage, PageRequest, fetch, keyset, page_of, within
from dunning.services.queries.scope import agency_of, scoped_messages, show_phone

PENDING_STATES = ("planned", "queued", "submitting")


@dataclass
class CampaignProgress:
    campaign_id: int
    name: str
    state: str
    as_of: str
    channel: str
    pause_reason: str | None
    counts: dict[str, int]
    pilot_counts: dict[str, int]
    created_by: str = ""
    pilot_approved_by: str | None = None

    @property
    def state_zh(self) -> str:
        try:
            return CAMPAIGN_STATE_ZH[CampaignState(self.state)]
        except ValueError:
            return self.state

    @property
    def to_send(self) -> int:
        return sum(v for k, v in self.counts.items() if k != "suppressed")

    @property
    def done(self) -> int:
        return sum(self.counts.get(k, 0) for k in SENT_STATES)

    @property
    def accepted(self) -> int:
        return sum(self.counts.get(k, 0) for k in ACCEPTED_STATES)

    @property
    def pct(self) -> float:
        return round(100.0 * self.done / self.to_send, 1) if self.to_send else 0.0

    @property
    def delivered(self) -> int:
        return self.counts.get("delivered", 0)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("expired", 0)

    @property
    def suppressed(self) -> int:
        return self.counts.get("suppressed", 0)

    @property
    def pilot_total(self) -> int:
        return sum(self.pilot_counts.values())

    @property
    def pilot_pending(self) -> int:
        return sum(self.pilot_counts.get(k, 0) for k in PENDING_STATES)

    def to_dict(self) -> dict[str, Any]:
        """What the live views stream: the fields (not who created or approved it) and every figure."""
        return ({f.name: getattr(self, f.name) for f in fields(self) if f.name not in PROGRESS_PRIVATE}
                | {k: getattr(self, k) for k in PROGRESS_FIGURES})


PROGRESS_PRIVATE = ("created_by", "pilot_approved_by")
PROGRESS_FIGURES = ("state_zh", "to_send", "done", "accepted", "delivered", "failed", "suppressed", "pct",
                    "pilot_total", "pilot_pending")


def progress_rows(s: Session, campaigns: list[Campaign], agency: str | None) -> list[CampaignProgress]:
    ids = [c.id for c in campaigns]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    pilot: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        q = select(Message.campaign_id, Message.state, Message.is_pilot, func.count()).where(
            Message.campaign_id.in_(ids))
        if agency is not None:
            q = q.join(Account, Account.id == Message.account_id).where(Account.agency == agency)
        for cid, st, is_pilot, n in s.execute(q.group_by(Message.campaign_id, Message.state, Message.is_pilot)):
            counts[cid][st] = counts[cid].get(st, 0) + int(n)
            if is_pilot:
                pilot[cid][st] = pilot[cid].get(st, 0) + int(n)
    return [CampaignProgress(c.id, c.name, c.state, c.as_of.isoformat(), c.channel, c.pause_reason, counts[c.id],
                             pilot[c.id], c.created_by, c.pilot_approved_by) for c in campaigns]


class CampaignFilter(Filter):
    state: str | None = None
    since: date | None = None  # business date, inclusive
    until: date | None = None
    name: str | None = None  # part of the name
    channel: str | None = None


SORTS: dict[str, Any] = {"id": Campaign.id, "name": Campaign.name, "as_of": Campaign.as_of, "state": Campaign.state,
                         "channel": Campaign.channel}
DEFAULT_SORT = "-id"


def list_campaigns(ctx: AppContext, viewer: Principal, f: CampaignFilter,
                   req: PageRequest) -> ListPage[CampaignProgress]:
    """Campaigns under the filters. An agency viewer sees only campaigns with messages to its own accounts
    (never a row of "0 / 0" whose page it may not open)."""
    q = select(Campaign)
    if f.state:
        if f.state not in {s.value for s in CampaignState}:
            raise InputError(f"未知的批次状态 {f.state}", f"unknown campaign state {f.state!r}", code="input.state")
        q = q.where(Campaign.state == f.state)
    q = within(q, Campaign.as_of, f.since, f.until)
    if f.name and f.name.strip():
        q = q.where(Campaign.name.contains(f.name.strip(), autoescape=True))
    if f.channel:
        q = q.where(Campaign.channel == f.channel)
    agency = agency_of(viewer)
    if agency is not None:
        q = q.where(Campaign.id.in_(select(Message.campaign_id).join(Account, Account.id == Message.account_id)
                                    .where(Account.agency == agency)))
    with ctx.db.transaction() as s:
        rows, total, sort = fetch(s, q, req, SORTS, DEFAULT_SORT, Campaign.id)
        items = progress_rows(s, [c for (c,) in rows], agency)
    return page_of(items, total, req, sort)


EXPORT_COLUMNS = {"批次": "campaign_id", "名称": "name", "业务日期": "as_of", "状态": "state_zh", "通道": "channel",
                  "待发送总数": "to_send", "已发送": "done", "已送达": "delivered", "失败/过期": "failed",
                  "已抑制": "suppressed"}


def export_frame(page: ListPage[CampaignProgress]) -> pl.DataFrame:
    counts = ("批次", "待发送总数", "已发送", "已送达", "失败/过期", "已抑制")
    return pl.DataFrame({zh: [getattr(r, attr) for r in page.items] for zh, attr in EXPORT_COLUMNS.items()},
                        schema_overrides=dict.fromkeys(counts, pl.Int64))


# ------------------------------------------------------------------------------------- one campaign, keyset list


def campaign_progress(ctx: AppContext, viewer: Principal, campaign_id: int) -> CampaignProgress:
    """Message counts by state (and the pilot's), read from the database: what every live view polls."""
    with ctx.db.transaction() as s:
        return progress_rows(s, [get_campaign(s, campaign_id)], agency_of(viewer))[0]


def campaigns_after(ctx: AppContext, viewer: Principal, *, cursor: int | None = None, limit: int = 20,
                    state: str | None = None) -> CursorPage[CampaignProgress]:
    """The API's keyset list: newest first, from below ``cursor``."""
    with ctx.db.transaction() as s:
        q = select(Campaign).order_by(Campaign.id.desc()).limit(limit + 1)
        if cursor is not None:
            q = q.where(Campaign.id < cursor)
        if state:
            q = q.where(Campaign.state == state)
        rows, next_cursor = keyset(s.scalars(q).all(), limit)
        return CursorPage(progress_rows(s, rows, agency_of(viewer)), next_cursor)


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

    @property
    def suppressed_by_reason(self) -> dict[str, int]:  # the API's name for ``reasons``
        return self.reasons


def _samples(s: Session, viewer: Principal, scoped: Any) -> list[MessageSample]:
    """One rendered sample per segment × step × variant: the pilot's when there is one, else the plan's."""
    base = scoped.where(Message.text.is_not(None))
    if s.scalar(base.with_only_columns(func.count()).where(Message.is_pilot.is_(True))):
        base = base.where(Message.is_pilot.is_(True))
    else:
        base = base.where(Message.state != "suppressed")
    first_ids = [r[0] for r in s.execute(
        base.with_only_columns(func.min(Message.id)).group_by(Message.segment, Message.step, Message.variant)
        .limit(24)).all()]
    if not first_ids:
        return []
    rows = s.execute(
        select(Message, TemplateRecord.code).outerjoin(TemplateVersion, TemplateVersion.id == Message.template_version_id)
        .outerjoin(TemplateRecord, TemplateRecord.id == TemplateVersion.template_id)
        .where(Message.id.in_(first_ids)).order_by(Message.segment, Message.step, Message.variant)).all()
    return [MessageSample(m.id, m.segment, m.step, m.variant, code, show_phone(viewer, m.phone), m.text or "",
                          len(m.text or ""), m.parts, m.state, m.is_pilot) for m, code in rows]


def campaign_view(ctx: AppContext, viewer: Principal, campaign_id: int) -> CampaignView:
    """Everything the campaign page shows: live counts, plan, funnel, rendered samples, the pilot's go/no-go."""
    agency = agency_of(viewer)
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        progress = progress_rows(s, [c], agency)[0]
        scoped = scoped_messages(agency).where(Message.campaign_id == campaign_id)
        reasons = {str(k): int(v) for k, v in s.execute(
            scoped.with_only_columns(Message.reason, func.count()).where(Message.state == "suppressed")
            .group_by(Message.reason)).all()}
        repaid: int | None = None
        if s.scalar(select(func.count()).select_from(Payment)):
            paid_after = exists().where(Payment.loan_id == Message.loan_id, Payment.paid_at >= Message.submitted_at)
            repaid = int(s.scalar(scoped.with_only_columns(func.count(distinct(Message.loan_id))).where(
                Message.state == "delivered", paid_after)) or 0)
        funnel = Funnel(progress.to_send, progress.accepted + progress.counts.get("failed", 0)
                        + progress.counts.get("expired", 0), progress.counts.get("delivered", 0), repaid)
        samples = _samples(s, viewer, scoped)
        strat = s.get(Strategy, c.strategy_id)
        name = f"{strat.name} v{strat.version}" if strat else str(c.strategy_id)
        piloted = bool(c.pilot_summary)
    pilot = lifecycle.pilot_report(ctx, campaign_id) if piloted else None
    return CampaignView(progress, dict(c.plan_summary or {}), funnel, samples, name, c.import_id, reasons, pilot)
