"""Crash benchmark (issues #6, #15): kill -9 the sender three times mid-campaign against a standard SMSC.

    .venv/bin/python bench/crash.py [--messages 20000] [--rate 2000] [--seed N] [--dir DIR]

Run from the repository root (it reuses ``tests/dispatch/crash.py`` and starts the node SMPP peer from
``tests/peers/smpp`` in **standard mode**: no lookup by our client reference, query_sm by message id only,
unacknowledged receipts and replies redelivered after a reconnect).

One run (setup not timed: a fresh SQLite database, a campaign of ``--messages`` two-part Chinese messages, a fresh
peer): the sender (``tests.dispatch.sender``, the dispatcher as ``dunning campaign send`` runs it, channel rate
``--rate`` PDUs a second, window 256) is killed with ``kill -9`` at three points drawn from ``--seed``; the SMSC
itself is killed and restarted once between the first and the second kill; borrowers' "TD" replies arrive
throughout. Each restarted sender reconciles the dead one's in-flight messages: without a lookup it can trust they
are held, never resent. At the end the person on duty checks every held message against the SMSC's log and
resolves it (``services.held.resolve``: as sent, or requeue) and a last sender sends the requeued ones.

Printed: the kill points, the messages each kill left held (what was in flight, bound ≤ 200 at rate 2000), and
from the peer's own log duplicates, missing messages and fragments (all must be 0), and the receipts and replies
the sender acknowledged but did not store (must be 0). Exit code 1 when any of these promises is broken.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.dispatch.crash import run_crash_scenario  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _db import add_database_arg, backend, print_figures, throwaway_database  # noqa: E402
from tests.peers.smpp_peer import start_peer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--seed", type=int, default=None, help="kill points are drawn from it (default: random)")
    ap.add_argument("--dir", type=Path, default=None)
    add_database_arg(ap)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    pdus = 2 * args.messages
    points = sorted(rng.sample(range(pdus // 10, pdus - pdus // 10), 3))
    restart_at = (points[0] + points[1]) // 2
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="dunning-bench-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; {backend(args.database_url)}; seed {seed}; {args.messages:,} two-part messages at rate {args.rate:g} PDUs/s; "
          f"kill -9 at peer-accepted PDUs {points}; SMSC restarted at {restart_at:,}; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    peer = start_peer(workdir / "submits.jsonl", dlr_delay_ms=20)
    try:
        with throwaway_database(args.database_url, workdir, "crash") as url:
            r = run_crash_scenario(workdir, peer, messages=args.messages, kill_at=points, rate=args.rate, parts=2,
                                   restart_peer_at=restart_at, database_url=url)
    finally:
        peer.stop()
    for i, k in enumerate(r.kills, 1):
        print(f"kill {i}: at {k['peer_accepted_at_kill']:,} PDUs accepted (exit {k['returncode']}); "
              f"in flight, held by the next sender: {k['in_flight']:,}")
    print(f"held per kill: {r.held_per_kill} (bound 200); resolved by a person against the SMSC log: "
          f"{r.resolved_as_sent:,} as sent, {r.resolved_requeued:,} requeued and sent")
    print(f"SMSC restarts {r.peer_restarts}; replies acknowledged {r.replies_acked:,}")
    print(f"duplicates {r.duplicates}; missing {r.missing}; fragments {r.fragments} "
          f"(continuation segments repeated after a lost link, same UDH: {r.repeated_segments}); "
          f"receipts acknowledged but not stored {r.receipts_acked_not_stored}; "
          f"replies acknowledged but not stored {r.replies_acked_not_stored}")
    print(f"peer log: {r.accepted_once:,} accepted once, rejected by the peer's rules {r.rejected_by_peer}; "
          f"states {r.states}; {r.seconds:.1f} s; load average after: {os.getloadavg()[0]:.2f}")
    print_figures("crash", args.database_url, {"held_max": max(r.held_per_kill, default=0),
                                               "duplicates": r.duplicates, "missing": r.missing,
                                               "fragments": r.fragments, "messages": args.messages})
    bad = (r.duplicates or r.missing or r.fragments or r.receipts_acked_not_stored or r.replies_acked_not_stored
           or any(h > 200 for h in r.held_per_kill))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
