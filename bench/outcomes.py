"""Benchmark: campaign outcomes over a million messages and a million payments.

Prints figures; asserts nothing about time. Two parts:

1. ``compute``: the pure, vectorised layer (attribution, intention-to-treat outcomes, metrics, uplift, verdicts,
   delivery by carrier, complaints, curve, buckets) on synthetic frames of ``--rows`` messages and payments.
2. ``database``: the same through the database (SQLite, or PostgreSQL with ``--database-url``) — load the frames
   with the service, compute, write the HTML + XLSX report — for a campaign of ``--db-rows`` accounts (0 skips it).

Run: ``.venv/bin/python bench/outcomes.py [--rows 1000000] [--db-rows 200000] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from dunning.reporting.attribution import attribute_payments
from dunning.reporting.frames import (
    MESSAGES_SCHEMA,
    PAYMENTS_SCHEMA,
    REPLIES_SCHEMA,
    TOUCHES_SCHEMA,
    OutcomeFrames,
)
from dunning.reporting.outcomes import compute_outcomes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import add_database_arg, backend, print_figures, throwaway_database

T0 = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
PREFIXES = ["138", "139", "150", "186", "185", "130", "189", "133", "199", "192", "1700", "1705", "1709", "1349"]


def synthetic_frames(n: int, seed: int = 7) -> OutcomeFrames:
    """``n`` messages over 6 strata (two with champion/challenger and a 5 % hold-out), ``n`` payments (about a
    third of loans pay, some several times; the rest of the payments go to loans outside the campaign),
    ``n // 2`` earlier deliveries from other campaigns, replies to 0.5 % of deliveries."""
    rng = np.random.default_rng(seed)
    segs = np.array(["pre_due", "first_overdue", "M1", "M2", "M3", "M4+"])
    seg = rng.choice(segs, n, p=[0.2, 0.1, 0.3, 0.2, 0.1, 0.1])
    r = rng.random(n)
    ab = np.isin(seg, ["M1", "M2"])
    variant = np.where(ab, np.where(r < 0.05, "holdout", np.where(r < 0.525, "champion", "challenger")), "A")
    hold = variant == "holdout"
    state = np.where(hold, "suppressed", rng.choice(["delivered", "failed", "expired", "submitted", "suppressed"],
                                                    n, p=[0.9, 0.04, 0.02, 0.02, 0.02]))
    prefix = rng.choice(np.array(PREFIXES), n)
    ids = np.arange(n, dtype=np.int64)
    msgs = pl.DataFrame({
        "message_id": ids, "seg": seg, "variant": variant, "state": state, "prefix": prefix,
        "sent_min": rng.integers(0, 690, n), "amount_due_fen": rng.integers(5_000, 2_000_000, n),
    }).with_columns(
        pl.format("L{}", pl.col("message_id")).alias("loan_id"),
        pl.concat_str([pl.lit("+86"), pl.col("prefix"), pl.col("message_id").cast(pl.String).str.zfill(11)])
        .str.slice(0, 14).alias("phone"),
        pl.col("seg").alias("segment"), pl.col("seg").alias("step"),
        pl.when(pl.col("variant") == "holdout").then(None).otherwise(
            pl.concat_str([pl.col("seg"), pl.when(pl.col("variant") == "challenger").then(pl.lit("_b"))
                           .otherwise(pl.lit(""))])).alias("template"),
        pl.when(pl.col("variant") == "holdout").then(pl.lit("holdout")).when(pl.col("state") == "suppressed")
        .then(pl.lit("budget")).when(pl.col("state") == "failed").then(pl.lit("dlr_failed")).alias("reason"),
        pl.when(pl.col("state") == "failed").then(pl.lit("UNDELIV")).alias("error_code"),
        pl.when(pl.col("state") != "suppressed").then(pl.lit("sandbox")).alias("channel"),
        pl.when(pl.col("state") != "suppressed").then(pl.lit(T0) + pl.duration(minutes=pl.col("sent_min")))
        .alias("sent_at"),
    ).with_columns(
        pl.col("template").replace_strict({"M1": 1, "M1_b": 2, "M2": 3, "M2_b": 4}, default=5,
                                          return_dtype=pl.Int64).alias("template_version_id"),
        pl.col("seg").replace_strict({"pre_due": "C", "first_overdue": "M1", "M1": "M1"}, default=pl.col("seg"))
        .alias("bucket"),
    ).with_columns(pl.when(pl.col("template").is_not_null()).then(pl.col("template") + " v1").alias("template"))
    msgs = msgs.select(list(MESSAGES_SCHEMA)).cast(MESSAGES_SCHEMA)  # type: ignore[arg-type]

    # Payments: one per paying loan, a second for some, the rest to loans of no message here.
    base_rate = np.where(variant == "challenger", 0.36, np.where(hold, 0.28, 0.32))
    payers = ids[rng.random(n) < base_rate]
    extra = payers[rng.random(payers.size) < 0.25]
    campaign_loans = np.concatenate([payers, extra])
    others = n - campaign_loans.size
    loan_num = np.concatenate([campaign_loans, rng.integers(n, 3 * n, max(others, 0))])[:n]
    pays = pl.DataFrame({
        "loan_id": [f"L{i}" for i in loan_num.tolist()],
        "amount_fen": rng.integers(1_000, 1_000_000, n),
        "_h": rng.uniform(-48, 24 * 16, n),
    }).with_columns((pl.lit(T0) + pl.duration(seconds=(pl.col("_h") * 3600).cast(pl.Int64))).alias("paid_at")
                    ).drop("_h").cast(PAYMENTS_SCHEMA)  # type: ignore[arg-type]

    now = msgs.filter(pl.col("state") == "delivered").select("message_id", "loan_id", "sent_at")
    earlier_n = n // 2
    earlier = pl.DataFrame({
        "message_id": np.arange(n, n + earlier_n, dtype=np.int64),
        "loan_id": [f"L{i}" for i in rng.integers(0, n, earlier_n).tolist()],
        "_h": rng.uniform(24, 24 * 9, earlier_n),
    }).with_columns((pl.lit(T0) - pl.duration(seconds=(pl.col("_h") * 3600).cast(pl.Int64))).alias("sent_at")
                    ).drop("_h")
    replied = now.sample(fraction=0.005, seed=seed)
    replies = pl.DataFrame({"message_id": replied["message_id"],
                            "classification": rng.choice(["opt_out", "dispute", "promise"], replied.height)},
                           schema=REPLIES_SCHEMA)
    return OutcomeFrames(messages=msgs, touches=earlier.cast(TOUCHES_SCHEMA),  # type: ignore[arg-type]
                         payments=pays, replies=replies, observed_at=T0 + timedelta(days=20), planned_start=T0)


