"""Benchmark: borrower cases opened from 100,000 replies, and the overdue queue of the whole book.

Prints figures; asserts nothing about time. Three parts, on an embedded SQLite database (or PostgreSQL with
``--database-url``):

1. ``classify``: the reply texts → case types (one Polars pass over the policy's keywords), one per (phone, type).
2. ``open``: :func:`dunning.services.cases.intake.open_from_replies` — classify, skip phones with an open case of
   the type, due times from the Chinese calendar (once per distinct day and type), one bulk insert, the stop flags
   of the phones, one audit event — inside one transaction, as the reply ingestion runs it.
3. ``overdue``: ten days later, every open case's SLA class (:func:`dunning.services.cases.queries.sla_frame`).

Run: ``.venv/bin/python bench/cases.py [--replies 100000] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from dunning.config import Settings
from dunning.db.bulk import bulk_insert, read_frame
from dunning.db.frames import utc_times
from dunning.db.models import Reply
from dunning.services.cases.intake import REPLY_SCHEMA, classify_cases, open_from_replies
from dunning.services.cases.policy import load_case_policy
from dunning.services.cases.queries import sla_frame
from dunning.services.context import build_context
from dunning.services.policy import policy_for
from dunning.testing import FrozenClock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import add_database_arg, backend, print_figures, throwaway_database

T0 = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # the week before National Day: due times cross the holiday
TEXTS = ["不是本人，打错了", "我已还款了", "我要投诉你们", "最近失业了，能分期吗", "金额不对，有异议", "好的，明天还",
         "收到", "TD", "请问怎么还款", "谁啊"]


def synthetic_replies(n: int, seed: int = 20) -> pl.DataFrame:
    """``n`` replies over four days from about 0.8 n phones; half of them ask for a case."""
    rng = np.random.default_rng(seed)
    phones = rng.integers(0, int(n * 0.8), n)
    return pl.DataFrame({
        "channel": ["sandbox"] * n,
        "phone": [f"+86139{p:08d}" for p in phones],
        "text": rng.choice(np.array(TEXTS), n, p=[0.08, 0.08, 0.04, 0.2, 0.1, 0.2, 0.1, 0.05, 0.1, 0.05]).tolist(),
        "classification": ["other"] * n,
        "received_at": [T0 + timedelta(seconds=int(s)) for s in rng.integers(0, 4 * 86400, n)],
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replies", type=int, default=100_000)
    add_database_arg(ap)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_database(args.database_url, Path(tmp), "cases") as url:
        clock = FrozenClock(T0 + timedelta(days=4))
        ctx = build_context(Settings(data_dir=Path(tmp) / ".dunning", secret_key="bench-secret",  # type: ignore[arg-type]
                                     database_url=url), clock=clock.now)
        sqlite = ctx.db.engine.dialect.name == "sqlite"
        keywords = policy_for(ctx).case_keywords
        policy = load_case_policy()
        raw = synthetic_replies(args.replies)
        with ctx.db.transaction() as s:
            # SQLite keeps times as the ORM's naive UTC text; PostgreSQL takes the aware values.
            bulk_insert(s, Reply.__table__,  # type: ignore[arg-type]
                        raw.with_columns(pl.col("received_at").dt.strftime("%Y-%m-%d %H:%M:%S.%6f")) if sqlite else raw)
            stored = read_frame(s, "SELECT id, phone, message_id, text, received_at FROM replies ORDER BY id")
        replies = stored.rename({"id": "reply_id"}).with_columns(
            utc_times("received_at"), pl.col("message_id").cast(pl.Int64)).cast(REPLY_SCHEMA)  # type: ignore[arg-type]

        t = time.perf_counter()
        wanted = classify_cases(replies, keywords)
        classify_s = time.perf_counter() - t

        t = time.perf_counter()
        with ctx.db.transaction() as s:
            opened = open_from_replies(s, replies, keywords, policy, clock.now())
        open_s = time.perf_counter() - t

        t = time.perf_counter()
        with ctx.db.transaction() as s:
            again = open_from_replies(s, replies, keywords, policy, clock.now())
        again_s = time.perf_counter() - t

        clock.advance(days=10)
        t = time.perf_counter()
        with ctx.db.transaction() as s:
            sla = sla_frame(s, clock.now())
        overdue = sla.filter(pl.col("sla") == "overdue")
        queue = overdue.group_by("team", "type").len().sort("team", "type")
        overdue_s = time.perf_counter() - t
        ctx.db.dispose()

    n = args.replies
    total = sum(opened.values())
    print(f"cases bench: {n:,} replies ({backend(args.database_url)}, one transaction)")
    print(f"  classify      {classify_s * 1000:8.1f} ms   {len(wanted):,} (phone, type) requests "
          f"({n / classify_s:,.0f} replies/s)")
    print(f"  open          {open_s * 1000:8.1f} ms   {total:,} cases opened {dict(sorted(opened.items()))} "
          f"({n / open_s:,.0f} replies/s)")
    print(f"  re-run        {again_s * 1000:8.1f} ms   {sum(again.values()):,} opened (all already open)")
    print(f"  overdue queue {overdue_s * 1000:8.1f} ms   {sla.height:,} open cases, {overdue.height:,} overdue "
          f"after 10 days, {queue.height} (team, type) groups")
    print_figures("cases", args.database_url, {"open_s": round(open_s, 3), "again_s": round(again_s, 3),
                                               "overdue_s": round(overdue_s, 3),
                                               "replies": n, "opened": total})


if __name__ == "__main__":
    main()
