"""Provider callbacks: a signed DLR settles the message, a signed MO opt-out flags the phone, a bad signature is
refused (and logged) without touching anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from dunning.db.models import DeliveryReportRow, Message, PhoneFlag
from dunning.services.context import AppContext
from tests.web.seed import OTHER_PHONE, Seeded


def sandbox_secret(ctx: AppContext) -> bytes:
    """The installation's sandbox webhook secret: random, in the data directory (never a default in code)."""
    return (ctx.settings.data_dir / "sandbox-webhook-sandbox.key").read_text().strip().encode()


def signed(ctx: AppContext, payload: dict[str, object] | bytes, path: str,
           ts: float | None = None) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    ctx.channel("sandbox")  # creates the per-install secret on first use
    stamp = str(int(time.time() if ts is None else ts))
    sig = hmac.new(sandbox_secret(ctx), f"{stamp}\nPOST\n{path}\n".encode() + body, hashlib.sha256).hexdigest()
    return body, {"x-sandbox-timestamp": stamp, "x-sandbox-signature": sig, "content-type": "application/json"}


def _dlr_count(ctx: AppContext) -> int:
    with ctx.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(DeliveryReportRow)) or 0)


def test_signed_dlr_settles_the_message(app: object, seeded: Seeded, web_ctx: AppContext) -> None:
    with web_ctx.db.transaction() as s:  # the message was accepted by the channel and awaits its receipt
        s.execute(update(Message).where(Message.id == seeded.other_message_id).values(state="submitted",
                                                                                      final_at=None))
    body, headers = signed(web_ctx, {"dlr": [{"id": "sbx-1", "stat": "UNDELIV", "err": "001", "done": None}],
                                     "mo": []}, "/api/v1/webhooks/sandbox/dlr")
    r = TestClient(app).post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 200 and r.json()["dlr"] == 1 and r.json()["dlr_unmatched"] == 0
    with web_ctx.db.transaction() as s:
        assert s.get(Message, seeded.other_message_id).state == "failed"  # type: ignore[union-attr]


def test_signed_mo_opt_out_flags_the_phone(app: object, web_ctx: AppContext) -> None:
    body, headers = signed(web_ctx, {"dlr": [], "mo": [{"from": OTHER_PHONE, "text": "退订", "received": None}]},
                           "/api/v1/webhooks/sandbox/mo")
    r = TestClient(app).post("/api/v1/webhooks/sandbox/mo", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 200 and r.json()["opt_out"] == 1
    with web_ctx.db.transaction() as s:
        kinds = s.scalars(select(PhoneFlag.kind).where(PhoneFlag.phone == OTHER_PHONE)).all()
    assert "opted_out" in kinds


def test_bad_signature_is_refused_logged_and_ignored(app: object, web_ctx: AppContext,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    body, headers = signed(web_ctx, {"dlr": [{"id": "sbx-1", "stat": "DELIVRD"}], "mo": []},
                           "/api/v1/webhooks/sandbox/dlr")
    headers["x-sandbox-signature"] = "0" * 64
    before = _dlr_count(web_ctx)
    with caplog.at_level(logging.WARNING, logger="dunning.webhooks"):
        r = TestClient(app).post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 401 and r.json()["error"]["code"] == "webhook.signature"
    assert any("signature does not verify" in m for m in caplog.messages)
    assert _dlr_count(web_ctx) == before


def test_unknown_channel_and_unparseable_body(app: object, web_ctx: AppContext) -> None:
    c = TestClient(app)  # type: ignore[arg-type]
    assert c.post("/api/v1/webhooks/nope/dlr", content=b"{}").status_code == 404
    body, headers = signed(web_ctx, b"[1, 2, 3]", "/api/v1/webhooks/sandbox/dlr")
    r = c.post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "input.webhook"


# ------------------------------------------------------------------------------- forgery and replay (issue 17.1)

def _opted_out(ctx: AppContext, phone: str) -> bool:
    with ctx.db.transaction() as s:
        return "opted_out" in s.scalars(select(PhoneFlag.kind).where(PhoneFlag.phone == phone)).all()


def test_a_body_signed_with_the_old_hard_coded_secret_is_refused(app: object, web_ctx: AppContext) -> None:
    body = json.dumps({"dlr": [], "mo": [{"from": OTHER_PHONE, "text": "退订", "received": None}]}).encode()
    old = hmac.new(b"sandbox", body, hashlib.sha256).hexdigest()
    stamp = str(int(time.time()))
    forged = hmac.new(b"sandbox", f"{stamp}\nPOST\n/api/v1/webhooks/sandbox/mo\n".encode() + body,
                      hashlib.sha256).hexdigest()
    c = TestClient(app)  # type: ignore[arg-type]
    for headers in ({"x-sandbox-signature": old}, {"x-sandbox-timestamp": stamp, "x-sandbox-signature": forged}):
        assert c.post("/api/v1/webhooks/sandbox/mo", content=body, headers=headers).status_code == 401
    assert not _opted_out(web_ctx, OTHER_PHONE)
    key = web_ctx.settings.data_dir / "sandbox-webhook-sandbox.key"
    assert len(key.read_text().strip()) == 64 and key.stat().st_mode & 0o777 == 0o600


def test_a_replayed_or_stale_or_retargeted_webhook_is_refused(app: object, seeded: Seeded,
                                                              web_ctx: AppContext) -> None:
    with web_ctx.db.transaction() as s:
        s.execute(update(Message).where(Message.id == seeded.other_message_id).values(state="submitted",
                                                                                      final_at=None))
    c = TestClient(app)  # type: ignore[arg-type]
    before = _dlr_count(web_ctx)
    payload = {"dlr": [{"id": "sbx-1", "stat": "UNDELIV", "err": "001", "done": None}], "mo": []}
    body, headers = signed(web_ctx, payload, "/api/v1/webhooks/sandbox/dlr")
    assert c.post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers).status_code == 200
    again = c.post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "webhook.replay"
    assert _dlr_count(web_ctx) == before + 1
    # a signature made for another path, or a timestamp outside the window, does not verify
    assert c.post("/api/v1/webhooks/sandbox/mo", content=body, headers=headers).status_code == 401
    body, headers = signed(web_ctx, payload, "/api/v1/webhooks/sandbox/dlr", ts=time.time() - 3600)
    assert c.post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers).status_code == 401
    assert _dlr_count(web_ctx) == before + 1


