"""Held messages have a way out: listed with reason and age, resolved by compliance (or admin) with a reason,
audited; a campaign with held messages does not end as a plain ``completed``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from dunning.config import get_settings
from dunning.db.models import AuditEvent, Campaign, Message
from dunning.domain.states import MessageState, message_can
from dunning.errors import InputError, PermissionDenied, StateError
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.held import list_held, resolve
from dunning.services.identity.users import Role, add_user
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import make_ctx


@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    c = make_ctx(tmp_path, {"sandbox": __import__("dunning.config", fromlist=["ChannelSettings"]).ChannelSettings(
        kind="sandbox", rate=100_000.0)}, database_url=f"sqlite:///{tmp_path / 'held.db'}")
    add_user(c, "li.compliance", Role.COMPLIANCE)
    add_user(c, "wang.operator", Role.OPERATOR)
    yield c
    c.db.dispose()


def hold(ctx: Any, cid: int, n: int, reason: str = "crash_unreconciled") -> list[int]:
    with ctx.db.transaction() as s:
        ids = [int(i) for i in s.scalars(select(Message.id).where(Message.campaign_id == cid)
                                         .order_by(Message.id).limit(n)).all()]
        s.execute(update(Message).where(Message.id.in_(ids)).values(
            state="held", reason=reason, detail="发送过程中断", channel="sandbox", submitting_at=ctx.now()))
    return ids


def state_of(ctx: Any, ids: list[int]) -> list[str]:
    with ctx.db.transaction() as s:
        return [str(x) for x in s.scalars(select(Message.state).where(Message.id.in_(ids)).order_by(Message.id))]


def test_the_state_machine_lets_a_held_message_be_queued_again() -> None:
    assert message_can(MessageState.HELD, MessageState.QUEUED)
    assert message_can(MessageState.HELD, MessageState.SUBMITTED)


def test_held_are_listed_with_reason_and_masked_phone(ctx: Any) -> None:
    cid = bulk_campaign(ctx, 5, channel="sandbox")
    ids = hold(ctx, cid, 2)
    rows = list_held(ctx, campaign_id=cid)
    assert [r.id for r in rows] == ids
    assert all(r.reason == "crash_unreconciled" and "中断" in r.reason_zh for r in rows)
    assert all("*" in r.phone for r in rows), "phones are masked in the list"
    assert all(r.age_seconds is not None for r in rows)


def test_resolving_needs_a_reason_and_the_compliance_role_and_is_audited(ctx: Any) -> None:
    cid = bulk_campaign(ctx, 4, channel="sandbox")
    ids = hold(ctx, cid, 4)
    with pytest.raises(InputError):
        resolve(ctx, ids[:1], resolution="as_sent", reason="  ", actor="li.compliance")
    with pytest.raises(PermissionDenied):
        resolve(ctx, ids[:1], resolution="as_sent", reason="checked", actor="wang.operator")
    assert state_of(ctx, ids) == ["held"] * 4
    resolve(ctx, ids[:2], resolution="as_sent", reason="SMSC 日志确认", actor="li.compliance")
    resolve(ctx, ids[2:], resolution="requeue", reason="SMSC 日志无记录", actor="li.compliance")
    assert state_of(ctx, ids) == ["submitted", "submitted", "queued", "queued"]
    with pytest.raises(StateError):  # all or nothing: not held any more
        resolve(ctx, ids[:1], resolution="requeue", reason="again", actor="li.compliance")
    with ctx.db.transaction() as s:
        events = s.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.after).where(
            AuditEvent.action.like("messages.resolved_%")).order_by(AuditEvent.id)).all()
    assert [(a, act) for a, act, _ in events] == [("li.compliance", "messages.resolved_as_sent"),
                                                 ("li.compliance", "messages.resolved_requeue")]
    assert events[0][2]["ids"] == ids[:2] and events[0][2]["reason"] == "SMSC 日志确认"


def test_a_campaign_with_held_messages_stays_open_and_says_how_to_resolve(ctx: Any) -> None:
    cid = bulk_campaign(ctx, 20, channel="sandbox")
    ids = hold(ctx, cid, 3)
    r = lifecycle.send_campaign(ctx, cid, actor="li.compliance")
    assert r["stopped"] == "held" and r["state"] == "sending", r
    assert r["held"] == 3 and "dunning messages resolve" in r["detail"]
    st = lifecycle.status(ctx, cid)
    assert st["held"] == 3 and "dunning messages held" in st["held_hint"]
    out = resolve(ctx, ids, resolution="as_sent", reason="核实已发", actor="li.compliance")
    assert out["completed"] == [cid]
    with ctx.db.transaction() as s:
        assert s.get(Campaign, cid).state == "completed"


def test_cli_lists_and_resolves_held_messages(ctx: Any, tmp_path: Path) -> None:
    from dunning.entrypoints.cli.messages import app

    cid = bulk_campaign(ctx, 6, channel="sandbox")
    ids = hold(ctx, cid, 2, reason="query_miss")
    settings_file = tmp_path / "dunning.toml"
    settings_file.write_text(f'data_dir = "{tmp_path}"\ndatabase_url = "sqlite:///{tmp_path / "held.db"}"\n',
                             encoding="utf-8")
    from dunning.services.identity import auth

    token = auth.issue_token(ctx, "li.compliance", actor="test")  # the CLI authenticates the person
    env = {"DUNNING_SETTINGS_FILE": str(settings_file), "DUNNING_SECRET_KEY": "test-secret-key",
           "DUNNING_TOKEN": token}
    runner = CliRunner()
    get_settings.cache_clear()
    try:
        got = runner.invoke(app, ["held", "--campaign", str(cid), "--json"], env=env)
        assert got.exit_code == 0, got.output
        assert [r["id"] for r in json.loads(got.output)] == ids
        table = runner.invoke(app, ["held", "--campaign", str(cid)], env=env)
        assert "暂扣短信 2 条" in table.output and "dunning messages resolve" in table.output
        no_reason = runner.invoke(app, ["resolve", str(ids[0]), "--requeue"], env=env)
        assert no_reason.exit_code == 2 and "原因" in no_reason.output and "Traceback" not in no_reason.output
        both = runner.invoke(app, ["resolve", str(ids[0]), "--requeue", "--as-sent", "--reason", "x"], env=env)
        assert both.exit_code == 2
        ok = runner.invoke(app, ["resolve", *map(str, ids), "--requeue", "--reason", "SMSC 无记录"], env=env)
        assert ok.exit_code == 0, ok.output
        assert "已处理 2 条" in ok.output
    finally:
        get_settings.cache_clear()
    assert state_of(ctx, ids) == ["queued", "queued"]


def test_api_lists_and_resolves_held_messages(ctx: Any) -> None:
    """The HTTP API's held endpoints, end to end: list (masked phones, reason, hint), resolve with a reason
    (compliance only, all or nothing), and the campaign's counts follow."""
    from fastapi.testclient import TestClient

    from dunning.entrypoints.app import create_app
    from dunning.services.identity.auth import issue_token

    cid = bulk_campaign(ctx, 6, channel="sandbox")
    ids = hold(ctx, cid, 3)
    client = TestClient(create_app(ctx))
    compliance = {"Authorization": f"Bearer {issue_token(ctx, 'li.compliance', actor='admin')}"}
    operator = {"Authorization": f"Bearer {issue_token(ctx, 'wang.operator', actor='admin')}"}
    url = f"/api/v1/campaigns/{cid}/held"

    r = client.get(url, headers=compliance)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["campaign_id"] == cid and body["held"] == 3 and "dunning messages" in body["hint"]
    assert sorted(m["id"] for m in body["messages"]) == ids
    assert all(m["reason"] == "crash_unreconciled" and "*" in m["phone"] for m in body["messages"])
    assert client.get(url, headers=operator).status_code == 403
    assert client.get("/api/v1/campaigns/999999/held", headers=compliance).status_code == 404

    resolve_url = f"{url}/resolve"
    assert client.post(resolve_url, headers=compliance,
                       json={"ids": ids, "resolution": "as_sent", "reason": ""}).status_code == 422
    assert client.post(resolve_url, headers=operator,
                       json={"ids": ids, "resolution": "as_sent", "reason": "checked"}).status_code == 403
    assert state_of(ctx, ids) == ["held"] * 3
    r = client.post(resolve_url, headers=compliance,
                    json={"ids": ids[:2], "resolution": "as_sent", "reason": "SMSC 日志确认"})
    assert r.status_code == 200, r.text
    r = client.post(resolve_url, headers=compliance,
                    json={"ids": ids[2:], "resolution": "requeue", "reason": "SMSC 日志无记录"})
    assert r.status_code == 200, r.text
    assert state_of(ctx, ids) == ["submitted", "submitted", "queued"]
    again = client.post(resolve_url, headers=compliance, json={"ids": ids[:1], "resolution": "requeue",
                                                              "reason": "again"})
    assert again.status_code == 409 and again.json()["error"]["code"].startswith("state")
    body = client.get(url, headers=compliance).json()
    assert body["held"] == 0 and body["messages"] == []


def test_a_requeue_landing_as_a_send_ends_is_sent_not_left_in_a_completed_campaign(ctx: Any,
                                                                                 monkeypatch: Any) -> None:
    """The person on duty requeues held messages just after the send's last claim and before it completes the
    campaign: the send runs once more and sends them, then completes (it used to complete the campaign with them
    still queued, where nothing would ever send them and a requeue is refused)."""
    cid = bulk_campaign(ctx, 20, channel="sandbox")
    ids = hold(ctx, cid, 3)
    real = lifecycle.run_dispatch
    runs: list[str] = []

    def run_then_requeue(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        runs.append(out.stopped)
        if len(runs) == 1:
            resolve(ctx, ids, resolution="requeue", reason="SMSC 日志无此短信", actor="li.compliance")
        return out

    monkeypatch.setattr(lifecycle, "run_dispatch", run_then_requeue)
    r = lifecycle.send_campaign(ctx, cid, actor="wang.operator")
    assert len(runs) == 2 and r["state"] == "completed", (runs, r)
    assert set(state_of(ctx, ids)) <= {"submitted", "delivered", "failed", "expired"}
