"""The HTTP entry point: one FastAPI app serving the REST API (``/api/v1``) and the web console.

``create_app(ctx)`` builds it; nothing is created at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from dunning.services.context import AppContext
    from dunning.services.identity.auth import AuthPolicy


def create_app(ctx: AppContext | None = None, *, auth_policy: AuthPolicy | None = None) -> FastAPI:
    from dunning.entrypoints.api.app import create_app as _create

    return _create(ctx, auth_policy=auth_policy)


__all__ = ["create_app"]
