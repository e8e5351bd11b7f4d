"""Every route declares its roles; walking the whole route × role matrix proves the declaration is enforced.

The table in ``role_matrix.yaml`` beside this file is the permission specification: a route whose declaration
differs from it, or a route not in it, fails the test — so a permission change is always a deliberate edit
there, reviewed with the code.
Allowed → 2xx (a write may also answer 3xx, or a domain refusal such as 404/409/422 for the seeded state, but
never 401/403); denied → 403; anonymous → 303 to /login (pages) or 401 (API).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from dunning.entrypoints.http.security import Allow
from dunning.services.identity.users import Role
from tests.web.conftest import Browser, login_as
from tests.web.seed import Seeded

GROUPS: dict[str, set[Role]] = {"all": set(Role), "staff": {Role.ADMIN, Role.STRATEGIST, Role.COMPLIANCE,
                                                              Role.OPERATOR, Role.VIEWER}}


def load_spec(path: Path) -> dict[tuple[str, str], set[Role] | None]:
    """``METHOD path: public | group | [role or group, …]`` → (method, path) → the roles (None: public)."""
    spec: dict[tuple[str, str], set[Role] | None] = {}
    for key, who in yaml.safe_load(path.read_text(encoding="utf-8")).items():
        method, route = key.split(" ", 1)
        names = [who] if isinstance(who, str) else who
        spec[(method, route)] = None if who == "public" else set().union(
            *(GROUPS[n] if n in GROUPS else {Role(n)} for n in names))
    return spec

SPEC = load_spec(Path(__file__).with_name("role_matrix.yaml"))


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
            assert not got.public and set(got.roles) | {Role.ADMIN} == want, f"{method} {path}: {got!r} != {want}"
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
