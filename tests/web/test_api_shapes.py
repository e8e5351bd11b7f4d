"""The API's JSON keeps its keys: the bodies are built from the read models (``from_attributes``), so a field added
to a read model for the console must not leak into the API unasked, and none may go missing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from dunning.services.identity.users import Role
from tests.web.seed import Seeded

IMPORT = {"import_id", "as_of", "files", "rows", "accepted", "rejected", "created_by", "created_at", "has_report"}
PROGRESS = {"campaign_id", "name", "state", "state_zh", "as_of", "channel", "pause_reason", "counts", "pilot_counts",
            "to_send", "done", "accepted", "delivered", "failed", "suppressed", "pct", "pilot_total", "pilot_pending"}
MESSAGE = {"message_id", "campaign_id", "loan_id", "phone", "state", "reason", "segment", "step", "variant",
           "is_pilot", "parts", "submitted_at", "final_at"}
AUDIT = {"event_id", "at", "actor", "action", "entity", "entity_id", "before", "after"}
TEMPLATE = {"code", "name", "tone", "stage", "profile", "latest_version", "latest_status", "approved_version", "text"}
VERSION = {"version_id", "version", "status", "author", "reviewer", "text", "variables", "findings", "created_at",
           "approved_at"}


def _get(app: object, seeded: Seeded, role: Role, path: str) -> Any:
    r = TestClient(app).get(path, headers={"Authorization": f"Bearer {seeded.tokens[role]}"})  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return r.json()


def test_api_bodies_keep_their_keys(app: object, seeded: Seeded) -> None:
    imports = _get(app, seeded, Role.OPERATOR, "/api/v1/imports")
    assert set(imports) == {"items", "next_cursor"} and imports["items"]
    assert all(set(i) == IMPORT for i in imports["items"])
    detail = _get(app, seeded, Role.OPERATOR, f"/api/v1/imports/{seeded.import_id}")
    assert set(detail) == IMPORT | {"reasons"}
    assert all(set(r) == {"code", "count", "example"} for r in detail["reasons"])

    campaigns = _get(app, seeded, Role.OPERATOR, "/api/v1/campaigns")
    assert campaigns["items"] and all(set(p) == PROGRESS for p in campaigns["items"])
    campaign = _get(app, seeded, Role.OPERATOR, f"/api/v1/campaigns/{seeded.campaign_id}")
    assert set(campaign) == {"progress", "plan", "funnel", "strategy", "import_id", "suppressed_by_reason", "pilot"}
    assert set(campaign["progress"]) == PROGRESS
    assert set(campaign["funnel"]) == {"planned", "sent", "delivered", "repaid"}
    progress = _get(app, seeded, Role.OPERATOR, f"/api/v1/campaigns/{seeded.campaign_id}/progress")
    assert progress == campaign["progress"]

    messages = _get(app, seeded, Role.ADMIN, f"/api/v1/messages?campaign_id={seeded.campaign_id}")
    assert messages["items"] and all(set(m) == MESSAGE for m in messages["items"])
    message = _get(app, seeded, Role.ADMIN, f"/api/v1/messages/{seeded.other_message_id}")
    assert set(message) == {"message", "text", "detail", "channel", "provider_id", "attempts", "template",
                            "template_version", "account", "timeline"}
    assert set(message["message"]) == MESSAGE and message["message"]["message_id"] == seeded.other_message_id
    assert message["timeline"] and all(set(t) == {"at", "kind", "text_zh", "text_en"} for t in message["timeline"])

    audit = _get(app, seeded, Role.COMPLIANCE, "/api/v1/audit")
    assert audit["items"] and all(set(e) == AUDIT for e in audit["items"])
    templates = _get(app, seeded, Role.OPERATOR, "/api/v1/templates")
    assert templates and all(set(t) == TEMPLATE for t in templates)
    history = _get(app, seeded, Role.OPERATOR, f"/api/v1/templates/{seeded.template_code}")
    assert set(history) == {"template", "versions"} and set(history["template"]) == TEMPLATE
    assert history["versions"] and all(set(v) == VERSION for v in history["versions"])
