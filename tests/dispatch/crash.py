"""The crash scenario shared by ``tests/dispatch/test_crash.py`` and ``bench/crash.py``.

A campaign is sent through the SMPP peer in **standard mode** (no lookup by our reference, query_sm by message id
only, unacknowledged receipts and replies redelivered after a reconnect) by a separate sender process
(:mod:`tests.dispatch.sender`) that is killed with SIGKILL once the peer has accepted a chosen number of PDUs,
then started again; the SMSC itself may be killed and restarted once, and borrowers' "TD" opt-out replies flow
during the run. After the last kill a sender finishes the campaign.

What a kill leaves with an unknown outcome is held (never resent on a guess). The scenario then does what the
person on duty would: checks each held message against the SMSC's log and resolves it through
:func:`dunning.services.campaigns.held.resolve` (as sent, or requeue), and a last sender sends the requeued ones. The
peer's own log is the judge: every message key accepted exactly once with all its parts, none missing; and
every receipt and reply the sender acknowledged is in the database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dunning.db.models import DeliveryReportRow, Message, Reply
from dunning.services.campaigns.held import resolve
from dunning.services.identity.users import Role
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import make_ctx, smpp_settings
from tests.peers.smpp_peer import SmppPeer

ROOT = Path(__file__).resolve().parents[2]


def resolve_held(ctx: Any, cid: int, accepted_refs: Mapping[str, int]) -> tuple[list[int], list[int]]:
    """The person on duty: each held message of campaign ``cid`` checked against the SMSC's log (``accepted_refs``:
    how often each idempotency key was accepted) and resolved, audited with a reason: as sent where the SMSC took
    it, requeued where it did not. The ids resolved each way."""
    with ctx.db.transaction() as s:
        held = s.execute(select(Message.id, Message.idempotency_key).where(
            Message.campaign_id == cid, Message.state == "held")).all()
    as_sent = [int(i) for i, key in held if accepted_refs.get(str(key))]
    requeue = [int(i) for i, key in held if not accepted_refs.get(str(key))]
    if as_sent:
        resolve(ctx, as_sent, resolution="as_sent", reason="SMSC 日志确认已接收", actor="li.compliance")
    if requeue:
        resolve(ctx, requeue, resolution="requeue", reason="SMSC 日志无此短信", actor="li.compliance")
    return as_sent, requeue
# two UCS-2 parts (70 < length ≤ 134 characters), signature first, as the collection texts are
TWO_PART_TEXT = ("【阳光消费金融】尊敬的客户，您在本机构的借款已逾期，请尽快通过官方渠道还款，以免影响您的信用记录。"
                 "如已还款请忽略本短信。如有疑问请致电官方客服热线，工作时间九点至二十一点。回复TD退订")


@dataclass
class CrashReport:
    messages: int
    kills: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    accepted_once: int = 0
    duplicates: int = 0  # messages whose part 1 the SMSC accepted more than once: the borrower got it twice
    repeated_segments: int = 0  # continuation parts accepted twice (same UDH: the handset keeps one)
    missing: int = 0
    fragments: int = 0
    rejected_by_peer: int = 0
    held_per_kill: list[int] = field(default_factory=list)
    resolved_as_sent: int = 0
    resolved_requeued: int = 0
    receipts_acked_not_stored: int = 0
    replies_acked_not_stored: int = 0
    replies_acked: int = 0
    peer_restarts: int = 0
    states: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _sender(db_url: str, campaign_id: int, peer: SmppPeer, data_dir: Path, inflight: int,
            rate: float) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.dispatch.sender", "--db", db_url, "--campaign", str(campaign_id),
         "--smpp", f"{peer.address[0]}:{peer.address[1]}", "--data-dir", str(data_dir),
         "--inflight", str(inflight), "--rate", str(rate)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


class _Replies(threading.Thread):
    """Borrowers answering "TD" while the campaign runs (one every ``every`` seconds, to distinct phones)."""

    def __init__(self, peer: SmppPeer, phones: list[str], every: float) -> None:
        super().__init__(daemon=True)
        self.peer, self.phones, self.every = peer, phones, every
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        i = 0
        while not self.stop.wait(self.every) and i < len(self.phones):
            try:
                self.peer.send_mo(self.phones[i], "TD")
                self.sent += 1
                i += 1
            except OSError:
                pass  # no bound receiver right now (sender killed, SMSC restarting): try again


def _held(ctx: Any, cid: int) -> int:
    with ctx.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Message).where(
            Message.campaign_id == cid, Message.state == "held")) or 0)


def run_crash_scenario(workdir: Path, peer: SmppPeer, *, messages: int, kill_at: list[int],
                       inflight: int = 2, rate: float = 2000.0, parts: int = 2, restart_peer_at: int | None = None,
                       reply_every: float = 0.05, timeout: float = 600.0,
                       database_url: str | None = None) -> CrashReport:
    """Send ``messages`` with a SIGKILL once the peer accepted each count of PDUs in ``kill_at`` (in total), on
    ``database_url`` (default: a SQLite file in ``workdir``)."""
    db_url = database_url or f"sqlite:///{workdir / 'crash.db'}"
    ctx = make_ctx(workdir, {"smpp": smpp_settings(peer.address, rate=rate)}, database_url=db_url)
    from dunning.services.identity.users import add_user

    add_user(ctx, "li.compliance", Role.COMPLIANCE, display_name="合规-李静")
    text = TWO_PART_TEXT if parts == 2 else None
    cid = bulk_campaign(ctx, messages, channel="smpp", phone_start=1, text=text, parts=parts)
    report = CrashReport(messages)
    replies = _Replies(peer, [f"+86139{i:08d}" for i in range(100_000)], reply_every)
    replies.start()
    started = time.monotonic()
    base = 0  # PDUs accepted by earlier incarnations of the peer (its counters restart with it)

    def accepted() -> int:
        return base + int(peer.stats()["accepted"])

    for target in kill_at:
        held_before = _held(ctx, cid)
        proc = _sender(db_url, cid, peer, workdir, inflight, rate)
        deadline = time.monotonic() + timeout
        seen = accepted()
        while time.monotonic() < deadline and proc.poll() is None:
            seen = accepted()
            if restart_peer_at is not None and report.peer_restarts == 0 and seen >= restart_peer_at:
                base = seen
                peer.restart()
                report.peer_restarts += 1
            if seen >= target:
                break
            time.sleep(0.005)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.2)  # let the peer read what the dead sender had written to its socket
        report.kills.append({"target": target, "peer_accepted_at_kill": seen, "returncode": proc.returncode})
        # the next sender reconciles the dead one's in-flight messages first: what it holds is this kill's
        with ctx.db.transaction() as s:
            report.kills[-1]["in_flight"] = int(s.scalar(select(func.count()).select_from(Message).where(
                Message.campaign_id == cid, Message.state == "submitting")) or 0)
        report.kills[-1]["held_before"] = held_before
    proc = _sender(db_url, cid, peer, workdir, inflight, rate)
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"final sender failed: {err[-2000:]}")
    report.final = json.loads(out.strip().splitlines()[-1])
    report.held_per_kill = [k["in_flight"] for k in report.kills]

    # The person on duty: check each held message against the SMSC's log, resolve it (audited, with a reason).
    as_sent, requeue = resolve_held(ctx, cid, _accepted_refs(peer))
    if requeue:
        proc = _sender(db_url, cid, peer, workdir, inflight, rate)
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"last sender failed: {err[-2000:]}")
    report.resolved_as_sent, report.resolved_requeued = len(as_sent), len(requeue)
    replies.stop.set()
    replies.join(timeout=5)
    report.seconds = time.monotonic() - started

    keys = [f"c{cid}|L{cid}-{i}|M1" for i in range(messages)]
    entries = peer.entries()
    firsts: Counter[str] = Counter(e["ref"] for e in entries if e["status"] == 0 and e.get("part", 1) == 1)
    got_parts: dict[str, Counter[int]] = defaultdict(Counter)
    for e in entries:
        if e["status"] == 0:
            got_parts[e["ref"]][int(e.get("part", 1))] += 1
    rejected = {e["ref"] for e in entries if e["status"] not in (0, -1) and e["status"] != 0x58}
    report.accepted_once = sum(1 for k in keys if firsts[k] == 1)
    # a second copy of a message is a second concatenation reference (or, single-part, a second accept); a part
    # sent again under the same reference after a lost link is one segment twice, which the handset drops
    crefs: dict[str, set[Any]] = defaultdict(set)
    for e in entries:
        if e["status"] == 0:
            crefs[e["ref"]].add(e.get("cref"))
    report.duplicates = sum(1 for k in keys if len(crefs[k]) > 1 or (None in crefs[k] and got_parts[k][1] > 1))
    report.repeated_segments = sum(1 for k in keys if len(crefs[k]) == 1 and None not in crefs[k]
                                   for n in got_parts[k].values() if n > 1)
    report.rejected_by_peer = sum(1 for k in keys if k in rejected and not got_parts[k])
    report.missing = sum(1 for k in keys if not got_parts[k] and k not in rejected)
    report.fragments = sum(1 for k in keys if got_parts[k] and set(got_parts[k]) != set(range(1, parts + 1)))
    acked = peer.acked()
    with ctx.db.transaction() as s:
        report.states = {str(k): int(v) for k, v in s.execute(
            select(Message.state, func.count()).where(Message.campaign_id == cid).group_by(Message.state)).all()}
        stored_dlr = {str(p) for p in s.scalars(select(DeliveryReportRow.provider_id)).all()}
        stored_mo = Counter(str(p) for p in s.scalars(select(Reply.phone)).all())
    report.receipts_acked_not_stored = sum(1 for mid in acked["receipts"] if str(mid) not in stored_dlr)
    acked_mo = Counter("+" + str(m["from"]).lstrip("+") for m in acked["mo"])
    report.replies_acked = sum(acked_mo.values())
    report.replies_acked_not_stored = sum(max(0, n - stored_mo.get(p, 0)) for p, n in acked_mo.items())
    ctx.db.dispose()
    return report


def _accepted_refs(peer: SmppPeer) -> dict[str, int]:
    """What the SMSC's log says it accepted, per idempotency key (first parts): what a person checks."""
    return dict(Counter(e["ref"] for e in peer.entries() if e["status"] == 0 and e.get("part", 1) == 1))
