"""Point 13: HSTS behind https, Permissions-Policy everywhere; the public /verify form works without cookies and a
post with no token at all is still refused."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def test_permissions_policy_always_and_hsts_only_over_https(app: object) -> None:
    plain = TestClient(app).get("/verify")  # type: ignore[arg-type]
    assert "camera=()" in plain.headers["permissions-policy"]
    assert "strict-transport-security" not in plain.headers
    tls = TestClient(app, base_url="https://dunning.example").get("/verify")  # type: ignore[arg-type]
    assert tls.headers["strict-transport-security"].startswith("max-age=31536000")


def test_the_verify_form_works_in_a_browser_without_cookies(app: object) -> None:
    page = TestClient(app).get("/verify")  # type: ignore[arg-type]
    m = FORM_TOKEN.search(page.text)
    assert m, "the form carries a stateless token"
    cookieless = TestClient(app)  # type: ignore[arg-type]
    r = cookieless.post("/verify", data={"phone": "13800000007", "code": "ABCDEF", "form_token": m.group(1)})
    assert r.status_code == 200 and 'data-result="not_found"' in r.text
    assert "dunning_session" not in cookieless.headers.get("cookie", "")
    cookieless.cookies.clear()
    forged = cookieless.post("/verify", data={"phone": "13800000007", "code": "ABCDEF", "form_token": "1.abc"})
    assert forged.status_code == 403
    stale = cookieless.post("/verify", data={"phone": "13800000007", "code": "ABCDEF",
                                             "form_token": m.group(1).replace(m.group(1).split(".")[0], "100")})
    assert stale.status_code == 403
