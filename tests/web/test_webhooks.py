"""Provider callbacks: a signed DLR settles the message, a signed MO opt-out flags the phone, a bad signature is
refused (and logged) without touching anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from dunning.db.models import DeliveryReportRow, Message, PhoneFlag
from dunning.services.context import AppContext
from tests.web.seed import OTHER_PHONE, Seeded

SANDBOX_SECRET = b"sandbox"  # the sandbox channel's default webhook secret


def _signed(payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    sig = hmac.new(SANDBOX_SECRET, body, hashlib.sha256).hexdigest()
    return body, {"x-sandbox-signature": sig, "content-type": "application/json"}


def _dlr_count(ctx: AppContext) -> int:
    with ctx.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(DeliveryReportRow)) or 0)


def test_signed_dlr_settles_the_message(app: object, seeded: Seeded, web_ctx: AppContext) -> None:
    with web_ctx.db.transaction() as s:  # the message was accepted by the channel and awaits its receipt
        s.execute(update(Message).where(Message.id == seeded.other_message_id).values(state="submitted",
                                                                                      final_at=None))
    body, headers = _signed({"dlr": [{"id": "sbx-1", "stat": "UNDELIV", "err": "001", "done": None}], "mo": []})
    r = TestClient(app).post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 200 and r.json()["dlr"] == 1 and r.json()["dlr_unmatched"] == 0
    with web_ctx.db.transaction() as s:
        assert s.get(Message, seeded.other_message_id).state == "failed"  # type: ignore[union-attr]


def test_signed_mo_opt_out_flags_the_phone(app: object, web_ctx: AppContext) -> None:
    body, headers = _signed({"dlr": [], "mo": [{"from": OTHER_PHONE, "text": "退订", "received": None}]})
    r = TestClient(app).post("/api/v1/webhooks/sandbox/mo", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 200 and r.json()["opt_out"] == 1
    with web_ctx.db.transaction() as s:
        kinds = s.scalars(select(PhoneFlag.kind).where(PhoneFlag.phone == OTHER_PHONE)).all()
    assert "opted_out" in kinds


def test_bad_signature_is_refused_logged_and_ignored(app: object, web_ctx: AppContext,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    body, headers = _signed({"dlr": [{"id": "sbx-1", "stat": "DELIVRD"}], "mo": []})
    headers["x-sandbox-signature"] = "0" * 64
    before = _dlr_count(web_ctx)
    with caplog.at_level(logging.WARNING, logger="dunning.webhooks"):
        r = TestClient(app).post("/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 401 and r.json()["error"]["code"] == "webhook.signature"
    assert any("signature does not verify" in m for m in caplog.messages)
    assert _dlr_count(web_ctx) == before


def test_unknown_channel_and_unparseable_body(app: object) -> None:
    c = TestClient(app)  # type: ignore[arg-type]
    assert c.post("/api/v1/webhooks/nope/dlr", content=b"{}").status_code == 404
    body = b"[1, 2, 3]"
    sig = hmac.new(SANDBOX_SECRET, body, hashlib.sha256).hexdigest()
    r = c.post("/api/v1/webhooks/sandbox/dlr", content=body, headers={"x-sandbox-signature": sig})
    assert r.status_code == 422 and r.json()["error"]["code"] == "input.webhook"


def test_deeply_nested_signed_body_is_422_not_a_server_error(app: object) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    sig = hmac.new(SANDBOX_SECRET, body, hashlib.sha256).hexdigest()
    r = TestClient(app, raise_server_exceptions=False).post(  # type: ignore[arg-type]
        "/api/v1/webhooks/sandbox/dlr", content=body, headers={"x-sandbox-signature": sig})
    assert r.status_code == 422 and r.json()["error"]["code"] == "input.webhook"


@pytest.mark.parametrize("sender", [{"a": 1}, "1" * 5000, "+86 138 abc"])
def test_mo_whose_sender_is_not_a_phone_is_refused(app: object, web_ctx: AppContext, sender: object) -> None:
    from dunning.db.models import Reply

    with web_ctx.db.transaction() as s:
        before = s.scalar(select(func.count()).select_from(Reply))
    body, headers = _signed({"dlr": [], "mo": [{"from": sender, "text": "TD", "received": None}]})
    r = TestClient(app).post("/api/v1/webhooks/sandbox/mo", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 422 and r.json()["error"]["code"] == "input.webhook_sender"
    with web_ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Reply)) == before


def test_no_200_unless_the_events_were_committed(app: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store, then acknowledge: when storing fails the provider must not hear "OK" (it would not retry)."""
    import dunning.entrypoints.api.webhooks as hooks

    def broken(*_a: object, **_k: object) -> dict[str, int]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(hooks, "ingest_events", broken)
    body, headers = _signed({"dlr": [{"id": "sbx-9", "stat": "DELIVRD", "err": "000", "done": None}], "mo": []})
    r = TestClient(app, raise_server_exceptions=False).post(  # type: ignore[arg-type]
        "/api/v1/webhooks/sandbox/dlr", content=body, headers=headers)
    assert r.status_code >= 500
