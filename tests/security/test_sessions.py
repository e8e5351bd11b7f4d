"""Point 12: a deactivated user's tokens stay dead after reactivation; a session ends 12 hours after login however
often its cookie is re-signed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dunning.services.context import AppContext
from dunning.services.identity import auth
from dunning.services.identity.users import Role
from dunning.testing import FrozenClock
from tests.web.conftest import login_as
from tests.web.seed import USERS, Seeded


def test_reactivating_a_user_does_not_revive_their_tokens(app: object, seeded: Seeded, web_ctx: AppContext) -> None:
    token = seeded.tokens[Role.OPERATOR]
    api = TestClient(app)  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/me", headers=h).status_code == 200
    auth.set_active(web_ctx, USERS[Role.OPERATOR], False, actor="admin")
    auth.set_active(web_ctx, USERS[Role.OPERATOR], True, actor="admin")
    assert api.get("/api/v1/me", headers=h).status_code == 401
    fresh = auth.issue_token(web_ctx, USERS[Role.OPERATOR], actor="admin")
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_a_session_has_an_absolute_lifetime_from_login(app: object, web_clock: FrozenClock) -> None:
    b = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    for _ in range(11):  # in use every hour: each page re-signs the cookie
        web_clock.advance(hours=1)
        assert b.get("/messages").status_code == 200
        b.get("/lang/zh")  # a cookie write
    web_clock.advance(hours=1, minutes=5)
    r = b.get("/messages")
    assert r.status_code == 303 and "/login" in r.headers["location"]  # type: ignore[attr-defined]
