"""Self-service after verification (public, no login): ``GET/POST /help``.

A borrower who has confirmed a message on ``/verify`` asks for a call back, reports "not me" or "already paid", or
asks for instalments or hardship help, with a short note. The form carries the phone and code again; the service
checks them through the same verification (and its rate limits), opens a case, and the page shows only the case
number and the hotline — never an account detail.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import client_ip, public
from dunning.errors import InputError
from dunning.services.cases.self_service import NOTE_MAX, REQUESTS, HelpAnswer, request_help
from dunning.services.identity.auth import Principal

router = APIRouter(include_in_schema=False)
MAX_INPUT = 64


def _page(request: Request, answer: HelpAnswer | None, error: tuple[str, str] | None = None,
          status: int = 200) -> Response:
    headers = None
    if answer is not None and answer.result == "rate_limited":
        status = 429
        headers = {"Retry-After": str(request.app.state.ctx.settings.verify_window_minutes * 60)}
    return renderer(request).page(request, "public_help.html", status=status, headers=headers, answer=answer,
                                  error=error, requests=list(REQUESTS), note_max=NOTE_MAX)


@router.get("/help", response_class=HTMLResponse)
def help_page(request: Request, _p: Principal | None = public()) -> Response:
    return _page(request, None)


@router.post("/help", response_class=HTMLResponse)
def help_submit(request: Request, phone: str = Form("", max_length=MAX_INPUT),
                code: str = Form("", max_length=MAX_INPUT), request_type: str = Form("", max_length=32),
                note: str = Form("", max_length=NOTE_MAX * 4), _p: Principal | None = public()) -> Response:
    try:
        answer = request_help(request.app.state.ctx, phone, code, request_type, note, ip=client_ip(request))
    except InputError as exc:
        return _page(request, None, (exc.message_zh, exc.message_en), status=422)
    return _page(request, answer)