class Timer:
    """Wall and CPU seconds of a block (CPU counts every thread of the process: on a shared machine the wall
    time also shows how long the process waited for a core)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU"


def bench_compute(n: int) -> None:
    with Timer() as t:
        frames = synthetic_frames(n)
    print(f"synthetic frames: {frames.messages.height:,} messages, {frames.payments.height:,} payments, "
          f"{frames.touches.height:,} earlier deliveries ({t} to generate)")
    with Timer() as t:
        attributed = attribute_payments(frames.payments, frames.all_touches(), timedelta(days=7))
    credited = attributed["message_id"].is_not_null().sum()
    print(f"attribution alone: {t} ({credited:,} of {attributed.height:,} payments credited)")
    for run in (1, 2):
        with Timer() as t:
            o = compute_outcomes(frames)
        print(f"compute_outcomes run {run}: {t}")
    for v in o.verdicts:
        print(f"  {v.segment}/{v.step}: {v.kind} — {v.best} vs {v.runner_up}, diff "
              f"{'—' if v.diff is None else f'{v.diff * 100:+.1f}pp'}")


def bench_database(n: int, database_url: str | None) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from tests.outcomes.factories import Arm, seed_experiment

    from dunning.config import ChannelSettings, Settings
    from dunning.services.campaigns.outcomes import campaign_outcomes, load_outcome_frames
    from dunning.services.campaigns.reports import write_campaign_report
    from dunning.services.context import build_context

    with tempfile.TemporaryDirectory() as tmp, throwaway_database(database_url, Path(tmp), "outcomes") as url:
        settings = Settings(data_dir=Path(tmp) / ".dunning", secret_key="bench-secret",  # type: ignore[arg-type]
                            database_url=url, channels={"sandbox": ChannelSettings(kind="sandbox")})
        ctx = build_context(settings, clock=lambda: T0 + timedelta(days=10))
        arm = int(n * 0.475)
        with Timer() as t:
            cid = seed_experiment(ctx, [Arm("champion", arm, 0.06, "M1"), Arm("challenger", arm, 0.07, "M1_b"),
                                        Arm("holdout", n - 2 * arm, 0.05)], seed=3)
        print(f"\ndatabase ({backend(database_url)}): seeded {n:,} accounts/messages ({t})")
        with Timer() as t:
            frames = load_outcome_frames(ctx, cid)
        figures = {"frames_s": round(t.wall, 2)}
        print(f"load_outcome_frames: {t} ({frames.messages.height:,} messages, "
              f"{frames.payments.height:,} payments)")
        with Timer() as t:
            o = campaign_outcomes(ctx, cid)
        print(f"campaign_outcomes (load + compute): {t}")
        with Timer() as t:
            out = write_campaign_report(ctx, cid, Path(tmp) / "report" / "campaign.html")
        print(f"write_campaign_report (load + compute + HTML + XLSX): {t}")
        figures["report_s"] = round(t.wall, 2)
        print(f"  {o.verdicts[0].text_en if o.verdicts else 'no verdict'}")
        print(f"  html {Path(out['html']).stat().st_size:,} bytes, xlsx {Path(out['xlsx']).stat().st_size:,} bytes")
        ctx.db.dispose()
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db-rows", type=int, default=200_000)
    ap.add_argument("--skip-compute", action="store_true", help="only the database part")
    add_database_arg(ap)
    args = ap.parse_args()
    pl.Config.set_tbl_rows(5)
    print(f"polars {pl.__version__}, threads {pl.thread_pool_size()}, cores {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f} (wall times stretch when the cores are shared)")
    if not args.skip_compute:
        bench_compute(args.rows)
    if args.db_rows:
        figures = bench_database(args.db_rows, args.database_url)
        print_figures("outcomes", args.database_url, {**figures, "rows": args.db_rows})


if __name__ == "__main__":
    main()
