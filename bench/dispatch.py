"""Dispatch benchmark (issue #6): the outbox dispatcher against the sandbox channel and the SMPP test peer.

    .venv/bin/python bench/dispatch.py [--sandbox 100000] [--repeat 3] [--smpp 50000] [--naive 5000] [--rate-seconds 10]
                                       [--dir DIR] [--profile sandbox|smpp]

Run from the repository root (it imports the test helpers in ``tests/`` and starts the node SMPP peer from
``tests/peers/smpp``). Every section has its own SQLite database (WAL) in the work directory, so the rate
limiter's cells and the campaign lease live in SQLite too (``dispatch_state``), as in the embedded default.

Setup (not timed): a campaign of N queued messages to distinct phones (``tests.dispatch.factories``), the
SMPP peer started and bound.

Measured:

* ``sandbox``  the :class:`~dunning.dispatch.engine.Dispatcher` in-process through the sandbox channel (rate
               set far above what is reached, so the limiter is consulted but never waits); from the start of
               the run to the moment every message was submitted (claimed, re-checked, sent, recorded), target
               ≥ 20,000 msg/s. The sandbox's receipts are ingested during the run, as in production. Run
               ``--repeat`` times (a shared 2-core box moves ±20 % between runs); the median is the figure.
               Run a second time with the receipts recorded only after the run (kept in memory meanwhile), to
               show the submit path's own rate and what recording the receipts costs.
* ``smpp``     the same through the SMPP peer (window 256, receipts after 20 ms): submit rate, and the rate to
               the moment the last receipt was recorded (messages in a final state in the database), target
               ≥ 3,000 msg/s.
* ``naive``    the baseline the outbox replaces, over the same peer: per message one awaited ``send_batch`` of
               one message and one database transaction (update + part row, committed). Timed over ``--naive``
               messages and extrapolated per message to the ``--smpp`` size; the ratios are per message.
* ``rate``     rate = 200 through the SMPP peer for about ``--rate-seconds``: the busiest one-second window and
               the sustained average, timed by the peer's own log (promise: ≤ 200 in any window, ≥ 190 sustained).

``--analyze`` (PostgreSQL): the sandbox sections take the table statistics right after the campaign is written,
as autovacuum does after a plan (every message still queued, none sent), instead of running with none (this
machine's PostgreSQL runs without autovacuum): the send must not depend on which statistics the planner has.

Prints the figures, ratios and the load average; with ``--profile`` the top of a cProfile of that section on
stderr. No asserts: the box is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _db import add_database_arg, backend, print_figures, throwaway_database  # noqa: E402

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from tests.dispatch.factories import bulk_campaign  # noqa: E402
from tests.dispatch.support import dispatcher, ingest, make_ctx, smpp_settings  # noqa: E402
from tests.peers.smpp_peer import SmppPeer, start_peer  # noqa: E402

from dunning.channels.base import ChannelEvent, OutboundMessage  # noqa: E402
from dunning.config import ChannelSettings  # noqa: E402
from dunning.db.models import Message  # noqa: E402
from dunning.dispatch.engine import Dispatcher, DispatchOutcome, Progress  # noqa: E402
from dunning.dispatch.ratelimit import max_in_any_window, sustained_rate  # noqa: E402
from dunning.services.context import AppContext  # noqa: E402


def _states(ctx: AppContext, cid: int) -> dict[str, int]:
    with ctx.db.transaction() as s:
        return {str(k): int(v) for k, v in s.execute(
            select(Message.state, func.count()).where(Message.campaign_id == cid).group_by(Message.state)).all()}


class _Timer:
    """Marks when the run started, when every message was submitted, and when the last receipt was recorded."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.start = 0.0
        self.all_submitted: float | None = None
        self.last_events: float | None = None
        self.ingest_s = 0.0  # time the delivery service spent recording receipts (on the database thread) …
        self.ingest_while_sending_s = 0.0  # … of it before every message was submitted

    def on_progress(self, p: Progress) -> None:
        if self.all_submitted is None and p.done >= self.total:
            self.all_submitted = time.perf_counter()


def _run(ctx: AppContext, d: Dispatcher, cid: int, timer: _Timer, profile: bool) -> DispatchOutcome:
    async def go() -> DispatchOutcome:
        try:
            return await d.run(cid)
        finally:
            await ctx.close_channels()

    prof = cProfile.Profile() if profile else None
    timer.start = time.perf_counter()
    if prof:
        prof.enable()
    out = asyncio.run(go())
    if prof:
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return out


