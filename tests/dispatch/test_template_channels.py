"""Campaigns through the template-based channels (Aliyun, Tencent) against their local peers.

Planning stores each message's variable values (``messages.params``); the claim hands the template version's
registered provider code and those values to the adapter; the peer checks the API signature and records what it
received. A version without a code for the channel is refused before the pilot, and — should such a message be
queued anyway (a fallback channel, a code removed meanwhile) — failed per message with a clear reason, never sent
and never retried.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, select, text, update

from dunning.channels.base import WebhookRequest
from dunning.config import ChannelSettings, Settings
from dunning.db.models import AuditEvent, Campaign, Message
from dunning.dispatch.engine import DispatchOutcome
from dunning.errors import StateError
from dunning.services import templates as tsvc
from dunning.services.bootstrap import ensure_bundled_templates
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.delivery import ingest_events
from dunning.services.campaigns.planning import plan_campaign
from dunning.services.context import AppContext, build_context
from dunning.services.identity.users import ensure_demo_users
from dunning.services.verification.codes import CODE_PLACEHOLDER, code_for
from dunning.testing import FrozenClock
from tests.dispatch.conftest import PG_ADMIN
from tests.dispatch.support import dispatcher
from tests.peers.http_peers import AliyunPeer, TencentPeer, WebhookSink
from tests.strategy.helpers import Acct, ab_strategy, at, import_accounts

DAY = date(2026, 11, 23)
ALI_TOKEN = "ali-token-t"
TC_TOKEN = "tc-token-t"
M1_ORDER = ["name", "last4", "amount", "dpd", "due_date", "penalty_rate", "app", "hotline", "verify_code"]
M1B_ORDER = ["name", "last4", "amount", "dpd", "penalty_rate", "app", "hotline", "verify_code"]
NAMES = ["王小明", "李四", "欧阳娜娜", "张三", "赵敏", "周杰", "吴芳", "郑爽"]
ACCOUNTS = [Acct(f"LN{i:04d}{i}", 5, phone=f"+86139120{i:04d}5", amount_fen=100_000 + i * 12_345, name=n)
            for i, n in enumerate(NAMES)]


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink()
    yield s
    s.close()


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """A PostgreSQL database of this test's own (the session's is shared with tests that number ids by hand)."""
    name = f"dunning_tpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def aliyun_peer(sink: WebhookSink) -> Iterator[AliyunPeer]:
    p = AliyunPeer("LTAI-tpl", "aliyun-tpl-secret", report_url=sink.url(f"/aliyun/report?token={ALI_TOKEN}"))
    yield p
    p.close()


@pytest.fixture
def tencent_peer(sink: WebhookSink) -> Iterator[TencentPeer]:
    p = TencentPeer("AKID-tpl", "tencent-tpl-secret", report_url=sink.url(f"/tencent/report?token={TC_TOKEN}"))
    yield p
    p.close()


def aliyun_settings(peer: AliyunPeer) -> ChannelSettings:
    return ChannelSettings(kind="aliyun", rate=1000.0, options={
        "endpoint": f"127.0.0.1:{peer.port}", "protocol": "http", "sign_name": "阳光消费金融",
        "access_key_id": peer.key_id, "timeout": 5.0},
        secrets={"access_key_secret": SecretStr(peer.secret), "webhook_token": SecretStr(ALI_TOKEN)})


def tencent_settings(peer: TencentPeer) -> ChannelSettings:
    return ChannelSettings(kind="tencent", rate=1000.0, options={
        "endpoint": f"127.0.0.1:{peer.port}", "scheme": "http", "sign_name": "阳光消费金融",
        "sdk_app_id": "1400000001", "secret_id": peer.key_id, "timeout": 5.0},
        secrets={"secret_key": SecretStr(peer.secret), "webhook_token": SecretStr(TC_TOKEN)})


def make_ctx(tmp_path: Path, channels: dict[str, ChannelSettings], database_url: str | None = None) -> AppContext:
    settings = Settings(data_dir=tmp_path / ".dunning", secret_key="test-secret-key",  # type: ignore[arg-type]
                        database_url=database_url,
                        channels={"sandbox": ChannelSettings(kind="sandbox", options={"seed": 7}), **channels})
    ctx = build_context(settings, clock=FrozenClock(at(DAY, 10)).now)
    ensure_bundled_templates(ctx)
    ensure_demo_users(ctx)
    return ctx


def plan_on(ctx: AppContext, tmp_path: Path, channel: str, *, phones: str = "139120") -> int:
    """Plan the eight accounts (phones ``+86{phones}XXXX5``) for ``channel``; returns the campaign id."""
    accounts = [Acct(a.loan_id, a.dpd, phone=f"+86{phones}{i:04d}5", amount_fen=a.amount_fen, name=a.name)
                for i, a in enumerate(ACCOUNTS)]
    iid = import_accounts(ctx, accounts, DAY)
    path = tmp_path / f"{channel}.yaml"
    path.write_text(ab_strategy(f"tpl-{channel}-{phones}", dpd=5, share=0.2), encoding="utf-8")
    summary = plan_campaign(ctx, actor="planner", strategy_path=path, import_id=iid, as_of=DAY, channel=channel)
    assert summary.planned == len(ACCOUNTS), summary
    return summary.campaign_id


def rows(ctx: AppContext, cid: int) -> list[Message]:
    with ctx.db.transaction() as s:
        return list(s.scalars(select(Message).where(Message.campaign_id == cid).order_by(Message.id)).all())


def deliver_reports(ctx: AppContext, sink: WebhookSink, channel: str, expect: int) -> int:
    """What the web layer does with the provider's pushes: verify, parse, ingest (delivery reports)."""
    ch = ctx.channel(channel)
    got = 0
    for r in sink.drain(min_count=expect, timeout=10.0, settle=0.2):
        req = WebhookRequest(r.method, sink.base_url + r.path, r.headers, r.body, r.query)
        assert ch.verify_webhook(req)
        events = ch.parse_webhook(req)
        got += len(events)
        with ctx.db.transaction() as s:
            ingest_events(s, channel, events, now=ctx.now(), stop_keywords=["TD"], dispute_keywords=[])
    return got


