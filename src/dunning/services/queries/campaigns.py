"""Campaigns as lists show them: progress counts per campaign (scoped to the viewer), filters, pages, export."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dunning.db.models import Account, Campaign, Message
from dunning.domain.states import CAMPAIGN_STATE_ZH, CampaignState
from dunning.errors import InputError
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.queries.paging import ListPage, PageRequest, fetch, page_of
from dunning.services.queries.scope import agency_of

SENT_STATES = ("submitted", "delivered", "failed", "expired", "held")
ACCEPTED_STATES = ("submitted", "delivered", "held")
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
    def pilot_total(self) -> int:
        return sum(self.pilot_counts.values())

    @property
    def pilot_pending(self) -> int:
        return sum(self.pilot_counts.get(k, 0) for k in PENDING_STATES)

    def to_dict(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "name": self.name, "state": self.state, "state_zh": self.state_zh,
                "as_of": self.as_of, "channel": self.channel, "pause_reason": self.pause_reason,
                "counts": self.counts, "pilot_counts": self.pilot_counts, "to_send": self.to_send,
                "done": self.done, "accepted": self.accepted, "delivered": self.counts.get("delivered", 0),
                "failed": self.counts.get("failed", 0) + self.counts.get("expired", 0),
                "suppressed": self.counts.get("suppressed", 0), "pct": self.pct,
                "pilot_total": self.pilot_total, "pilot_pending": self.pilot_pending}


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


@dataclass(frozen=True)
class CampaignFilter:
    state: str | None = None
    since: date | None = None  # business date, inclusive
    until: date | None = None
    name: str | None = None  # part of the name
    channel: str | None = None

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, "")}


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
    if f.since:
        q = q.where(Campaign.as_of >= f.since)
    if f.until:
        q = q.where(Campaign.as_of <= f.until)
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


def export_frame(page: ListPage[CampaignProgress]) -> pl.DataFrame:
    rows = [p.to_dict() for p in page.items]
    return pl.DataFrame({
        "批次": [r["campaign_id"] for r in rows],
        "名称": [r["name"] for r in rows],
        "业务日期": [r["as_of"] for r in rows],
        "状态": [r["state_zh"] for r in rows],
        "通道": [r["channel"] for r in rows],
        "待发送总数": [r["to_send"] for r in rows],
        "已发送": [r["done"] for r in rows],
        "已送达": [r["delivered"] for r in rows],
        "失败/过期": [r["failed"] for r in rows],
        "已抑制": [r["suppressed"] for r in rows],
    }, schema_overrides={"批次": pl.Int64, "待发送总数": pl.Int64, "已发送": pl.Int64, "已送达": pl.Int64,
                         "失败/过期": pl.Int64, "已抑制": pl.Int64})
