"""The audit trail: who did what, when, with the state before and after. Written inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dunning.db.models import AuditEvent


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
    session.add(
        AuditEvent(at=at, actor=actor, action=action, entity=entity, entity_id=str(entity_id), before=before,
                   after=after)
    )
