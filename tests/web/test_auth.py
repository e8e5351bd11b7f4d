"""Access control a user or an attacker would notice: cookies, lockout, rate limit, CSRF, tokens, revocation."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.db.models import AuditEvent
from dunning.entrypoints.app import create_app
from dunning.services.context import AppContext
from dunning.services.identity import auth
from dunning.services.identity.auth import AuthPolicy
from dunning.services.identity.users import Role
from dunning.testing import FrozenClock
from tests.web.conftest import CSRF_META, Browser, login_as
from tests.web.seed import PASSWORD, USERS, Seeded


def _browser(app: object) -> Browser:
    return Browser(TestClient(app))  # type: ignore[arg-type]


def test_session_cookie_is_httponly_samesite_lax_and_renewed_at_login(app: object) -> None:
    b = _browser(app)
    before = b.refresh_csrf()
    r = b.login(USERS[Role.OPERATOR])
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert b.csrf != before, "a new session id (and CSRF token) after login: no session fixation"


def test_wrong_password_and_unknown_user_get_the_same_answer(app: object) -> None:
    b = _browser(app)
    wrong = b.login(USERS[Role.OPERATOR], "wrong-password")
    unknown = b.login("nobody-here", "wrong-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text


def test_failures_back_off_per_user_and_address_with_one_message_and_lock_nobody_out(
        app: object, web_ctx: AppContext, web_clock: FrozenClock) -> None:
    b = _browser(app)
    for _ in range(5):
        assert b.login(USERS[Role.VIEWER], "wrong-password").status_code == 401
    r = b.login(USERS[Role.VIEWER])  # the right password waits out the back-off from this address...
    unknown = b.login("nobody-at-all", "wrong-password")
    assert r.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in r.text and "锁定" not in r.text  # ...with the one message: nothing tells
    # the same person from another address is not locked out
    assert auth.login(web_ctx, USERS[Role.VIEWER], PASSWORD, ip="10.9.9.9").username == USERS[Role.VIEWER]
    web_clock.advance(seconds=31)  # the back-off is short and grows only while the failures go on
    assert b.login(USERS[Role.VIEWER]).status_code == 303
    with web_ctx.db.transaction() as s:
        actions = set(s.scalars(select(AuditEvent.action)).all())
    assert {"auth.login_failed", "auth.locked", "auth.login_locked", "auth.login"} <= actions


def test_an_administrator_unlock_ends_the_back_off(app: object, web_ctx: AppContext) -> None:
    b = _browser(app)
    for _ in range(6):
        b.login(USERS[Role.VIEWER], "wrong-password")
    assert b.login(USERS[Role.VIEWER]).status_code == 401
    auth.unlock(web_ctx, USERS[Role.VIEWER], actor="admin")
    assert b.login(USERS[Role.VIEWER]).status_code == 303


def test_login_attempts_per_address_are_limited(web_ctx: AppContext, seeded: Seeded) -> None:
    app = create_app(web_ctx, auth_policy=AuthPolicy(ip_max_attempts=3))
    b = _browser(app)
    for _ in range(3):
        b.login("someone", "guess")
    r = b.login(USERS[Role.ADMIN])
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert "过于频繁" in r.text


def test_forms_without_the_session_csrf_token_are_refused(app: object, seeded: Seeded) -> None:
    op = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    r = op.client.post(f"/campaigns/{seeded.campaign_id}/cancel", follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    other = login_as(app, Role.ADMIN)  # type: ignore[arg-type]
    r = op.post(f"/campaigns/{seeded.campaign_id}/cancel", headers={"X-CSRF-Token": other.csrf})
    assert r.status_code == 403, "another session's token does not work"
    r = op.client.post("/logout", data={"csrf_token": op.csrf}, follow_redirects=False)
    assert r.status_code == 303, "the form field works as well as the header"


def test_logout_revokes_the_session_even_if_the_cookie_is_replayed(app: object) -> None:
    b = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    stolen = dict(b.client.cookies)
    assert b.post("/logout").status_code == 303
    replay = TestClient(app, cookies=stolen)  # type: ignore[arg-type]
    r = replay.get("/campaigns", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_password_reset_and_deactivation_end_existing_sessions(app: object, web_ctx: AppContext,
                                                                web_clock: FrozenClock) -> None:
    b = login_as(app, Role.STRATEGIST)  # type: ignore[arg-type]
    assert b.get("/templates").status_code == 200
    web_clock.advance(seconds=1)
    auth.set_password(web_ctx, USERS[Role.STRATEGIST], "a-new-password-2", actor="admin1")
    assert b.get("/templates").status_code == 303
    c = login_as(app, Role.VIEWER)  # type: ignore[arg-type]
    auth.set_active(web_ctx, USERS[Role.VIEWER], False, actor="admin1")
    assert c.get("/campaigns").status_code == 303


def test_api_tokens_act_with_their_users_role_until_revoked(app: object, seeded: Seeded,
                                                            web_ctx: AppContext) -> None:
    c = TestClient(app)  # type: ignore[arg-type]
    token = seeded.tokens[Role.VIEWER]
    r = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["role"] == "viewer" and r.json()["via"] == "token"
    assert c.post(f"/api/v1/campaigns/{seeded.campaign_id}/cancel",
                  headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert c.get("/api/v1/me", headers={"Authorization": "Bearer dun_not-a-real-token"}).status_code == 401
    auth.revoke_tokens(web_ctx, USERS[Role.VIEWER], actor="admin1")
    r = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.required"


def test_the_api_ignores_session_cookies(app: object) -> None:
    b = login_as(app, Role.ADMIN)  # type: ignore[arg-type]
    assert b.client.get("/api/v1/me").status_code == 401  # no ambient authority for machines' endpoints


def test_login_never_redirects_off_site(app: object) -> None:
    b = _browser(app)
    b.refresh_csrf()
    r = b.client.post("/login", data={"username": USERS[Role.ADMIN], "password": PASSWORD, "csrf_token": b.csrf,
                                      "next": "//evil.example/phish"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_pages_carry_security_headers(app: object) -> None:
    r = TestClient(app).get("/login")  # type: ignore[arg-type]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert CSRF_META.search(r.text)


def test_denied_page_explains_which_role_is_needed(app: object, seeded: Seeded) -> None:
    v = login_as(app, Role.VIEWER)  # type: ignore[arg-type]
    r = v.get("/audit")
    assert r.status_code == 403 and "合规审核" in r.text and "联系管理员" in r.text


def test_admin_adds_a_user_who_can_then_log_in(app: object) -> None:
    admin = login_as(app, Role.ADMIN)  # type: ignore[arg-type]
    r = admin.post("/admin/users", data={"username": "zhao.ops", "role": "operator", "password": "zhao-pass-123",
                                         "display_name": "运营-赵"})
    assert r.status_code == 303
    b = _browser(app)
    assert b.login("zhao.ops", "zhao-pass-123").status_code == 303
    assert "运营-赵" in b.get("/").text


def test_back_off_expires_by_itself(web_ctx: AppContext, seeded: Seeded, web_clock: FrozenClock) -> None:
    policy = AuthPolicy(max_failures=2, lockout=timedelta(minutes=5))
    for _ in range(2):
        try:
            auth.login(web_ctx, USERS[Role.OPERATOR], "nope", ip="10.0.0.1", policy=policy)
        except auth.AuthFailed:
            pass
    try:
        auth.login(web_ctx, USERS[Role.OPERATOR], PASSWORD, ip="10.0.0.1", policy=policy)
        raise AssertionError("an address backing off must not log in")
    except auth.AuthFailed as exc:
        assert exc.code == "auth.failed" and exc.message_zh == "用户名或密码错误。"
    web_clock.advance(minutes=6)
    assert auth.login(web_ctx, USERS[Role.OPERATOR], PASSWORD, ip="10.0.0.1", policy=policy).role is Role.OPERATOR
