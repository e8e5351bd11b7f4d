from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dunning.entrypoints.app import create_app
from dunning.services.context import AppContext, build_context
from dunning.services.identity.users import Role
from dunning.testing import FrozenClock
from tests.conftest import BUSINESS_NOON, make_settings
from tests.web.seed import PASSWORD, USERS, Seeded, seed

CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


@pytest.fixture
def web_clock() -> FrozenClock:
    return FrozenClock(BUSINESS_NOON)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    """The seeded data directory, built once per run (migrations and argon2 hashes are the slow part) and
    copied for every test, so each test still starts from the same state and may change it freely."""
    root = tmp_path_factory.mktemp("web-seed")
    ctx = build_context(make_settings(root), clock=FrozenClock(BUSINESS_NOON).now)
    seeded = seed(ctx)
    ctx.db.dispose()
    return root / ".dunning", seeded


@pytest.fixture
def web_ctx(tmp_path: Path, web_clock: FrozenClock, seeded_template: tuple[Path, Seeded]) -> Iterator[AppContext]:
    shutil.copytree(seeded_template[0], tmp_path / ".dunning")
    c = build_context(make_settings(tmp_path), clock=web_clock.now)
    yield c
    c.db.dispose()


@pytest.fixture
def seeded(web_ctx: AppContext, seeded_template: tuple[Path, Seeded]) -> Seeded:
    return seeded_template[1]


@pytest.fixture
def app(web_ctx: AppContext, seeded: Seeded) -> FastAPI:
    return create_app(web_ctx)


class Browser:
    """A TestClient with a session: logs in through the form and sends the page's CSRF token with writes."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def refresh_csrf(self) -> str:
        r = self.client.get("/login" if not self.csrf else "/messages")
        m = CSRF_META.search(r.text)
        assert m, "every page carries a CSRF token"
        self.csrf = m.group(1)
        return self.csrf

    def login(self, username: str, password: str = PASSWORD) -> object:
        self.refresh_csrf()
        r = self.client.post("/login", data={"username": username, "password": password,
                                             "csrf_token": self.csrf, "next": "/"}, follow_redirects=False)
        if r.status_code == 303:
            self.refresh_csrf()
        return r

    def post(self, url: str, **kw: object) -> object:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        headers.setdefault("X-CSRF-Token", self.csrf)
        kw.setdefault("follow_redirects", False)
        return self.client.post(url, headers=headers, **kw)  # type: ignore[arg-type]

    def get(self, url: str, **kw: object) -> object:
        kw.setdefault("follow_redirects", False)
        return self.client.get(url, **kw)  # type: ignore[arg-type]


def login_as(app: FastAPI, role: Role) -> Browser:
    b = Browser(TestClient(app, raise_server_exceptions=False))
    r = b.login(USERS[role])
    assert r.status_code == 303, getattr(r, "text", "")[:500]  # type: ignore[attr-defined]
    return b
