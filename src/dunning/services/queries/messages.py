"""The message list: any combination of filters (none required), a total, numbered pages, sortable columns, export;
and the API's keyset search over the same rows (one row type, one set of filters).

By default messages that went out come first (newest first) and suppressed ones after them: a search for a loan
shows what the borrower received before what was held back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import case, exists, select

from dunning.db.models import Campaign, Message, Reply, TemplateRecord, TemplateVersion
from dunning.errors import InputError
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.queries.filters import Filter
from dunning.services.queries.labels import MESSAGE_STATE_ZH, REPLY_ZH, zh
from dunning.services.queries.paging import (
    CursorPage,
    ListPage,
    PageRequest,
    equal_to,
    fetch,
    page_of,
    within,
)
from dunning.services.queries.scope import agency_of, phone_column, scoped_messages, show_phone, utc


class MessageFilter(Filter):
    loan_id: str | None = None
    phone: str | None = None
    campaign_id: int | None = None
    state: str | None = None
    channel: str | None = None
    template: str | None = None  # template code
    segment: str | None = None
    since: date | None = None  # campaign business date, inclusive
    until: date | None = None
    reply: str | None = None  # a reply class (opt_out | dispute | promise | other), or "any"


@dataclass
class MessageRow:
    message_id: int
    campaign_id: int
    as_of: date | None
    loan_id: str
    phone: str
    state: str
    reason: str | None
    segment: str | None
    step: str
    variant: str | None
    template: str | None
    channel: str | None
    is_pilot: bool
    parts: int
    submitted_at: datetime | None
    final_at: datetime | None

    @property
    def state_zh(self) -> str:
        return MESSAGE_STATE_ZH.get(self.state, self.state)


def normalise_phone_query(raw: str) -> str:
    """``138 1234 8000`` / ``+86-138…`` → ``+8613812348000``; anything but a full mainland mobile is refused."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) != 11 or not digits.startswith("1"):
        raise InputError("请输入完整的 11 位手机号（例如 13812348000）。",
                         "Enter a full 11-digit mobile number (e.g. 13812348000).", code="input.phone")
    return "+86" + digits


SORTS: dict[str, Any] = {
    "id": Message.id, "campaign": Message.campaign_id, "loan_id": Message.loan_id, "state": Message.state,
    "segment": Message.segment, "submitted_at": Message.submitted_at, "as_of": Campaign.as_of,
}
DEFAULT_SORT = "-id"
_SUPPRESSED_LAST = case((Message.state == "suppressed", 1), else_=0)


def _statement(viewer: Principal, f: MessageFilter, *, tests: bool = False) -> Any:
    """Rows of ``(Message, as_of, template code)`` under every given filter; test sends only when ``tests``."""
    q = scoped_messages(agency_of(viewer)).join(Campaign, Campaign.id == Message.campaign_id).outerjoin(
        TemplateVersion, TemplateVersion.id == Message.template_version_id).outerjoin(
        TemplateRecord, TemplateRecord.id == TemplateVersion.template_id)
    q = q.with_only_columns(Message, Campaign.as_of, TemplateRecord.code)
    if not tests:
        q = q.where(Message.is_test.is_(False))
    if f.loan_id and f.loan_id.strip():
        q = q.where(Message.loan_id == f.loan_id.strip()[:64])
    if f.phone and f.phone.strip():
        e164 = normalise_phone_query(f.phone)
        q = q.where(Message.phone.in_((e164, e164[3:])))
    if f.campaign_id is not None:
        q = q.where(Message.campaign_id == f.campaign_id)
    q = equal_to(q, ((Message.state, f.state), (Message.channel, f.channel), (TemplateRecord.code, f.template),
                     (Message.segment, f.segment)))
    q = within(q, Campaign.as_of, f.since, f.until)
    if f.reply:
        cond = Reply.message_id == Message.id
        if f.reply != "any":
            if f.reply not in REPLY_ZH:
                raise InputError(f"未知的回复类别 {f.reply}", f"unknown reply class {f.reply!r}", code="input.reply")
            cond = cond & (Reply.classification == f.reply)
        q = q.where(exists(select(Reply.id).where(cond)))
    return q


