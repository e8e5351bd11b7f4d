"""Held messages: the way out for messages whose send outcome no lookup could settle.

A message is ``held`` when the system cannot know whether the provider has it (no answer to the submit, a
crash mid-send, a lookup that is not authoritative). It is never sent again on a guess. Reconciliation looks
every checkable held reason up again (``dunning channels reconcile``); what remains is resolved here by a person
with the compliance (or admin) role, with a reason, audited:

* ``as_sent`` — the person checked (SMSC log, borrower) that it went out: ``held → submitted``;
* ``requeue`` — the person checked that it did not: ``held → queued``, sent by the next ``campaign send``.

A full send that ends with held messages leaves the campaign ``sending`` (not ``completed``), and says how many
and how to resolve them; resolving the last one as sent completes it, a requeue is sent by the next send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, func, select, update

from dunning.db.models import Campaign, Message
from dunning.domain.masking import mask_phone
from dunning.domain.states import CampaignState, MessageState
from dunning.errors import InputError, NotFoundError, StateError
from dunning.services import audit
from dunning.services.campaigns.transitions import get_campaign, transition
from dunning.services.context import AppContext
from dunning.services.identity.users import Role, require_role

Resolution = Literal["as_sent", "requeue"]
RESOLVER_ROLES = (Role.COMPLIANCE,)  # and admin
MAX_REASON = 500

REASON_ZH = {
    "outcome_unknown": "提交后未收到应答，结果未知",
    "crash_unreconciled": "发送进程中断，通道无法查询",
    "query_miss": "通道查询未找到（不能证明未发送）",
    "query_failed": "通道查询超时或失败",
}


def how_to_resolve(campaign_id: int, held: int) -> str:
    """One line for the CLI, the console and the API: how many are held and what to do."""
    return (f"{held} 条短信结果未知、已暂扣（不会自动重发）：先运行 dunning channels reconcile <通道> 自动核对，"
            f"剩余的由合规人员用 dunning messages held --campaign {campaign_id} 查看、"
            f"dunning messages resolve <ID…> --as-sent|--requeue --reason 说明 处理 / "
            f"{held} messages held (outcome unknown); reconcile, then resolve them")


@dataclass(frozen=True, slots=True)
class HeldMessage:
    id: int
    campaign_id: int
    phone: str  # masked
    channel: str | None
    reason: str | None
    reason_zh: str
    detail: str | None
    since: datetime | None
    age_seconds: int | None


def _age(now: datetime, since: datetime | None) -> int | None:
    if since is None:
        return None
    if since.tzinfo is None and now.tzinfo is not None:
        since = since.replace(tzinfo=now.tzinfo)
    return max(0, int((now - since).total_seconds()))


def held_count(ctx: AppContext, campaign_id: int) -> int:
    with ctx.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Message).where(
            Message.campaign_id == campaign_id, Message.state == MessageState.HELD.value)) or 0)


def list_held(ctx: AppContext, *, campaign_id: int | None = None, limit: int = 1000) -> list[HeldMessage]:
    """Held messages, oldest first, phone masked (listing needs no special role; resolving does)."""
    now = ctx.now()
    q = select(Message.id, Message.campaign_id, Message.phone, Message.channel, Message.reason, Message.detail,
               Message.submitting_at).where(Message.state == MessageState.HELD.value)
    if campaign_id is not None:
        q = q.where(Message.campaign_id == campaign_id)
    with ctx.db.transaction() as s:
        rows = s.execute(q.order_by(Message.id).limit(limit)).all()
    return [HeldMessage(int(r[0]), int(r[1]), mask_phone(r[2]), r[3], r[4], REASON_ZH.get(r[4] or "", r[4] or ""),
                        r[5], r[6], _age(now, r[6])) for r in rows]


def ids_of_campaign(ctx: AppContext, campaign_id: int, ids: Sequence[int]) -> list[int]:
    """``ids`` checked to belong to the campaign (an API call names the campaign in its path)."""
    wanted = sorted({int(i) for i in ids})
    with ctx.db.transaction() as s:
        get_campaign(s, campaign_id)
        mine = {int(i) for i in s.scalars(select(Message.id).where(
            Message.id.in_(wanted), Message.campaign_id == campaign_id)).all()}
    other = [i for i in wanted if i not in mine]
    if other:
        raise NotFoundError(f"批次 #{campaign_id} 中没有这些短信：{', '.join(map(str, other[:20]))}",
                            f"not messages of campaign #{campaign_id}: {other[:20]}")
    return wanted


def as_dict(m: HeldMessage) -> dict[str, Any]:
    d = asdict(m)
    d["since"] = m.since.isoformat() if m.since else None
    return d


def resolve(ctx: AppContext, ids: Sequence[int], *, resolution: Resolution, reason: str,
            actor: str) -> dict[str, Any]:
    """Resolve held messages by hand: ``as_sent`` → submitted, ``requeue`` → queued. All or nothing.

    Needs the compliance or admin role and a reason; one audit event per campaign touched, listing the ids.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InputError("处理暂扣短信必须填写原因（--reason）", "a reason is required (--reason)",
                         code="input.reason_required")
    if len(reason) > MAX_REASON:
        raise InputError(f"原因过长（最多 {MAX_REASON} 字）", f"reason too long (max {MAX_REASON})",
                         code="input.reason_too_long")
    if resolution not in ("as_sent", "requeue"):
        raise InputError("处理方式须为 as_sent 或 requeue", "resolution must be as_sent or requeue")
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        raise InputError("请指定要处理的短信 ID", "no message ids given")
    now = ctx.now()
    with ctx.db.transaction() as s:
        require_role(s, actor, *RESOLVER_ROLES)
        rows = s.execute(select(Message.id, Message.campaign_id, Message.state, Message.reason)
                         .where(Message.id.in_(wanted)).with_for_update()).all()
        found = {int(r[0]): r for r in rows}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFoundError(f"没有这些短信：{', '.join(map(str, missing[:20]))}",
                                f"no such messages: {missing[:20]}")
        not_held = [i for i in wanted if found[i][2] != MessageState.HELD.value]
        if not_held:
            raise StateError(f"这些短信不在暂扣状态，未做任何更改：{', '.join(map(str, not_held[:20]))}",
                             f"not held, nothing changed: {not_held[:20]}", code="state.not_held")
        campaigns = {int(r[1]) for r in rows}
        # locked: a send finishing now completes its campaign either before this (the requeue is refused below)
        # or after it (and then sees the requeued messages and stays open)
        states = dict(s.execute(select(Campaign.id, Campaign.state).where(Campaign.id.in_(campaigns))
                                .with_for_update()).all())
        if resolution == "requeue":
            closed = [c for c, st in states.items()
                      if st in (CampaignState.CANCELLED.value, CampaignState.COMPLETED.value)]
            if closed:
                raise StateError(f"批次 #{closed[0]} 已结束（{states[closed[0]]}），不能重新排队，只能确认为已发送",
                                 f"campaign #{closed[0]} is {states[closed[0]]}: cannot requeue",
                                 code="state.campaign_finished")
        note = f"{'人工确认已发送' if resolution == 'as_sent' else '人工重新排队'}（{actor}）：{reason}"
        values: dict[str, Any] = {"detail": note}
        if resolution == "as_sent":
            values |= {"state": MessageState.SUBMITTED.value, "reason": "resolved_as_sent", "submitted_at": now}
        else:
            values |= {"state": MessageState.QUEUED.value, "reason": None, "next_attempt_at": None,
                       "attempts": case((Message.attempts > 0, Message.attempts - 1), else_=0)}
        s.execute(update(Message).where(Message.id.in_(wanted), Message.state == MessageState.HELD.value)
                  .values(**values))
        completed: list[int] = []
        for cid in sorted(campaigns):
            ids_c = [i for i in wanted if int(found[i][1]) == cid]
            audit.record(s, at=now, actor=actor, action=f"messages.resolved_{resolution}", entity="campaign",
                         entity_id=cid, before={"state": "held",
                                                "reasons": sorted({str(found[i][3]) for i in ids_c})},
                         after={"ids": ids_c, "count": len(ids_c), "reason": reason})
            if resolution == "as_sent" and states.get(cid) == CampaignState.SENDING.value:
                left = s.scalar(select(func.count()).select_from(Message).where(
                    Message.campaign_id == cid, Message.state.in_(
                        (MessageState.HELD.value, MessageState.QUEUED.value, MessageState.SUBMITTING.value))))
                if not left:
                    transition(ctx, s, get_campaign(s, cid), CampaignState.COMPLETED, actor)
                    completed.append(cid)
    return {"resolved": len(wanted), "resolution": resolution, "campaigns": sorted(campaigns),
            "completed": completed}
