"""dispatch_mode = "celery": a real `dunning worker` on a real Redis broker sends the pilot and the campaign,
while the caller (the `campaign pilot` / `campaign send` service calls) only enqueues and follows progress."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from dunning.config import ChannelSettings, Settings
from dunning.db.models import AuditEvent, Message
from dunning.dispatch.engine import Progress
from dunning.errors import ConfigError
from dunning.services.campaigns import lifecycle
from dunning.services.context import AppContext, build_context
from dunning.services.identity.users import add_user
from tests.dispatch.factories import bulk_campaign
from tests.workers.scenario import stop_worker

BUSINESS_TIME = "2026-11-23T02:00:00+00:00"  # 10:00 Asia/Shanghai, inside the send window
N = 300


# The caller enqueues on, and the worker consumes, this installation's own queue (not Celery's default
# "celery"): with a mismatch the caller would follow a task nobody takes, and the test would time out.
QUEUE = f"dunning.test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def caller(tmp_path: Path, broker_url: str) -> Iterator[AppContext]:
    """The caller's context: celery mode, and a channel it cannot open (an unknown kind), so any message the
    caller tried to send itself would fail instead of going out."""
    settings = Settings(data_dir=tmp_path / "data", secret_key="worker-secret",  # type: ignore[arg-type]
                        dispatch_mode="celery", broker_url=broker_url, dispatch_queue=QUEUE,
                        business_time=datetime.fromisoformat(BUSINESS_TIME),
                        channels={"sandbox": ChannelSettings(kind="not-available-to-the-caller")})
    ctx = build_context(settings)
    yield ctx
    ctx.db.dispose()


@pytest.fixture
def worker(tmp_path: Path, broker_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`dunning worker` as a subprocess, on the same data dir and broker, with a sandbox channel that delivers
    everything (so the pilot's go/no-go does not hinge on the simulated failure rate)."""
    toml = tmp_path / "dunning.toml"
    toml.write_text(f'dispatch_mode = "celery"\nbroker_url = "{broker_url}"\ndispatch_queue = "{QUEUE}"\n\n'
                    '[channels.sandbox]\n'
                    'kind = "sandbox"\nrate = 50000.0\n'
                    'options = {delivered_rate = 1.0, expired_rate = 0.0, reply_rate = 0.0}\n', encoding="utf-8")
    env = dict(os.environ)
    env.update({"DUNNING_DATA_DIR": str(tmp_path / "data"), "DUNNING_SECRET_KEY": "worker-secret",
                "DUNNING_BUSINESS_TIME": BUSINESS_TIME, "DUNNING_SETTINGS_FILE": str(toml)})
    env.pop("DUNNING_DATABASE_URL", None)
    env.pop("DUNNING_DISPATCH_MODE", None)
    env.pop("DUNNING_BROKER_URL", None)
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "dunning.entrypoints.cli.app", "worker", "--concurrency", "1",
                             "--loglevel", "info"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        yield proc
    finally:
        stop_worker(proc)
        log.close()


def _worker_log(tmp_path: Path) -> str:
    return (tmp_path / "worker.log").read_text(encoding="utf-8", errors="replace")[-4000:]


def _parent_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


def _finished_reports(ctx: AppContext, campaign_id: int) -> list[dict[str, object]]:
    with ctx.db.transaction() as s:
        return [dict(ev.after or {}) for ev in s.scalars(select(AuditEvent).where(
            AuditEvent.entity == "campaign", AuditEvent.entity_id == str(campaign_id),
            AuditEvent.action == lifecycle.DISPATCH_FINISHED).order_by(AuditEvent.id))]


