"""Responses that carry a policy of their own, shared by the console and the API."""

from __future__ import annotations

import secrets

from fastapi.responses import HTMLResponse


def report_response(html: str, campaign_id: int) -> HTMLResponse:
    """The report page under a policy of its own: its inline scripts (Plotly and the charts) run by a one-time
    nonce; nothing else may load or run, and it connects nowhere."""
    nonce = secrets.token_urlsafe(18)
    body = html.replace("<script", f'<script nonce="{nonce}"')
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data:; "
              "font-src data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")
    return HTMLResponse(body, headers={"Content-Disposition": f'inline; filename="campaign-{campaign_id}.html"',
                                       "Content-Security-Policy": policy, "Cache-Control": "no-store"})
