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
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, select

from dunning.channels.registry import capabilities_of
from dunning.compliance import lint_messages
from dunning.db.bulk import bulk_insert, read_frame
from dunning.db.models import Account, Campaign, Import, Message, Strategy, TemplateRecord, TemplateVersion
from dunning.domain.buckets import bucket_expr
from dunning.domain.sms import counting_for, parts_expr
from dunning.domain.states import CONTACT_STATES, CampaignState, MessageState, TemplateStatus
from dunning.errors import ConfigError, InputError, NotFoundError, StateError
from dunning.intake import phone_expr
from dunning.services import audit
from dunning.services.calendar import calendar_for, next_year_warning
from dunning.services.campaigns.transitions import transition
from dunning.services.cases.suppression import hardship_phones
from dunning.services.context import AppContext
from dunning.services.policy import policy_for, render_context
from dunning.services.verification.codes import CODE_PLACEHOLDER, codes_and_hashes
from dunning.strategy import StrategySpec, assign_steps, load_bundled_strategy, load_strategy
from dunning.strategy.budget import apply_caps
from dunning.strategy.calendar import FireDays, HolidayCalendar, fire_days
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
TEST_NAME = "测试"
TEST_LOAN = "TEST0000"
TEST_AMOUNT_FEN = 100_000
UTC_US = pl.Datetime("us", "UTC")


@dataclass
class PlanSummary:
    campaign_id: int
    state: str
    as_of: str
    import_id: int
    strategy: str
    accounts: int
    not_due_today: int
    planned: int
    suppressed: int
    by_segment: dict[str, int] = field(default_factory=dict)
    by_template: dict[str, int] = field(default_factory=dict)
    by_variant: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    lint_rules: dict[str, int] = field(default_factory=dict)
    already_planned: bool = False
    # Steps of today that move to the next working day (holidays: defer on a rest day); part of not_due_today.
    deferred: int = 0
    deferred_to: str | None = None
    holiday: str | None = None
    fire_days: list[str] = field(default_factory=list)  # nominal days whose steps fire today (deferral)
    by_segment_reason: dict[str, dict[str, int]] = field(default_factory=dict)
    by_step_variant: dict[str, dict[str, int]] = field(default_factory=dict)  # planned + holdout per step
    windows: dict[str, str] = field(default_factory=dict)  # zone → local "HH:MM–HH:MM" actually used
    first_send: str | None = None
    last_send: str | None = None
    rate: float = 0.0  # messages per second the schedule assumes
    test_messages: int = 0  # samples to internal test numbers (pilot only; not in `planned`)
    # From 1 November when next year has no holiday data: {"zh": …, "en": …} naming the command that fixes it.
    calendar_warning: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _store_strategy(s: Any, spec: StrategySpec, sha: str, body: str, actor: str, now: datetime) -> Strategy:
    row = s.scalars(select(Strategy).where(Strategy.name == spec.name, Strategy.sha == sha)).first()
    if row is not None:
        return row
    latest = s.scalar(select(func.max(Strategy.version)).where(Strategy.name == spec.name)) or 0
    row = Strategy(name=spec.name, version=latest + 1, body=body, sha=sha, created_by=actor, created_at=now)
    s.add(row)
    s.flush()
    return row


def _approved_templates(s: Any, codes: set[str]) -> dict[str, TemplateVersion]:
    """The newest approved version of each template code; a missing one is an error naming it."""
    found: dict[str, TemplateVersion] = {}
    for code in codes:
        tv = s.scalars(
            select(TemplateVersion)
            .join(TemplateRecord, TemplateRecord.id == TemplateVersion.template_id)
            .where(TemplateRecord.code == code, TemplateVersion.status == TemplateStatus.APPROVED.value)
            .order_by(TemplateVersion.version.desc())
            .limit(1)
        ).first()
        if tv is not None:
            found[code] = tv
    missing = sorted(codes - set(found))
    if missing:
        raise InputError(f"策略引用的模板没有已批准的版本：{'、'.join(missing)}。请先提交审核并批准。",
                         f"templates without an approved version: {', '.join(missing)}", code="strategy.template")
    return found


def _parts_expr(col: str, counting: str) -> pl.Expr:
    """Billed parts per text, counted by the one segmentation (``domain.sms``) as the channel sends it."""
    return parts_expr(col, counting).cast(pl.Int16)


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


def _db_ts(s: Any, value: datetime) -> Any:
    """A UTC instant as the database compares it: SQLAlchemy's text form on SQLite, aware datetime elsewhere."""
    utc = value.astimezone(UTC)
    if s.connection().dialect.name == "sqlite":
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")
    return utc


