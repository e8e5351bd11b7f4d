"""Pages anyone may open without logging in, and the hotline's lookup inside the console.

Routes (roles in brackets; public routes use ``public()`` — never ``allow(...)`` — and are mounted without login):

* ``GET/POST /verify`` [public, CSRF on the form]: a recipient enters the phone the SMS came to and its code and
  sees only "genuine: sent by … on …, official contact …" or "not found: treat it as suspicious …".
* ``GET /identity`` [public]: the published sender identity (signatures, 106 ports, hotlines, domain, app and
  the agencies currently authorised to collect), all from ``Settings.identity``.
* ``GET/POST /hotline`` [operator, compliance, viewer, admin]: the same lookup for a caller who reads their code
  over the phone (``channel="hotline"``: logged as such, not rate limited). Staff see the same answer as the
  public, never a debt detail.
* ``POST /api/v1/verify`` [public, JSON, in the OpenAPI document] on :data:`api_router`.

The entry points only parse, call :func:`dunning.services.verification.lookup.verify_message` and format: every wrong input
(wrong phone, wrong code, expired, garbage) reaches the same service path and gets the same answer, so the
body and status never tell them apart. Forms still carry the CSRF token (``{{ csrf }}``), because every page
visitor gets an anonymous session; the JSON API needs none (it reads no cookie, so there is no ambient
authority to forge).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import Forbidden, allow, client_ip, public, session_of
from dunning.services.agencies import registry as agency_registry
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.verification.lookup import VerifyAnswer, verify_message

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["verification"], include_in_schema=True)

HOTLINE_ROLES = (Role.OPERATOR, Role.COMPLIANCE, Role.VIEWER, Role.ADMIN)
# Wide enough for any phone typed with spaces or a country code and a code typed with spaces; anything longer
# is not an attempt at a real message, and refusing it early keeps the log and the hash input bounded.
MAX_INPUT = 64


def _status(answer: VerifyAnswer) -> int:
    return 429 if answer.result == "rate_limited" else 200


def _page(request: Request, name: str, answer: VerifyAnswer | None,
          headers: dict[str, str] | None = None) -> Response:
    ttl = request.app.state.ctx.settings.verify_code_ttl_days
    return renderer(request).page(request, name, status=200 if answer is None else _status(answer),
                                  headers=headers, answer=answer, ttl_days=ttl, form_token=_form_token(request))


# The public /verify form must work in a browser that refuses cookies (a borrower's locked-down phone): besides
# the session's CSRF token it carries a stateless form token — an HMAC of the time it was served — so a post
# with either is accepted, and a post with neither (a form on another site, a bare script) is refused.
FORM_TOKEN_TTL = 2 * 3600


def _form_key(request: Request) -> bytes:
    return hmac.new(request.app.state.ctx.settings.secret(), b"dunning.verify-form", hashlib.sha256).digest()


def _form_token(request: Request, at: int | None = None) -> str:
    stamp = str(int(time.time()) if at is None else at)
    return f"{stamp}.{hmac.new(_form_key(request), stamp.encode(), hashlib.sha256).hexdigest()[:32]}"


def _form_ok(request: Request, csrf: str, form_token: str) -> bool:
    holder = session_of(request)
    csrf = csrf or request.headers.get("x-csrf-token", "")  # htmx sends the session token as a header
    if holder.data.sid and request.app.state.codec.csrf_ok(holder.data, csrf):
        return True
    stamp, _, _sig = form_token.partition(".")
    if not stamp.isdigit() or not 0 <= time.time() - int(stamp) <= FORM_TOKEN_TTL:
        return False
    return hmac.compare_digest(form_token, _form_token(request, int(stamp)))


def _retry_after(request: Request, answer: VerifyAnswer) -> dict[str, str] | None:
    if answer.result != "rate_limited":
        return None
    return {"Retry-After": str(request.app.state.ctx.settings.verify_window_minutes * 60)}


# ------------------------------------------------------------------------------------- public pages


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, _p: Principal | None = public()) -> Response:
    return _page(request, "public_verify.html", None)


@router.post("/verify", response_class=HTMLResponse)
def verify_submit(request: Request, phone: str = Form("", max_length=MAX_INPUT),
                  code: str = Form("", max_length=MAX_INPUT), csrf_token: str = Form("", max_length=128),
                  form_token: str = Form("", max_length=128), _p: Principal | None = public(csrf=False)) -> Response:
    if not _form_ok(request, csrf_token, form_token):
        raise Forbidden(None, frozenset(), "csrf")
    # The phone and code are not echoed back: the page may be on a shared device, and the answer is enough.
    answer = verify_message(request.app.state.ctx, phone, code, ip=client_ip(request), channel="public")
    return _page(request, "public_verify.html", answer, _retry_after(request, answer))


@router.get("/identity", response_class=HTMLResponse)
def identity_page(request: Request, _p: Principal | None = public()) -> Response:
    # The registry's active, non-blacklisted agencies (名单制), beside any listed in settings.
    listed = agency_registry.public_list(request.app.state.ctx)
    return renderer(request).page(request, "public_identity.html", listed_agencies=listed)


# ------------------------------------------------------------------------------------ console: hotline


@router.get("/hotline", response_class=HTMLResponse)
def hotline_page(request: Request, _p: Principal = allow(*HOTLINE_ROLES)) -> Response:
    return _page(request, "hotline.html", None)


@router.post("/hotline", response_class=HTMLResponse)
def hotline_submit(request: Request, phone: str = Form("", max_length=MAX_INPUT),
                   code: str = Form("", max_length=MAX_INPUT), p: Principal = allow(*HOTLINE_ROLES)) -> Response:
    answer = verify_message(request.app.state.ctx, phone, code, ip=client_ip(request), channel="hotline",
                            actor=p.username)
    return _page(request, "hotline.html", answer)


# ------------------------------------------------------------------------------------------- JSON API


class VerifyRequest(BaseModel):
    """What the recipient read: the phone number the SMS came to and the code in it."""

    phone: str = Field(max_length=MAX_INPUT, examples=["138 0013 8000"],
                       description="收到短信的手机号 / the phone number the SMS was sent to")
    code: str = Field(max_length=MAX_INPUT, examples=["7KQ2MX"],
                      description="短信中的验证码（不区分大小写）/ the code printed in the SMS (case-insensitive)")


class VerifyResponse(BaseModel):
    """Only whether the message is genuine and how to reach the institution — never a debt detail."""

    result: Literal["genuine", "not_found", "rate_limited"] = Field(
        description="genuine：确为本机构发送 / sent by us; not_found：请视为可疑短信 / treat as suspicious "
                    "(wrong phone, wrong code and expired codes all answer this); rate_limited：查询过于频繁 / "
                    "too many attempts (HTTP 429)")
    message_zh: str
    message_en: str
    institution: str
    hotline: str = Field(description="官方客服电话 / the official hotline")
    app: str = Field(description="官方App / the official app")
    domain: str = Field(description="官方网站域名 / the official domain")
    sent_on: str | None = Field(None, description="发送日期（仅 genuine）/ date sent (genuine only), YYYY-MM-DD")


@api_router.post(
    "/verify", response_model=VerifyResponse,
    summary="核实短信真伪 / Verify that a reminder SMS is genuine",
    description="无需登录。输入收到短信的手机号和短信中的验证码，只返回「真实」或「未找到（请视为可疑短信）」，"
                "不返回任何欠款信息。按 IP 和手机号限频，超限返回 429。\n\n"
                "No login. Given the phone number an SMS came to and the code in it, answers only genuine or "
                "not found (treat as suspicious) — never a debt detail. Limited per IP and per phone (429 when "
                "reached, with Retry-After).",
    responses={429: {"model": VerifyResponse, "description": "查询过于频繁 / too many attempts"}},
)
def verify_api(request: Request, body: VerifyRequest, _p: Principal | None = public(csrf=False)) -> JSONResponse:
    answer = verify_message(request.app.state.ctx, body.phone, body.code, ip=client_ip(request), channel="public")
    payload = VerifyResponse.model_validate(answer.to_dict())
    return JSONResponse(payload.model_dump(), status_code=_status(answer), headers=_retry_after(request, answer))
