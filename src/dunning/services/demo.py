"""The main job end to end on the embedded default: sample → import → plan → lint → pilot → approve → send.

Idempotent: a second run on the same day finds the import and the campaign and sends nothing twice.
"""

from __future__ import annotations

import getpass
import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dunning.config import Settings, get_settings
from dunning.dispatch.engine import Progress
from dunning.domain.cases import CASE_TYPE_ZH
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.campaigns import lifecycle, planning
from dunning.services.campaigns.reports import campaign_figures, write_campaign_report
from dunning.services.cases.queries import open_summary
from dunning.services.context import AppContext, BusinessClock, build_context
from dunning.services.guard.identity import map_os_user, mapped_user
from dunning.services.identity.users import DEMO_USERS, ensure_demo_users
from dunning.services.intake.imports import import_portfolio
from dunning.services.visits.demo import notify_demo_visit, seed_demo_visits
from dunning.testing import generate_portfolio

OPERATOR = DEMO_USERS[0][0]
APPROVER = DEMO_USERS[1][0]


def business_clock(tz: ZoneInfo, window: tuple[time, time]) -> tuple[BusinessClock, bool]:
    now = datetime.now(UTC)
    local = now.astimezone(tz)
    if window[0] <= local.time() < window[1]:
        return BusinessClock(now), False
    start = datetime.combine(local.date(), time(10, 0), tz).astimezone(UTC)
    return BusinessClock(start), True


