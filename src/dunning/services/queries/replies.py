"""The replies inbox: every inbound (MO) reply with its classification and the message it answers.

Reply text is shown with phone numbers masked unless the viewer's role may see them; agency users see only
replies to messages of their own accounts (a reply matched to no message is not theirs to see).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import func, select

from dunning.db.models import Account, Campaign, Message, Reply, TemplateRecord, TemplateVersion
from dunning.errors import InputError
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.queries.filters import Filter, local_days
from dunning.services.queries.labels import REPLY_ZH, zh
from dunning.services.queries.messages import normalise_phone_query
from dunning.services.queries.paging import ListPage, PageRequest, fetch, page_of
from dunning.services.queries.scope import agency_of, phone_column, show_phone, show_text, utc


class ReplyFilter(Filter):
    classification: str | None = None
    campaign_id: int | None = None
    loan_id: str | None = None
    phone: str | None = None
    since: date | None = None  # received, local date, inclusive
    until: date | None = None
    matched: str | None = None  # "yes": answers a known message; "no": matched to none


@dataclass
class ReplyRow:
    reply_id: int
    received_at: datetime | None
    phone: str
    text: str
    classification: str
    channel: str
    message_id: int | None
    campaign_id: int | None
    campaign_name: str | None
    loan_id: str | None
    step: str | None
    template: str | None
    message_state: str | None

    @property
    def classification_zh(self) -> str:
        return REPLY_ZH.get(self.classification, self.classification)


SORTS: dict[str, Any] = {"received_at": Reply.received_at, "classification": Reply.classification,
                         "campaign": Message.campaign_id, "loan_id": Message.loan_id}
DEFAULT_SORT = "-received_at"


def _statement(ctx: AppContext, viewer: Principal, f: ReplyFilter) -> Any:
    q = (select(Reply, Message.campaign_id, Campaign.name, Message.loan_id, Message.step, TemplateRecord.code,
                Message.state)
         .outerjoin(Message, Message.id == Reply.message_id)
         .outerjoin(Campaign, Campaign.id == Message.campaign_id)
         .outerjoin(TemplateVersion, TemplateVersion.id == Message.template_version_id)
         .outerjoin(TemplateRecord, TemplateRecord.id == TemplateVersion.template_id))
    agency = agency_of(viewer)
    if agency is not None:
        q = q.join(Account, Account.id == Message.account_id).where(Account.agency == agency)
    if f.classification:
        if f.classification not in REPLY_ZH:
            raise InputError(f"未知的回复类别 {f.classification}", f"unknown reply class {f.classification!r}",
                             code="input.reply")
        q = q.where(Reply.classification == f.classification)
    if f.campaign_id is not None:
        q = q.where(Message.campaign_id == f.campaign_id)
    if f.loan_id and f.loan_id.strip():
        q = q.where(Message.loan_id == f.loan_id.strip()[:64])
    if f.phone and f.phone.strip():
        e164 = normalise_phone_query(f.phone)
        q = q.where(Reply.phone.in_((e164, e164[3:])))
    q = q.where(*local_days(ctx, Reply.received_at, f.since, f.until))
    if f.matched == "yes":
        q = q.where(Reply.message_id.is_not(None))
    elif f.matched == "no":
        q = q.where(Reply.message_id.is_(None))
    return q


def list_replies(ctx: AppContext, viewer: Principal, f: ReplyFilter, req: PageRequest) -> ListPage[ReplyRow]:
    with ctx.db.transaction() as s:
        rows, total, sort = fetch(s, _statement(ctx, viewer, f), req, SORTS, DEFAULT_SORT, Reply.id)
    items = [ReplyRow(r.id, utc(r.received_at), show_phone(viewer, r.phone), show_text(viewer, r.text),
                      r.classification, r.channel, r.message_id, cid, cname, loan, step, code, mstate)
             for r, cid, cname, loan, step, code, mstate in rows]
    return page_of(items, total, req, sort)


def counts(ctx: AppContext, viewer: Principal, f: ReplyFilter) -> dict[str, int]:
    """Replies per class under the other filters (the inbox's tabs)."""
    base = _statement(ctx, viewer, ReplyFilter(None, f.campaign_id, f.loan_id, f.phone, f.since, f.until, f.matched))
    sub = base.with_only_columns(Reply.classification).subquery()
    with ctx.db.transaction() as s:
        got: dict[str, int] = dict(s.execute(select(sub.c.classification, func.count()).group_by(sub.c.classification)).all())
    return {k: int(got.get(k, 0)) for k in REPLY_ZH}


def export_frame(viewer: Principal, page: ListPage[ReplyRow]) -> pl.DataFrame:
    frame = pl.DataFrame({
        "回复编号": [r.reply_id for r in page.items],
        "收到时间": [r.received_at.astimezone(UTC).isoformat(timespec="seconds") if r.received_at else ""
                     for r in page.items],
        "手机号": [r.phone for r in page.items],
        "内容": [r.text for r in page.items],
        "类别": [zh(r.classification) for r in page.items],
        "回复的短信": [r.message_id for r in page.items],
        "批次": [r.campaign_id for r in page.items],
        "借款编号": [r.loan_id or "" for r in page.items],
        "步骤": [r.step or "" for r in page.items],
        "模板": [r.template or "" for r in page.items],
    }, schema_overrides={"回复编号": pl.Int64, "回复的短信": pl.Int64, "批次": pl.Int64})
    return phone_column(viewer, frame, "手机号")