def pilot_and_send(ctx: AppContext, cid: int, sink: WebhookSink, channel: str) -> None:
    lifecycle.start_pilot(ctx, cid, actor="wang.ops")
    pilot = [m for m in rows(ctx, cid) if m.is_pilot]
    assert pilot and all(m.state == "submitted" for m in pilot), [(m.state, m.detail) for m in pilot]
    deliver_reports(ctx, sink, channel, expect=1)
    lifecycle.approve_pilot(ctx, cid, actor="li.compliance")
    out = lifecycle.send_campaign(ctx, cid, actor="wang.ops")
    assert out["stopped"] == "done", out
    deliver_reports(ctx, sink, channel, expect=1)


def expected_params(m: Message, order: list[str]) -> dict[str, str]:
    """The values stored at planning, checked against the account and the rendered text they came from."""
    assert m.params is not None and m.text is not None
    params = json.loads(m.params)
    assert list(params) == order  # the template's variable order (Tencent's positions)
    acct = next(a for a in ACCOUNTS if a.loan_id == m.loan_id)
    assert params["name"] == acct.name[0] + "*"
    assert params["last4"] == acct.loan_id[-4:]
    assert params["amount"] == f"{acct.amount_fen / 100:,.2f}元"
    assert params["dpd"] == "5" and params["verify_code"] == CODE_PLACEHOLDER  # the code is not stored
    assert all(v in m.text for v in params.values())
    # the provider receives the code, filled in from the keyed HMAC as the message leaves
    return {**params, "verify_code": code_for(b"test-secret-key", m.idempotency_key)}


# --------------------------------------------------------------------------------------------------- tests