def test_worker_sends_pilot_and_campaign_once_while_the_caller_follows(
        caller: AppContext, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    ctx = caller
    cid = bulk_campaign(ctx, N, state="planned")
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.campaign_id == cid).values(state="planned"))
    add_user(ctx, "li.compliance", "compliance")

    pilot = lifecycle.start_pilot(ctx, cid, actor="wang.ops", follow_timeout=60)
    assert worker.poll() is None, _worker_log(tmp_path)
    assert pilot["state"] == "piloting"
    assert 0 < pilot["sample"] < N
    assert pilot["sent"] == pilot["sample"], (pilot, _worker_log(tmp_path))
    assert pilot["states"] == {"delivered": pilot["sample"]}
    assert pilot["go"], pilot["checks"]
    lifecycle.approve_pilot(ctx, cid, actor="li.compliance")

    seen: list[Progress] = []
    sent = lifecycle.send_campaign(ctx, cid, actor="wang.ops", on_progress=seen.append, follow_timeout=60)
    assert worker.poll() is None, _worker_log(tmp_path)

    # What the operator sees: the call returned with the campaign completed, and every message went out.
    assert sent["state"] == "completed", (sent, _worker_log(tmp_path))
    assert sent["stopped"] == "done"
    msgs = sent["messages"]
    assert msgs == {"delivered": N}

    # Exactly once: one submit per message, each with its own provider id.
    with ctx.db.transaction() as s:
        attempts = dict(s.execute(select(Message.attempts, func.count()).where(Message.campaign_id == cid)
                                  .group_by(Message.attempts)).all())
        provider_ids = s.scalar(select(func.count(func.distinct(Message.provider_id)))
                                .where(Message.campaign_id == cid))
    assert attempts == {1: N}
    assert provider_ids == N

    # The progress bar followed the worker's run to its end.
    assert seen, "on_progress was never called"
    last = seen[-1]
    assert last.total == N - pilot["sample"]
    assert last.done == last.total
    assert last.channel == "sandbox"

    # The worker process (a child of `dunning worker`), not the caller, ran both dispatches.
    reports = _finished_reports(ctx, cid)
    assert [(r["pilot_only"], r["stopped"]) for r in reports] == [(True, "done"), (False, "done")]
    assert reports[0]["submitted"] == pilot["sample"]
    assert reports[1]["submitted"] == N - pilot["sample"]
    for r in reports:
        pid = int(str(r["worker"]).rsplit(":", 1)[1])
        assert pid != os.getpid()
        assert worker.pid in (pid, _parent_pid(pid))
    with ctx.db.transaction() as s:
        completed_by = s.scalar(select(AuditEvent.actor).where(
            AuditEvent.entity_id == str(cid), AuditEvent.action == "campaign.completed"))
    # The worker acts in the name of the person who started the send, not as an anonymous "system".
    assert completed_by == "wang.ops"
    with ctx.db.transaction() as s:
        finished_by = set(s.scalars(select(AuditEvent.actor).where(
            AuditEvent.entity_id == str(cid), AuditEvent.action == lifecycle.DISPATCH_FINISHED)))
    assert finished_by == {"wang.ops"}

    # Sending again is a no-op: nothing is re-sent.
    again = lifecycle.send_campaign(ctx, cid, actor="wang.ops", follow_timeout=60)
    assert again.get("already_finished") and again["messages"] == msgs


def test_without_a_worker_the_caller_stops_following_and_nothing_is_sent(caller: AppContext) -> None:
    ctx = caller
    cid = bulk_campaign(ctx, 20, state="sending")

    r = lifecycle.send_campaign(ctx, cid, actor="wang.ops", follow_timeout=1.5)

    assert r["stopped"] == "following_timeout"
    assert "dunning worker" in r["detail"]
    assert r["state"] == "sending"
    assert r["messages"] == {"queued": 20}
    assert _finished_reports(ctx, cid) == []


def test_an_unreachable_broker_is_a_clear_error_and_the_messages_stay_queued(caller: AppContext) -> None:
    ctx = caller
    ctx.settings = ctx.settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    cid = bulk_campaign(ctx, 5, state="sending")

    with pytest.raises(ConfigError) as err:
        lifecycle.send_campaign(ctx, cid, actor="wang.ops", follow_timeout=1.5)

    assert err.value.code == "config.broker_unreachable"
    assert lifecycle.status(ctx, cid)["messages"] == {"queued": 5}
