"""Two `dunning worker` processes on PostgreSQL and Redis, one of them killed: shared by the test and the bench.

Two campaigns go to one SMPP channel (the project's SMSC peer in standard mode) whose rate is shared by both
workers (limiter cells in Redis). Each worker is a real ``dunning worker --pool solo`` process in a session of
its own; the scenario kills the first one's whole process group with SIGKILL once the SMSC accepted
``kill_after`` PDUs of its campaign — a machine that dies — and does not restart it. The other worker's rescuer
finds the dead lease and takes the campaign over when its own is done. What the dead worker left with an
unknown outcome is held; the person on duty checks each held message against the SMSC's log and resolves it
(as sent, or requeue) and sends again, as ``tests.dispatch.crash`` does. The SMSC's log is the judge.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dunning.config import ChannelSettings, Settings
from dunning.db.models import AuditEvent, Campaign, Message
from dunning.dispatch.ratelimit import max_in_any_window, sustained_rate
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.rescue import RESCUED
from dunning.services.campaigns.sending import enqueue_dispatch
from dunning.services.context import AppContext, build_context
from dunning.services.identity.users import Role, add_user
from tests.dispatch.crash import resolve_held
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import warm_up
from tests.peers.smpp_peer import SmppPeer

ROOT = Path(__file__).resolve().parents[2]
BUSINESS_TIME = "2026-11-23T02:00:00+00:00"  # 10:00 Asia/Shanghai, inside the send window


class ScenarioTimeout(AssertionError):
    pass


@dataclass
class WorkersReport:
    messages: int  # per campaign
    rate: float
    campaigns: list[int] = field(default_factory=list)
    killed_at: int = 0  # PDUs of the killed worker's campaign the SMSC had accepted at the kill
    held_after_kill: int = 0
    resolved_as_sent: int = 0
    resolved_requeued: int = 0
    rescued_by: list[str] = field(default_factory=list)  # workers that recorded a rescue
    pickup_seconds: float = 0.0  # from the kill to the first PDU of the dead worker's campaign sent again
    duplicates: int = 0
    missing: int = 0
    rejected_by_peer: int = 0  # the SMSC's own refusals (its rule: numbers ending 0000), not a loss
    busiest_window: int = 0
    sustained: float = 0.0
    seconds: float = 0.0
    states: dict[int, dict[str, int]] = field(default_factory=dict)
    finished_by: dict[int, list[str]] = field(default_factory=dict)  # campaign → workers that finished a run


def worker_settings_file(path: Path, *, database_url: str, broker_url: str, queue: str, peer: SmppPeer,
                         rate: float, rescue_seconds: float) -> Path:
    host, port = peer.address
    path.write_text(
        f'database_url = "{database_url}"\ndispatch_mode = "celery"\nbroker_url = "{broker_url}"\n'
        f'redis_url = "{broker_url}"\ndispatch_queue = "{queue}"\nworker_rescue_seconds = {rescue_seconds}\n\n'
        f'[channels.smpp]\nkind = "smpp"\nrate = {rate}\n'
        f'options = {{host = "{host}", port = {port}, system_id = "{peer.system_id}", password = "{peer.password}", '
        f'window = 256, reconnect_initial = 0.05, reconnect_max = 0.5}}\n', encoding="utf-8")
    return path


def start_worker(workdir: Path, settings_file: Path, name: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for k in ("DUNNING_DATABASE_URL", "DUNNING_DISPATCH_MODE", "DUNNING_BROKER_URL", "DUNNING_REDIS_URL"):
        env.pop(k, None)
    env.update({"DUNNING_DATA_DIR": str(workdir / "data"), "DUNNING_SECRET_KEY": "workers-secret",
                "DUNNING_BUSINESS_TIME": BUSINESS_TIME, "DUNNING_SETTINGS_FILE": str(settings_file)})
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "dunning.entrypoints.cli.app", "worker", "--pool", "solo",
                             "--loglevel", "info"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            start_new_session=True)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait(what: str, cond: Any, timeout: float, every: float = 0.05) -> None:
    """Poll ``cond`` until it is true; a deadline, never a bare sleep as synchronisation."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise ScenarioTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _states(ctx: AppContext, cid: int) -> dict[str, int]:
    with ctx.db.transaction() as s:
        return {str(k): int(v) for k, v in s.execute(select(Message.state, func.count()).where(
            Message.campaign_id == cid).group_by(Message.state)).all()}


