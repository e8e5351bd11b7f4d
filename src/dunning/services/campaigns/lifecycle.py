"""Campaigns: pilot → four-eyes approval → send (⇄ pause) → completed / cancelled (planning: planning.py).

Every state change writes an audit event in the same transaction (``transitions.transition``).

Sending runs where ``settings.dispatch_mode`` says: ``inline`` dispatches in the caller's process; ``celery``
enqueues the worker task after the commit and follows the campaign's progress in the database until the
worker reports the run finished (audit ``dispatch.finished``), the campaign leaves its sending state, or
nothing has moved for ``follow_timeout`` seconds (the worker carries on; the caller just stops watching).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import polars as pl
from kombu.exceptions import OperationalError
from sqlalchemy import func, select, update

from dunning.db.bulk import read_frame
from dunning.db.models import AuditEvent, Campaign, Message
from dunning.dispatch.engine import DispatchOutcome, Progress
from dunning.domain.states import CAMPAIGN_STATE_ZH, PENDING_STATES, SENT_STATES, CampaignState, MessageState
from dunning.errors import ConfigError, StateError
from dunning.reporting.stats import wilson_interval
from dunning.services import audit
from dunning.services.campaigns.held import how_to_resolve
from dunning.services.campaigns.sending import campaign_window, run_dispatch, start_dispatch
from dunning.services.campaigns.transitions import get_campaign, strategy_spec, transition
from dunning.services.context import AppContext
from dunning.services.identity.users import Role, require_role
from dunning.services.templates import missing_channel_codes

# --------------------------------------------------------------------------------------------------- pilot


def start_pilot(ctx: AppContext, campaign_id: int, *, actor: str,
                on_progress: Callable[[Progress], None] | None = None,
                follow_timeout: float | None = None) -> dict[str, Any]:
    """Queue a stratified sample (by segment and variant) and send it; the rest waits for approval."""
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        if c.state == CampaignState.PILOTING.value:
            return pilot_report(ctx, campaign_id) | {"already_piloting": True}
        _require_template_codes(ctx, s, c, "试发")
        spec = strategy_spec(s, c.strategy_id)
        _require_open_window(ctx, spec, c.id)
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
    if ctx.settings.dispatch_mode == "celery":
        follow_worker(ctx, campaign_id, pilot_only=True, on_progress=on_progress, follow_timeout=follow_timeout,
                      actor=actor)
    else:
        run_dispatch(ctx, campaign_id, pilot_only=True, on_progress=on_progress)
    return pilot_report(ctx, campaign_id)


def _require_open_window(ctx: AppContext, spec: Any, campaign_id: int) -> None:
    """Refuse a pilot outside the send window before anything is queued: a pilot then would only expire."""
    window = campaign_window(spec)
    pos = window.position(ctx.now())
    if pos == "open":
        return
    span = f"{window.start:%H:%M}–{window.end:%H:%M}"
    when_zh = "尚未开始" if pos == "before" else "已结束"
    raise StateError(
        f"现在不在发送时段 {span}（{window.tz.key}）内（今日时段{when_zh}），未试发批次 #{campaign_id}：请在时段内再试发",
        f"outside the send window {span} ({window.tz.key}); campaign #{campaign_id} was not piloted: "
        "pilot within the window", code="state.outside_window")


def _require_template_codes(ctx: AppContext, s: Any, c: Campaign, action_zh: str) -> None:
    """A template-based channel (Aliyun, Tencent) sends only registered templates: refuse to pilot or send while
    a template version the campaign uses has no provider code for the campaign's channel, naming each one."""
    missing = missing_channel_codes(ctx, s, c.id, c.channel)
    if not missing:
        return
    names = "、".join(f"{code} 版本 {v}" for code, v in missing)
    first_code, first_v = missing[0]
    raise StateError(
        f"批次 #{c.id} 经模板短信通道 {c.channel} 发送，但模板 {names} 未在通道 {c.channel} 登记模板编号，"
        f"不能{action_zh}：请先在服务商处报备模板，再用 dunning templates codes {first_code} --version {first_v} "
        f"--set {c.channel}=模板编号 逐个登记",
        f"campaign #{c.id} uses template-based channel {c.channel!r} but "
        f"{', '.join(f'{code} v{v}' for code, v in missing)} have no code registered for it",
        code="state.template_unregistered")


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
    sent = sum(v for k, v in states.items() if k in SENT_STATES)
    delivered = states.get("delivered", 0)
    rate = delivered / sent if sent else 0.0
    upper = wilson_interval(delivered, sent)[1]
    t = spec.pilot.thresholds
    opt_rate = opt_outs / sent if sent else 0.0
    # A small pilot is judged on evidence: no-go when the delivery rate is significantly below the threshold
    # (the Wilson 95 % upper bound is under it), not when one unlucky failure dents the point estimate.
    checks: dict[str, dict[str, Any]] = {
        "delivery_rate": {"value": round(rate, 4), "upper_95": round(upper, 4), "threshold": t.min_delivery_rate,
                          "ok": sent > 0 and upper >= t.min_delivery_rate},
        "block_findings": {"value": blocks, "threshold": t.max_block_findings, "ok": blocks <= t.max_block_findings},
        "opt_out_rate": {"value": round(opt_rate, 4), "threshold": t.max_opt_out_rate,
                         "ok": wilson_interval(opt_outs, sent)[0] <= t.max_opt_out_rate},
    }
    return {"campaign_id": campaign_id, "state": c.state, "sample": c.pilot_summary.get("sample", 0),
            "sent": sent, "delivered": delivered, "states": states, "checks": checks,
            "go": all(ch["ok"] for ch in checks.values())}


