"""Planning benchmark: plan a campaign for a million accounts (segment, schedule, assign variants, render, lint,
apply budget, persist).

    .venv/bin/python bench/plan.py [--accounts 1000000] [--dir DIR] [--profile]

Setup (not timed): ``dunning.testing.generate_portfolio`` writes a realistic dirty CSV, and the import service
(``dunning.services.intake.imports.import_portfolio``) reads it into a fresh SQLite database, as ``dunning import``
would; then 2 % of the phones get a message sent yesterday (contact budget and minimum interval have history to
read) and 1 % of the loans a payment since the snapshot.

Measured, in a process of its own so its peak RSS is planning's alone: ``dunning.services.campaigns.planning.plan_campaign``
with the bundled CN strategy, from reading the accounts to the committed campaign (target ≤ 20 s). Prints wall
and CPU seconds, peak RSS, the plan's counts, and with ``--profile`` the top of a cProfile. No asserts: the box is
shared, so the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import add_database_arg, backend, print_figures, throwaway_database

AS_OF = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 Shanghai: planned before the window opens


def _settings(workdir: Path, database_url: str | None) -> Any:
    from dunning.config import ChannelSettings, Settings

    return Settings(data_dir=workdir / ".dunning", secret_key="bench-secret",  # type: ignore[arg-type]
                    database_url=database_url, channels={"sandbox": ChannelSettings(kind="sandbox", rate=500.0)})


def setup(workdir: Path, accounts: int, database_url: str | None) -> dict[str, Any]:
    import polars as pl

    from dunning.db.bulk import bulk_insert, read_frame
    from dunning.db.models import Campaign, Import, Message, Payment, Strategy
    from dunning.services.bootstrap import ensure_bundled_templates
    from dunning.services.context import build_context
    from dunning.services.intake.imports import import_portfolio
    from dunning.testing import FrozenClock, generate_portfolio

    ctx = build_context(_settings(workdir, database_url), clock=FrozenClock(NOW).now)
    t0 = time.perf_counter()
    csv = workdir / "portfolio.csv"
    # About 2.5 % of the generated rows are dirty and rejected by intake: generate 3 % more so that at least
    # ``accounts`` accounts reach planning.
    generate_portfolio(int(accounts * 1.03), seed=2026, as_of=AS_OF).write_csv(csv)
    imp = import_portfolio(ctx, [csv], as_of=AS_OF, actor="bench")
    ensure_bundled_templates(ctx)
    # History: yesterday's campaign sent to 2 % of phones at 15:00; payments today for 1 % of loans.
    with ctx.db.transaction() as s:
        accts = read_frame(s, "SELECT id, loan_id, phone, amount_due_fen FROM accounts WHERE import_id = :i",
                           {"i": imp.import_id},
                           schema={"id": pl.Int64, "loan_id": pl.Utf8, "phone": pl.Utf8, "amount_due_fen": pl.Int64})
        old = Import(kind="portfolio", as_of=AS_OF - timedelta(days=1), files=[], rows=0, accepted=0, rejected=0,
                     reasons={}, content_sha="bench-yesterday", created_by="bench", created_at=NOW)
        st = Strategy(name="yesterday", version=1, body="", sha="y", created_by="bench", created_at=NOW)
        s.add_all([old, st])
        s.flush()
        c = Campaign(name="yesterday", strategy_id=st.id, import_id=old.id, as_of=AS_OF - timedelta(days=1),
                     state="completed", channel="sandbox", created_by="bench", created_at=NOW, updated_at=NOW)
        s.add(c)
        s.flush()
        sent = accts.sample(fraction=0.02, seed=1)
        yesterday_15 = "2026-11-22 07:00:00.000000"
        bulk_insert(s, Message.__table__, sent.select(  # type: ignore[arg-type]
            pl.lit(c.id).alias("campaign_id"), pl.col("id").alias("account_id"), "loan_id", "phone",
            pl.lit("M1").alias("step"), pl.lit(1).alias("parts"), pl.lit("delivered").alias("state"),
            pl.lit(False).alias("is_pilot"), pl.lit(False).alias("is_test"),
            pl.concat_str([pl.lit(f"c{c.id}|"), pl.col("loan_id")]).alias("idempotency_key"),
            pl.lit(1).alias("attempts"), pl.lit(yesterday_15).alias("submitting_at"),
            pl.lit(yesterday_15).alias("submitted_at")))
        paid = accts.sample(fraction=0.01, seed=2)
        bulk_insert(s, Payment.__table__, paid.select(  # type: ignore[arg-type]
            "loan_id", pl.col("amount_due_fen").alias("amount_fen"),
            pl.lit("2026-11-23 00:10:00.000000").alias("paid_at")))
    ctx.db.dispose()
    return {"import_id": imp.import_id, "accepted": imp.accepted, "rows": imp.rows,
            "setup_seconds": round(time.perf_counter() - t0, 1)}


def measure(workdir: Path, import_id: int, profile: bool, database_url: str | None) -> dict[str, Any]:
    from dunning.services.campaigns.planning import plan_campaign
    from dunning.services.context import build_context
    from dunning.testing import FrozenClock

    ctx = build_context(_settings(workdir, database_url), clock=FrozenClock(NOW).now)
    prof = cProfile.Profile() if profile else None
    c0, t0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    summary = plan_campaign(ctx, actor="bench", import_id=import_id, as_of=AS_OF)
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(rss_mb),
           "summary": {k: summary.to_dict()[k] for k in ("accounts", "planned", "suppressed", "not_due_today",
                                                         "by_reason", "by_variant", "first_send", "last_send",
                                                         "rate")}}
    if prof:
        stats = pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(35)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--measure", type=int, default=None, help=argparse.SUPPRESS)  # child: the import id
    ap.add_argument("--db", default=None, help=argparse.SUPPRESS)  # child: the run's database URL
    add_database_arg(ap)
    args = ap.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.dir, args.measure, args.profile, args.db)))
        return
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="dunning-bench-plan-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; {backend(args.database_url)}; load average before: {os.getloadavg()[0]:.2f}",
          flush=True)
    with throwaway_database(args.database_url, workdir, "plan") as db:
        _run(args, workdir, db)


def _run(args: argparse.Namespace, workdir: Path, db: str | None) -> None:
    info = setup(workdir, args.accounts, db)
    print(f"setup (generate + import service + history, not timed): {info}", flush=True)
    cmd = [sys.executable, __file__, "--dir", str(workdir), "--measure", str(info["import_id"])]
    if db:
        cmd += ["--db", db]
    if args.profile:
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(proc.returncode)
    if args.profile:
        sys.stderr.write(proc.stderr)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"plan_campaign, {info['accepted']:,} accounts: {res['wall_seconds']} s wall, {res['cpu_seconds']} s CPU, "
          f"peak RSS {res['peak_rss_mb']:,} MB (target ≤ 20 s)")
    print(json.dumps(res["summary"], ensure_ascii=False))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print_figures("plan", args.database_url, {"plan_s": res["wall_seconds"], "accounts": info["accepted"]})


if __name__ == "__main__":
    main()
