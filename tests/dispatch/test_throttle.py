"""An SMSC throttling at 300 PDUs a second, a channel configured at 1,000: the run finishes with no fragment and
the channel backs off (before: about one rejected submit for every accepted one, and tail fragments)."""

from __future__ import annotations

from pathlib import Path

from tests.dispatch.throttle import run_throttle_scenario
from tests.peers.smpp_peer import SmppPeer


def test_throttling_smsc_gets_whole_messages_and_few_rejected_submits(tmp_path: Path, peer: SmppPeer) -> None:
    report = run_throttle_scenario(tmp_path, peer, messages=600, smsc_rate=300, rate=1000.0)
    assert report.stopped == "done", report
    assert report.fragments == 0 and report.duplicates == 0 and report.missing == 0, report
    assert report.throttled_share <= 0.05, report