def _as_utc(col: str, frame: pl.DataFrame) -> pl.Expr:
    """A timestamp column read back from the database as UTC (SQLite returns text, PostgreSQL datetimes)."""
    dtype = frame.schema[col]
    if dtype == pl.Utf8:
        return pl.col(col).str.slice(0, 19).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False) \
            .dt.replace_time_zone("UTC")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return pl.col(col).dt.replace_time_zone("UTC").cast(UTC_US)
    return pl.col(col).cast(UTC_US)


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
) -> PlanSummary:
    """Create the campaign for one strategy, snapshot and as-of date; planning the same again finds it.

    ``scope`` (loan_id plus optional columns) restricts the campaign to those accounts and adds the columns to
    the frame (e.g. ``agency`` for the entrustment notice). A boolean ``agency_notice_pending`` column in it
    suppresses those accounts with reason ``agency_notice``: an agency's campaign never reaches a borrower
    whose entrustment notice has not been delivered (see :mod:`dunning.services.agencies.gate`)."""
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
        strat = _store_strategy(s, spec, sha, body, actor, now)
        existing = s.scalars(select(Campaign).where(Campaign.strategy_id == strat.id, Campaign.as_of == as_of,
                                                    Campaign.import_id == import_id)).first()
        if existing is not None:
            summary = PlanSummary(**existing.plan_summary)
            summary.state = existing.state
            summary.already_planned = True
            summary.calendar_warning = calendar_warning
            return summary
        templates = _approved_templates(s, spec.templates())
        channel_name = channel or ctx.settings.default_channel
        rate = channel_rate(ctx, channel_name)
        campaign = Campaign(name=name or _distinct_name(s, f"{spec.name} {as_of.isoformat()}"), strategy_id=strat.id, import_id=import_id,
                            as_of=as_of, state=CampaignState.DRAFT.value, channel=channel_name,
                            created_by=actor, created_at=now, updated_at=now,
                            seed=int(hashlib.sha256(f"{sha}|{as_of}|{import_id}".encode()).hexdigest()[:12], 16))
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
                           rate=rate, calendar=calendar)
        summary = _persist_plan(ctx, s, plan, campaign, strat, accounts.height, actor)
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
            schema=ACCOUNT_SCHEMA,
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


@dataclass
class _Plan:
    frame: pl.DataFrame
    fire: FireDays
    deferred: int
    windows: dict[str, ZoneWindow]
    rate: float
    tz: str


def _zone_windows(ctx: AppContext, spec: StrategySpec, policy_raw: Any, as_of: date,
                  zones: list[str]) -> dict[str, ZoneWindow]:
    legal = legal_window(policy_raw)
    return {z: zone_window(spec, legal, as_of, z, ctx.now()) for z in zones}


