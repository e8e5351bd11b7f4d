"""Campaigns: pilot → four-eyes approval → send (⇄ pause) → completed / cancelled (planning: planning.py).

Every state change writes an audit event in the same transaction (``campaigns_base.transition``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import polars as pl
from sqlalchemy import func, select, update

from dunning.db.bulk import read_frame
from dunning.db.models import Campaign, Message
from dunning.dispatch.engine import Progress
from dunning.domain.states import CampaignState, MessageState
from dunning.errors import StateError
from dunning.services.campaigns_base import get_campaign, strategy_spec, transition
from dunning.services.context import AppContext
from dunning.services.sending import run_dispatch
from dunning.services.users import Role, require_role

# --------------------------------------------------------------------------------------------------- pilot


def wilson_upper(successes: int, n: int, z: float = 1.96) -> float:
    return _wilson(successes, n, z)[1]


def wilson_lower(successes: int, n: int, z: float = 1.96) -> float:
    return _wilson(successes, n, z)[0]


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def start_pilot(ctx: AppContext, campaign_id: int, *, actor: str,
                on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Queue a stratified sample (by segment and variant) and send it; the rest waits for approval."""
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        if c.state == CampaignState.PILOTING.value:
            return pilot_report(ctx, campaign_id) | {"already_piloting": True}
        spec = strategy_spec(s, c.strategy_id)
        planned = read_frame(
            s, "SELECT id, segment, variant FROM messages WHERE campaign_id = :c AND state = 'planned'",
            {"c": campaign_id}, schema={"id": pl.Int64, "segment": pl.Utf8, "variant": pl.Utf8},
        )
        share, floor = spec.pilot.share, spec.pilot.min_per_segment
        sample = (
            planned.with_columns(pl.col("id").hash(c.seed % 2**32).alias("_h"))
            .with_columns(pl.col("_h").rank("ordinal").over("segment", "variant").alias("_r"),
                          pl.len().over("segment", "variant").alias("_n"))
            .filter(pl.col("_r") <= pl.max_horizontal((pl.col("_n") * share).ceil(), pl.lit(floor)))
        )
        ids = sample["id"].to_list()
        for i in range(0, len(ids), 500):
            s.execute(update(Message).where(Message.id.in_(ids[i:i + 500])).values(
                is_pilot=True, state=MessageState.QUEUED.value))
        transition(ctx, s, c, CampaignState.PILOTING, actor, pilot_summary={"sample": len(ids), "started_by": actor})
    run_dispatch(ctx, campaign_id, pilot_only=True, on_progress=on_progress)
    return pilot_report(ctx, campaign_id)


def pilot_report(ctx: AppContext, campaign_id: int) -> dict[str, Any]:
    """The pilot's figures and the go/no-go decision against the strategy's thresholds."""
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        spec = strategy_spec(s, c.strategy_id)
        states = dict(s.execute(select(Message.state, func.count()).where(
            Message.campaign_id == campaign_id, Message.is_pilot.is_(True)).group_by(Message.state)).all())
        from dunning.db.models import Reply  # local: only the pilot report needs replies here

        opt_outs = s.scalar(select(func.count()).select_from(Reply).join(Message, Message.id == Reply.message_id)
                            .where(Message.campaign_id == campaign_id, Message.is_pilot.is_(True),
                                   Reply.classification == "opt_out")) or 0
        # Blocked messages never enter the sample (it draws from planned ones), so the check counts the whole
        # campaign: any message the compliance lint blocked means a person looks before the mass send.
        blocks = s.scalar(select(func.count()).select_from(Message).where(
            Message.campaign_id == campaign_id, Message.reason == "lint_block")) or 0
    sent = sum(v for k, v in states.items() if k in ("submitted", "delivered", "failed", "expired", "held"))
    delivered = states.get("delivered", 0)
    rate = delivered / sent if sent else 0.0
    upper = wilson_upper(delivered, sent)
    t = spec.pilot.thresholds
    opt_rate = opt_outs / sent if sent else 0.0
    # A small pilot is judged on evidence: no-go when the delivery rate is significantly below the threshold
    # (the Wilson 95 % upper bound is under it), not when one unlucky failure dents the point estimate.
    checks: dict[str, dict[str, Any]] = {
        "delivery_rate": {"value": round(rate, 4), "upper_95": round(upper, 4), "threshold": t.min_delivery_rate,
                          "ok": sent > 0 and upper >= t.min_delivery_rate},
        "block_findings": {"value": blocks, "threshold": t.max_block_findings, "ok": blocks <= t.max_block_findings},
        "opt_out_rate": {"value": round(opt_rate, 4), "threshold": t.max_opt_out_rate,
                         "ok": wilson_lower(opt_outs, sent) <= t.max_opt_out_rate},
    }
    return {"campaign_id": campaign_id, "state": c.state, "sample": c.pilot_summary.get("sample", 0),
            "sent": sent, "delivered": delivered, "states": states, "checks": checks,
            "go": all(ch["ok"] for ch in checks.values())}


