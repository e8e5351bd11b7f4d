"""Templates as the lists show them: each with its newest version and its newest approved version."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dunning.db.models import TemplateRecord, TemplateVersion
from dunning.services.context import AppContext


@dataclass
class TemplateSummary:
    code: str
    name: str
    tone: str
    stage: str
    profile: str
    latest_version: int
    latest_status: str
    approved_version: int | None
    text: str


def list_templates(ctx: AppContext) -> list[TemplateSummary]:
    """Every template with its newest version and its newest approved version."""
    with ctx.db.transaction() as s:
        recs = s.scalars(select(TemplateRecord).order_by(TemplateRecord.code)).all()
        versions = s.scalars(select(TemplateVersion).order_by(TemplateVersion.template_id,
                                                              TemplateVersion.version)).all()
    by_rec: dict[int, list[TemplateVersion]] = {}
    for v in versions:
        by_rec.setdefault(v.template_id, []).append(v)
    out = []
    for r in recs:
        vs = by_rec.get(r.id, [])
        latest = vs[-1] if vs else None
        approved = [v for v in vs if v.status == "approved"]
        out.append(TemplateSummary(r.code, r.name, r.tone, r.stage, r.profile, latest.version if latest else 0,
                                   latest.status if latest else "", approved[-1].version if approved else None,
                                   latest.text if latest else ""))
    return out
