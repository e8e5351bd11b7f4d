"""Point 9: ids past what the database holds are a 422, not a 500; point 6: phones leave URLs and access logs."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from dunning.entrypoints.http.logscrub import AccessLogScrubber
from dunning.services.identity.users import Role
from tests.web.seed import Seeded


@pytest.mark.parametrize("path", ["/api/v1/messages/99999999999999999999", "/api/v1/campaigns/99999999999999999999",
                                  "/api/v1/imports/99999999999999999999", "/api/v1/campaigns/9223372036854775808",
                                  "/api/v1/messages/0", "/api/v1/campaigns/-1"])
def test_out_of_range_ids_are_refused_not_a_server_error(app: object, seeded: Seeded, path: str) -> None:
    c = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    r = c.get(path, headers={"Authorization": f"Bearer {seeded.tokens[Role.ADMIN]}"})
    assert r.status_code == 422, r.text


def test_the_largest_id_is_simply_not_found(app: object, seeded: Seeded) -> None:
    c = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    r = c.get("/api/v1/messages/9223372036854775807", headers={"Authorization": f"Bearer {seeded.tokens[Role.ADMIN]}"})
    assert r.status_code == 404


def test_phone_search_moves_into_the_body(app: object, seeded: Seeded) -> None:
    c = TestClient(app)  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {seeded.tokens[Role.ADMIN]}"}
    by_body = c.post("/api/v1/messages/search", json={"loan_id": "L0001"}, headers=h)
    assert by_body.status_code == 200 and by_body.json()["items"]
    phone = by_body.json()["items"][0]["phone"]
    assert c.post("/api/v1/messages/search", json={"phone": phone}, headers=h).json()["items"]
    # the old URL form no longer searches by phone: the parameter is not part of the API
    assert "phone" not in {p["name"] for p in c.get("/api/v1/openapi.json").json()["paths"]["/api/v1/messages"]
                           ["get"]["parameters"]}


def test_reply_search_by_phone_moves_into_the_body(app: object, seeded: Seeded) -> None:
    c = TestClient(app)  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {seeded.tokens[Role.ADMIN]}"}
    listed = c.get("/api/v1/replies", headers=h).json()["items"]
    assert listed, "the seed has replies"
    phone = listed[0]["phone"]
    found = c.post("/api/v1/replies/search", json={"phone": phone}, headers=h).json()["items"]
    assert found and all(r["phone"] == phone for r in found)
    assert c.post("/api/v1/replies/search", json={"phone": "+8613900000000"}, headers=h).json()["items"] == []
    # the URL form does not take a phone: the parameter is not part of the API
    assert "phone" not in {p["name"] for p in c.get("/api/v1/openapi.json").json()["paths"]["/api/v1/replies"]
                           ["get"]["parameters"]}


def test_access_log_keeps_no_query_string_nor_phone(app: object) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/api/v1/webhooks/kannel/mo?token=abc&from=%2B8613812345678"
                                "&text=TD", "1.1", 200), None)
    logger = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, AccessLogScrubber) for f in logger.filters), "create_app installs the scrubber"
    assert logger.filter(record)
    line = record.getMessage()
    assert "token" not in line and "13812345678" not in line and "/api/v1/webhooks/kannel/mo?…" in line
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/verify/13812345678", "1.1", 404), None)
    logger.filter(record)
    assert "13812345678" not in record.getMessage()


def test_every_id_in_a_path_declares_its_limits_for_schemathesis(app: object) -> None:
    """The fuzz test (tests/web/test_api_fuzz.py) generates path parameters from these bounds, so it tries ids at
    both limits; an unbounded integer would let it skip the overflow the issue found."""
    doc = TestClient(app).get("/api/v1/openapi.json").json()  # type: ignore[arg-type]
    unbounded = [f"{method.upper()} {path} {p['name']}" for path, ops in doc["paths"].items()
                 for method, op in ops.items() for p in op.get("parameters", [])
                 if p["in"] == "path" and p["schema"].get("type") == "integer"
                 and not ("maximum" in p["schema"] and "minimum" in p["schema"])]
    assert unbounded == []


def test_audit_rows_say_whether_an_action_came_through_the_web_or_the_api(app: object, seeded: Seeded,
                                                                         web_ctx: object) -> None:
    from sqlalchemy import select

    from dunning.db.models import AuditEvent
    from tests.web.conftest import login_as

    op = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    assert op.get(f"/imports/{seeded.import_id}/rejects.csv").status_code == 200  # type: ignore[attr-defined]
    h = {"Authorization": f"Bearer {seeded.tokens[Role.OPERATOR]}"}
    r = TestClient(app).get(f"/api/v1/imports/{seeded.import_id}/rejects.csv", headers=h)  # type: ignore[arg-type]
    assert r.status_code == 200
    with web_ctx.db.transaction() as s:  # type: ignore[attr-defined]
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == "import.rejects_download")
                         .order_by(AuditEvent.id)).all()
        assert [(e.via, e.os_user) for e in rows] == [("web", None), ("api", None)]
