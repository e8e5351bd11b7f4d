"""Point 6: the documented Kannel setup works through the real Kannel — its dlr-url and get-url callbacks are GETs
to the running server, which settles the message and records the opt-out — and a tampered or replayed receipt,
or one from an address that is not the gateway's, is refused."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import select

from dunning.config import ChannelSettings
from dunning.db.models import Message, PhoneFlag
from dunning.entrypoints.app import create_app
from dunning.services.context import AppContext, build_context
from dunning.testing import FrozenClock
from tests.conftest import make_settings
from tests.dispatch.support import dispatcher
from tests.foundation.factories import seed_campaign
from tests.peers import started
from tests.peers.kannel import (
    PASSWORD,
    SENDER,
    USERNAME,
    KannelPeer,
    free_port,
    start_kannel,
)
from tests.peers.smpp_peer import SmppPeer

SECRET = "kannel-webhook-secret"
PHONE = "+8613800138000"


def _until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def served(tmp_path: Path, smpp_peer: SmppPeer) -> Iterator[tuple[AppContext, str, KannelPeer]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path)
    settings.channels["kannel"] = ChannelSettings(kind="http", options={
        "format": "kannel", "sendsms_path": "/cgi-bin/sendsms", "username": USERNAME, "sender": SENDER,
        "callback_url": f"{base}/api/v1/webhooks/kannel/dlr", "dlr_mask": 3},
        secrets={"password": SecretStr(PASSWORD), "webhook_secret": SecretStr(SECRET)})
    ctx = build_context(settings, clock=FrozenClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)).now)
    token = ctx.channel("kannel").mo_token()  # type: ignore[attr-defined]
    with started():
        kannel = start_kannel(tmp_path / "kannel", smpp_peer.port, f"{base}/api/v1/webhooks/kannel/mo?token={token}",
                              smpp_user=smpp_peer.system_id, smpp_password=smpp_peer.password)
    settings.channels["kannel"].options["base_url"] = kannel.base_url
    ctx._channels.clear()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert _until(lambda: server.started, 15), "the server did not start"
    try:
        yield ctx, base, kannel
    finally:
        server.should_exit = True
        thread.join(10)
        kannel.stop()


def _state(ctx: AppContext, cid: int) -> str:
    with ctx.db.transaction() as s:
        return str(s.scalar(select(Message.state).where(Message.campaign_id == cid)))


def test_kannel_get_callbacks_settle_messages_and_record_replies(served: Any, smpp_peer: SmppPeer) -> None:
    ctx, base, _kannel = served
    cid = seed_campaign(ctx, [PHONE])

    async def send() -> None:
        try:
            await dispatcher(ctx, "kannel").run(cid)
        finally:
            await ctx.close_channels()

    asyncio.run(send())
    assert _until(lambda: _state(ctx, cid) == "delivered"), f"state {_state(ctx, cid)}: Kannel's GET dlr-url"

    smpp_peer.send_mo(PHONE, "退订")

    def opted_out() -> bool:
        with ctx.db.transaction() as s:
            return "opted_out" in s.scalars(select(PhoneFlag.kind).where(PhoneFlag.phone == PHONE)).all()

    assert _until(opted_out), "Kannel's GET get-url (the reply) reached the server"

    # a receipt for the same reference claiming another status, signed with the genuine sig: refused
    with ctx.db.transaction() as s:
        key = s.scalar(select(Message.idempotency_key).where(Message.campaign_id == cid))
    sig = ctx.channel("kannel").ref_signature(key)
    forged = {"ref": key, "sig": sig, "type": "2", "reply": "id:1 stat:UNDELIV err:001"}
    r = httpx.get(f"{base}/api/v1/webhooks/kannel/dlr?{urlencode(forged)}", timeout=10)
    assert r.status_code == 409 and _state(ctx, cid) == "delivered"
    r = httpx.get(f"{base}/api/v1/webhooks/kannel/dlr?{urlencode({**forged, 'sig': '0' * 32})}", timeout=10)
    assert r.status_code == 401


def test_kannel_callbacks_from_elsewhere_are_refused(tmp_path: Path) -> None:
    from dunning.channels.base import WebhookRequest
    from dunning.channels.http import HttpChannel

    ch = HttpChannel("kannel", ChannelSettings(kind="http", options={"format": "kannel"},
                                               secrets={"webhook_secret": SecretStr(SECRET)}))
    q = {"from": PHONE, "text": "TD", "token": ch.mo_token()}
    assert ch.verify_webhook(WebhookRequest("GET", "/mo", {}, b"", q, client="127.0.0.1"))
    assert not ch.verify_webhook(WebhookRequest("GET", "/mo", {}, b"", q, client="203.0.113.9"))
