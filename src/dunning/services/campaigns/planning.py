"""Planning: one vectorised pass from the day's accounts to a campaign's messages and suppressions.

In order (each stage only looks at what the previous ones left eligible, so a suppression names the first
reason that applies): segment and step for the planning day — payday alignment and holiday deferral included —
with the champion/challenger split and the hold-out (``strategy.plan``); ``holiday`` under ``skip``; standing
phone flags; ``paid`` (payments since the snapshot cover the amount due); the recipient's window being empty
(``window``); the day and 7-day contact budget (``budget``, from what was actually sent, any campaign);
verification codes, rendering and lint (``lint_block``) for what is left; then the schedule in the recipient's
window at the channel's rate, where the minimum interval may push a message out (``budget``) and the rate may
not fit it (``window``). Samples to the pilot's internal test numbers are added last. One bulk insert.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, select

from dunning.channels.registry import capabilities_of
from dunning.compliance import VISIT_NOTICE_TEMPLATE, lint_messages
from dunning.db.bulk import Sql, read_frame
from dunning.db.frames import utc_times
from dunning.db.models import Account, Campaign, Import, TemplateVersion
from dunning.domain.buckets import bucket_expr
from dunning.domain.sms import counting_for
from dunning.domain.states import CONTACT_STATES, CampaignState, MessageState
from dunning.errors import ConfigError, NotFoundError, StateError
from dunning.services import audit
from dunning.services.calendar import calendar_for, next_year_warning
from dunning.services.campaigns.plan_store import (
    UTC_US,
    PlanFrame,
    PlanSummary,
    approved_templates,
    billed_parts_expr,
    persist_plan,
    pilot_test_messages,
    store_strategy,
)
from dunning.services.cases.suppression import hardship_phones
from dunning.services.context import AppContext
from dunning.services.policy import policy_for, render_context
from dunning.services.verification.codes import CODE_PLACEHOLDER, codes_and_hashes
from dunning.services.visits.promises import promise_steps, promise_templates
from dunning.strategy import StrategySpec, assign_steps, load_bundled_strategy, load_strategy
from dunning.strategy.budget import apply_caps
from dunning.strategy.calendar import HolidayCalendar, fire_days
from dunning.strategy.schedule import ZoneWindow, legal_window, schedule, zone_expr, zone_window
from dunning.templates import compile_template, render, render_params

SUPPRESSION_ZH = {
    "no_segment": "未匹配任何分群",
    "holdout": "对照组（不发送）",
    "do_not_contact": "禁止联系名单",
    "opted_out": "已退订",
    "dispute": "存在争议",
    "hardship": "困难协商中（暂停）",
    "paid": "已还款",
    "promise": "已承诺还款（承诺日前不提醒）",
    "budget": "超出联系频次上限",
    "lint_block": "合规检查未通过",
    "window": "超出发送时段",
    "holiday": "节假日不发送",
    "cancelled": "批次已取消",
    "agency_notice": "委外告知短信尚未送达（机构不得联系）",
}


def channel_counting(ctx: AppContext, name: str) -> str:
    """How the channel ``name`` splits texts: carrier-direct channels (SMPP, HTTP gateways, Twilio) by their
    SMSC's default alphabet (GSM-7 / ASCII / Latin-1, else UCS-2); Chinese SMS platforms and the sandbox by CN
    domestic billing (every character 1, 70/67)."""
    cfg = ctx.settings.channels.get(name)
    if cfg is None or cfg.kind not in ("smpp", "http", "twilio"):
        return "cn_domestic"
    return counting_for(str(cfg.options.get("default_alphabet", "gsm7")))


def channel_rate(ctx: AppContext, name: str) -> float:
    """Messages per second the channel may carry: its configured rate, capped by what its kind can do."""
    cfg = ctx.settings.channels.get(name)
    if cfg is None:
        known = ", ".join(ctx.settings.channels) or "（无）"
        raise ConfigError(f"未配置通道 {name}（已配置：{known}）", f"channel {name!r} is not configured")
    caps = capabilities_of(cfg.kind)
    return min(cfg.rate, caps.max_rate) if caps.max_rate else cfg.rate


# --------------------------------------------------------------------------------------------------- plan


def plan_campaign(
    ctx: AppContext,
    *,
    actor: str,
    strategy_path: Path | None = None,
    import_id: int | None = None,
    as_of: date | None = None,
    channel: str | None = None,
    policy_overlay: Path | None = None,
    scope: pl.DataFrame | None = None,
    name: str | None = None,
    batch: str = "",
    promises: bool = True,
) -> PlanSummary:
    """Create the campaign for one strategy, snapshot and as-of date; planning the same again finds it.

    ``scope`` (loan_id plus optional columns) restricts the campaign to those accounts and adds the columns to
    the frame (e.g. ``agency`` for the entrustment notice). A boolean ``agency_notice_pending`` column in it
    suppresses those accounts with reason ``agency_notice``: an agency's campaign never reaches a borrower
    whose entrustment notice has not been delivered (see :mod:`dunning.services.agencies.gate`). A boolean
    ``visit_approved`` column marks the rows tied to an approved field visit: only there may a message rendered
    from the visit-notice template use the lint's visit-notice allowance (see :mod:`dunning.services.visits.notice`).

    ``batch`` names one more campaign of the same strategy, day and import (planning the same batch again finds
    it); ``promises`` False keeps promise-to-pay reminders out of a campaign that is no reminder (a notice)."""
    spec, sha, body = load_strategy(strategy_path) if strategy_path else load_bundled_strategy()
    now = ctx.now()
    calendar = calendar_for(ctx)
    warning = next_year_warning(ctx, calendar=calendar)
    calendar_warning = {"zh": warning[0], "en": warning[1]} if warning else None
    with ctx.db.transaction() as s:
        if import_id is None:
            import_id = s.scalar(select(func.max(Import.id)).where(Import.kind == "portfolio"))
            if import_id is None:
                raise StateError("还没有导入任何账户数据，请先运行 dunning import", "nothing imported yet",
                                 code="state.no_import")
        imp = s.get(Import, import_id)
        if imp is None:
            raise NotFoundError(f"导入批次 #{import_id} 不存在", f"import #{import_id} does not exist")
        if imp.kind != "portfolio":
            # Payment and account imports share one numbering: say what #N is and which imports hold accounts.
            raise NotFoundError(
                f"导入批次 #{import_id} 是还款导入，不是账户导入，不能据此创建批次：请用 dunning imports list 查看账户导入的编号",
                f"import #{import_id} is a payments import, not an accounts import: see dunning imports list",
                code="not_found.portfolio_import")
        as_of = as_of or imp.as_of
        strat = store_strategy(s, spec, sha, body, actor, now)
        existing = s.scalars(select(Campaign).where(Campaign.strategy_id == strat.id, Campaign.as_of == as_of,
                                                    Campaign.import_id == import_id, Campaign.batch == batch)).first()
        if existing is not None:
            summary = PlanSummary(**existing.plan_summary)
            summary.state = existing.state
            summary.already_planned = True
            summary.calendar_warning = calendar_warning
            return summary
        templates = approved_templates(s, spec.templates() | (promise_templates(s, as_of) if promises else set()))
        channel_name = channel or ctx.settings.default_channel
        rate = channel_rate(ctx, channel_name)
        campaign = Campaign(name=name or _distinct_name(s, f"{spec.name} {as_of.isoformat()}"), strategy_id=strat.id, import_id=import_id,
                            as_of=as_of, batch=batch, state=CampaignState.DRAFT.value, channel=channel_name,
                            created_by=actor, created_at=now, updated_at=now,
                            seed=int(hashlib.sha256(f"{sha}|{as_of}|{import_id}{'|' + batch if batch else ''}"
                                                    .encode()).hexdigest()[:12], 16))
        s.add(campaign)
        s.flush()
        audit.record(s, at=now, actor=actor, action="campaign.create", entity="campaign", entity_id=campaign.id,
                     after={"strategy": f"{strat.name} v{strat.version}", "as_of": as_of.isoformat(),
                            "import_id": import_id})

        accounts = _read_accounts(s, import_id).with_columns(
            (pl.lit(as_of) - pl.col("due_date")).dt.total_days().cast(pl.Int32).alias("dpd"),
        ).with_columns(bucket_expr("dpd").alias("bucket"))
        if scope is not None:
            accounts = accounts.join(scope, on="loan_id", how="inner")
        plan = _plan_frame(ctx, s, accounts, spec, campaign, templates, policy_overlay, snapshot=imp.as_of,
                           rate=rate, calendar=calendar, promises=promises)
        summary = persist_plan(ctx, s, plan, campaign, strat, accounts.height, actor)
        summary.calendar_warning = calendar_warning
        return summary


def _distinct_name(s: Any, base: str) -> str:
    """``base``, or ``base (2)``, ``base (3)``… when campaigns of that name exist (another import, same day)."""
    taken = set(s.scalars(select(Campaign.name).where(Campaign.name.like(f"{base}%"))).all())
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"


ACCOUNT_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64, "loan_id": pl.Utf8, "name": pl.Utf8, "phone": pl.Utf8, "amount_due_fen": pl.Int64,
    "due_date": pl.Date, "penalty_rate": pl.Float64, "overdue_count": pl.Int32, "product": pl.Utf8,
    "payday": pl.Int8, "region": pl.Utf8,
}


def _read_accounts(s: Any, import_id: int) -> pl.DataFrame:
    """The snapshot's accounts as a frame. On SQLite the rows come straight from the driver and dates are parsed
    by Polars: SQLAlchemy's per-row type processing would cost more than the rest of planning."""
    conn = s.connection()
    if conn.dialect.name != "sqlite":
        return read_frame(
            s,
            select(Account.id.label("account_id"), Account.loan_id, Account.name, Account.phone,
                   Account.amount_due_fen, Account.due_date, Account.penalty_rate, Account.overdue_count,
                   Account.product, Account.payday, Account.region).where(Account.import_id == import_id),
            schema=ACCOUNT_SCHEMA, committed=True,  # an import is committed before it is planned
        ).with_columns(pl.col("due_date").cast(pl.Date))
    cur = conn.connection.dbapi_connection.cursor()
    try:
        cur.execute("SELECT id, loan_id, name, phone, amount_due_fen, due_date, penalty_rate, overdue_count, "
                    "product, payday, region FROM accounts WHERE import_id = ?", (import_id,))
        rows = cur.fetchall()
    finally:
        cur.close()
    text_schema = ACCOUNT_SCHEMA | {"due_date": pl.Utf8}
    frame = pl.DataFrame(rows, schema=text_schema, orient="row") if rows else pl.DataFrame(schema=text_schema)
    return frame.with_columns(pl.col("due_date").str.slice(0, 10).str.to_date("%Y-%m-%d"))