def _plan_frame(ctx: AppContext, s: Any, accounts: pl.DataFrame, spec: StrategySpec, campaign: Campaign,
                templates: dict[str, TemplateVersion], policy_overlay: Path | None, *, snapshot: date,
                rate: float, calendar: HolidayCalendar | None = None) -> _Plan:
    as_of = campaign.as_of
    tz = ZoneInfo(spec.timezone)
    fire = fire_days(as_of, spec.holidays, spec.holiday_days, spec.quiet_dates, calendar=calendar)
    deferred = 0
    if not fire.days:
        # A rest day under `defer`: nothing goes today; count what moves to the next working day.
        would = assign_steps(accounts, spec, campaign.seed, as_of=as_of)
        deferred = would.filter(pl.col("step").is_not_null()).height
    df = assign_steps(accounts, spec, campaign.seed, as_of=as_of, fire_days=fire.days)
    df = df.filter(pl.col("step").is_not_null() | pl.col("segment").is_null())
    df = df.with_columns(pl.when(pl.col("segment").is_null()).then(pl.lit("none")).otherwise(pl.col("step"))
                         .alias("step"), zone_expr(spec).alias("zone"))

    # Standing flags, and payments since the snapshot (the export's amounts already reflect earlier ones).
    flags = read_frame(s, "SELECT phone, kind FROM phone_flags WHERE cleared_at IS NULL",
                       schema={"phone": pl.Utf8, "kind": pl.Utf8}).unique("phone", keep="first")
    paid = read_frame(s, "SELECT loan_id, SUM(amount_fen) AS paid_fen FROM payments WHERE paid_at >= :since "
                         "GROUP BY loan_id",
                      {"since": _db_ts(s, datetime.combine(snapshot, time(0), tz))},
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
    sent = read_frame(
        s,
        "SELECT phone, SUM(CASE WHEN submitting_at >= :day THEN 1 ELSE 0 END) AS sent_day, "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
        "SUM(CASE WHEN submitting_at >= :week THEN 1 ELSE 0 END) AS sent_7d, MAX(submitting_at) AS last_contact "
        f"FROM messages WHERE state IN ('{states}') AND submitting_at >= :since GROUP BY phone",
        {"day": _db_ts(s, midnight), "week": _db_ts(s, week), "since": _db_ts(s, since)},
        # SQLite returns the timestamp as text, PostgreSQL as an aware datetime.
        schema={"phone": pl.Utf8, "sent_day": pl.Int64, "sent_7d": pl.Int64,
                "last_contact": pl.Utf8 if s.connection().dialect.name == "sqlite" else UTC_US},
    )
    sent = sent.with_columns(_as_utc("last_contact", sent).alias("last_contact"))
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

    # Lint every rendered message again; a block finding keeps it unsent, with the rules it tripped.
    to_lint = df.filter(pl.col("text").is_not_null()).select("_i", "text", "penalty_rate")
    findings = lint_messages(to_lint, policy, text_col="text", penalty_col="penalty_rate")
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
        _parts_expr("text", counting).fill_null(0).alias("parts"),
        pl.when(sendable).then(pl.lit(MessageState.PLANNED.value))
        .otherwise(pl.lit(MessageState.SUPPRESSED.value)).alias("state"),
        pl.col("_rules").alias("detail"),
    )
    tests = _test_messages(ctx, df, spec, campaign, compiled, windows[spec.timezone], context, secret, counting)
    if tests is not None:
        df = pl.concat([df, tests], how="diagonal_relaxed")
    return _Plan(df, fire, deferred, windows, rate, spec.timezone)


def _test_messages(ctx: AppContext, df: pl.DataFrame, spec: StrategySpec, campaign: Campaign,
                   compiled: dict[str, Any], window: ZoneWindow, context: dict[str, str],
                   secret: bytes, counting: str = "cn_domestic") -> pl.DataFrame | None:
    """One sample of every planned (segment, step, variant) to each internal test number, rendered from synthetic
    borrower data (never a real borrower's name, amount or loan), part of the pilot only."""
    numbers = spec.pilot.test_numbers
    if not numbers:
        return None
    parsed = pl.DataFrame({"raw": numbers}, schema={"raw": pl.Utf8}).with_columns(phone_expr("raw").alias("p"))
    bad = parsed.filter(pl.col("p").is_null())["raw"].to_list()
    if bad:
        raise InputError(f"策略 pilot.test_numbers 中的号码无法识别为手机号：{'、'.join(bad)}",
                         f"pilot.test_numbers not recognised as mobile numbers: {', '.join(bad)}",
                         code="strategy.invalid")
    reps = (df.filter(pl.col("state") == MessageState.PLANNED.value)
            .sort("_i").unique(["segment", "step", "variant"], keep="first", maintain_order=True))
    if reps.is_empty():
        return None
    phones = parsed["p"].unique(maintain_order=True)
    rows = reps.join(pl.DataFrame({"_test_phone": phones}), how="cross").with_columns(
        pl.col("_test_phone").alias("phone"), pl.lit(TEST_NAME).alias("name"), pl.lit(TEST_LOAN).alias("loan_id"),
        pl.lit(TEST_AMOUNT_FEN, pl.Int64).alias("amount_due_fen"),
        pl.concat_str([pl.lit(f"c{campaign.id}|test|"), pl.col("_test_phone"), pl.lit("|"), pl.col("step"),
                       pl.lit("|"), pl.col("variant")]).alias("idempotency_key"),
    )
    codes, hashes = codes_and_hashes(secret, rows["idempotency_key"].to_list(), rows["phone"].to_list())
    rows = rows.with_columns(pl.lit(CODE_PLACEHOLDER, pl.Utf8).alias("verify_code"),
                             pl.Series("verify_code_hash", hashes, pl.Utf8))
    parts = []
    for code, tmpl in compiled.items():
        part = rows.filter(pl.col("template") == code)
        if part.height:
            parts.append(part.with_columns(render(part, tmpl, context).alias("text"),
                                           render_params(part, tmpl, context).alias("params")))
    rows = pl.concat(parts)
    at = max(window.earliest, window.opens)
    return rows.with_columns(
        _parts_expr("text", counting).alias("parts"), pl.lit(True).alias("is_test"), pl.lit(True).alias("is_pilot"),
        pl.lit(at).cast(UTC_US).alias("scheduled_at"), pl.lit(window.opens).cast(UTC_US).alias("send_after"),
        pl.lit(window.closes).cast(UTC_US).alias("send_before"), pl.lit("test_number").alias("detail"),
    ).drop("_test_phone")