def _timed_dispatcher(ctx: AppContext, name: str, timer: _Timer, *, defer: list[Any] | None = None,
                      **kw: Any) -> Dispatcher:
    """The test suite's dispatcher with timing hooks. With ``defer`` (a list), receipts polled during the run are
    kept there instead of being recorded, and the caller records them after the run (timed on its own)."""
    record = ingest(ctx)

    def on_events(channel: str, events: Sequence[ChannelEvent]) -> None:
        if defer is not None:
            defer.append((channel, list(events)))
            return
        t0 = time.perf_counter()
        record(channel, events)
        timer.last_events = time.perf_counter()
        timer.ingest_s += timer.last_events - t0
        if timer.all_submitted is None:
            timer.ingest_while_sending_s += timer.last_events - t0

    return dispatcher(ctx, name, on_progress=timer.on_progress, progress_interval=0.0, on_events=on_events, **kw)


# ------------------------------------------------------------------------------------------------ sections


def bench_sandbox(workdir: Path, n: int, profile: bool, *, defer_receipts: bool = False,
                  database_url: str | None = None, analyze: bool = False) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    with throwaway_database(database_url, workdir, "sandbox") as db:
        return _bench_sandbox(workdir, n, profile, defer_receipts, db, analyze)


def _bench_sandbox(workdir: Path, n: int, profile: bool, defer_receipts: bool, db: str | None,
                   analyze: bool) -> dict[str, Any]:
    ctx = make_ctx(workdir, {"sandbox": ChannelSettings(kind="sandbox", rate=1_000_000.0)}, database_url=db)
    t0 = time.perf_counter()
    cid = bulk_campaign(ctx, n, channel="sandbox")
    if analyze and db:
        with ctx.db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    setup = time.perf_counter() - t0
    timer = _Timer(n)
    deferred: list[Any] | None = [] if defer_receipts else None
    c0 = time.process_time()
    out = _run(ctx, _timed_dispatcher(ctx, "sandbox", timer, defer=deferred, max_inflight=2), cid, timer, profile)
    end, cpu = time.perf_counter(), time.process_time() - c0
    if deferred:
        record = ingest(ctx)
        t1 = time.perf_counter()
        for channel, events in deferred:
            record(channel, events)
        timer.ingest_s = time.perf_counter() - t1
    submitted_s = (timer.all_submitted or end) - timer.start
    states = _states(ctx, cid)
    ctx.db.dispose()
    return {"n": n, "setup_s": setup, "stopped": out.stopped, "submitted": out.progress.submitted,
            "submit_s": submitted_s, "run_s": end - timer.start, "cpu_s": cpu, "rate": n / submitted_s,
            "states": states, "ingest_s": timer.ingest_s, "ingest_while_sending_s": timer.ingest_while_sending_s}


def bench_smpp(workdir: Path, peer: SmppPeer, n: int, profile: bool) -> dict[str, Any]:
    ctx = make_ctx(workdir, {"smpp": smpp_settings(peer.address, rate=100_000.0)})
    t0 = time.perf_counter()
    cid = bulk_campaign(ctx, n, channel="smpp", phone_start=1)
    setup = time.perf_counter() - t0
    timer = _Timer(n)
    c0 = time.process_time()
    d = _timed_dispatcher(ctx, "smpp", timer, max_inflight=2, receipt_wait=60.0, receipt_quiet=1.0)
    seen = len(peer.entries())
    out = _run(ctx, d, cid, timer, profile)
    end, cpu = time.perf_counter(), time.process_time() - c0
    states = _states(ctx, cid)
    # The peer sends no receipt for phones ending in 0003 and rejects those ending in 0000: those stay
    # ``submitted`` / end ``failed`` by design; every other message must be in a final state.
    no_receipt = sum(1 for i in range(n) if (1 + i) % 10_000 == 3)
    pending = states.get("submitted", 0) - no_receipt
    submit_s = (timer.all_submitted or end) - timer.start
    receipts_s = (timer.last_events or end) - timer.start
    refs = Counter(e["ref"] for e in peer.entries()[seen:] if e["status"] == 0 and e.get("part", 1) == 1)
    keys = [f"c{cid}|L{cid}-{i}|M1" for i in range(n)]
    ctx.db.dispose()
    return {"n": n, "setup_s": setup, "stopped": out.stopped, "submitted": out.progress.submitted,
            "submit_s": submit_s, "receipts_s": receipts_s, "run_s": end - timer.start, "cpu_s": cpu,
            "rate": n / submit_s, "rate_receipts": n / receipts_s, "states": states,
            "receipts_pending": pending, "peer_once": sum(1 for k in keys if refs[k] == 1),
            "peer_dupes": sum(1 for k in keys if refs[k] > 1), "ingest_s": timer.ingest_s,
            "ingest_while_sending_s": timer.ingest_while_sending_s}


