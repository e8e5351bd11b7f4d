"""Throttle benchmark (issue #15): an SMSC that accepts 300 PDUs a second, a channel configured at 1,000.

    .venv/bin/python bench/throttle.py [--messages 5000] [--smsc-rate 300] [--rate 1000] [--dir DIR]
                                       [--rate-messages 1000]

Run from the repository root (it reuses ``tests/dispatch/throttle.py`` and the node SMPP peer in standard mode,
``--max-rate``: ESME_RTHROTTLED beyond it in any one-second window). Setup not timed.

* ``throttle``  ``--messages`` two-part Chinese messages through the dispatcher: throttled submits as a share of
                accepted ones (promise ≤ 5 %), fragments (messages with only some parts at the SMSC, must be 0),
                duplicates and missing (0), the busiest second at the SMSC, the time to finish.
* ``rate``      rate = 200 parts a second with ``--rate-messages`` two-part messages, timed by the peer's log:
                the busiest one-second window in PDUs (promise ≤ 200) and the sustained rate (≥ 190). The peer is
                warmed up first (40 submits, 1.5 s before; not counted): a cold node peer stamps its first
                submits together, tens of milliseconds late.
No asserts: the box is shared; figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.dispatch.crash import TWO_PART_TEXT  # noqa: E402
from tests.dispatch.factories import bulk_campaign  # noqa: E402
from tests.dispatch.support import dispatcher, make_ctx, smpp_settings  # noqa: E402
from tests.dispatch.throttle import run_throttle_scenario  # noqa: E402
from tests.peers.smpp_peer import SmppPeer, start_peer  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _db import add_database_arg, backend, print_figures, throwaway_database  # noqa: E402

from dunning.channels import registry  # noqa: E402
from dunning.channels.base import OutboundMessage  # noqa: E402
from dunning.dispatch.ratelimit import max_in_any_window, sustained_rate  # noqa: E402


async def warm_up(peer: SmppPeer, n: int = 40) -> None:
    """A freshly started node peer handles its first submits tens of milliseconds late and stamps them together
    (a carrier's SMSC is warm): prime it, outside the timed run, so its log times our sender, not its start."""
    ch = registry.create("warm-up", smpp_settings(peer.address), address=peer.address)
    try:
        for i in range(0, n, 10):
            await ch.send_batch([OutboundMessage(i + k, f"warm-up-{i + k}", f"+8613900{i + k:06d}", TWO_PART_TEXT)
                                 for k in range(10)])
    finally:
        await ch.close()
    await asyncio.sleep(1.5)  # no window of the timed run reaches back to the warm-up


def rate_section(workdir: Path, messages: int) -> tuple[int, float, int]:
    peer = start_peer(workdir / "rate-submits.jsonl", dlr_delay_ms=20)
    try:
        ctx = make_ctx(workdir, {"smpp": smpp_settings(peer.address, rate=200.0)})
        cid = bulk_campaign(ctx, messages, channel="smpp", phone_start=1, text=TWO_PART_TEXT, parts=2)
        asyncio.run(warm_up(peer))

        async def go() -> None:
            try:
                await dispatcher(ctx, "smpp", max_inflight=2).run(cid)
            finally:
                await ctx.close_channels()

        asyncio.run(go())
        ctx.db.dispose()
        times = [e["t"] / 1000.0 for e in peer.entries()
                 if e["status"] == 0 and not str(e.get("ref", "")).startswith("warm-up-")]
        return max_in_any_window(times), sustained_rate(times), len(times)
    finally:
        peer.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--smsc-rate", type=int, default=300)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--rate-messages", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None)
    add_database_arg(ap)
    args = ap.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="dunning-bench-throttle-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; {backend(args.database_url)}; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    peer = start_peer(workdir / "submits.jsonl", dlr_delay_ms=20)
    try:
        (workdir / "throttle").mkdir(exist_ok=True)
        with throwaway_database(args.database_url, workdir, "throttle") as url:
            r = run_throttle_scenario(workdir / "throttle", peer, messages=args.messages, smsc_rate=args.smsc_rate,
                                      rate=args.rate, database_url=url)
    finally:
        peer.stop()
    print(f"throttle: {args.messages:,} two-part messages, SMSC at {args.smsc_rate}/s, channel at {args.rate:g}/s: "
          f"stopped {r.stopped} in {r.seconds:.1f} s; accepted {r.accepted_pdus:,} PDUs, throttled "
          f"{r.throttled_pdus:,} = {100 * r.throttled_share:.2f} % of accepted (promise ≤ 5 %); fragments "
          f"{r.fragments}; duplicates {r.duplicates}; missing {r.missing}; busiest second at the SMSC "
          f"{r.busiest_second}; states {r.states}", flush=True)
    (workdir / "rate").mkdir(exist_ok=True)
    worst, sustained, n = rate_section(workdir / "rate", args.rate_messages)
    print(f"rate = 200 parts/s, {args.rate_messages:,} two-part messages = {n:,} PDUs (peer's clock): busiest 1-s "
          f"window {worst} PDUs (promise ≤ 200), sustained {sustained:.1f} PDUs/s (promise ≥ 190)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print_figures("throttle", args.database_url, {"throttled_pct": round(100 * r.throttled_share, 2),
                                                  "duplicates": r.duplicates, "missing": r.missing,
                                                  "busiest_200": worst, "sustained_200": round(sustained, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
