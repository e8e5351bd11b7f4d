"""Synthetic campaigns with a known truth, written straight into the database (bulk, like planning does).

Each arm of a stratum gets ``n`` accounts; every account of an arm repays within the window with probability
``rate`` whatever happened to its message — the effect the report must (or must not) find."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from dunning.db.bulk import bulk_insert
from dunning.db.models import (
    Account,
    Campaign,
    Import,
    Message,
    Payment,
    Reply,
    Strategy,
    TemplateRecord,
    TemplateVersion,
)
from dunning.services.context import AppContext

# 09:00 Asia/Shanghai on the campaign day: the planned send time of every message (as planning sets it).
PLANNED = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Arm:
    """``name`` "holdout" makes a hold-out (suppressed, no template); otherwise a variant sending ``template``."""

    name: str
    n: int
    rate: float
    template: str | None = None
    opt_out_rate: float = 0.0


def _template_version(ctx: AppContext, code: str, now: datetime) -> int:
    with ctx.db.transaction() as s:
        t = TemplateRecord(code=code, name=code, tone="neutral", created_at=now)
        s.add(t)
        s.flush()
        v = TemplateVersion(template_id=t.id, version=1, text=f"【测试】{code}", variables={}, status="approved",
                            author="t", created_at=now)
        s.add(v)
        s.flush()
        return v.id


def seed_experiment(ctx: AppContext, arms: list[Arm], *, seed: int, segment: str = "M1", step: str = "M1",
                    bucket: str = "M1", delivered_share: float = 0.95, amount_fen: int = 100_000,
                    partial_share: float = 0.3, campaign_id: int | None = None) -> int:
    """A campaign (or one more stratum of ``campaign_id``) whose arms repay at their ``rate``; returns its id."""
    rng = np.random.default_rng(seed)
    now = ctx.now()
    with ctx.db.transaction() as s:
        if campaign_id is None:
            imp = Import(as_of=date(2026, 11, 16), files=["synthetic.csv"], rows=0, accepted=0, rejected=0,
                         reasons={}, content_sha=f"synthetic-{seed}", created_by="t", created_at=now)
            st = Strategy(name=f"synthetic-{seed}", version=1, body="", sha=f"sha-{seed}", created_by="t",
                          created_at=now)
            s.add_all([imp, st])
            s.flush()
            c = Campaign(name=f"实验 {seed}", strategy_id=st.id, import_id=imp.id, as_of=date(2026, 11, 16),
                         state="completed", seed=seed, channel="sandbox", created_by="t", created_at=now,
                         updated_at=now)
            s.add(c)
            s.flush()
            campaign_id, import_id = c.id, imp.id
        else:
            import_id = s.get(Campaign, campaign_id).import_id  # type: ignore[union-attr]
        first_id = (s.query(Account).count() or 0) + 1
    versions = {a.template: _template_version(ctx, a.template, now) for a in arms if a.template}

    frames = []
    for a in arms:
        frames.append(pl.DataFrame({"arm": [a.name] * a.n, "rate": [a.rate] * a.n,
                                    "template_version_id": [versions.get(a.template or "")] * a.n,
                                    "opt_out_rate": [a.opt_out_rate] * a.n},
                                   schema={"arm": pl.String, "rate": pl.Float64, "template_version_id": pl.Int64,
                                           "opt_out_rate": pl.Float64}))
    df = pl.concat(frames).with_row_index("i", offset=first_id).with_columns(pl.col("i").cast(pl.Int64))
    n = df.height
    hold = (df["arm"] == "holdout").to_numpy()
    delivered = rng.random(n) < delivered_share
    state = np.where(hold, "suppressed", np.where(delivered, "delivered", "failed"))
    sent_min = rng.integers(1, 600, n)
    payer = rng.random(n) < df["rate"].to_numpy()
    pay_hours = rng.uniform(0.5, 24 * 6.5, n)
    partial = rng.random(n) < partial_share
    opted = (rng.random(n) < df["opt_out_rate"].to_numpy()) & (state == "delivered")
    df = df.with_columns(
        pl.Series("state", state), pl.Series("sent_min", sent_min), pl.Series("payer", payer),
        pl.Series("pay_hours", pay_hours), pl.Series("partial", partial), pl.Series("opted", opted),
        pl.format("S{}-{}", pl.lit(campaign_id), pl.col("i")).alias("loan_id"),
        pl.format("+86138{}", pl.col("i").cast(pl.String).str.zfill(8)).alias("phone"),
    )
    accounts = df.select(
        pl.col("i").alias("id"), pl.lit(import_id).alias("import_id"), "loan_id", pl.lit("测试").alias("name"),
        "phone", pl.lit(amount_fen).alias("amount_due_fen"), pl.lit(date(2026, 11, 1)).alias("due_date"),
        pl.lit(1).alias("overdue_count"), pl.lit(15).alias("dpd"), pl.lit(bucket).alias("bucket"),
        pl.lit("synthetic.csv").alias("source_file"), (pl.col("i") + 1).alias("source_row"),
    )
    planned = pl.lit(PLANNED)
    sent_at = planned + pl.duration(minutes=pl.col("sent_min"))
    messages = df.select(
        pl.col("i").alias("id"), pl.lit(campaign_id).alias("campaign_id"), pl.col("i").alias("account_id"),
        "loan_id", "phone", pl.lit(segment).alias("segment"), pl.lit(step).alias("step"),
        pl.col("arm").alias("variant"), "template_version_id",
        pl.when(pl.col("arm") != "holdout").then(pl.lit("【测试】提醒")).alias("text"), pl.lit(1).alias("parts"),
        "state", pl.when(pl.col("arm") == "holdout").then(pl.lit("holdout"))
        .when(pl.col("state") == "failed").then(pl.lit("dlr_failed")).alias("reason"),
        pl.lit(False).alias("is_pilot"),
        # As planning does, suppressed rows (the hold-out) carry no times. The window opening is stored zoned
        # (+08:00 text), as bulk inserts of zoned values are: the loader must read it as 01:00 UTC.
        pl.when(pl.col("arm") != "holdout").then(planned.dt.convert_time_zone("Asia/Shanghai")).alias("send_after"),
        pl.when(pl.col("arm") != "holdout").then(planned + pl.duration(minutes=pl.col("sent_min") - 1))
        .alias("scheduled_at"),
        pl.format("c{}|{}|{}", pl.lit(campaign_id), pl.col("loan_id"), pl.lit(step)).alias("idempotency_key"),
        pl.when(pl.col("arm") != "holdout").then(pl.lit("sandbox")).alias("channel"),
        pl.lit(0).alias("attempts"),
        pl.when(pl.col("arm") != "holdout").then(sent_at).alias("submitted_at"),
        pl.when(pl.col("arm") != "holdout").then(sent_at + pl.duration(seconds=20)).alias("final_at"),
    )
    pays = df.filter(pl.col("payer")).select(
        "loan_id",
        pl.when(pl.col("partial")).then(amount_fen // 2).otherwise(amount_fen).alias("amount_fen"),
        (planned + pl.duration(seconds=(pl.col("pay_hours") * 3600).cast(pl.Int64))).alias("paid_at"),
    )
    replies = df.filter(pl.col("opted")).select(
        pl.lit("sandbox").alias("channel"), "phone", pl.lit("TD").alias("text"),
        pl.lit("opt_out").alias("classification"), pl.col("i").alias("message_id"),
        (planned + pl.duration(hours=2)).alias("received_at"),
    )
    with ctx.db.transaction() as s:
        if s.connection().dialect.name == "sqlite":
            # What the ORM and the dispatcher store on SQLite: naive UTC text (send_after stays zoned, see above).
            messages = _naive_text(messages, ["scheduled_at", "submitted_at", "final_at"])
            pays = _naive_text(pays, ["paid_at"])
            replies = _naive_text(replies, ["received_at"])
        bulk_insert(s, Account.__table__, accounts)  # type: ignore[arg-type]
        bulk_insert(s, Message.__table__, messages)  # type: ignore[arg-type]
        bulk_insert(s, Payment.__table__, pays)  # type: ignore[arg-type]
        bulk_insert(s, Reply.__table__, replies)  # type: ignore[arg-type]
    return campaign_id




def _naive_text(frame: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
                              for c in cols)
