"""Crash safety end to end against the standard-mode SMSC peer (no lookup by our reference, query_sm by message id
only, receipts redelivered when unacknowledged): SIGKILL the sender three times mid-campaign, restart the SMSC
once, replies flowing. The peer's log and acknowledgements judge."""

from __future__ import annotations

from pathlib import Path

from tests.dispatch.crash import run_crash_scenario
from tests.peers.smpp_peer import SmppPeer


def test_killed_sender_and_restarted_smsc_lose_nothing_and_repeat_nothing(tmp_path: Path, peer: SmppPeer) -> None:
    report = run_crash_scenario(tmp_path, peer, messages=1500, kill_at=[600, 1500, 2400], rate=2000.0, parts=2,
                                restart_peer_at=1000)
    assert report.duplicates == 0, report
    assert report.missing == 0, report
    assert report.fragments == 0, report
    assert report.accepted_once + report.rejected_by_peer == 1500, report
    # what a kill leaves unknown is bounded by what was in flight, not by a whole claim of the campaign
    assert all(h <= 200 for h in report.held_per_kill), report.held_per_kill
    assert report.receipts_acked_not_stored == 0, report
    assert report.replies_acked > 0 and report.replies_acked_not_stored == 0, report
    assert report.peer_restarts == 1
    # every message reached a state that tells the truth: nothing left claimed, queued or held
    assert set(report.states) <= {"submitted", "delivered", "failed", "expired"}, report.states
    assert all(k["peer_accepted_at_kill"] < 3000 for k in report.kills), "a kill came after the campaign ended"