def _campaign_state(ctx: AppContext, cid: int) -> str:
    with ctx.db.transaction() as s:
        return str(s.scalar(select(Campaign.state).where(Campaign.id == cid)))


def _accepted(peer: SmppPeer, cid: int, seen: int) -> list[dict[str, Any]]:
    """Campaign ``cid``'s accepted submits in the peer's log after its first ``seen`` lines (the warm-up's)."""
    prefix = f"c{cid}|"
    return [e for e in peer.entries()[seen:] if e["status"] == 0 and str(e.get("ref") or "").startswith(prefix)]


def run_workers_scenario(workdir: Path, peer: SmppPeer, *, database_url: str, broker_url: str, messages: int,
                         rate: float, kill_after: int, timeout: float = 300.0) -> WorkersReport:
    """Send two campaigns of ``messages`` each with two workers; kill the first after ``kill_after`` PDUs."""
    queue = f"dunning.workers-{uuid.uuid4().hex[:8]}"
    settings_file = worker_settings_file(workdir / "dunning.toml", database_url=database_url,
                                         broker_url=broker_url, queue=queue, peer=peer, rate=rate,
                                         rescue_seconds=0.5)
    host, port = peer.address
    ctx = build_context(Settings(
        data_dir=workdir / "data", database_url=database_url, secret_key="workers-secret",  # type: ignore[arg-type]
        dispatch_mode="celery", broker_url=broker_url, redis_url=broker_url, dispatch_queue=queue,
        channels={"smpp": ChannelSettings(kind="smpp", rate=rate, options={
            "host": host, "port": port, "system_id": peer.system_id, "password": peer.password})}))
    report = WorkersReport(messages, rate)
    seen = warm_up(peer, workdir)
    started = time.monotonic()
    first = second = None
    try:
        add_user(ctx, "li.compliance", Role.COMPLIANCE, display_name="合规-李静")
        a = bulk_campaign(ctx, messages, channel="smpp", phone_start=1_000_000)
        b = bulk_campaign(ctx, messages, channel="smpp", phone_start=2_000_000)
        report.campaigns = [a, b]
        first = start_worker(workdir, settings_file, "worker-a")
        # the first worker takes campaign a before the second worker exists, so the kill hits a's sender
        enqueue_dispatch(ctx, a, requested_by="wang.ops")
        _wait("worker a to start sending campaign a", lambda: len(_accepted(peer, a, seen)) > 0, timeout)
        second = start_worker(workdir, settings_file, "worker-b")
        enqueue_dispatch(ctx, b, requested_by="wang.ops")
        _wait(f"{kill_after} PDUs of campaign a", lambda: len(_accepted(peer, a, seen)) >= kill_after, timeout, 0.005)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)  # reaped: its pid is gone, so its lease is a dead process's
        killed = time.monotonic()
        report.killed_at = len(_accepted(peer, a, seen))
        _wait("campaign a picked up again", lambda: len(_accepted(peer, a, seen)) > report.killed_at, timeout)
        report.pickup_seconds = time.monotonic() - killed
        done = ("completed",)

        def settled(cid: int) -> bool:
            st = _states(ctx, cid)
            return (_campaign_state(ctx, cid) in done
                    or (st.get("queued", 0) == 0 and st.get("submitting", 0) == 0 and st.get("held", 0) > 0))

        _wait("both campaigns to finish or hold", lambda: settled(a) and settled(b), timeout, 0.2)
        assert second.poll() is None, (workdir / "worker-b.log").read_text(errors="replace")[-3000:]
        # The person on duty: each held message checked against the SMSC's log, then resolved and sent again.
        refs = Counter(e["ref"] for e in peer.entries()[seen:] if e["status"] == 0 and e.get("part", 1) == 1)
        for cid in (a, b):
            as_sent, requeue = resolve_held(ctx, cid, refs)
            report.held_after_kill += len(as_sent) + len(requeue)
            if requeue:
                enqueue_dispatch(ctx, cid, requested_by="wang.ops")
            report.resolved_as_sent += len(as_sent)
            report.resolved_requeued += len(requeue)
        _wait("both campaigns completed", lambda: all(_campaign_state(ctx, c) == "completed" for c in (a, b)),
              timeout, 0.2)
        report.seconds = time.monotonic() - started
    finally:
        for proc in (first, second):
            if proc is not None:
                stop_worker(proc)

    entries = peer.entries()[seen:]
    accepted = [e for e in entries if e["status"] == 0]
    times = [e["t"] / 1000.0 for e in accepted]
    report.busiest_window = max_in_any_window(times)
    report.sustained = sustained_rate(times)
    firsts = Counter(e["ref"] for e in accepted if e.get("part", 1) == 1)
    refused = {e["ref"] for e in entries if e["status"] not in (0, -1, 0x58)}
    for cid in report.campaigns:
        keys = [f"c{cid}|L{cid}-{i}|M1" for i in range(messages)]
        report.duplicates += sum(1 for k in keys if firsts[k] > 1)
        report.missing += sum(1 for k in keys if firsts[k] == 0 and k not in refused)
        report.rejected_by_peer += sum(1 for k in keys if firsts[k] == 0 and k in refused)
        report.states[cid] = _states(ctx, cid)
        with ctx.db.transaction() as s:
            report.finished_by[cid] = [str((ev or {}).get("worker")) for ev in s.scalars(
                select(AuditEvent.after).where(AuditEvent.entity == "campaign", AuditEvent.entity_id == str(cid),
                                               AuditEvent.action == lifecycle.DISPATCH_FINISHED))]
    with ctx.db.transaction() as s:
        report.rescued_by = [str((ev or {}).get("worker")) for ev in s.scalars(
            select(AuditEvent.after).where(AuditEvent.action == RESCUED))]
    ctx.db.dispose()
    return report