def _zone_windows(ctx: AppContext, spec: StrategySpec, policy_raw: Any, as_of: date,
                  zones: list[str]) -> dict[str, ZoneWindow]:
    legal = legal_window(policy_raw)
    return {z: zone_window(spec, legal, as_of, z, ctx.now()) for z in zones}


def _plan_frame(ctx: AppContext, s: Any, accounts: pl.DataFrame, spec: StrategySpec, campaign: Campaign,
                templates: dict[str, TemplateVersion], policy_overlay: Path | None, *, snapshot: date,
                rate: float, calendar: HolidayCalendar | None = None, promises: bool = True) -> PlanFrame:
    as_of = campaign.as_of
    tz = ZoneInfo(spec.timezone)
    fire = fire_days(as_of, spec.holidays, spec.holiday_days, spec.quiet_dates, calendar=calendar)
    deferred = 0
    if not fire.days:
        # A rest day under `defer`: nothing goes today; count what moves to the next working day.
        would = assign_steps(accounts, spec, campaign.seed, as_of=as_of)
        deferred = would.filter(pl.col("step").is_not_null()).height
    df = assign_steps(accounts, spec, campaign.seed, as_of=as_of, fire_days=fire.days)
    df = promise_steps(s, df, as_of) if promises else df
    df = df.filter(pl.col("step").is_not_null() | pl.col("segment").is_null())
    df = df.with_columns(pl.when(pl.col("segment").is_null()).then(pl.lit("none")).otherwise(pl.col("step"))
                         .alias("step"), zone_expr(spec).alias("zone"))

    # Standing flags, and payments since the snapshot (the export's amounts already reflect earlier ones).
    flags = read_frame(s, "SELECT phone, kind FROM phone_flags WHERE cleared_at IS NULL",
                       schema={"phone": pl.Utf8, "kind": pl.Utf8}).unique("phone", keep="first")
    paid = read_frame(s, "SELECT loan_id, SUM(amount_fen) AS paid_fen FROM payments WHERE paid_at >= :since "
                         "GROUP BY loan_id",
                      {"since": Sql(s.connection().engine).ts(datetime.combine(snapshot, time(0), tz))},
                      schema={"loan_id": pl.Utf8, "paid_fen": pl.Int64})
    df = df.join(flags.rename({"kind": "_flag"}), on="phone", how="left").join(paid, on="loan_id", how="left")
    # A promise to pay (taken on a field visit) holds reminders until the promised date.
    promised = read_frame(s, "SELECT DISTINCT loan_id FROM promises_to_pay WHERE promised_on > :as_of",
                          {"as_of": as_of}, schema={"loan_id": pl.Utf8}).with_columns(pl.lit(True).alias("_promised"))
    df = df.join(promised, on="loan_id", how="left")
    # An open hardship case: the strategy pauses the borrower's reminders or sends its gentle template instead.
    hardship = hardship_phones(s).with_columns(pl.lit(True).alias("_hardship"))
    df = df.join(hardship, on="phone", how="left").with_columns(pl.col("_hardship").fill_null(False))
    if spec.hardship.action == "gentle":
        df = df.with_columns(pl.when(pl.col("_hardship") & pl.col("template").is_not_null())
                             .then(pl.lit(spec.hardship.template)).otherwise(pl.col("template")).alias("template"))

    policy = policy_for(ctx, spec.profile, policy_overlay)
    counting = channel_counting(ctx, campaign.channel)
    if policy.counting != "cn_domestic" and counting != "cn_domestic":
        policy = replace(policy, counting=counting)  # lint the length as this channel will split it
    zones = sorted(set(df["zone"].unique().to_list()) | {spec.timezone})
    windows = _zone_windows(ctx, spec, policy.raw, as_of, zones)
    empty_zones = [z for z, w in windows.items() if w.empty]

    reason = (
        pl.when(pl.col("segment").is_null()).then(pl.lit("no_segment"))
        .when(pl.col("holdout")).then(pl.lit("holdout"))
        .when(pl.lit(spec.holidays == "skip" and fire.rest_today)).then(pl.lit("holiday"))
        .when(pl.col("_flag").is_not_null()).then(pl.col("_flag"))
        .when(pl.col("agency_notice_pending").fill_null(False) if "agency_notice_pending" in df.columns
              else pl.lit(False)).then(pl.lit("agency_notice"))
        .when(pl.lit(spec.hardship.action == "pause") & pl.col("_hardship")).then(pl.lit("hardship"))
        .when(pl.col("paid_fen").fill_null(0) >= pl.col("amount_due_fen")).then(pl.lit("paid"))
        .when(pl.col("_promised").fill_null(False)).then(pl.lit("promise"))
        .when(pl.col("zone").is_in(empty_zones)).then(pl.lit("window"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    df = df.with_columns(reason.alias("reason"))

    # Contact budget from what was actually sent to each phone (any campaign). The day starts at local midnight
    # of the campaign's zone; the 7 days and the minimum interval are counted back from the earliest opening,
    # which is at least as strict as the dispatcher's count at any later send time.
    earliest = min(w.opens for w in windows.values())
    midnight = datetime.combine(as_of, time(0), tz)
    week = earliest - timedelta(days=7)
    since = min(week, earliest - timedelta(hours=spec.budget.min_interval_hours))
    states = "','".join(st.value for st in CONTACT_STATES)  # enum values, from code only
    ts = Sql(s.connection().engine).ts
    sent = read_frame(
        s,
        "SELECT phone, SUM(CASE WHEN submitting_at >= :day THEN 1 ELSE 0 END) AS sent_day, "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
        "SUM(CASE WHEN submitting_at >= :week THEN 1 ELSE 0 END) AS sent_7d, MAX(submitting_at) AS last_contact "
        f"FROM messages WHERE state IN ('{states}') AND submitting_at >= :since GROUP BY phone",
        {"day": ts(midnight), "week": ts(week), "since": ts(since)},
        # SQLite returns the timestamp as text, PostgreSQL as an aware datetime.
        schema={"phone": pl.Utf8, "sent_day": pl.Int64, "sent_7d": pl.Int64,
                "last_contact": pl.Utf8 if s.connection().dialect.name == "sqlite" else UTC_US},
    )
    sent = sent.with_columns(utc_times("last_contact").alias("last_contact"))
    df = df.join(sent, on="phone", how="left")
    df = apply_caps(df, spec.budget)

    # Verification codes only for what may still go (an HMAC per message has no vectorised form), then render.
    df = df.with_row_index("_i").with_columns(
        pl.concat_str([pl.lit(f"c{campaign.id}|"), pl.col("loan_id"), pl.lit("|"), pl.col("step")])
        .alias("idempotency_key")
    )
    secret = ctx.settings.secret()
    to_code = df.filter(pl.col("reason").is_null() & pl.col("template").is_not_null())
    codes, hashes = codes_and_hashes(secret, to_code["idempotency_key"].to_list(), to_code["phone"].to_list())
    df = df.join(
        # the stored text carries the placeholder; the code goes in as the message leaves (ADR codes at rest)
        pl.DataFrame({"_i": to_code["_i"], "verify_code": [CODE_PLACEHOLDER] * len(codes), "verify_code_hash": hashes},
                     schema={"_i": pl.UInt32, "verify_code": pl.Utf8, "verify_code_hash": pl.Utf8}),
        on="_i", how="left",
    )
    context = render_context(ctx, policy)
    if not policy.signature_prefix:  # US: the sender's name is in the text, no 【signature】 (as templates lint it)
        context.pop("signature", None)
    tv_ids = {code: tv.id for code, tv in templates.items()}
    df = df.with_columns(pl.col("template").replace_strict(tv_ids, default=None, return_dtype=pl.Int64)
                         .alias("template_version_id"))
    compiled = {code: compile_template(tv.text, tv.variables) for code, tv in templates.items()}
    # A column a template reads that this campaign has not (a visit notice outside a visit's scope) renders empty.
    df = df.with_columns([pl.lit(None, pl.Utf8).alias(c) for c in sorted({c for t in compiled.values()
                                                                          for c in t.columns} - set(df.columns))])
    rendered = []
    for code, tmpl in compiled.items():
        part = df.filter(pl.col("reason").is_null() & (pl.col("template") == code))
        if part.is_empty():
            continue
        # The variable values rendered into the text, for template-based providers (Aliyun, Tencent).
        rendered.append(part.select("_i", render(part, tmpl, context).alias("text"),
                                    render_params(part, tmpl, context).alias("params")))
    texts = pl.concat(rendered) if rendered else pl.DataFrame(schema={"_i": pl.UInt32, "text": pl.Utf8,
                                                                      "params": pl.Utf8})
    df = df.join(texts, on="_i", how="left")

    # Lint every rendered message again; a block finding keeps it unsent, with the rules it tripped. The
    # visit-notice allowance: only the visit-notice template, only on a row tied to an approved visit.
    approved_visit = pl.col("visit_approved").fill_null(False) if "visit_approved" in df.columns else pl.lit(False)
    to_lint = df.filter(pl.col("text").is_not_null()).select(
        "_i", "text", "penalty_rate",
        ((pl.col("template") == VISIT_NOTICE_TEMPLATE) & approved_visit).fill_null(False).alias("_visit_notice"))
    findings = lint_messages(to_lint, policy, text_col="text", penalty_col="penalty_rate",
                             visit_notice_col="_visit_notice")
    blocks = findings.filter(pl.col("severity") == "block")
    if blocks.height:
        idx = to_lint.select("_i").with_row_index("row")
        blocks = blocks.join(idx, on="row").group_by("_i").agg(pl.col("rule").unique().sort().str.join(",")
                                                                .alias("_rules"))
        df = df.join(blocks, on="_i", how="left").with_columns(
            pl.when(pl.col("reason").is_null() & pl.col("_rules").is_not_null()).then(pl.lit("lint_block"))
            .otherwise(pl.col("reason")).alias("reason")
        )
    else:
        df = df.with_columns(pl.lit(None, pl.Utf8).alias("_rules"))

    # The schedule: each message in its recipient's window, spread at the channel's rate.
    go = df.filter(pl.col("reason").is_null()).select("_i", "zone", "phone", "loan_id", "last_contact", "_order")
    sched = schedule(go, windows, rate=rate, spread=spec.spread, min_interval_hours=spec.budget.min_interval_hours,
                     seed=campaign.seed)
    df = df.join(sched, on="_i", how="left").with_columns(
        pl.coalesce("sched_reason", "reason").alias("reason"),
    )
    sendable = pl.col("reason").is_null()
    df = df.with_columns(
        pl.when(sendable).then(pl.col("scheduled_at")).otherwise(None).alias("scheduled_at"),
        pl.when(pl.col("reason").is_null() | (pl.col("reason") == "lint_block")).then(pl.col("text"))
        .otherwise(None).alias("text"),
        pl.when(pl.col("reason").is_null() | (pl.col("reason") == "lint_block")).then(pl.col("params"))
        .otherwise(None).alias("params"),
        pl.when(sendable).then(pl.col("verify_code_hash")).otherwise(None).alias("verify_code_hash"),
        pl.lit(False).alias("is_test"),
        pl.lit(False).alias("is_pilot"),
    )
    df = df.with_columns(
        billed_parts_expr("text", counting).fill_null(0).alias("parts"),
        pl.when(sendable).then(pl.lit(MessageState.PLANNED.value))
        .otherwise(pl.lit(MessageState.SUPPRESSED.value)).alias("state"),
        pl.col("_rules").alias("detail"),
    )
    tests = pilot_test_messages(ctx, df, spec, campaign, compiled, windows[spec.timezone], context, secret, counting)
    if tests is not None:
        df = pl.concat([df, tests], how="diagonal_relaxed")
    return PlanFrame(df, fire, deferred, windows, rate, spec.timezone)
