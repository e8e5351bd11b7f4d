"""The dashboard: today's and still-active campaigns with live counts, alerts that need a person, channel health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dunning.db.models import Campaign, Import, Message
from dunning.domain.states import CampaignState
from dunning.services.calendar import next_year_warning
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.queries.campaigns import CampaignProgress, progress_rows
from dunning.services.queries.scope import agency_of, scoped_messages

ACTIVE_STATES = tuple(s.value for s in (CampaignState.PLANNED, CampaignState.PILOTING, CampaignState.PILOT_APPROVED,
                                        CampaignState.SENDING, CampaignState.PAUSED))


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
    agency = agency_of(viewer)
    now = ctx.now()
    today = ctx.today()
    midnight = datetime.combine(today, datetime.min.time(), ctx.tz).astimezone(UTC)
    with ctx.db.transaction() as s:
        rows = list(s.scalars(select(Campaign).where(or_(Campaign.as_of == today, Campaign.state.in_(ACTIVE_STATES)))
                              .order_by(Campaign.id.desc()).limit(20)).all())
        progress = progress_rows(s, rows, agency)
        if agency is not None:  # an agency sees the campaigns that reach its own accounts, never a row of "0 / 0"
            progress = [p for p in progress if p.counts]
        imports_today = int(s.scalar(select(func.count()).select_from(Import).where(Import.created_at >= midnight))
                            or 0) if agency is None else 0
        day = scoped_messages(agency).where(Message.submitted_at >= midnight)
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