def _db_times(s: Any, frame: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """On SQLite, timestamps as the text SQLAlchemy's DateTime reads and the dispatcher compares (UTC)."""
    if s.connection().dialect.name != "sqlite":
        return frame
    return frame.with_columns(pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
                              for c in cols)


def _persist_plan(ctx: AppContext, s: Any, plan: _Plan, campaign: Campaign, strat: Strategy, n_accounts: int,
                  actor: str) -> PlanSummary:
    df = plan.frame
    planned_first = pl.col("state") != MessageState.PLANNED.value
    # Planned messages in schedule order first: ids then follow send time, which keeps the dispatcher's claim
    # (`ORDER BY id` among those due) on a short index range.
    rows = df.sort([planned_first, "scheduled_at", "_i"], nulls_last=True).select(
        pl.lit(campaign.id).alias("campaign_id"), "account_id", "loan_id", "phone", "segment", "step", "variant",
        "template_version_id", "text", "params", "parts", "state", "reason", "detail", "is_pilot", "is_test",
        "scheduled_at", "send_after", "send_before", "idempotency_key", pl.lit(0).alias("attempts"),
        "verify_code_hash",
    )
    rows = _db_times(s, rows, ["scheduled_at", "send_after", "send_before"])
    bulk_insert(s, Message.__table__, rows)  # type: ignore[arg-type]

    def counts(col: str, frame: pl.DataFrame) -> dict[str, int]:
        g = frame.group_by(col).len().sort(col, nulls_last=True)
        return {str(k): int(v) for k, v in g.iter_rows() if k is not None}

    real = df.filter(~pl.col("is_test"))
    planned = real.filter(pl.col("state") == MessageState.PLANNED.value)
    suppressed = real.filter(pl.col("state") == MessageState.SUPPRESSED.value)
    exploded = real.filter(pl.col("_rules").is_not_null()).select(pl.col("_rules").str.split(",")).explode("_rules")
    by_seg_reason: dict[str, dict[str, int]] = {}
    for seg, rsn, n in suppressed.group_by("segment", "reason").len().sort("segment", "reason").iter_rows():
        by_seg_reason.setdefault(str(seg) if seg is not None else "none", {})[str(rsn)] = int(n)
    by_step_variant: dict[str, dict[str, int]] = {}
    shown = real.filter((pl.col("state") == MessageState.PLANNED.value) | (pl.col("reason") == "holdout"))
    for step, var, n in shown.group_by("step", "variant").len().sort("step", "variant").iter_rows():
        by_step_variant.setdefault(str(step), {})[str(var)] = int(n)
    first = planned["scheduled_at"].min() if planned.height else None
    last = planned["scheduled_at"].max() if planned.height else None
    tz = ZoneInfo(plan.tz)
    summary = PlanSummary(
        campaign_id=campaign.id, state=CampaignState.PLANNED.value, as_of=campaign.as_of.isoformat(),
        import_id=campaign.import_id, strategy=f"{strat.name} v{strat.version}", accounts=n_accounts,
        not_due_today=n_accounts - real.height, planned=planned.height, suppressed=suppressed.height,
        by_segment=counts("segment", planned), by_template=counts("template", planned),
        by_variant=counts("variant", real.filter(pl.col("variant").is_not_null())),
        by_reason=counts("reason", suppressed), lint_rules=counts("_rules", exploded),
        deferred=plan.deferred, deferred_to=plan.fire.deferred_to.isoformat() if plan.fire.deferred_to else None,
        holiday=plan.fire.holiday, fire_days=[d.isoformat() for d in plan.fire.days],
        by_segment_reason=by_seg_reason, by_step_variant=by_step_variant,
        windows={z: w.local_text() for z, w in plan.windows.items() if not w.empty},
        first_send=_iso(first, tz), last_send=_iso(last, tz), rate=plan.rate,
        test_messages=df.height - real.height,
    )
    campaign.plan_summary = summary.to_dict()
    transition(ctx, s, campaign, CampaignState.PLANNED, actor)
    return summary


def _iso(value: Any, tz: ZoneInfo) -> str | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(tz).isoformat(timespec="seconds")