def bench_naive(workdir: Path, peer: SmppPeer, n: int) -> dict[str, Any]:
    """One awaited single-message send and one committed transaction per message."""
    ctx = make_ctx(workdir, {"smpp": smpp_settings(peer.address, rate=100_000.0)})
    cid = bulk_campaign(ctx, n, channel="smpp", phone_start=1)
    engine = ctx.db.engine
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, idempotency_key, phone, text FROM messages WHERE campaign_id = ? AND state = 'queued' "
            "ORDER BY id", (cid,)).all()

    async def go() -> tuple[float, int]:
        channel = ctx.channel("smpp")
        try:
            await channel.open()
            t0 = time.perf_counter()
            ok = 0
            for i, (mid, key, phone, text) in enumerate(rows):
                if i % 100 == 0:  # receipts are not recorded here, but acknowledged (else the SMSC redelivers them)
                    await channel.poll_events()
                    await channel.acknowledge()  # type: ignore[attr-defined]
                (res,) = await channel.send_batch([OutboundMessage(mid, key, phone, text)])
                with engine.begin() as conn:
                    if res.error is None:
                        ok += 1
                        conn.exec_driver_sql(
                            "UPDATE messages SET state = 'submitted', provider_id = ?, channel = 'smpp', "
                            "submitted_at = CURRENT_TIMESTAMP, attempts = attempts + 1 WHERE id = ?",
                            (res.provider_id, mid))
                        conn.exec_driver_sql(
                            "INSERT INTO message_parts (message_id, channel, provider_id, part_no) "
                            "VALUES (?, 'smpp', ?, 1)", (mid, res.provider_id))
                    else:
                        conn.exec_driver_sql("UPDATE messages SET state = 'failed', reason = ? WHERE id = ?",
                                             (res.error.code[:32], mid))
            elapsed = time.perf_counter() - t0
            quiet = time.perf_counter()
            while time.perf_counter() - quiet < 0.3:  # drain and acknowledge the last receipts (not timed)
                if await channel.poll_events():
                    quiet = time.perf_counter()
                await channel.acknowledge()  # type: ignore[attr-defined]
                await asyncio.sleep(0.05)
            return elapsed, ok
        finally:
            await ctx.close_channels()

    seconds, ok = asyncio.run(go())
    ctx.db.dispose()
    return {"n": n, "seconds": seconds, "accepted": ok, "rate": n / seconds, "per_msg_ms": 1000 * seconds / n}