def approve_pilot(ctx: AppContext, campaign_id: int, *, actor: str) -> dict[str, Any]:
    """Four eyes: the approver holds the compliance (or admin) role and is not who planned or piloted."""
    report = pilot_report(ctx, campaign_id)
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        require_role(s, actor, Role.COMPLIANCE)
        if actor in (c.created_by, c.pilot_summary.get("started_by")):
            raise StateError(f"四眼原则：{actor} 创建或试发了批次 #{c.id}，须由另一人审批",
                             f"four-eyes: {actor} planned or piloted campaign #{c.id}; another person must approve",
                             code="state.four_eyes")
        if not report["go"]:
            failed = [k for k, v in report["checks"].items() if not v["ok"]]
            raise StateError(f"试发未达标（{', '.join(failed)}），不能批准全量发送",
                             f"pilot failed go/no-go ({', '.join(failed)})", code="state.pilot_no_go")
        transition(ctx, s, c, CampaignState.PILOT_APPROVED, actor, pilot_approved_by=actor)
    return report | {"approved_by": actor, "state": CampaignState.PILOT_APPROVED.value}


def send_campaign(ctx: AppContext, campaign_id: int, *, actor: str,
                  on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Queue everything planned and send; returns when done, paused, cancelled or the window closes."""
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        if c.state in (CampaignState.COMPLETED.value, CampaignState.CANCELLED.value):
            return status(ctx, campaign_id) | {"already_finished": True}
        if c.state == CampaignState.PILOT_APPROVED.value:
            transition(ctx, s, c, CampaignState.SENDING, actor)
        elif c.state != CampaignState.SENDING.value:
            raise StateError(f"批次 #{c.id} 当前为「{c.state}」：须先试发并经第二人批准后才能全量发送",
                             f"campaign #{c.id} is {c.state}; it needs an approved pilot first",
                             code="state.not_approved")
        s.execute(update(Message).where(Message.campaign_id == campaign_id,
                                        Message.state == MessageState.PLANNED.value)
                  .values(state=MessageState.QUEUED.value))
    outcome = run_dispatch(ctx, campaign_id, pilot_only=False, on_progress=on_progress)
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        if outcome.stopped in ("done", "window_closed") and c.state == CampaignState.SENDING.value:
            transition(ctx, s, c, CampaignState.COMPLETED, actor)
    return status(ctx, campaign_id) | {"stopped": outcome.stopped, "detail": outcome.detail}


def pause(ctx: AppContext, campaign_id: int, *, actor: str, reason: str = "") -> dict[str, Any]:
    with ctx.db.transaction() as s:
        transition(ctx, s, get_campaign(s, campaign_id), CampaignState.PAUSED, actor,
                    pause_reason=reason or f"{actor} 手动暂停")
    return status(ctx, campaign_id)


def resume(ctx: AppContext, campaign_id: int, *, actor: str) -> dict[str, Any]:
    with ctx.db.transaction() as s:
        transition(ctx, s, get_campaign(s, campaign_id), CampaignState.SENDING, actor, pause_reason=None)
    return status(ctx, campaign_id)


def cancel(ctx: AppContext, campaign_id: int, *, actor: str) -> dict[str, Any]:
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        transition(ctx, s, c, CampaignState.CANCELLED, actor)
        s.execute(update(Message).where(Message.campaign_id == campaign_id,
                                        Message.state.in_((MessageState.PLANNED.value, MessageState.QUEUED.value)))
                  .values(state=MessageState.SUPPRESSED.value, reason="cancelled", final_at=ctx.now()))
    return status(ctx, campaign_id)


def status(ctx: AppContext, campaign_id: int) -> dict[str, Any]:
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        states = dict(s.execute(select(Message.state, func.count()).where(Message.campaign_id == campaign_id)
                                .group_by(Message.state)).all())
        reasons = dict(s.execute(select(Message.reason, func.count()).where(
            Message.campaign_id == campaign_id, Message.state == MessageState.SUPPRESSED.value)
            .group_by(Message.reason)).all())
        return {"campaign_id": c.id, "name": c.name, "state": c.state, "as_of": c.as_of.isoformat(),
                "channel": c.channel, "pause_reason": c.pause_reason, "messages": states,
                "suppressed_by_reason": reasons, "plan": c.plan_summary, "pilot_approved_by": c.pilot_approved_by}


def list_campaigns(ctx: AppContext, limit: int = 50) -> list[dict[str, Any]]:
    with ctx.db.transaction() as s:
        rows = s.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(limit)).all()
        return [{"campaign_id": c.id, "name": c.name, "state": c.state, "as_of": c.as_of.isoformat(),
                 "planned": c.plan_summary.get("planned", 0)} for c in rows]