def run_demo(
    *,
    accounts: int = 20_000,
    seed: int = 2026,
    settings: Settings | None = None,
    as_of: date | None = None,
    say: Callable[[str], None] = lambda _m: None,
    on_progress: Callable[[Progress], None] | None = None,
    ctx: AppContext | None = None,
) -> dict[str, Any]:
    t0 = _time.perf_counter()
    settings = settings or get_settings()
    tz = ZoneInfo(settings.timezone)
    if ctx is None and settings.business_time is not None:
        ctx = build_context(settings)
    if ctx is None:
        clock, simulated = business_clock(tz, (time(9, 0), time(20, 30)))
        ctx = build_context(settings, clock=clock)
        if simulated:
            say(f"演示模式：当前不在发送时段，业务时钟设为 {clock.start.astimezone(tz):%Y-%m-%d %H:%M}（上海时间）。"
                " Demo: business clock set to 10:00 Asia/Shanghai.")
    as_of = as_of or ctx.today()
    found: list[str] = []

    seeded = ensure_bundled_templates(ctx)
    ensure_demo_users(ctx)
    os_user = getpass.getuser()
    if mapped_user(ctx, os_user) is None:
        # the demo's owner acts on the CLI as the built-in operator (no password to invent); see README
        map_os_user(ctx, os_user, OPERATOR, actor="system")
        say(f"命令行身份：系统用户 {os_user} 以 {OPERATOR} 的身份操作（dunning users map-os 可更改）。"
            f" CLI identity: OS user {os_user} acts as {OPERATOR}.")
    if seeded:
        say(f"已载入 {seeded} 个内置模板（已审核批准）。")

    sample = ctx.data_dir / "demo" / f"portfolio-{as_of.isoformat()}-{accounts}-{seed}.csv"
    if not sample.exists():
        sample.parent.mkdir(parents=True, exist_ok=True)
        generate_portfolio(accounts, seed=seed, as_of=as_of).write_csv(sample)
        say(f"已生成样例账户文件 {sample}（{accounts:,} 个账户）")
    imp = import_portfolio(ctx, [sample], as_of=as_of, actor=OPERATOR)
    if imp.already_imported:
        found.append(f"导入批次 #{imp.import_id} 已存在（同一文件、同一业务日期），未重复导入")
    say(f"导入 #{imp.import_id}：{imp.rows:,} 行，接受 {imp.accepted:,}，拒绝 {imp.rejected:,}")
    seed_demo_visits(ctx, imp.import_id, say)

    plan = planning.plan_campaign(ctx, actor=OPERATOR, import_id=imp.import_id, as_of=as_of)
    if plan.already_planned:
        found.append(f"批次 #{plan.campaign_id} 已存在（状态：{plan.state}），未重复计划")
    cid = plan.campaign_id
    say(f"批次 #{cid}：计划发送 {plan.planned:,}，抑制 {plan.suppressed:,}，今日无需提醒 {plan.not_due_today:,}")

    st = lifecycle.status(ctx, cid)
    pilot: dict[str, Any] | None = None
    if st["state"] == "planned":
        say(f"试发：由 {OPERATOR}（运营）按分群分层抽样 1% 发送……")
        pilot = lifecycle.start_pilot(ctx, cid, actor=OPERATOR)
        st = lifecycle.status(ctx, cid)
    if st["state"] == "piloting":
        pilot = lifecycle.pilot_report(ctx, cid)
        if not pilot["go"]:
            say("试发未达标，不批准全量发送。")
        else:
            say(f"审批：由第二人 {APPROVER}（合规审核，内置演示用户）批准全量发送（四眼原则）")
            lifecycle.approve_pilot(ctx, cid, actor=APPROVER)
            st = lifecycle.status(ctx, cid)
    if st["state"] in ("pilot_approved", "sending"):
        say("全量发送中……")
        lifecycle.send_campaign(ctx, cid, actor=OPERATOR, on_progress=on_progress)
    elif st["state"] in ("completed", "cancelled"):
        found.append(f"批次 #{cid} 已{ '完成' if st['state'] == 'completed' else '取消'}，本次未发送任何短信")

    # Replies the sandbox simulated ("不是本人", "已还款", "投诉" …) opened borrower cases as they arrived.
    open_cases = open_summary(ctx)
    if open_cases:
        by_type: dict[str, int] = {}
        for row in open_cases:
            by_type[row["type"]] = by_type.get(row["type"], 0) + row["count"]
        say("短信回复开立的案件：" + "，".join(f"{CASE_TYPE_ZH.get(k, k)} {n}" for k, n in sorted(by_type.items()))
            + "（控制台「案件」页处理）")
    figures = campaign_figures(ctx, cid)
    report = write_campaign_report(ctx, cid)
    from dunning.services.agencies.demo import seed_demo_agencies

    agencies = seed_demo_agencies(ctx, import_id=imp.import_id, say=say)
    # after the day's campaign (it stays #1): a visit notice, through a campaign of its own
    visit_notice = notify_demo_visit(ctx, imp.import_id, operator=OPERATOR, approver=APPROVER, say=say)
    if visit_notice and visit_notice.get("already"):
        found.append(f"外访 #{visit_notice['visit_id']} 已由批次 #{visit_notice['campaign_id']} 发送外访通知，未重复发送")
    elapsed = _time.perf_counter() - t0
    per_template = {f"{t}/{v}" if v and v != "A" else t: n for t, v, n, _d in figures["per_template"].iter_rows()}
    return {
        "as_of": as_of.isoformat(),
        "import": {"import_id": imp.import_id, "rows": imp.rows, "accepted": imp.accepted, "rejected": imp.rejected,
                   "rejected_by_reason": imp.reasons, "reject_report": imp.reject_report},
        "campaign": {"campaign_id": cid, "state": figures["status"]["state"], "accounts": plan.accounts,
                     "not_due_today": plan.not_due_today, "planned": plan.planned, "suppressed": plan.suppressed,
                     "suppressed_by_reason": figures["status"]["suppressed_by_reason"],
                     "by_segment": plan.by_segment, "by_template": plan.by_template, "by_variant": plan.by_variant,
                     "sent_by_template": per_template},
        "pilot": None if pilot is None else {"sample": pilot["sample"], "sent": pilot["sent"],
                                             "delivered": pilot["delivered"], "go": pilot["go"],
                                             "approved_by": APPROVER},
        "delivery": {"sent": figures["sent"], "delivered": figures["delivered"], "failed": figures["failed"],
                     "expired": figures["expired"], "held": figures["held"], "replies": figures["replies"]},
        "cases": open_cases,
        "found_existing": found,
        "agencies": agencies,
        "visit_notice": visit_notice,
        "report": report,
        "elapsed_seconds": round(elapsed, 2),
        "database": ctx.settings.resolved_database_url,
        "data_dir": str(Path(ctx.data_dir).resolve()),
    }
