"""First-use seeding: the bundled templates (as approved version 1) and the two demo users."""

from __future__ import annotations

from sqlalchemy import select

from dunning.compliance import VISIT_NOTICE_TEMPLATE, lint_template
from dunning.db.models import TemplateRecord, TemplateVersion
from dunning.domain.states import TemplateStatus
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.policy import policy_for
from dunning.templates import load_bundled_templates

BUNDLED_AUTHOR = "bundled"
BUNDLED_REVIEWER = "bundled-review"


def ensure_bundled_templates(ctx: AppContext) -> int:
    """Seed every bundled template not yet in the database. Returns how many were added.

    Bundled texts ship reviewed (their lint is part of the test suite), so they enter as approved version 1,
    authored by ``bundled`` and approved by ``bundled-review`` — two distinct identities, recorded in the audit log.
    """
    added = 0
    specs = load_bundled_templates()
    policies = {p: policy_for(ctx, p) for p in {s.profile for s in specs}}
    with ctx.db.transaction() as s:
        have = set(s.scalars(select(TemplateRecord.code)).all())
        for spec in specs:
            if spec.id in have:
                continue
            findings = lint_template(spec.text, spec.variables, policies[spec.profile],
                                     visit_notice=spec.id == VISIT_NOTICE_TEMPLATE)
            rec = TemplateRecord(code=spec.id, name=spec.description or spec.id, tone=spec.tone, stage=spec.stage,
                                 profile=spec.profile, created_at=ctx.now())
            s.add(rec)
            s.flush()
            s.add(TemplateVersion(template_id=rec.id, version=1, text=spec.text, variables=dict(spec.variables),
                                  status=TemplateStatus.APPROVED.value, author=BUNDLED_AUTHOR,
                                  reviewer=BUNDLED_REVIEWER, approved_at=ctx.now(), channel_codes={},
                                  findings=[_finding_dict(f) for f in findings],
                                  created_at=ctx.now()))
            audit.record(s, at=ctx.now(), actor=BUNDLED_AUTHOR, action="template.seed", entity="template",
                         entity_id=spec.id, after={"version": 1, "status": "approved"})
            added += 1
    return added


def _finding_dict(f: object) -> dict[str, object]:
    return {k: getattr(f, k) for k in ("rule", "severity", "start", "end", "message_zh", "message_en")}