def approve_pilot(ctx: AppContext, campaign_id: int, *, actor: str) -> dict[str, Any]:
    """Four eyes: the approver holds the compliance (or admin) role and is not who planned or piloted."""
    report = pilot_report(ctx, campaign_id)
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        if c.state in (CampaignState.DRAFT.value, CampaignState.PLANNED.value):
            raise StateError(f"批次 #{c.id} 还没有试发，无可审批：请先运行 dunning campaign pilot {c.id}",
                             f"campaign #{c.id} has no pilot yet: run dunning campaign pilot {c.id} first",
                             code="state.no_pilot")
        if c.state == CampaignState.CANCELLED.value:
            raise StateError(f"批次 #{c.id} 已取消，不能审批", f"campaign #{c.id} is cancelled",
                             code="state.cancelled")
        if c.pilot_approved_by is not None:
            return report | {"approved_by": c.pilot_approved_by, "state": c.state, "already_approved": True}
        if c.state != CampaignState.PILOTING.value:
            raise StateError(f"批次 #{c.id} 当前为「{CAMPAIGN_STATE_ZH[CampaignState(c.state)]}」，没有待审批的试发",
                             f"campaign #{c.id} is {c.state}: no pilot awaits approval", code="state.no_pilot")
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
                  on_progress: Callable[[Progress], None] | None = None,
                  follow_timeout: float | None = None,
                  on_wait: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Queue everything planned and send; returns when done, paused, cancelled or the window closes.

    ``on_wait`` hears (Chinese first) what the send waits for before sending: checking a dead sender's
    interrupted messages with the provider.

    In ``celery`` mode a worker sends (and completes the campaign in ``actor``'s name); this call follows it, or
    returns with ``stopped = "following_timeout"`` after ``follow_timeout`` seconds without any progress."""
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        if c.state in (CampaignState.COMPLETED.value, CampaignState.CANCELLED.value):
            return status(ctx, campaign_id) | {"already_finished": True}
        if c.state in (CampaignState.PILOT_APPROVED.value, CampaignState.SENDING.value):
            _require_template_codes(ctx, s, c, "发送")
        if c.state == CampaignState.PILOT_APPROVED.value:
            transition(ctx, s, c, CampaignState.SENDING, actor)
        elif c.state != CampaignState.SENDING.value:
            raise StateError(f"批次 #{c.id} 当前为「{c.state}」：须先试发并经第二人批准后才能全量发送",
                             f"campaign #{c.id} is {c.state}; it needs an approved pilot first",
                             code="state.not_approved")
        s.execute(update(Message).where(Message.campaign_id == campaign_id,
                                        Message.state == MessageState.PLANNED.value)
                  .values(state=MessageState.QUEUED.value))
    if ctx.settings.dispatch_mode == "celery":
        stopped, detail = follow_worker(ctx, campaign_id, pilot_only=False, on_progress=on_progress,
                                        follow_timeout=follow_timeout, actor=actor)
    else:
        outcome = _run_to_the_end(ctx, campaign_id, actor, lambda: run_dispatch(
            ctx, campaign_id, pilot_only=False, on_progress=on_progress, on_wait=on_wait), complete=True)
        stopped, detail = outcome.stopped, outcome.detail
    return status(ctx, campaign_id) | {"stopped": stopped, "detail": detail}


_AGAIN = 3  # runs of one send at most when held messages keep being requeued as each run ends


def _run_to_the_end(ctx: AppContext, campaign_id: int, actor: str, run: Callable[[], DispatchOutcome], *,
                    complete: bool) -> DispatchOutcome:
    """``run`` a send; with ``complete`` (a full send), a finished one completes the campaign
    (:func:`_complete_unless_held`), and messages requeued while the run ended (``pending``) go with one more
    run. A run that found the lease held (``busy``) is returned as it is."""
    for _ in range(_AGAIN):
        outcome = run()
        if outcome.stopped == "busy" or not complete:
            return outcome
        with ctx.db.transaction() as s:
            c = get_campaign(s, campaign_id)
            if outcome.stopped in ("done", "window_closed") and c.state == CampaignState.SENDING.value:
                outcome.stopped, outcome.detail = _complete_unless_held(ctx, s, c, actor, outcome.stopped,
                                                                        outcome.detail)
        if outcome.stopped != "pending":
            break
    return outcome


def _complete_unless_held(ctx: AppContext, s: Any, c: Any, actor: str, stopped: str,
                          detail: str) -> tuple[str, str]:
    """A finished full send completes the campaign — unless messages are held: then it stays ``sending`` and
    says how many and how to resolve them (resolving the last one as sent completes it) — or messages are to go
    again (a held message requeued by hand after the run's last claim): then it stays ``sending`` for the next
    send. The campaign row is locked first, so a requeue either lands before this count or finds the campaign
    completed and is refused (:func:`dunning.services.campaigns.held.resolve`): never queued in a closed one."""
    s.execute(select(Campaign.id).where(Campaign.id == c.id).with_for_update())
    counts = dict(s.execute(select(Message.state, func.count()).where(
        Message.campaign_id == c.id, Message.state.in_((MessageState.HELD.value, *PENDING_STATES)))
        .group_by(Message.state)).all())
    held = int(counts.pop(MessageState.HELD.value, 0))
    if held:
        return "held", how_to_resolve(c.id, held)
    if pending := sum(int(n) for n in counts.values()):
        return "pending", (f"还有 {pending} 条短信待发送（暂扣短信已重新排队），请再次发送：dunning campaign send {c.id}")
    transition(ctx, s, c, CampaignState.COMPLETED, actor)
    return stopped, detail


# --------------------------------------------------------------------------------------------------- celery mode

DISPATCH_FINISHED = "dispatch.finished"  # audit action the worker writes when a run ends (after.task_id)
FOLLOW_TIMEOUT = 300.0  # seconds without any change after which the caller stops following the worker
_POLL = 0.5
_FINISH_GRACE = 10.0  # after the campaign left its sending state, how long to wait for the worker's report


def dispatch_enqueued(ctx: AppContext, campaign_id: int, *, pilot_only: bool, task_id: str,
                      worker: str, requested_by: str = "system") -> DispatchOutcome:
    """The worker's side of ``celery`` mode: send in this process, complete a finished full send, and record
    ``dispatch.finished`` (task id, how it stopped, which worker sent) for the caller following the campaign —
    both in the name of ``requested_by``, the person who started the send.

    A run that found the campaign's lease held (``busy``: another delivery of the same task, or another
    sender) records nothing: the holder reports when it ends.
    """
    outcome = _run_to_the_end(ctx, campaign_id, requested_by, lambda: run_dispatch(
        ctx, campaign_id, pilot_only=pilot_only, on_progress=None), complete=not pilot_only)
    if outcome.stopped == "busy":
        return outcome
    with ctx.db.transaction() as s:
        p = outcome.progress
        audit.record(s, at=ctx.now(), actor=requested_by, action=DISPATCH_FINISHED, entity="campaign",
                     entity_id=campaign_id, after={
                         "task_id": task_id, "worker": worker, "pilot_only": pilot_only,
                         "stopped": outcome.stopped, "detail": outcome.detail, "submitted": p.submitted,
                         "failed": p.failed, "suppressed": p.suppressed, "held": p.held})
    return outcome


def _snapshot(ctx: AppContext, campaign_id: int, pilot_only: bool, task_id: str | None,
              after_event: int) -> tuple[str, dict[str, int], dict[str, Any] | None]:
    """The campaign's state, its (pilot) messages by state, and the worker's finish report for ``task_id`` (an
    audit event newer than ``after_event``) once written."""
    with ctx.db.transaction() as s:
        c = get_campaign(s, campaign_id)
        q = select(Message.state, func.count()).where(Message.campaign_id == campaign_id)
        if pilot_only:
            q = q.where(Message.is_pilot.is_(True))
        counts: dict[str, int] = {k: int(v) for k, v in s.execute(q.group_by(Message.state)).all()}
        finished = None
        if task_id is not None:
            for ev in s.scalars(select(AuditEvent).where(
                    AuditEvent.entity == "campaign", AuditEvent.entity_id == str(campaign_id),
                    AuditEvent.action == DISPATCH_FINISHED, AuditEvent.id > after_event)):
                if (ev.after or {}).get("task_id") == task_id:
                    finished = dict(ev.after or {})
        return c.state, counts, finished


def _progress(base: dict[str, int], now: dict[str, int], elapsed: float, channel: str) -> Progress:
    """Run figures from the message counts: what left ``queued`` since the enqueue, split by where it went."""
    def grown(k: str) -> int:
        return max(0, now.get(k, 0) - base.get(k, 0))

    total = base.get(MessageState.QUEUED.value, 0)
    remaining = now.get(MessageState.QUEUED.value, 0) + now.get(MessageState.SUBMITTING.value, 0)
    failed, suppressed, held = grown("failed"), grown("suppressed"), grown("held")
    submitted = max(0, total - remaining - failed - suppressed - held)
    return Progress(total=total, submitted=submitted, failed=failed, suppressed=suppressed, held=held,
                    delivered=now.get(MessageState.DELIVERED.value, 0), rate=submitted / max(elapsed, 1e-9),
                    elapsed=elapsed, channel=channel)


def follow_worker(ctx: AppContext, campaign_id: int, *, pilot_only: bool,
                  on_progress: Callable[[Progress], None] | None,
                  follow_timeout: float | None = None, actor: str = "system") -> tuple[str, str]:
    """Enqueue the campaign's dispatch (the queueing transaction has committed) and follow it by polling the
    database; returns the run's ``(stopped, detail)`` as the worker reported it, or as far as it can tell."""
    timeout = FOLLOW_TIMEOUT if follow_timeout is None else follow_timeout
    sending = CampaignState.PILOTING.value if pilot_only else CampaignState.SENDING.value
    _, base, _ = _snapshot(ctx, campaign_id, pilot_only, None, 0)
    with ctx.db.transaction() as s:
        channel = get_campaign(s, campaign_id).channel
        first_event = s.scalar(select(func.max(AuditEvent.id))) or 0
    try:
        task_id = str(start_dispatch(ctx, campaign_id, pilot_only=pilot_only, requested_by=actor))
    except OperationalError as exc:
        raise ConfigError(f"无法把发送任务交给 broker（{exc}）：请检查 broker_url 与 Redis/RabbitMQ 是否可用；"
                          "短信已排队，修复后重新执行发送即可",
                          f"cannot enqueue the dispatch task ({exc}); messages stay queued, send again once the "
                          "broker is reachable", code="config.broker_unreachable") from exc
    started = last_change = time.monotonic()
    seen: dict[str, int] | None = None
    left_at: float | None = None
    while True:
        state, counts, finished = _snapshot(ctx, campaign_id, pilot_only, task_id, first_event)
        now = time.monotonic()
        if on_progress is not None:
            on_progress(_progress(base, counts, now - started, channel))
        if finished is not None:
            return str(finished.get("stopped", "")), str(finished.get("detail", ""))
        if state != sending:
            # Paused or cancelled elsewhere (or by the worker's breaker): give the worker a moment to report.
            left_at = left_at or now
            if now - left_at >= min(_FINISH_GRACE, timeout):
                with ctx.db.transaction() as s:
                    reason = get_campaign(s, campaign_id).pause_reason or ""
                return state, reason
        else:
            left_at = None
        if counts != seen:
            seen, last_change = counts, now
        elif now - last_change >= timeout:
            return "following_timeout", (
                f"{timeout:.0f} 秒内未见发送进展，不再等待：任务 {task_id} 仍在队列或由 worker 执行中"
                "（请确认 `dunning worker` 已启动并连接同一 broker）")
        time.sleep(_POLL)


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
        held = int(states.get(MessageState.HELD.value, 0))
        return {"campaign_id": c.id, "name": c.name, "state": c.state, "as_of": c.as_of.isoformat(),
                "channel": c.channel, "pause_reason": c.pause_reason, "messages": states,
                "held": held, "held_hint": how_to_resolve(c.id, held) if held else None,
                "suppressed_by_reason": reasons, "plan": c.plan_summary, "pilot_approved_by": c.pilot_approved_by}


def list_campaigns(ctx: AppContext, limit: int = 50) -> list[dict[str, Any]]:
    with ctx.db.transaction() as s:
        rows = s.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(limit)).all()
        return [{"campaign_id": c.id, "name": c.name, "state": c.state, "as_of": c.as_of.isoformat(),
                 "planned": c.plan_summary.get("planned", 0)} for c in rows]
