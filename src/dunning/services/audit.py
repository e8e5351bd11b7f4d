"""The audit trail: who did what, when, with the state before and after. Written inside the caller's transaction."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dunning.db.models import AuditEvent


@dataclass(frozen=True, slots=True)
class Origin:
    """How an action came: ``cli`` (with the OS user and host), ``web``, ``api`` or ``worker`` (the default:
    background work no person started in this process)."""

    via: str = "worker"
    os_user: str | None = None
    host: str | None = None


_ORIGIN: ContextVar[Origin] = ContextVar("dunning_audit_origin", default=Origin())  # noqa: B039 (frozen)


def set_origin(via: str) -> None:
    """Mark the current context (a request, a CLI run) as coming through ``via``."""
    if via == "cli":
        _ORIGIN.set(Origin("cli", os_user=getpass.getuser()[:64], host=socket.gethostname()[:128]))
    else:
        _ORIGIN.set(Origin(via))


@contextmanager
def origin(via: str) -> Iterator[None]:
    token = _ORIGIN.set(_ORIGIN.get())
    set_origin(via)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def current_origin() -> Origin:
    return _ORIGIN.get()


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    o = _ORIGIN.get()
    session.add(
        AuditEvent(at=at, actor=actor, action=action, entity=entity, entity_id=str(entity_id), before=before,
                   after=after, via=o.via, os_user=o.os_user, host=o.host)
    )
