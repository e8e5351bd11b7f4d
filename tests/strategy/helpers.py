"""Accounts straight into the database and a planning call, for tests of strategy and scheduling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select

from dunning.config import ChannelSettings, Settings
from dunning.db.bulk import bulk_insert
from dunning.db.models import Account, Import, Message
from dunning.domain.buckets import bucket_of
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.campaigns.planning import PlanSummary, plan_campaign
from dunning.services.context import AppContext, build_context
from dunning.testing import FrozenClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A one-step strategy under a holiday mode (%s) and day kind (%s), for the holiday tests.
HOLIDAY = """
name: hol
holidays: %s
holiday_days: %s
segments:
  - {name: all, steps: [{name: s, dpd: [3], template: M1}]}
"""


def at(day: date, hh: int, mm: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz).astimezone(UTC)


def ab_strategy(name: str, *, dpd: int = 1, share: float = 0.01, holdout: float | None = None) -> str:
    """A strategy's YAML: one segment ``m1``, one step ``s`` at DPD ``dpd`` split between M1 (variant a) and M1_b
    (variant b); a pilot of ``share`` (at least one per segment); ``holdout`` when given."""
    hold = "" if holdout is None else f", holdout: {holdout}"
    return (f"name: {name}\npilot: {{share: {share}, min_per_segment: 1}}\nsegments:\n  - name: m1\n    steps:\n"
            f"      - {{name: s, dpd: [{dpd}]{hold}, variants: [{{name: a, template: M1}}, {{name: b, template: M1_b}}]}}\n")


def make_ctx(tmp_path: Path, clock: FrozenClock, *, rate: float = 100000.0) -> AppContext:
    settings = Settings(
        data_dir=tmp_path / ".dunning",
        secret_key="test-secret-key",  # type: ignore[arg-type]
        channels={"sandbox": ChannelSettings(kind="sandbox", rate=rate, options={"seed": 7})},
    )
    ctx = build_context(settings, clock=clock.now)
    ensure_bundled_templates(ctx)
    return ctx


@dataclass
class Acct:
    loan_id: str
    dpd: int
    phone: str = ""
    amount_fen: int = 100_000
    overdue_count: int = 1
    payday: int | None = None
    region: str | None = None
    product: str | None = "消费贷"
    name: str = "张三"
    penalty_rate: float = 0.0005
    extra: dict[str, Any] = field(default_factory=dict)


def import_accounts(ctx: AppContext, accounts: Sequence[Acct], as_of: date) -> int:
    now = ctx.now()
    with ctx.db.transaction() as s:
        imp = Import(kind="portfolio", as_of=as_of, files=["t.csv"], rows=len(accounts), accepted=len(accounts),
                     rejected=0, reasons={}, content_sha=f"t-{now.timestamp()}-{as_of}-{len(accounts)}",
                     created_by="t", created_at=now)
        s.add(imp)
        s.flush()
        rows = pl.DataFrame({
            "import_id": [imp.id] * len(accounts),
            "loan_id": [a.loan_id for a in accounts],
            "name": [a.name for a in accounts],
            "phone": [a.phone or f"+86139{i:08d}" for i, a in enumerate(accounts)],
            "amount_due_fen": [a.amount_fen for a in accounts],
            "due_date": [as_of - timedelta(days=a.dpd) for a in accounts],
            "penalty_rate": [a.penalty_rate for a in accounts],
            "overdue_count": [a.overdue_count for a in accounts],
            "product": [a.product for a in accounts],
            "payday": [a.payday for a in accounts],
            "region": [a.region for a in accounts],
            "dpd": [a.dpd for a in accounts],
            "bucket": [bucket_of(a.dpd) for a in accounts],
            "source_file": ["t.csv"] * len(accounts),
            "source_row": list(range(2, len(accounts) + 2)),
        }, schema_overrides={"payday": pl.Int8, "region": pl.Utf8, "product": pl.Utf8})
        bulk_insert(s, Account.__table__, rows)  # type: ignore[arg-type]
        return imp.id


def plan(ctx: AppContext, strategy: str | None, tmp_path: Path, import_id: int, as_of: date,
         name: str = "s.yaml") -> PlanSummary:
    path = None
    if strategy is not None:
        path = tmp_path / name
        path.write_text(strategy, encoding="utf-8")
    return plan_campaign(ctx, actor="planner", strategy_path=path, import_id=import_id, as_of=as_of)


def messages(ctx: AppContext, campaign_id: int) -> list[Message]:
    with ctx.db.transaction() as s:
        return list(s.scalars(select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)).all())


def by_loan(ctx: AppContext, campaign_id: int) -> dict[str, Message]:
    return {m.loan_id: m for m in messages(ctx, campaign_id) if not m.is_test}
