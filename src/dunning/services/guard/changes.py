"""Four-eyes changes to something already approved (issue 17.11): retiring an approved template version, or
changing the provider template codes on it, takes a request by one person and a confirmation by another, a
reviewer (compliance or admin). The request lives in the audit trail (``template.<kind>_requested`` with its
payload); the confirmation applies it (``template.<kind>_confirmed``). A new request replaces an open one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dunning.db.models import AuditEvent, User
from dunning.errors import StateError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.identity.users import Role

REVIEWERS = frozenset({Role.COMPLIANCE.value, Role.ADMIN.value})


def _open(s: Session, kind: str, entity_id: str) -> AuditEvent | None:
    last = s.scalars(select(AuditEvent).where(
        AuditEvent.entity == "template", AuditEvent.entity_id == entity_id,
        AuditEvent.action.in_((f"template.{kind}_requested", f"template.{kind}_confirmed")))
        .order_by(AuditEvent.id.desc()).limit(1)).first()
    return last if last is not None and last.action.endswith("_requested") else None


def request_or_confirm(s: Session, ctx: AppContext, *, kind: str, entity_id: str, actor: str,
                       payload: dict[str, Any]) -> bool:
    """``True`` when ``actor`` confirms another person's open request with the same payload (apply it now);
    otherwise the request is recorded and ``False`` comes back (nothing changes until a reviewer confirms)."""
    pending = _open(s, kind, entity_id)
    role = s.scalar(select(User.role).where(User.username == actor, User.active.is_(True)))
    if pending is not None and (pending.after or {}).get("payload") == payload:
        if pending.actor == actor:
            raise StateError("四眼原则：该变更须由另一位合规审核人员确认", "four eyes: another reviewer must "
                             "confirm this change", code="state.four_eyes")
        if role in REVIEWERS:
            audit.record(s, at=ctx.now(), actor=actor, action=f"template.{kind}_confirmed", entity="template",
                         entity_id=entity_id, after={"payload": payload, "requested_by": pending.actor})
            return True
        # not a reviewer: they second the request, which still waits for a reviewer
    audit.record(s, at=ctx.now(), actor=actor, action=f"template.{kind}_requested", entity="template",
                 entity_id=entity_id, after={"payload": payload})
    return False
