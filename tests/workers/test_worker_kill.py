"""Issue 23: two `dunning worker` processes on PostgreSQL and Redis send two campaigns under one shared channel
rate; one worker dies (SIGKILL of its process group) in the middle of its campaign. Its campaign is picked up by
the other worker (its rescuer finds the dead lease), and both finish with nothing sent twice, nothing lost, and
never more PDUs in a second than the channel's rate, summed over both workers."""

from __future__ import annotations

from pathlib import Path

from tests.peers.smpp_peer import SmppPeer
from tests.workers.scenario import run_workers_scenario

MESSAGES = 600  # per campaign
RATE = 300.0  # PDUs a second, the channel's contracted rate shared by both workers


def test_a_killed_worker_s_campaign_is_finished_by_the_other_once_and_within_the_shared_rate(
        tmp_path: Path, peer: SmppPeer, pg_url: str, broker_url: str) -> None:
    r = run_workers_scenario(tmp_path, peer, database_url=pg_url, broker_url=broker_url, messages=MESSAGES,
                             rate=RATE, kill_after=150)
    a, b = r.campaigns
    print(r)
    # the kill came mid-campaign, and the campaign went on afterwards without anyone running `campaign send`
    assert 150 <= r.killed_at < MESSAGES
    assert len(r.rescued_by) == 1, "one death, one rescue (recorded by the surviving worker)"
    # a's last run was finished by the surviving worker (the killed one recorded nothing: it died)
    assert r.finished_by[a] and all(w == r.finished_by[a][0] for w in r.finished_by[a])
    assert set(r.finished_by[a]) <= set(r.finished_by[b])
    # exactly once, nothing lost: the SMSC's log holds every message of both campaigns once
    assert r.duplicates == 0
    assert r.missing == 0
    assert r.states[a].get("queued", 0) == r.states[b].get("queued", 0) == 0
    assert r.states[a].get("held", 0) == r.states[b].get("held", 0) == 0
    # what the dead worker had on the wire was held for a person, not resent on a guess (one window at most)
    assert r.held_after_kill <= 256
    # one shared rate: no 1-second window above it, summed over both workers
    assert r.busiest_window <= RATE