def test_a_channel_without_a_secret_refuses_every_webhook(app: object, web_ctx: AppContext) -> None:
    from dunning.config import ChannelSettings

    web_ctx.settings.channels["gw"] = ChannelSettings(kind="http", options={"format": "json"})
    try:
        r = TestClient(app).post("/api/v1/webhooks/gw/dlr", content=b'{"type": "dlr", "events": []}',  # type: ignore[arg-type]
                                 headers={"x-timestamp": str(int(time.time())), "x-signature": "0" * 64})
        assert r.status_code == 401
    finally:
        del web_ctx.settings.channels["gw"]


def test_an_oversized_body_is_refused_before_it_is_read_whole(app: object, web_ctx: AppContext) -> None:
    from dunning.entrypoints.api.webhooks import MAX_BODY

    def chunks() -> object:
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536

    r = TestClient(app).post("/api/v1/webhooks/sandbox/dlr", content=chunks())  # type: ignore[arg-type]
    assert r.status_code == 413


def test_deeply_nested_signed_body_is_422_not_a_server_error(app: object, web_ctx: AppContext) -> None:
    body, headers = signed(web_ctx, b"[" * 100_000 + b"]" * 100_000, "/api/v1/webhooks/sandbox/dlr")
    r = TestClient(app, raise_server_exceptions=False).post(  # type: ignore[arg-type]
        "/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "input.webhook"


@pytest.mark.parametrize("sender", [{"a": 1}, "1" * 5000, "+86 138 abc"])
def test_mo_whose_sender_is_not_a_phone_is_refused(app: object, web_ctx: AppContext, sender: object) -> None:
    from dunning.db.models import Reply

    with web_ctx.db.transaction() as s:
        before = s.scalar(select(func.count()).select_from(Reply))
    body, headers = signed(web_ctx, {"dlr": [], "mo": [{"from": sender, "text": "TD", "received": None}]},
                           "/api/v1/webhooks/sandbox/mo")
    r = TestClient(app).post("/api/v1/webhooks/sandbox/mo", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 422 and r.json()["error"]["code"] == "input.webhook_sender"
    with web_ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Reply)) == before


def test_no_200_unless_the_events_were_committed(app: object, web_ctx: AppContext,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Store, then acknowledge: when storing fails the provider must not hear "OK" (it would not retry)."""
    import dunning.entrypoints.api.webhooks as hooks

    def broken(*_a: object, **_k: object) -> dict[str, int]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(hooks, "ingest_events", broken)
    body, headers = signed(web_ctx, {"dlr": [{"id": "sbx-9", "stat": "DELIVRD", "err": "000", "done": None}],
                                     "mo": []}, "/api/v1/webhooks/sandbox/dlr")
    r = TestClient(app, raise_server_exceptions=False).post(  # type: ignore[arg-type]
        "/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)
    assert r.status_code >= 500
