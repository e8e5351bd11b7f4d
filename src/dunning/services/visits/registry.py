"""The field-staff registry: who may go on visits, with their credential and last conduct training."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from dunning.db.visit_models import FieldStaff
from dunning.errors import InputError
from dunning.services import audit
from dunning.services.context import AppContext


def register_staff(ctx: AppContext, username: str, display_name: str, *, credential_no: str, valid_until: date,
                   trained_on: date, agency: str | None = None, actor: str = "system") -> FieldStaff:
    """Add a person to the registry, or update their credential and training (audited either way)."""
    if not credential_no.strip():
        raise InputError("请填写工作证件编号", "a credential number is required", code="visits.credential")
    now = ctx.now()
    with ctx.db.transaction() as s:
        f = s.scalars(select(FieldStaff).where(FieldStaff.username == username)).first()
        before = None
        if f is None:
            f = FieldStaff(username=username, created_at=now)
            s.add(f)
        else:
            before = {"credential_no": f.credential_no, "valid_until": f.credential_valid_until.isoformat(),
                      "trained_on": f.trained_on.isoformat()}
        f.display_name, f.agency, f.credential_no = display_name, agency, credential_no.strip()
        f.credential_valid_until, f.trained_on = valid_until, trained_on
        s.flush()
        audit.record(s, at=now, actor=actor, action="visit.staff", entity="field_staff", entity_id=username,
                     before=before, after={"credential_no": f.credential_no, "valid_until": valid_until.isoformat(),
                                           "trained_on": trained_on.isoformat(), "agency": agency})
        s.expunge(f)
    return f


def list_staff(ctx: AppContext, agency: str | None = None) -> list[FieldStaff]:
    with ctx.db.transaction() as s:
        q = select(FieldStaff).order_by(FieldStaff.username)
        if agency is not None:
            q = q.where(FieldStaff.agency == agency)
        rows = list(s.scalars(q))
        s.expunge_all()
    return rows