def delivered_once(ctx: AppContext, cid: int, sent: list[dict[str, Any]]) -> tuple[list[Message], dict[str, Any]]:
    """The campaign's messages, asserted all delivered, each sent in exactly one provider call; the calls by phone."""
    msgs = rows(ctx, cid)
    assert {m.state for m in msgs} == {"delivered"}, [(m.state, m.detail) for m in msgs]
    by_phone = {s["phone"]: s for s in sent}
    assert len(sent) == len(msgs) == len(by_phone)
    return msgs, by_phone


def test_aliyun_campaign_sends_registered_template_codes_and_each_borrowers_values(
        tmp_path: Path, sink: WebhookSink, aliyun_peer: AliyunPeer) -> None:
    ctx = make_ctx(tmp_path, {"aliyun": aliyun_settings(aliyun_peer)})
    cid = plan_on(ctx, tmp_path, "aliyun")

    # Before the codes are registered, the pilot is refused with the templates to register, nothing queued.
    with pytest.raises(StateError) as refused:
        lifecycle.start_pilot(ctx, cid, actor="wang.ops")
    assert refused.value.code == "state.template_unregistered"
    assert "M1 版本 1" in refused.value.message_zh and "M1_b 版本 1" in refused.value.message_zh
    assert "dunning templates codes" in refused.value.message_zh
    assert {m.state for m in rows(ctx, cid)} == {"planned"} and not aliyun_peer.sent

    tsvc.set_channel_codes(ctx, "M1", codes={"aliyun": "SMS_900001"}, actor="wang.ops")
    tsvc.set_channel_codes(ctx, "M1_b", 1, codes={"aliyun": "SMS_900002"}, actor="wang.ops")
    pilot_and_send(ctx, cid, sink, "aliyun")

    msgs, by_phone = delivered_once(ctx, cid, aliyun_peer.sent)
    for m in msgs:
        got = by_phone[m.phone.removeprefix("+86")]
        m1 = m.variant == "a"  # variant a renders M1, b renders M1_b
        assert got["template"] == ("SMS_900001" if m1 else "SMS_900002")
        assert got["params"] == expected_params(m, M1_ORDER if m1 else M1B_ORDER)
        assert got["sign"] == "阳光消费金融"
    with ctx.db.transaction() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "template.channel_codes",
                                                AuditEvent.entity_id == "M1@1")).one()
        assert ev.actor == "wang.ops" and ev.after == {"channel_codes": {"aliyun": "SMS_900001"}}


