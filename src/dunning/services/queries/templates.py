"""Templates as the console and the API show them: each with its newest and newest approved version, one
template's version history, and the editor's live check of a draft (findings in place, length, previews)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dunning.db.models import TemplateRecord, TemplateVersion
from dunning.errors import InputError, NotFoundError
from dunning.services import templates as tsvc
from dunning.services.context import AppContext
from dunning.services.queries.scope import utc
from dunning.templates import TemplateSpec
from dunning.templates.editor import Segment, TemplateCheck, highlight, parse_variables


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


@dataclass
class TemplateVersionRow:
    version_id: int
    version: int
    status: str
    author: str
    reviewer: str | None
    text: str
    variables: dict[str, Any]
    findings: list[dict[str, Any]]
    created_at: datetime | None
    approved_at: datetime | None


def template_history(ctx: AppContext, code: str) -> tuple[TemplateSummary, list[TemplateVersionRow]]:
    with ctx.db.transaction() as s:
        rec = s.scalars(select(TemplateRecord).where(TemplateRecord.code == code)).first()
        if rec is None:
            raise NotFoundError(f"模板 {code} 不存在", f"template {code!r} does not exist", code="not_found.template")
        vs = s.scalars(select(TemplateVersion).where(TemplateVersion.template_id == rec.id)
                       .order_by(TemplateVersion.version.desc())).all()
        rows = [TemplateVersionRow(v.id, v.version, v.status, v.author, v.reviewer, v.text, dict(v.variables or {}),
                                   list(v.findings or []), utc(v.created_at), utc(v.approved_at)) for v in vs]
    approved = [r for r in rows if r.status == "approved"]
    summary = TemplateSummary(rec.code, rec.name, rec.tone, rec.stage, rec.profile, rows[0].version if rows else 0,
                              rows[0].status if rows else "", approved[0].version if approved else None,
                              rows[0].text if rows else "")
    return summary, rows


def template_check(ctx: AppContext, text: str, variables_text: str, *, profile: str = "CN", tone: str = "neutral",
                   stage: str = "") -> TemplateCheck:
    """Lint a template as typed (spans in its own text), its worst-case length with the signature, and its
    renderings for the sample accounts — all through :mod:`dunning.services.templates`."""
    text = text[:1000]
    try:
        variables = parse_variables(variables_text)
        result = tsvc.lint(ctx, [TemplateSpec(id="draft", text=text, variables=variables, tone=tone,
                                              stage=stage, profile=profile)])[0]
    except InputError as exc:
        return TemplateCheck([Segment(text)], [], len(text), 0, [], exc.message_zh, exc.message_en)
    error: tuple[str | None, str | None] = (None, None)
    try:  # the same findings as `dunning templates lint`, whether or not the text can be rendered yet
        rows = tsvc.preview(ctx, text=text, variables=variables, profile=profile)
    except InputError as exc:  # a binding or syntax problem: a finding of its own; no previews until fixed
        rows, error = [], (exc.message_zh, exc.message_en)
    findings = [f.to_dict() for f in result.findings]
    previews = [{"label": r.loan_id, "text": r.text, "chars": r.length, "parts": r.segments,
                 "blocks": sum(1 for f in r.findings if f.severity == "block")} for r in rows[:3]]
    return TemplateCheck(highlight(text, findings), findings, result.worst_case_length, result.segments, previews,
                         *error)
