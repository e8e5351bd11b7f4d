"""Crash benchmark (issue #6): SIGKILL the sender mid-campaign, restart it, and let the SMSC's log judge.

    .venv/bin/python bench/crash.py [--messages 20000] [--runs 3] [--seed N] [--dir DIR]

Run from the repository root (it reuses ``tests/dispatch/crash.py`` and starts the node SMPP peer from
``tests/peers/smpp``).

Each run (setup not timed: a fresh SQLite database, a campaign of ``--messages`` queued messages, a fresh SMPP
peer whose log holds only this run's submits): a sender process (``tests.dispatch.sender``, the dispatcher as
``dunning campaign send`` runs it) is killed with ``kill -9`` once the peer has accepted a random number of
messages (drawn from ``--seed``, printed, different for every run), then a new sender takes the campaign's lease,
reconciles the dead sender's in-flight messages with the SMSC (query by client reference: found → submitted,
never received → queued again and resent, unknown → held) and finishes the campaign.

Printed per run: the kill point, what the peer had accepted when the kill landed, the reconciliation, the
messages resent, and from the peer's own log the duplicates and the missing messages (both must be 0).
Exit code 1 when any run has a duplicate or a missing message. The load average is printed alongside.
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
from tests.peers.smpp_peer import start_peer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None, help="kill points are drawn from it (default: random)")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    lo, hi = max(1, args.messages // 20), max(2, args.messages - args.messages // 20)
    points: list[int] = []
    while len(points) < args.runs:  # distinct points, away from the very start and end of the campaign
        p = rng.randrange(lo, hi)
        if p not in points:
            points.append(p)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="dunning-bench-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; seed {seed}; kill points (peer-accepted messages) {points}; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    bad = 0
    for k, point in enumerate(points, 1):
        rundir = workdir / f"run{k}"
        rundir.mkdir(parents=True, exist_ok=True)
        peer = start_peer(rundir / "submits.jsonl", dlr_delay_ms=20)
        try:
            r = run_crash_scenario(rundir, peer, messages=args.messages, kill_at=[point])
        finally:
            peer.stop()
        kill = r.kills[0]
        rec = r.final.get("reconciled", {})
        killed = kill["returncode"] == -9
        print(f"run {k}: kill point {point:,}: "
              + (f"killed with {kill['peer_accepted_at_kill']:,} accepted by the peer "
                 f"({kill['peer_accepted_after_kill']:,} once the peer had read what the sender wrote); "
                 if killed else f"the sender finished before the kill point (exit {kill['returncode']}); ")
              + f"reconciled after restart: {rec.get('submitted', 0):,} found at the SMSC → submitted, "
              f"{rec.get('requeued', 0):,} never received → sent after the restart, {rec.get('held', 0):,} held; "
              f"restarted sender submitted {r.final.get('submitted', 0):,} (stopped {r.final.get('stopped')}); "
              f"peer log: {r.accepted_once:,} accepted once, duplicates {r.accepted_twice_or_more}, "
              f"missing {r.missing}, rejected by the peer's rules {r.rejected_by_peer}; "
              f"states {r.states}; {r.seconds:.1f} s", flush=True)
        if r.accepted_twice_or_more or r.missing:
            bad += 1
    print(f"{args.runs - bad} of {args.runs} runs exactly once with none missing; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
