"""One message's full history, as its page and the API show it: plan, claims, provider ids per part, every
delivery report, replies, final state, and the (masked) account it was sent for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from dunning.channels.dlr import part_state
from dunning.db.models import (
    Account,
    Campaign,
    DeliveryReportRow,
    Message,
    MessagePart,
    Reply,
    TemplateRecord,
    TemplateVersion,
)
from dunning.domain.masking import mask_name
from dunning.errors import NotFoundError
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.queries.labels import MESSAGE_STATE_ZH
from dunning.services.queries.messages import MessageRow, message_row
from dunning.services.queries.scope import agency_of, mask_text_phones, may_see_phone, scoped_messages, utc


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
    agency = agency_of(viewer)
    with ctx.db.transaction() as s:
        row = s.execute(scoped_messages(agency).where(Message.id == message_id)).scalars().first()
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
        created = utc(camp.created_at) if camp else None
        as_of = camp.as_of if camp else None
    timeline = [TimelineEntry(created, "planned",
                              f"计划：分群 {m.segment or '—'} · 步骤 {m.step} · 变体 {m.variant or '—'}",
                              f"planned: segment {m.segment or '—'}, step {m.step}, variant {m.variant or '—'}")]
    if m.state == "suppressed":
        timeline.append(TimelineEntry(utc(m.final_at) or created, "final", f"已抑制（{m.reason}）",
                                      f"suppressed ({m.reason})"))
    if m.submitting_at:
        timeline.append(TimelineEntry(utc(m.submitting_at), "submitting",
                                      f"提交通道 {m.channel}（第 {m.attempts} 次尝试）",
                                      f"submitting to {m.channel} (attempt {m.attempts})"))
    if m.submitted_at:
        timeline.append(TimelineEntry(utc(m.submitted_at), "submitted", f"通道已受理，编号 {m.provider_id}",
                                      f"accepted by the channel, id {m.provider_id}"))
    for p in parts:
        said = part_state(d.status for d in dlrs if d.channel == p.channel and d.provider_id == p.provider_id)
        timeline.append(TimelineEntry(utc(m.submitted_at), "part", f"第 {p.part_no} 段：{p.provider_id} · {MESSAGE_STATE_ZH.get(said, said) if said else '等待回执'}",
                                      f"part {p.part_no}: {p.provider_id} · {said or 'awaiting DLR'}"))
    for d in dlrs:
        timeline.append(TimelineEntry(utc(d.received_at), "dlr",
                                      f"状态报告：{d.status}（错误码 {d.error_code or '—'}）",
                                      f"delivery report: {d.status} (error {d.error_code or '—'})"))
    for r in replies:
        shown = r.text if may_see_phone(viewer) else mask_text_phones(r.text)
        timeline.append(TimelineEntry(utc(r.received_at), "reply", f"回复（{r.classification}）：{shown}",
                                      f"reply ({r.classification}): {shown}"))
    if m.final_at and m.state != "suppressed":
        timeline.append(TimelineEntry(utc(m.final_at), "final",
                                      f"最终状态：{MESSAGE_STATE_ZH.get(m.state, m.state)}" + (f"（{m.reason}）" if m.reason else ""),
                                      f"final state: {m.state}" + (f" ({m.reason})" if m.reason else "")))
    order = {"planned": 0, "submitting": 1, "submitted": 2, "part": 3, "dlr": 4, "final": 5, "reply": 6}
    timeline.sort(key=lambda e: (e.at or datetime.min.replace(tzinfo=UTC), order.get(e.kind, 9)))
    account = {}
    if acct is not None:
        account = {"loan_id": acct.loan_id, "name": mask_name(acct.name), "amount_due_fen": acct.amount_due_fen,
                   "due_date": acct.due_date.isoformat(), "dpd": acct.dpd, "bucket": acct.bucket,
                   "product": acct.product, "agency": acct.agency, "import_id": acct.import_id}
    mrow = message_row(viewer, m, as_of, code)
    return MessageDetail(mrow, m.text or "", m.detail, m.channel, m.provider_id, m.attempts, code,
                         tv.version if tv else None, account, timeline)
