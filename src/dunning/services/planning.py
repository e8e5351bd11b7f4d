"""Planning: one vectorised pass from the day's accounts to a campaign's messages and suppressions.

Segment and step, variant and hold-out (strategy), suppression from stored state (flags, payments, contact
budget), rendering (templates), compliance lint, verification codes; then one bulk insert.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, select

from dunning.compliance import lint_messages
from dunning.db.bulk import bulk_insert, read_frame
from dunning.db.models import Account, Campaign, Import, Message, Strategy, TemplateRecord, TemplateVersion
from dunning.domain.buckets import bucket_expr
from dunning.domain.states import CampaignState, MessageState, TemplateStatus
from dunning.errors import InputError, NotFoundError, StateError
from dunning.services import audit
from dunning.services.campaigns_base import transition
from dunning.services.context import AppContext
from dunning.services.policy import policy_for, render_context
from dunning.services.sending import campaign_window
from dunning.services.verification import codes_and_hashes
from dunning.strategy import StrategySpec, assign_steps, load_bundled_strategy, load_strategy
from dunning.templates import compile_template, render

SUPPRESSION_ZH = {
    "no_segment": "未匹配任何分群",
    "holdout": "对照组（不发送）",
    "do_not_contact": "禁止联系名单",
    "opted_out": "已退订",
    "dispute": "存在争议",
    "paid": "已还款",
    "budget": "超出联系频次上限",
    "lint_block": "合规检查未通过",
    "window": "超出发送时段",
    "holiday": "节假日不发送",
    "cancelled": "批次已取消",
}


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


def _parts_expr(col: str) -> pl.Expr:
    # CN domestic counting: every character counts 1, signature included; ≤ 70 one part, else 67 per part.
    n = pl.col(col).str.len_chars()
    return pl.when(n <= 70).then(1).otherwise((n + 66) // 67).cast(pl.Int16)


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
) -> PlanSummary:
    """Create the campaign for one strategy, snapshot and as-of date; planning the same again finds it."""
    spec, sha, body = load_strategy(strategy_path) if strategy_path else load_bundled_strategy()
    now = ctx.now()
    with ctx.db.transaction() as s:
        if import_id is None:
            import_id = s.scalar(select(func.max(Import.id)).where(Import.kind == "portfolio"))
            if import_id is None:
                raise StateError("还没有导入任何账户数据，请先运行 dunning import", "nothing imported yet",
                                 code="state.no_import")
        imp = s.get(Import, import_id)
        if imp is None:
            raise NotFoundError(f"导入批次 #{import_id} 不存在", f"import #{import_id} does not exist")
        as_of = as_of or imp.as_of
        strat = _store_strategy(s, spec, sha, body, actor, now)
        existing = s.scalars(select(Campaign).where(Campaign.strategy_id == strat.id, Campaign.as_of == as_of,
                                                    Campaign.import_id == import_id)).first()
        if existing is not None:
            summary = PlanSummary(**existing.plan_summary)
            summary.state = existing.state
            summary.already_planned = True
            return summary
        templates = _approved_templates(s, spec.templates())
        campaign = Campaign(name=f"{spec.name} {as_of.isoformat()}", strategy_id=strat.id, import_id=import_id,
                            as_of=as_of, state=CampaignState.DRAFT.value, channel=channel or ctx.settings.default_channel,
                            created_by=actor, created_at=now, updated_at=now,
                            seed=int(hashlib.sha256(f"{sha}|{as_of}|{import_id}".encode()).hexdigest()[:12], 16))
        s.add(campaign)
        s.flush()
        audit.record(s, at=now, actor=actor, action="campaign.create", entity="campaign", entity_id=campaign.id,
                     after={"strategy": f"{strat.name} v{strat.version}", "as_of": as_of.isoformat(),
                            "import_id": import_id})

        accounts = read_frame(
            s,
            select(Account.id.label("account_id"), Account.loan_id, Account.name, Account.phone,
                   Account.amount_due_fen, Account.due_date, Account.penalty_rate, Account.overdue_count,
                   Account.product, Account.payday, Account.region).where(Account.import_id == import_id),
            schema={"account_id": pl.Int64, "loan_id": pl.Utf8, "name": pl.Utf8, "phone": pl.Utf8,
                    "amount_due_fen": pl.Int64, "due_date": pl.Date, "penalty_rate": pl.Float64,
                    "overdue_count": pl.Int32, "product": pl.Utf8, "payday": pl.Int8, "region": pl.Utf8},
        )
        accounts = accounts.with_columns(
            pl.col("due_date").cast(pl.Date),
            (pl.lit(as_of) - pl.col("due_date").cast(pl.Date)).dt.total_days().cast(pl.Int32).alias("dpd"),
        ).with_columns(bucket_expr("dpd").alias("bucket"))
        frame = _plan_frame(ctx, s, accounts, spec, campaign, templates, policy_overlay)
        summary = _persist_plan(ctx, s, frame, spec, campaign, strat, accounts.height, actor)
        return summary


def _plan_frame(ctx: AppContext, s: Any, accounts: pl.DataFrame, spec: StrategySpec, campaign: Campaign,
                templates: dict[str, TemplateVersion], policy_overlay: Path | None) -> pl.DataFrame:
    tz = ZoneInfo(spec.timezone)
    df = assign_steps(accounts, spec, campaign.seed)
    df = df.filter(pl.col("step").is_not_null() | pl.col("segment").is_null())
    df = df.with_columns(pl.when(pl.col("segment").is_null()).then(pl.lit("none")).otherwise(pl.col("step"))
                         .alias("step"))

    # Standing flags and payments from stored state.
    flags = read_frame(s, "SELECT phone, kind FROM phone_flags WHERE cleared_at IS NULL",
                       schema={"phone": pl.Utf8, "kind": pl.Utf8}).unique("phone", keep="first")
    paid = read_frame(s, "SELECT loan_id, SUM(amount_fen) AS paid_fen FROM payments GROUP BY loan_id",
                      schema={"loan_id": pl.Utf8, "paid_fen": pl.Int64})
    df = df.join(flags.rename({"kind": "_flag"}), on="phone", how="left").join(paid, on="loan_id", how="left")

    reason = (
        pl.when(pl.col("segment").is_null()).then(pl.lit("no_segment"))
        .when(pl.col("holdout")).then(pl.lit("holdout"))
        .when(pl.col("_flag").is_not_null()).then(pl.col("_flag"))
        .when(pl.col("paid_fen").fill_null(0) >= pl.col("amount_due_fen")).then(pl.lit("paid"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    df = df.with_columns(reason.alias("reason"))

    # Contact budget: what was already sent to each phone (any campaign), plus this campaign's own order
    # (more overdue first) within the remaining allowance.
    window_start = datetime.combine(campaign.as_of, time(0), tz)
    sent = read_frame(
        s,
        "SELECT phone, SUM(CASE WHEN submitting_at >= :day THEN 1 ELSE 0 END) AS sent_day, COUNT(*) AS sent_7d "
        "FROM messages WHERE state IN ('submitting','submitted','delivered','held') AND submitting_at >= :week "
        "GROUP BY phone",
        {"day": window_start, "week": window_start - timedelta(days=6)},
        schema={"phone": pl.Utf8, "sent_day": pl.Int64, "sent_7d": pl.Int64},
    )
    df = df.join(sent, on="phone", how="left").with_columns(
        pl.col("sent_day").fill_null(0), pl.col("sent_7d").fill_null(0)
    )
    eligible = pl.col("reason").is_null()
    df = df.with_columns(
        pl.when(eligible).then(
            pl.col("dpd").rank("ordinal", descending=True).over("phone", pl.col("reason").is_null())
        ).otherwise(None).alias("_order")
    )
    over_budget = eligible & (
        (pl.col("sent_day") + pl.col("_order") > spec.budget.max_per_day)
        | (pl.col("sent_7d") + pl.col("_order") > spec.budget.max_per_7d)
    )
    df = df.with_columns(pl.when(over_budget).then(pl.lit("budget")).otherwise(pl.col("reason")).alias("reason"))

    # Verification codes (for the messages that will be sent) then rendering, per template.
    df = df.with_row_index("_i").with_columns(
        pl.concat_str([pl.lit(f"c{campaign.id}|"), pl.col("loan_id"), pl.lit("|"), pl.col("step")])
        .alias("idempotency_key")
    )
    secret = ctx.settings.secret()
    to_code = df.filter(pl.col("reason").is_null() & pl.col("template").is_not_null())
    codes, hashes = codes_and_hashes(secret, to_code["idempotency_key"].to_list(), to_code["phone"].to_list())
    df = df.join(
        pl.DataFrame({"_i": to_code["_i"], "verify_code": codes, "verify_code_hash": hashes},
                     schema={"_i": pl.UInt32, "verify_code": pl.Utf8, "verify_code_hash": pl.Utf8}),
        on="_i", how="left",
    )
    context = render_context(ctx)
    rendered = []
    for code, tv in templates.items():
        part = df.filter(pl.col("template") == code)
        if part.is_empty():
            continue
        compiled = compile_template(tv.text, tv.variables)
        part = part.with_columns(
            render(part.with_columns(pl.col("verify_code").fill_null("——")), compiled, context).alias("text"),
            pl.lit(tv.id).alias("template_version_id"),
        )
        rendered.append(part)
    untemplated = df.filter(pl.col("template").is_null()).with_columns(
        pl.lit(None, pl.Utf8).alias("text"), pl.lit(None, pl.Int64).alias("template_version_id")
    )
    df = pl.concat([*(r.with_columns(pl.col("template_version_id").cast(pl.Int64)) for r in rendered),
                    untemplated], how="vertical_relaxed")

    # Lint every rendered message again; a block finding keeps it unsent, with the rules it tripped.
    policy = policy_for(ctx, spec.profile, policy_overlay)
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
    scheduled = datetime.combine(campaign.as_of, campaign_window(spec).start, tz)
    return df.with_columns(
        _parts_expr("text").fill_null(0).alias("parts"),
        pl.lit(scheduled).alias("scheduled_at"),
        pl.when(pl.col("reason").is_null()).then(pl.lit(MessageState.PLANNED.value))
        .otherwise(pl.lit(MessageState.SUPPRESSED.value)).alias("state"),
        pl.when(pl.col("reason").is_null()).then(pl.col("verify_code_hash")).otherwise(None).alias("verify_code_hash"),
        pl.col("_rules").alias("detail"),
    )


def _persist_plan(ctx: AppContext, s: Any, df: pl.DataFrame, spec: StrategySpec, campaign: Campaign,
                  strat: Strategy, n_accounts: int, actor: str) -> PlanSummary:
    rows = df.select(
        pl.lit(campaign.id).alias("campaign_id"), "account_id", "loan_id", "phone", "segment", "step", "variant",
        "template_version_id", "text", "parts", "state", "reason", "detail", pl.lit(False).alias("is_pilot"),
        "scheduled_at", "idempotency_key", pl.lit(0).alias("attempts"), "verify_code_hash",
    )
    bulk_insert(s, Message.__table__, rows)  # type: ignore[arg-type]

    def counts(col: str, frame: pl.DataFrame) -> dict[str, int]:
        g = frame.group_by(col).len().sort(col, nulls_last=True)
        return {str(k): int(v) for k, v in g.iter_rows() if k is not None}

    planned = df.filter(pl.col("state") == MessageState.PLANNED.value)
    suppressed = df.filter(pl.col("state") == MessageState.SUPPRESSED.value)
    lint_rules: dict[str, int] = {}
    if "_rules" in df.columns:
        exploded = df.filter(pl.col("_rules").is_not_null()).select(pl.col("_rules").str.split(",")).explode("_rules")
        lint_rules = counts("_rules", exploded)
    summary = PlanSummary(
        campaign_id=campaign.id, state=CampaignState.PLANNED.value, as_of=campaign.as_of.isoformat(),
        import_id=campaign.import_id, strategy=f"{strat.name} v{strat.version}", accounts=n_accounts,
        not_due_today=n_accounts - df.height, planned=planned.height, suppressed=suppressed.height,
        by_segment=counts("segment", planned), by_template=counts("template", planned),
        by_variant=counts("variant", df.filter(pl.col("variant").is_not_null())),
        by_reason=counts("reason", suppressed), lint_rules=lint_rules,
    )
    campaign.plan_summary = summary.to_dict()
    transition(ctx, s, campaign, CampaignState.PLANNED, actor)
    return summary


