"""Picking up a campaign whose sender died (``celery`` mode): the lease says who sends; a dead holder is found here.

A worker killed in the middle of a campaign leaves its task unacknowledged on the broker. Redis redelivers it
only after the transport's visibility timeout (``broker_visibility_timeout``, an hour by default), and a copy
redelivered *while* the first sender still ran found the lease held, returned ``busy`` and was acknowledged —
after which nothing would resume the campaign if that sender died later. So every worker also looks, every
``worker_rescue_seconds``, for campaigns that are sending (or piloting) with messages left whose lease names a
holder that is dead (a process of this host that no longer exists) or expired (not renewed within its ttl, on any
host), and enqueues the dispatch task for them again, in the name of the person who started the send.

Enqueuing twice is harmless by construction (one lease holder at a time, one atomic claim per message,
a dead sender's ``submitting`` rows reconciled, never resent), and the ``rescue:campaign:<id>`` row of
``dispatch_state`` debounces it: one rescue per death (the dead holder's id) across all workers.
A released lease (holder cleared: the sender ended on its own, e.g. the send window closed) is not a death and is
left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from dunning.db.models import AuditEvent, Campaign, Message
from dunning.dispatch.state import DISPATCH_STATE, holder_is_dead
from dunning.domain.states import CampaignState, MessageState
from dunning.services import audit
from dunning.services.campaigns.sending import enqueue_dispatch
from dunning.services.context import AppContext

RESCUED = "dispatch.rescued"
RETRY_ROUNDS = 20
_LEFT = (MessageState.QUEUED.value, MessageState.SUBMITTING.value)
_STARTED = {CampaignState.SENDING.value: f"campaign.{CampaignState.SENDING.value}",
            CampaignState.PILOTING.value: f"campaign.{CampaignState.PILOTING.value}"}


def stalled_campaigns(ctx: AppContext, *, now: float) -> list[tuple[int, bool, str, str]]:
    """(campaign id, pilot only, who started it, the dead holder) for each sending/piloting campaign with messages left whose
    lease holder is dead or expired."""
    leases: dict[int, str] = {}
    with ctx.db.engine.connect() as conn:
        for key, holder, value in conn.execute(select(DISPATCH_STATE.c.key, DISPATCH_STATE.c.holder,
                                                      DISPATCH_STATE.c.value)
                                               .where(DISPATCH_STATE.c.key.like("lease:campaign:%"))):
            if holder is not None and (float(value) <= now or holder_is_dead(holder)):
                leases[int(str(key).rsplit(":", 1)[1])] = holder
    if not leases:
        return []
    out: list[tuple[int, bool, str, str]] = []
    with ctx.db.transaction() as s:
        rows = s.execute(
            select(Campaign.id, Campaign.state).where(
                Campaign.id.in_(list(leases)), Campaign.state.in_(list(_STARTED)),
                exists().where(Message.campaign_id == Campaign.id, Message.state.in_(_LEFT)))
        ).all()
        for cid, state in rows:
            actor = s.scalar(select(AuditEvent.actor).where(
                AuditEvent.entity == "campaign", AuditEvent.entity_id == str(cid),
                AuditEvent.action == _STARTED[state]).order_by(AuditEvent.id.desc()).limit(1))
            out.append((int(cid), state == CampaignState.PILOTING.value, str(actor or "system"), leases[int(cid)]))
    return out


def _claim_rescue(ctx: AppContext, campaign_id: int, dead: str, now: float, interval: float) -> bool:
    """True for exactly one caller per death (the dead holder's id), across processes. The same death is rescued
    again only after ``RETRY_ROUNDS`` intervals — the first rescue's task may have been lost with the broker."""
    key = f"rescue:campaign:{campaign_id}"
    with ctx.db.engine.begin() as conn:
        res = conn.execute(update(DISPATCH_STATE).where(
            DISPATCH_STATE.c.key == key,
            or_(DISPATCH_STATE.c.holder.is_(None), DISPATCH_STATE.c.holder != dead,
                DISPATCH_STATE.c.value <= now - RETRY_ROUNDS * interval))
            .values(value=now, holder=dead))
        if res.rowcount:
            return True
        try:
            with conn.begin_nested():
                conn.execute(insert(DISPATCH_STATE).values(key=key, value=now, holder=dead))
        except IntegrityError:
            return False  # this death was rescued already (by us or another worker)
        return True


def rescue_stalled(ctx: AppContext, *, worker: str, interval: float,
                   clock: Callable[[], float] = time.time) -> list[int]:
    """Enqueue the dispatch task again for every stalled campaign (debounced); returns their ids. Audited."""
    now = clock()
    rescued: list[int] = []
    for cid, pilot_only, actor, dead in stalled_campaigns(ctx, now=now):
        if not _claim_rescue(ctx, cid, dead, now, interval):
            continue
        task_id = enqueue_dispatch(ctx, cid, pilot_only=pilot_only, requested_by=actor)
        with ctx.db.transaction() as s:
            audit.record(s, at=ctx.now(), actor="system", action=RESCUED, entity="campaign", entity_id=cid,
                         after={"worker": worker, "task_id": task_id, "pilot_only": pilot_only,
                                "requested_by": actor})
        rescued.append(cid)
    return rescued
