"""Workers benchmark (issue #23): `dunning worker` processes on PostgreSQL and Redis, one of them killed.

    .venv/bin/python bench/workers.py [--messages 50000] [--rate 2000] [--kill-after 10000] [--share 50000]

Run from the repository root (it uses the test helpers in ``tests/`` and the node SMPP peer in standard mode).
Needs the local PostgreSQL and Redis that ``scripts/setup-test-env.sh`` starts; each run uses a throwaway
PostgreSQL database and an empty Redis database (1–15), both removed afterwards.

* ``kill``   two workers, two campaigns of ``--messages`` each (100,000 in all) on one SMPP channel at ``--rate``
             PDUs a second shared by both; the first worker's process group is SIGKILLed after ``--kill-after``
             PDUs of its campaign. Prints: pickup time (kill → its campaign moving again, by the other worker's
             rescuer), held for a person, duplicates (0), missing (0), busiest 1-s window (≤ rate, summed over
             both workers), total time.
* ``share``  whether several senders on ONE campaign would pay: the rate one worker reaches alone on one
             campaign of ``--share`` messages with the channel unthrottled, against two workers on two campaigns.
             When one sender already outruns any contracted channel rate, splitting a campaign buys nothing
             (docs/adr/0018-one-sender-per-campaign.md).

Prints figures and the load average; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg_database() -> tuple[str, str]:
    import psycopg

    name = f"dunning_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _redis_db() -> str:
    import redis

    dbs = list(range(1, 16))
    random.shuffle(dbs)
    for db in dbs:
        client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}")
        try:
            if client.dbsize() == 0:
                return f"redis://127.0.0.1:6379/{db}"
        finally:
            client.close()
    raise SystemExit("no empty Redis database (1–15)")


def _flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=50_000, help="per campaign (two campaigns)")
    ap.add_argument("--rate", type=float, default=2000.0, help="the shared channel rate, PDUs a second")
    ap.add_argument("--kill-after", type=int, default=10_000)
    ap.add_argument("--share", type=int, default=50_000, help="messages of the one-campaign throughput run (0: skip)")
    args = ap.parse_args()

    from tests.peers.smpp_peer import start_peer
    from tests.workers.scenario import run_throughput, run_workers_scenario

    with tempfile.TemporaryDirectory(prefix="dunning-workers-") as tmp:
        work = Path(tmp)
        peer = start_peer(work / "submits.jsonl", dlr_delay_ms=20)
        name, url = _pg_database()
        broker = _redis_db()
        try:
            r = run_workers_scenario(work, peer, database_url=url, broker_url=broker, messages=args.messages,
                                     rate=args.rate, kill_after=args.kill_after, timeout=1800.0)
            print(f"kill: 2 workers × 1 campaign of {args.messages:,} on PostgreSQL + Redis, shared rate "
                  f"{args.rate:,.0f} PDU/s; worker 1 SIGKILLed at {r.killed_at:,} PDUs of its campaign")
            print(f"  pickup by the other worker {r.pickup_seconds:.1f} s after the kill; held for a person "
                  f"{r.held_after_kill} (resolved by the SMSC log: {r.resolved_as_sent} as sent, "
                  f"{r.resolved_requeued} requeued and sent)")
            print(f"  duplicates {r.duplicates} (promise 0), missing {r.missing} (promise 0), refused by the SMSC "
                  f"{r.rejected_by_peer}; busiest 1-s window {r.busiest_window} (promise ≤ {args.rate:,.0f}); "
                  f"total {r.seconds:.1f} s")
            if args.share:
                peer.stop()
                peer = start_peer(work / "share.jsonl", dlr_delay_ms=20)
                one = run_throughput(work, peer, database_url=url, broker_url=broker, messages=args.share,
                                     campaigns=1, workers=1, rate=1_000_000.0)
                two = run_throughput(work, peer, database_url=url, broker_url=broker, messages=args.share // 2,
                                     campaigns=2, workers=2, rate=1_000_000.0)
                print(f"share: one worker, one campaign of {args.share:,}, channel unthrottled: "
                      f"{one.per_second:,.0f} msg/s (busiest 1-s window {one.busiest_window:,})")
                print(f"       two workers, two campaigns of {args.share // 2:,}: {two.per_second:,.0f} msg/s "
                      f"in all (busiest 1-s window {two.busiest_window:,})")
        finally:
            peer.stop()
            _drop(name)
            _flush(broker)
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
