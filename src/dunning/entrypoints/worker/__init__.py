"""The Celery worker that sends campaigns when ``dispatch_mode = "celery"`` (started by ``dunning worker``).

The app is built from settings by :func:`create_app`, never at import time.
"""

from __future__ import annotations

from dunning.entrypoints.worker.app import create_app

__all__ = ["create_app"]