def message_row(viewer: Principal, m: Message, as_of: date | None, code: str | None) -> MessageRow:
    return MessageRow(m.id, m.campaign_id, as_of, m.loan_id, show_phone(viewer, m.phone), m.state, m.reason,
                      m.segment, m.step, m.variant, code, m.channel, m.is_pilot, m.parts, utc(m.submitted_at),
                      utc(m.final_at))


def list_messages(ctx: AppContext, viewer: Principal, f: MessageFilter, req: PageRequest) -> ListPage[MessageRow]:
    """Messages matching every given filter (none required), scoped to the viewer, phones masked by role."""
    with ctx.db.transaction() as s:
        stmt = _statement(viewer, f)
        if not req.sort:
            stmt = stmt.order_by(_SUPPRESSED_LAST)  # kept ahead of the page's own order by fetch()
        rows, total, sort = fetch(s, stmt, req, SORTS, DEFAULT_SORT, Message.id)
    return page_of([message_row(viewer, *r) for r in rows], total, req, sort)


def search_messages(ctx: AppContext, viewer: Principal, *, loan_id: str | None = None, phone: str | None = None,
                    campaign_id: int | None = None, state: str | None = None, cursor: int | None = None,
                    limit: int = 50) -> CursorPage[MessageRow]:
    """The API's keyset pages: messages by any of loan id, phone, campaign, state (none required), test sends
    included, newest first, scoped to the viewer (the console's numbered pages: :func:`list_messages`)."""
    limit = max(1, min(limit, 200))
    q = _statement(viewer, MessageFilter(loan_id=loan_id, phone=phone, campaign_id=campaign_id, state=state),
                   tests=True).order_by(Message.id.desc()).limit(limit + 1)
    if cursor is not None:
        q = q.where(Message.id < cursor)
    with ctx.db.transaction() as s:
        rows = s.execute(q).all()
    page = rows[:limit]
    return CursorPage([message_row(viewer, *r) for r in page], page[-1][0].id if len(rows) > limit else None)


def facets(ctx: AppContext) -> dict[str, list[str]]:
    """Distinct channels, segments and template codes, for the filter menus."""
    with ctx.db.transaction() as s:
        return {
            "channels": sorted(str(c) for c in s.scalars(select(Message.channel).where(
                Message.channel.is_not(None)).distinct().limit(50)).all()),
            "segments": sorted(str(c) for c in s.scalars(select(Message.segment).where(
                Message.segment.is_not(None)).distinct().limit(100)).all()),
            "templates": sorted(str(c) for c in s.scalars(select(TemplateRecord.code).distinct().limit(200)).all()),
        }


def export_frame(viewer: Principal, page: ListPage[MessageRow]) -> pl.DataFrame:
    """The rows as a sheet with Chinese headers; phones stay as masked as on screen."""
    frame = pl.DataFrame({
        "短信编号": [r.message_id for r in page.items],
        "批次": [r.campaign_id for r in page.items],
        "业务日期": [r.as_of.isoformat() if r.as_of else "" for r in page.items],
        "借款编号": [r.loan_id for r in page.items],
        "手机号": [r.phone for r in page.items],
        "分群": [r.segment or "" for r in page.items],
        "步骤": [r.step for r in page.items],
        "模板": [r.template or "" for r in page.items],
        "通道": [r.channel or "" for r in page.items],
        "状态": [zh(r.state) for r in page.items],
        "原因": [zh(r.reason) for r in page.items],
        "提交时间": [r.submitted_at.astimezone(UTC).isoformat(timespec="seconds") if r.submitted_at else ""
                     for r in page.items],
    }, schema_overrides={"短信编号": pl.Int64, "批次": pl.Int64})
    return phone_column(viewer, frame, "手机号")

