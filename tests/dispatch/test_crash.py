"""Crash safety end to end: SIGKILL the sender three times mid-campaign; the SMPP peer saw every message once."""

from __future__ import annotations

from pathlib import Path

from tests.dispatch.crash import run_crash_scenario
from tests.peers.smpp_peer import SmppPeer


def test_killed_sender_resumes_without_losing_or_repeating_a_message(tmp_path: Path, peer: SmppPeer) -> None:
    report = run_crash_scenario(tmp_path, peer, messages=3000, kill_at=[400, 1300, 2200])
    assert report.accepted_twice_or_more == 0, report
    assert report.missing == 0, report
    assert report.accepted_once + report.rejected_by_peer == 3000
    # Every message reached a state that tells the truth: nothing left claimed, queued or set aside.
    assert set(report.states) <= {"submitted", "delivered", "failed", "expired"}, report.states
    assert report.final["stopped"] == "done"
    assert all(k["peer_accepted_at_kill"] < 3000 for k in report.kills), "a kill came after the campaign ended"
