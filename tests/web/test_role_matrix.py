"""Every route declares its roles; walking the whole route × role matrix proves the declaration is enforced.

The table below is the permission specification: a route whose declaration differs from it, or a route not in
it, fails the test — so a permission change is always a deliberate edit here, reviewed with the code.
Allowed → 2xx (a write may also answer 3xx, or a domain refusal such as 404/409/422 for the seeded state, but
never 401/403); denied → 403; anonymous → 303 to /login (pages) or 401 (API).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from dunning.entrypoints.http.security import Allow
from dunning.services.identity.users import Role
from tests.web.conftest import Browser, login_as
from tests.web.seed import Seeded

A, S, C, OP, V, G = Role.ADMIN, Role.STRATEGIST, Role.COMPLIANCE, Role.OPERATOR, Role.VIEWER, Role.AGENCY
COL, TL, SUP = Role.COLLECTOR, Role.TEAM_LEAD, Role.SUPERVISOR
ALL = {A, S, C, OP, V, G, COL, TL, SUP}
STAFF = {A, S, C, OP, V}
PUBLIC = None

SPEC: dict[tuple[str, str], set[Role] | None] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/lang/{code}"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/api/v1/docs"): PUBLIC,
    ("POST", "/logout"): ALL,
    ("GET", "/"): ALL,
    ("GET", "/events/dashboard"): ALL,
    ("GET", "/imports"): STAFF,
    ("POST", "/imports"): {A, OP},
    ("POST", "/imports/payments"): {A, OP},
    ("GET", "/imports/{import_id}"): STAFF,
    ("GET", "/imports/{import_id}/rejects.{fmt}"): {A, OP, C},
    ("GET", "/jobs/{job_id}"): STAFF,
    ("GET", "/jobs/{job_id}/events"): STAFF,
    ("GET", "/templates"): STAFF,
    ("GET", "/templates/{code}"): STAFF,
    ("POST", "/templates"): {A, S, C, OP},
    ("POST", "/templates/{code}/check"): STAFF,
    ("POST", "/templates/{code}"): {A, S, C, OP},
    ("POST", "/templates/{code}/versions/{version}/submit"): {A, S, C, OP},
    ("POST", "/templates/{code}/versions/{version}/approve"): {A, C},
    ("POST", "/templates/{code}/versions/{version}/reject"): {A, C},
    ("POST", "/templates/{code}/versions/{version}/retire"): {A, S, C, OP},
    ("POST", "/templates/{code}/versions/{version}/codes"): {A, S, C, OP},
    ("GET", "/campaigns"): STAFF,
    ("POST", "/campaigns"): {A, OP},
    ("GET", "/campaigns/{campaign_id}"): STAFF,
    ("GET", "/campaigns/{campaign_id}/events"): STAFF,
    ("POST", "/campaigns/{campaign_id}/pilot"): {A, OP},
    ("POST", "/campaigns/{campaign_id}/approve"): {A, C},
    ("POST", "/campaigns/{campaign_id}/send"): {A, OP},
    ("POST", "/campaigns/{campaign_id}/pause"): {A, OP, C},
    ("POST", "/campaigns/{campaign_id}/held/resolve"): {A, C},
    ("POST", "/campaigns/{campaign_id}/resume"): {A, OP},
    ("POST", "/campaigns/{campaign_id}/cancel"): {A, OP},
    ("GET", "/campaigns/{campaign_id}/report.xlsx"): STAFF,
    ("GET", "/campaigns/{campaign_id}/report.html"): STAFF,
    ("GET", "/messages"): ALL,
    ("GET", "/messages/{message_id}"): ALL,
    ("GET", "/replies"): ALL,
    ("GET", "/trends"): ALL,
    ("GET", "/audit"): {A, C},
    ("GET", "/admin/users"): {A},
    ("POST", "/admin/users"): {A},
    ("POST", "/admin/users/{username}/password"): {A},
    ("POST", "/admin/users/{username}/unlock"): {A},
    ("POST", "/admin/users/{username}/active"): {A},
    ("POST", "/admin/users/{username}/token"): {A},
    ("POST", "/admin/users/{username}/revoke"): {A},
    ("GET", "/admin/calendar"): {A},
    ("POST", "/admin/calendar"): {A},
    ("GET", "/api/v1/me"): ALL,
    ("GET", "/api/v1/imports"): STAFF,
    ("POST", "/api/v1/imports"): {A, OP},
    ("GET", "/api/v1/imports/{import_id}"): STAFF,
    ("GET", "/api/v1/imports/{import_id}/rejects.{fmt}"): {A, OP, C},
    ("GET", "/api/v1/campaigns"): STAFF,
    ("POST", "/api/v1/campaigns"): {A, OP},
    ("GET", "/api/v1/campaigns/{campaign_id}"): STAFF,
    ("GET", "/api/v1/campaigns/{campaign_id}/progress"): STAFF,
    ("POST", "/api/v1/campaigns/{campaign_id}/pilot"): {A, OP},
    ("GET", "/api/v1/campaigns/{campaign_id}/pilot"): STAFF,
    ("GET", "/api/v1/campaigns/{campaign_id}/report.html"): STAFF,
    ("POST", "/api/v1/campaigns/{campaign_id}/approve"): {A, C},
    ("POST", "/api/v1/campaigns/{campaign_id}/send"): {A, OP},
    ("POST", "/api/v1/campaigns/{campaign_id}/pause"): {A, OP, C},
    ("GET", "/api/v1/campaigns/{campaign_id}/held"): {A, C},
    ("POST", "/api/v1/campaigns/{campaign_id}/held/resolve"): {A, C},
    ("POST", "/api/v1/campaigns/{campaign_id}/resume"): {A, OP},
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel"): {A, OP},
    ("GET", "/api/v1/jobs/{job_id}"): STAFF,
    ("GET", "/api/v1/messages"): ALL,
    ("POST", "/api/v1/messages/search"): ALL,
    ("GET", "/api/v1/replies"): ALL,
    ("POST", "/api/v1/replies/search"): ALL,
    ("GET", "/api/v1/messages/{message_id}"): ALL,
    ("GET", "/api/v1/audit"): {A, C},
    ("GET", "/api/v1/templates"): STAFF,
    ("GET", "/api/v1/templates/{code}"): STAFF,
    ("POST", "/api/v1/webhooks/{channel}/{kind}"): PUBLIC,
    ("GET", "/api/v1/webhooks/{channel}/{kind}"): PUBLIC,  # Kannel calls back with GET
    # authenticity verification (issue 8): public page and API, and the hotline's lookup inside the console
    ("GET", "/verify"): PUBLIC,
    ("POST", "/verify"): PUBLIC,
    ("GET", "/identity"): PUBLIC,
    ("POST", "/api/v1/verify"): PUBLIC,
    ("GET", "/hotline"): {A, OP, C, V},
    ("POST", "/hotline"): {A, OP, C, V},
    # field visits (issue 21): requests and registration, the live board, route sheets, the field page
    ("GET", "/visits"): {A, SUP, TL, COL, C},
    ("POST", "/visits"): {A, TL, COL},
    ("GET", "/visits/{visit_id}"): {A, SUP, TL, COL, C},
    ("POST", "/visits/{visit_id}/approve"): {A, SUP},
    ("POST", "/visits/{visit_id}/reject"): {A, SUP},
    ("POST", "/visits/{visit_id}/notice"): {A, SUP},
    ("POST", "/visits/{visit_id}/complaint"): {A, C},
    ("GET", "/visits/board"): {A, SUP, TL},
    ("GET", "/visits/board/events"): {A, SUP, TL},
    ("POST", "/visits/alarms/{alarm_id}/ack"): {A, SUP},
    ("GET", "/visits/routes"): {A, SUP, TL, COL},
    ("GET", "/visits/accounts/{loan_id}"): {A, SUP, TL, COL, C},
    ("GET", "/field"): {A, TL, COL},
    ("GET", "/field/visits/{visit_id}"): {A, TL, COL},
    ("POST", "/field/visits/{visit_id}/checkin"): {A, TL, COL},
    ("POST", "/field/visits/{visit_id}/outcome"): {A, TL, COL},
    ("POST", "/field/visits/{visit_id}/checkout"): {A, TL, COL},
    ("POST", "/field/visits/{visit_id}/sos"): {A, TL, COL},
    ("GET", "/visit-check"): PUBLIC,
    # outsourced agencies (issue 22): registry, tenders, allocation; agency users see only their own
    ("GET", "/agencies"): STAFF | {G},
    ("POST", "/agencies"): {A, C},
    ("GET", "/agencies/{agency_id}"): STAFF | {G},
    ("POST", "/agencies/{agency_id}/status"): {A, C},
    ("POST", "/agencies/{agency_id}/documents"): {A, C},
    ("POST", "/agencies/{agency_id}/evaluation"): {A, C},
    ("GET", "/tenders"): STAFF | {G},
    ("POST", "/tenders"): {A, S},
    ("GET", "/tenders/{tender_id}"): STAFF | {G},
    ("POST", "/tenders/{tender_id}/bids"): {A, G},
    ("POST", "/tenders/{tender_id}/conflicts"): STAFF,
    ("POST", "/tenders/{tender_id}/scores"): STAFF,
    ("POST", "/tenders/{tender_id}/award"): {A, S},
    ("POST", "/tenders/{tender_id}/approve"): {A, C},
    ("GET", "/tenders/{tender_id}/report.{fmt}"): STAFF,
    ("GET", "/allocations"): STAFF | {G},
    ("POST", "/allocations"): {A, OP, S},
    ("GET", "/allocations/{period_id}"): STAFF | {G},
    ("POST", "/allocations/{period_id}/notice"): {A, OP, S},
    ("POST", "/allocations/{period_id}/recall"): {A, OP, S},
    ("POST", "/allocations/{period_id}/close"): {A, C},
    ("GET", "/allocations/{period_id}/commission.{fmt}"): STAFF | {G},
    ("GET", "/api/v1/agencies"): STAFF | {G},
    ("GET", "/api/v1/agencies/tenders/{tender_id}/sheet"): STAFF,
    ("POST", "/api/v1/agencies/tenders/{tender_id}/bids"): {A, G},
    ("GET", "/api/v1/agencies/periods/{period_id}"): STAFF | {G},
    # borrower cases (issue 20): self-service after verification, the console's queue and case page, the API
    ("GET", "/help"): PUBLIC,
    ("POST", "/help"): PUBLIC,
    ("GET", "/cases"): {A, OP, C, G},
    ("POST", "/cases"): {A, OP, C},
    ("POST", "/cases/assign"): {A, OP, C},
    ("GET", "/cases/{case_id}"): {A, OP, C, G},
    ("POST", "/cases/{case_id}/note"): {A, OP, C, G},
    ("POST", "/cases/{case_id}/transition"): {A, OP, C, G},
    ("POST", "/cases/{case_id}/assign"): {A, OP, C},
    ("POST", "/cases/{case_id}/resolve"): {A, OP, C, G},
    ("GET", "/api/v1/cases"): {A, OP, C, G},
    ("POST", "/api/v1/cases"): {A, OP, C},
    ("POST", "/api/v1/cases/assign"): {A, OP, C},
    ("GET", "/api/v1/cases/{case_id}"): {A, OP, C, G},
    ("POST", "/api/v1/cases/{case_id}/notes"): {A, OP, C, G},
    ("POST", "/api/v1/cases/{case_id}/transition"): {A, OP, C, G},
    ("POST", "/api/v1/cases/{case_id}/resolve"): {A, OP, C, G},
}


def declared(route: APIRoute) -> list[Allow]:
    found: list[Allow] = []
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        if isinstance(d.call, Allow):
            found.append(d.call)
        stack.extend(d.dependencies)
    return found


def routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """Every API route of the app with its effective (prefixed) path, included routers flattened."""
    out = []
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        if isinstance(route, APIRoute):
            out.extend((m, str(rc.path), route) for m in (rc.methods or ()))
    return sorted(out, key=lambda x: (x[1], x[0]))


def test_every_route_declares_exactly_the_specified_roles(app: FastAPI) -> None:
    seen = set()
    for method, path, route in routes(app):
        allows = declared(route)
        assert len(allows) == 1, f"{method} {path} declares {len(allows)} role checks (needs exactly one)"
        key = (method, path)
        assert key in SPEC, f"{method} {path} is not in the permission table of this test"
        want = SPEC[key]
        got = allows[0]
        if want is None:
            assert got.public, f"{method} {path} should be public"
        else:
            assert not got.public and set(got.roles) | {A} == want, f"{method} {path}: {got!r} != {want}"
        seen.add(key)
    assert seen == set(SPEC), f"routes in the table but not in the app: {set(SPEC) - seen}"


def _fill(path: str, seeded: Seeded, job_id: str) -> str:
    values = {"import_id": seeded.import_id, "campaign_id": seeded.campaign_id, "message_id": seeded.agency_message_id,
              "job_id": job_id, "code": seeded.template_code, "username": "target1", "fmt": "csv", "channel": "sandbox",
              "kind": "dlr", "version": 1, "visit_id": seeded.visit_id, "alarm_id": seeded.alarm_id,
              "loan_id": "L0001", "agency_id": seeded.agency_id,
              "tender_id": seeded.tender_id, "period_id": seeded.period_id, "case_id": seeded.case_id}
    out = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)
    if "/report." in out and out.startswith("/tenders/"):
        out = out.replace("/report.csv", "/report.html")
    if out.endswith("/events") or out.startswith("/events/"):
        out += "?once=1"
    if out.endswith("/messages"):
        out += "?loan_id=L0001"
    return out


def _request(client: Browser | TestClient, method: str, url: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw: dict[str, Any] = {"headers": headers}
    if method == "POST":
        if url.endswith("/imports"):
            kw["files"] = [("files", ("notes.exe", b"not a portfolio"))]
        elif url.endswith("/api/v1/campaigns"):
            kw["json"] = {"import_id": 999}
        elif url == "/campaigns":
            kw["data"] = {"import_id": "999"}
        elif url.endswith("/api/v1/verify"):
            kw["json"] = {"phone": "13812348000", "code": "ABCDEF"}
        elif url.endswith(("/verify", "/hotline")):
            kw["data"] = {"phone": "13812348000", "code": "ABCDEF"}
        elif url.endswith("/check") or re.fullmatch(r"/templates/[^/]+", url):
            kw["data"] = {"text": "${name}您好，请致电${hotline}。", "variables": "name: masked_name\nhotline: text"}
        elif url == "/admin/calendar":
            kw["data"] = {"text": "kind,name,first,last\nholiday,春节,2030-02-02,2030-02-08\n"}
        elif url.startswith("/admin/users"):
            kw["data"] = {"username": "newuser", "role": "viewer", "password": "another-pass-1", "active": "1"}
    if isinstance(client, Browser):
        return client.post(url, **kw) if method == "POST" else client.get(url, **kw)
    return client.request(method, url, follow_redirects=False, **kw)


@pytest.fixture
def job_id(app: FastAPI) -> str:
    job = app.state.jobs.start("test", "测试任务", "test job", "test", lambda j: None)
    app.state.jobs.wait(5)
    return str(job.id)


def test_route_role_matrix(app: FastAPI, seeded: Seeded, job_id: str) -> None:
    browsers = {role: login_as(app, role) for role in Role}
    anonymous = Browser(TestClient(app, raise_server_exceptions=False))
    anonymous.refresh_csrf()  # an anonymous visitor has a session (and a CSRF token) too
    failures: list[str] = []
    for method, path, _route in routes(app):
        want = SPEC[(method, path)]
        url = _fill(path, seeded, job_id)
        api = path.startswith("/api/")
        if path == "/logout":
            clients = {role: login_as(app, role) for role in Role}  # logging out must not end the others' sessions
        else:
            clients = browsers
        for role in Role:
            b = clients[role]
            r = _request(b.client if api else b, method, url, seeded.tokens[role] if api else None)
            allowed = want is None or role in want
            code = r.status_code
            if allowed:
                ok = (200 <= code < 300) if method == "GET" and want is not None else (
                    code < 500 and code not in (401, 403) and "/login" not in r.headers.get("location", ""))
                if path == "/logout":
                    ok = code == 303
                if want is None:
                    ok = code < 500 and code != 403
            else:
                ok = code == 403
            if not ok:
                failures.append(f"{role.value:10} {method} {url} -> {code} (allowed={allowed}) {r.text[:160]!r}")
        r = _request(anonymous.client if api else anonymous, method, url, None)
        if want is None:
            ok = r.status_code < 500 and r.status_code != 403
        elif api:
            ok = r.status_code == 401
        else:
            ok = r.status_code == 303 and r.headers["location"].startswith("/login")
        if not ok:
            failures.append(f"anonymous  {method} {url} -> {r.status_code} {r.text[:160]!r}")
    assert not failures, "\n".join(failures)