@dataclass
class ThroughputReport:
    workers: int
    campaigns: int
    messages: int  # per campaign
    seconds: float = 0.0  # first accepted PDU to last, by the SMSC's clock
    per_second: float = 0.0
    busiest_window: int = 0


def run_throughput(workdir: Path, peer: SmppPeer, *, database_url: str, broker_url: str, messages: int,
                   campaigns: int, workers: int, rate: float, timeout: float = 600.0) -> ThroughputReport:
    """``workers`` workers send ``campaigns`` campaigns of ``messages`` each at channel rate ``rate``; no kill."""
    queue = f"dunning.throughput-{uuid.uuid4().hex[:8]}"
    settings_file = worker_settings_file(workdir / "throughput.toml", database_url=database_url,
                                         broker_url=broker_url, queue=queue, peer=peer, rate=rate,
                                         rescue_seconds=30.0)
    ctx = build_context(Settings(
        data_dir=workdir / "data", database_url=database_url, secret_key="workers-secret",  # type: ignore[arg-type]
        dispatch_mode="celery", broker_url=broker_url, redis_url=broker_url, dispatch_queue=queue,
        channels={"smpp": ChannelSettings(kind="smpp", rate=rate)}))
    seen = len(peer.entries())
    procs = [start_worker(workdir, settings_file, f"tp-{workers}-{i}") for i in range(workers)]
    try:
        cids = [bulk_campaign(ctx, messages, channel="smpp", phone_start=3_000_000 + 100_000 * i)
                for i in range(campaigns)]
        for cid in cids:
            enqueue_dispatch(ctx, cid, requested_by="wang.ops")
        _wait("campaigns completed", lambda: all(_campaign_state(ctx, c) == "completed" for c in cids), timeout, 0.2)
    finally:
        for proc in procs:
            stop_worker(proc)
        ctx.db.dispose()
    times = [e["t"] / 1000.0 for e in peer.entries()[seen:] if e["status"] == 0]
    r = ThroughputReport(workers, campaigns, messages)
    r.seconds = max(times) - min(times) if times else 0.0
    r.per_second = len(times) / r.seconds if r.seconds else 0.0
    r.busiest_window = max_in_any_window(times)
    return r
