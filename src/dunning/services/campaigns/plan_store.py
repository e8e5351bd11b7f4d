"""A plan's rows and their record: the pilot's samples to test numbers, the bulk insert of every message and
suppression, the plan summary, and the strategy and template versions a plan is made from.

``planning`` builds the frame (what each account gets today and why); this module stores it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, select

from dunning.db.bulk import bulk_insert
from dunning.db.models import Campaign, Message, Strategy, TemplateRecord, TemplateVersion
from dunning.db.types import frame_times
from dunning.domain.sms import parts_expr
from dunning.domain.states import CampaignState, MessageState, TemplateStatus
from dunning.errors import InputError
from dunning.intake import phone_expr
from dunning.services.campaigns.transitions import transition
from dunning.services.context import AppContext
from dunning.services.verification.codes import CODE_PLACEHOLDER, codes_and_hashes
from dunning.strategy import StrategySpec
from dunning.strategy.calendar import FireDays
from dunning.strategy.schedule import ZoneWindow
from dunning.templates import render, render_params

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


@dataclass
class PlanFrame:
    frame: pl.DataFrame
    fire: FireDays
    deferred: int
    windows: dict[str, ZoneWindow]
    rate: float
    tz: str


def store_strategy(s: Any, spec: StrategySpec, sha: str, body: str, actor: str, now: datetime) -> Strategy:
    row = s.scalars(select(Strategy).where(Strategy.name == spec.name, Strategy.sha == sha)).first()
    if row is not None:
        return row
    latest = s.scalar(select(func.max(Strategy.version)).where(Strategy.name == spec.name)) or 0
    row = Strategy(name=spec.name, version=latest + 1, body=body, sha=sha, created_by=actor, created_at=now)
    s.add(row)
    s.flush()
    return row


def approved_templates(s: Any, codes: set[str]) -> dict[str, TemplateVersion]:
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


def billed_parts_expr(col: str, counting: str) -> pl.Expr:
    """Billed parts per text, counted by the one segmentation (``domain.sms``) as the channel sends it."""
    return parts_expr(col, counting).cast(pl.Int16)


def pilot_test_messages(ctx: AppContext, df: pl.DataFrame, spec: StrategySpec, campaign: Campaign,
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
        billed_parts_expr("text", counting).alias("parts"), pl.lit(True).alias("is_test"), pl.lit(True).alias("is_pilot"),
        pl.lit(at).cast(UTC_US).alias("scheduled_at"), pl.lit(window.opens).cast(UTC_US).alias("send_after"),
        pl.lit(window.closes).cast(UTC_US).alias("send_before"), pl.lit("test_number").alias("detail"),
    ).drop("_test_phone")


def persist_plan(ctx: AppContext, s: Any, plan: PlanFrame, campaign: Campaign, strat: Strategy, n_accounts: int,
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
    rows = frame_times(s.connection().dialect.name, rows, ["scheduled_at", "send_after", "send_before"])
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