def test_tencent_campaign_sends_the_values_positionally_in_template_order(
        tmp_path: Path, sink: WebhookSink, tencent_peer: TencentPeer) -> None:
    ctx = make_ctx(tmp_path, {"tencent": tencent_settings(tencent_peer)})
    cid = plan_on(ctx, tmp_path, "tencent")
    tsvc.set_channel_codes(ctx, "M1", codes={"tencent": "1900001"}, actor="wang.ops")
    tsvc.set_channel_codes(ctx, "M1_b", codes={"tencent": "1900002"}, actor="wang.ops")
    pilot_and_send(ctx, cid, sink, "tencent")

    msgs, by_phone = delivered_once(ctx, cid, tencent_peer.sent)
    for m in msgs:
        got = by_phone[m.phone]
        order = M1_ORDER if m.variant == "a" else M1B_ORDER
        assert got["template"] == ("1900001" if m.variant == "a" else "1900002")
        assert got["params"] == list(expected_params(m, order).values())


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_queued_message_without_a_code_fails_with_a_clear_reason_and_is_never_sent(
        tmp_path: Path, aliyun_peer: AliyunPeer, database: str, request: pytest.FixtureRequest) -> None:
    """The safety net behind the pilot check: messages queued for a template channel (a fallback, or a code
    removed after the pilot) whose version has no code fail at the claim, once, with the fix in the detail."""
    url = request.getfixturevalue("fresh_pg") if database == "postgresql" else None
    ctx = make_ctx(tmp_path, {"aliyun": aliyun_settings(aliyun_peer)}, database_url=url)
    cid = plan_on(ctx, tmp_path, "aliyun")
    tsvc.set_channel_codes(ctx, "M1_b", codes={"aliyun": "SMS_900002"}, actor="wang.ops")
    with ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.campaign_id == cid).values(state="queued"))
        s.execute(update(Campaign).where(Campaign.id == cid).values(state="sending"))
        # one message as planned before params were stored: it cannot go either
        stale = s.scalars(select(Message.id).where(Message.campaign_id == cid, Message.variant == "b")
                          .order_by(Message.id.desc())).first()
        s.execute(update(Message).where(Message.id == stale).values(params=None))

    d = dispatcher(ctx, "aliyun", receipt_wait=0.0)

    async def go() -> DispatchOutcome:
        try:
            return await d.run(cid)
        finally:
            await ctx.close_channels()

    outcome = asyncio.run(asyncio.wait_for(go(), timeout=30))
    assert outcome.stopped == "done"
    msgs = rows(ctx, cid)
    unregistered = [m for m in msgs if m.variant == "a"]
    registered = [m for m in msgs if m.variant == "b" and m.id != stale]
    assert unregistered and registered
    assert outcome.progress.failed == len(unregistered) + 1
    old = next(m for m in msgs if m.id == stale)
    assert (old.state, old.reason) == ("failed", "template_params_missing") and "重新规划" in (old.detail or "")
    for m in unregistered:
        assert (m.state, m.reason, m.attempts) == ("failed", "template_unregistered", 1)
        assert m.detail is not None and "模板 M1 版本 1 未在通道 aliyun 登记模板编号" in m.detail
        assert "dunning templates codes M1 --version 1 --set aliyun=" in (m.detail or "")
    assert all(m.state == "submitted" for m in registered)
    assert sorted(s["phone"] for s in aliyun_peer.sent) == sorted(m.phone.removeprefix("+86") for m in registered)
    assert {s["template"] for s in aliyun_peer.sent} == {"SMS_900002"}
    for m, sent in zip(sorted(registered, key=lambda m: m.phone),
                       sorted(aliyun_peer.sent, key=lambda s: s["phone"]), strict=True):
        assert sent["params"] == expected_params(m, M1B_ORDER)
    ctx.db.dispose()


def test_codes_go_on_approved_versions_of_template_channels_only(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"ali-main": ChannelSettings(kind="aliyun", options={"endpoint": "127.0.0.1:9"})})
    v = tsvc.set_channel_codes(ctx, "M1", codes={"ali-main": " SMS_1 ", "tencent": "77"}, actor="wang.ops")
    assert v.channel_codes == {"ali-main": "SMS_1", "tencent": "77"}
    v = tsvc.set_channel_codes(ctx, "M1", 1, codes={"tencent": ""}, actor="wang.ops")  # empty removes...
    assert v.pending == "codes" and v.channel_codes == {"ali-main": "SMS_1", "tencent": "77"}
    v = tsvc.set_channel_codes(ctx, "M1", 1, codes={"tencent": ""}, actor="li.compliance")  # ...once reviewed
    assert v.channel_codes == {"ali-main": "SMS_1"}
    with pytest.raises(Exception) as bad:
        tsvc.set_channel_codes(ctx, "M1", codes={"sandbox": "X"}, actor="wang.ops")
    assert "不是模板短信通道" in getattr(bad.value, "message_zh", "")
    draft = tsvc.save(ctx, code="NEW1", text="${name}您好，请尽快还款。可致电客服核实，我司不会要求向个人账户转账。",
                      variables={"name": "masked_name"}, actor="wang.ops")
    with pytest.raises(StateError):
        tsvc.set_channel_codes(ctx, "NEW1", draft.version, codes={"aliyun": "SMS_2"}, actor="wang.ops")


def test_planning_stores_params_only_for_messages_that_carry_a_text(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {})
    cid = plan_on(ctx, tmp_path, "sandbox")
    msgs = rows(ctx, cid)
    assert msgs and all(m.params is not None for m in msgs if m.text is not None)
    assert all(m.params is None for m in msgs if m.text is None)
    first: dict[str, Any] = json.loads(msgs[0].params or "{}")
    assert first["hotline"] and first["app"]
