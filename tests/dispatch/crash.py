"""The crash scenario shared by ``tests/dispatch/test_crash.py`` and ``bench/crash.py``.

A campaign is sent through the SMPP peer by a separate sender process (:mod:`tests.dispatch.sender`) that is
killed with SIGKILL once the peer has accepted a chosen number of messages, then started again; after the last
kill a final sender finishes the campaign. The peer's own log is the judge: every message key accepted exactly
once, none missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dunning.db.models import Message
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import make_ctx, smpp_settings
from tests.peers.smpp_peer import SmppPeer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CrashReport:
    messages: int
    kills: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    accepted_once: int = 0
    accepted_twice_or_more: int = 0
    missing: int = 0
    rejected_by_peer: int = 0
    states: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _sender(db_url: str, campaign_id: int, peer: SmppPeer, data_dir: Path, inflight: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.dispatch.sender", "--db", db_url, "--campaign", str(campaign_id),
         "--smpp", f"{peer.address[0]}:{peer.address[1]}", "--data-dir", str(data_dir),
         "--inflight", str(inflight)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_crash_scenario(workdir: Path, peer: SmppPeer, *, messages: int, kill_at: list[int],
                       inflight: int = 2, timeout: float = 300.0) -> CrashReport:
    """Send ``messages`` with a SIGKILL once the peer accepted each count in ``kill_at`` (in total)."""
    db_url = f"sqlite:///{workdir / 'crash.db'}"
    ctx = make_ctx(workdir, {"smpp": smpp_settings(peer.address)}, database_url=db_url)
    cid = bulk_campaign(ctx, messages, channel="smpp", phone_start=1)
    report = CrashReport(messages)
    started = time.monotonic()
    for target in kill_at:
        proc = _sender(db_url, cid, peer, workdir, inflight)
        deadline = time.monotonic() + timeout
        accepted = 0
        while time.monotonic() < deadline and proc.poll() is None:
            accepted = int(peer.stats()["accepted"])
            if accepted >= target:
                break
            time.sleep(0.005)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.2)  # let the peer read what the dead sender had written to its socket
        report.kills.append({"target": target, "peer_accepted_at_kill": accepted, "returncode": proc.returncode,
                             "peer_accepted_after_kill": int(peer.stats()["accepted"])})
    proc = _sender(db_url, cid, peer, workdir, inflight)
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"final sender failed: {err[-2000:]}")
    report.final = json.loads(out.strip().splitlines()[-1])
    report.seconds = time.monotonic() - started

    keys = [f"c{cid}|L{cid}-{i}|M1" for i in range(messages)]
    entries = peer.entries()
    refs: Counter[str] = Counter(e["ref"] for e in entries if e["status"] == 0 and e.get("part", 1) == 1)
    rejected = {e["ref"] for e in entries if e["status"] not in (0, -1)}
    report.accepted_once = sum(1 for k in keys if refs[k] == 1)
    report.accepted_twice_or_more = sum(1 for k in keys if refs[k] > 1)
    report.rejected_by_peer = sum(1 for k in keys if k in rejected and refs[k] == 0)
    report.missing = sum(1 for k in keys if refs[k] == 0 and k not in rejected)
    with ctx.db.transaction() as s:
        report.states = {str(k): int(v) for k, v in s.execute(
            select(Message.state, func.count()).where(Message.campaign_id == cid).group_by(Message.state)).all()}
    ctx.db.dispose()
    return report