def bench_rate(workdir: Path, peer: SmppPeer, seconds: float, rate: float = 200.0) -> dict[str, Any]:
    ctx = make_ctx(workdir, {"smpp": smpp_settings(peer.address, rate=rate)})
    n = int(rate * 0.965 * seconds)
    cid = bulk_campaign(ctx, n, channel="smpp", phone_start=1)
    timer = _Timer(n)
    seen = len(peer.entries())  # every database numbers its campaigns from 1: take this section's lines only
    out = _run(ctx, _timed_dispatcher(ctx, "smpp", timer, max_inflight=2, receipt_wait=1.0), cid, timer, False)
    times = [e["t"] / 1000.0 for e in peer.entries()[seen:] if e["status"] == 0]
    ctx.db.dispose()
    return {"n": n, "stopped": out.stopped, "accepted": len(times), "busiest": max_in_any_window(times),
            "sustained": sustained_rate(times), "span_s": (max(times) - min(times)) if times else 0.0}


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sandbox", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="sandbox runs (the median is the figure)")
    ap.add_argument("--smpp", type=int, default=50_000)
    ap.add_argument("--naive", type=int, default=5_000)
    ap.add_argument("--rate-seconds", type=float, default=10.0)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--profile", choices=["sandbox", "smpp"], default=None)
    ap.add_argument("--analyze", action="store_true",
                    help="PostgreSQL: take the statistics after writing each campaign, as autovacuum would")
    add_database_arg(ap)
    args = ap.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="dunning-bench-dispatch-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; load average before: {os.getloadavg()[0]:.2f}", flush=True)

    sb: dict[str, Any] | None = None
    if args.sandbox:
        runs = []
        for k in range(max(1, args.repeat)):
            r = bench_sandbox(workdir / f"sandbox-{k + 1}", args.sandbox, args.profile == "sandbox" and k == 0,
                              database_url=args.database_url, analyze=args.analyze)
            runs.append(r)
            print(f"sandbox run {k + 1}, {r['n']:,} messages (setup {r['setup_s']:.1f} s, not timed): all submitted "
                  f"in {r['submit_s']:.2f} s = {r['rate']:,.0f} msg/s; run {r['run_s']:.2f} s wall, {r['cpu_s']:.2f} s "
                  f"CPU; stopped {r['stopped']}", flush=True)
            print(f"  states {r['states']}; receipt ingestion (services.delivery, its own thread): "
                  f"{r['ingest_s']:.2f} s, {r['ingest_while_sending_s']:.2f} s of it before the last submit", flush=True)
        rates = sorted(r["rate"] for r in runs)
        sb = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
        print(f"sandbox on {backend(args.database_url)}, {args.sandbox:,} messages, median of {len(runs)} runs: "
              f"{sb['rate']:,.0f} msg/s "
              f"(range {rates[0]:,.0f}–{rates[-1]:,.0f}; target ≥ 20,000)", flush=True)
        sd = bench_sandbox(workdir / "sandbox-deferred", args.sandbox, False, defer_receipts=True,
                           database_url=args.database_url, analyze=args.analyze)
        print(f"sandbox again, receipts polled during the run but recorded only after it (the submit path "
              f"alone: claim, re-check, send, record): all submitted in {sd['submit_s']:.2f} s = "
              f"{sd['rate']:,.0f} msg/s; then {sd['ingest_s']:.2f} s to record the receipts; states {sd['states']}",
              flush=True)

    peer = start_peer(workdir / "smpp-submits.jsonl", dlr_delay_ms=20)
    try:
        sm: dict[str, Any] | None = None
        if args.smpp:
            sm = bench_smpp(workdir / "smpp", peer, args.smpp, args.profile == "smpp")
            print(f"smpp, {sm['n']:,} messages (setup {sm['setup_s']:.1f} s, not timed): all submitted in "
                  f"{sm['submit_s']:.2f} s = {sm['rate']:,.0f} msg/s; last receipt recorded at "
                  f"{sm['receipts_s']:.2f} s = {sm['rate_receipts']:,.0f} msg/s with receipts (target ≥ 3,000); "
                  f"run {sm['run_s']:.2f} s wall, {sm['cpu_s']:.2f} s CPU; stopped {sm['stopped']}", flush=True)
            print(f"  states {sm['states']}; receipts still missing (beyond the peer's no-receipt phones): "
                  f"{sm['receipts_pending']}; peer log: {sm['peer_once']:,} accepted once, "
                  f"{sm['peer_dupes']} more than once; receipt ingestion (services.delivery) {sm['ingest_s']:.2f} s, "
                  f"{sm['ingest_while_sending_s']:.2f} s of it before the last submit", flush=True)
        nv: dict[str, Any] | None = None
        if args.naive:
            nv = bench_naive(workdir / "naive", peer, args.naive)
            print(f"naive loop (one awaited send + one commit per message), {nv['n']:,} messages: "
                  f"{nv['seconds']:.2f} s = {nv['rate']:,.0f} msg/s ({nv['per_msg_ms']:.3f} ms per message; "
                  f"{nv['accepted']:,} accepted; receipts not recorded)", flush=True)
            if sm is not None:
                est = nv["per_msg_ms"] * sm["n"] / 1000
                print(f"  extrapolated to {sm['n']:,} messages: {est:.1f} s; dispatcher vs naive per message: "
                      f"{sm['rate'] / nv['rate']:.1f}× (submit), {sm['rate_receipts'] / nv['rate']:.1f}× "
                      f"(with receipts recorded)", flush=True)
            if sb is not None:
                print(f"  sandbox dispatcher vs naive SMPP loop per message: {sb['rate'] / nv['rate']:.1f}×",
                      flush=True)
        if args.rate_seconds > 0:
            rt = bench_rate(workdir / "rate", peer, args.rate_seconds)
            print(f"rate = 200 through the SMPP peer, {rt['n']:,} messages over {rt['span_s']:.1f} s (peer's "
                  f"clock): busiest 1-s window {rt['busiest']} (promise ≤ 200), sustained "
                  f"{rt['sustained']:.1f}/s (promise ≥ 190); accepted {rt['accepted']:,}; stopped {rt['stopped']}",
                  flush=True)
    finally:
        peer.stop()
    if sb is not None:
        print_figures("dispatch", args.database_url, {"sandbox_msg_s": round(sb["rate"])})
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
