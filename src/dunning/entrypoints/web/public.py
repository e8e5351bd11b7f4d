"""Pages anyone may open without logging in.

This is the place for the borrower-facing authenticity check (issue 8: ``/verify`` page and the published
sender identities): add routes to ``router`` with ``_p: Principal | None = public()`` — never ``allow(...)`` —
and they are mounted without login. Forms still carry the CSRF token (``{{ csrf }}`` in templates), because
every visitor gets an anonymous session.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
