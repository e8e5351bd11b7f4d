"""Template lifecycle: save (a new version, linted), submit for review, approve (by someone other than the
author, linted again), reject back to draft, retire; preview and lint.

Rules kept here:

* Every save makes a new version (draft). An approved version is never edited: a change is a new version, so a
  campaign's messages always point at the exact text they were rendered from.
* Lint runs at save (findings stored with the version), at submission and at approval with the policy in force
  then; a ``block`` finding refuses submission and approval (:class:`~dunning.errors.ComplianceBlocked`).
* Approval needs the compliance (or admin) role and a user other than the version's author (four eyes).
* Every transition writes the audit log in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dunning.compliance import BLOCK, VISIT_NOTICE_TEMPLATE, Finding, lint_template
from dunning.db.models import TemplateRecord, TemplateVersion
from dunning.domain.sms import measure
from dunning.domain.states import TEMPLATE_TRANSITIONS, TemplateStatus
from dunning.errors import ComplianceBlocked, ConfigError, InputError, NotFoundError, StateError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.guard.changes import request_or_confirm
from dunning.services.identity.users import Role, require_role
from dunning.services.policy import policy_for, render_context
from dunning.templates import TemplateSpec, compile_template, provider_code
from dunning.templates.checking import (
    LintResult,
    PreviewRow,
    check_meta,
    lint_file,
    lint_specs,
    preview_compiled,
    profile_context,
    read_specs,
    settings_context,
    settings_policy,
)

# The no-database checks live in dunning.templates.checking; named here too for the CLI and the tests.
__all__ = ["LintResult", "PreviewRow", "VersionView", "approve", "create", "get", "history", "lint", "lint_file",
           "lint_specs", "missing_channel_codes", "preview", "preview_compiled", "read_specs", "reject", "retire",
           "save", "set_channel_codes", "settings_context", "settings_policy", "submit_for_review",
           "template_channels"]

EDITOR_ROLES = (Role.STRATEGIST, Role.COMPLIANCE, Role.OPERATOR)
REVIEWER_ROLES = (Role.COMPLIANCE,)


@dataclass
class VersionView:
    """One template version as the console and the CLI show it."""

    code: str
    version: int
    version_id: int
    status: str
    text: str
    variables: dict[str, str]
    tone: str
    stage: str
    profile: str
    name: str
    author: str
    reviewer: str | None
    channel_codes: dict[str, Any]
    findings: list[dict[str, Any]]
    worst_case_length: int
    segments: int
    created_at: datetime | None = None
    approved_at: datetime | None = None
    pending: str | None = None  # "retire" | "codes": requested on this approved version, awaiting a reviewer

    @property
    def blocked(self) -> bool:
        return any(f.get("severity") == BLOCK for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------ the lifecycle


def _record(s: Session, code: str) -> TemplateRecord:
    rec = s.scalars(select(TemplateRecord).where(TemplateRecord.code == code)).first()
    if rec is None:
        raise NotFoundError(f"模板 {code} 不存在", f"template {code!r} does not exist", code="not_found.template")
    return rec


def _version(s: Session, code: str, version: int | None) -> tuple[TemplateRecord, TemplateVersion]:
    rec = _record(s, code)
    q = select(TemplateVersion).where(TemplateVersion.template_id == rec.id)
    q = q.where(TemplateVersion.version == version) if version is not None else q.order_by(
        TemplateVersion.version.desc())
    tv = s.scalars(q).first()
    if tv is None:
        raise NotFoundError(f"模板 {code} 没有版本 {version}", f"template {code!r} has no version {version}",
                            code="not_found.template_version")
    return rec, tv


def _view(ctx: AppContext, rec: TemplateRecord, tv: TemplateVersion) -> VersionView:
    policy = policy_for(ctx, rec.profile)
    context = profile_context(policy, render_context(ctx, policy))
    try:
        wc = compile_template(tv.text, tv.variables).worst_case_text(context)
        parts = measure(wc, policy.counting).parts
    except InputError:
        wc, parts = "", 0
    return VersionView(
        code=rec.code, version=tv.version, version_id=tv.id, status=tv.status, text=tv.text,
        variables={str(k): str(v) for k, v in (tv.variables or {}).items()}, tone=rec.tone, stage=rec.stage,
        profile=rec.profile, name=rec.name, author=tv.author, reviewer=tv.reviewer,
        channel_codes=dict(tv.channel_codes or {}), findings=list(tv.findings or []), worst_case_length=len(wc),
        segments=parts, created_at=tv.created_at, approved_at=tv.approved_at,
    )


def _lint_stored(ctx: AppContext, rec: TemplateRecord, text: str, variables: Mapping[str, str],
                 overlay: Path | None = None) -> list[Finding]:
    policy = policy_for(ctx, rec.profile, overlay)
    return lint_template(text, variables, policy, profile_context(policy, render_context(ctx, policy)),
                         visit_notice=rec.code == VISIT_NOTICE_TEMPLATE)


def _move(s: Session, ctx: AppContext, rec: TemplateRecord, tv: TemplateVersion, to: TemplateStatus,
          actor: str, **after: Any) -> None:
    src = TemplateStatus(tv.status)
    if to not in TEMPLATE_TRANSITIONS[src]:
        raise StateError(f"模板 {rec.code} v{tv.version} 当前为 {src.value}，不能变为 {to.value}",
                         f"template {rec.code} v{tv.version} is {src.value}; cannot become {to.value}",
                         code="state.template")
    tv.status = to.value
    audit.record(s, at=ctx.now(), actor=actor, action=f"template.{to.value}", entity="template",
                 entity_id=f"{rec.code}@{tv.version}", before={"status": src.value},
                 after={"status": to.value, **after})


def _refuse_blocks(code: str, version: int, findings: Sequence[Finding], action_zh: str, action_en: str) -> None:
    blocks = [f for f in findings if f.severity == BLOCK]
    if blocks:
        rules = "、".join(sorted({f.rule for f in blocks}))
        raise ComplianceBlocked(f"模板 {code} v{version} 有阻断项（{rules}），不能{action_zh}：{blocks[0].message_zh}",
                                f"template {code} v{version} has blocking findings ({rules}); cannot {action_en}")


def save(ctx: AppContext, *, code: str, text: str, variables: Mapping[str, str], actor: str, tone: str = "neutral",
         stage: str = "", profile: str = "CN", name: str = "", channel_codes: Mapping[str, Any] | None = None,
         policy_overlay: Path | None = None) -> VersionView:
    """Save ``text`` as the next version (draft) of template ``code``, creating the template if new.

    Raises :class:`~dunning.templates.TemplateError` when the text does not compile (nothing is stored). Lint
    findings, blocking or not, are stored with the draft: an author can save work in progress, but a blocked
    version cannot be submitted or approved."""
    check_meta(tone, stage, profile)
    compile_template(text, variables)
    with ctx.db.transaction() as s:
        require_role(s, actor, *EDITOR_ROLES)
        rec = s.scalars(select(TemplateRecord).where(TemplateRecord.code == code)).first()
        if rec is None:
            rec = TemplateRecord(code=code, name=name or code, tone=tone, stage=stage, profile=profile,
                                 created_at=ctx.now())
            s.add(rec)
            s.flush()
        else:
            if profile != rec.profile:
                raise InputError(f"模板 {code} 属于 {rec.profile}，不能改为 {profile}（请另建模板）",
                                 f"template {code} is {rec.profile}; create another template for {profile}",
                                 code="template.invalid")
            rec.tone, rec.stage = tone, stage or rec.stage
            rec.name = name or rec.name
        findings = _lint_stored(ctx, rec, text, variables, policy_overlay)
        n = s.scalar(select(func.max(TemplateVersion.version)).where(TemplateVersion.template_id == rec.id)) or 0
        tv = TemplateVersion(template_id=rec.id, version=n + 1, text=text, variables=dict(variables),
                             status=TemplateStatus.DRAFT.value, author=actor, reviewer=None, approved_at=None,
                             channel_codes=dict(channel_codes or {}), findings=[f.to_dict() for f in findings],
                             created_at=ctx.now())
        s.add(tv)
        try:
            s.flush()
        except IntegrityError:
            raise StateError(f"模板 {code} 同时被另一人保存，请重试", f"template {code} was saved concurrently; retry",
                             code="state.concurrent") from None
        audit.record(s, at=ctx.now(), actor=actor, action="template.save", entity="template",
                     entity_id=f"{code}@{tv.version}",
                     after={"version": tv.version, "status": tv.status, "blocks": sum(f.blocks for f in findings)})
        return _view(ctx, rec, tv)


def submit_for_review(ctx: AppContext, code: str, version: int | None = None, *, actor: str,
                      policy_overlay: Path | None = None) -> VersionView:
    """draft → in review, after a fresh lint (a blocking finding refuses)."""
    with ctx.db.transaction() as s:
        require_role(s, actor, *EDITOR_ROLES)
        rec, tv = _version(s, code, version)
        findings = _lint_stored(ctx, rec, tv.text, tv.variables, policy_overlay)
        tv.findings = [f.to_dict() for f in findings]
        if tv.status == TemplateStatus.DRAFT.value:
            _refuse_blocks(code, tv.version, findings, "提交审核", "submit it for review")
        _move(s, ctx, rec, tv, TemplateStatus.IN_REVIEW, actor)
        return _view(ctx, rec, tv)


def approve(ctx: AppContext, code: str, version: int | None = None, *, actor: str,
            channel_codes: Mapping[str, Any] | None = None, policy_overlay: Path | None = None) -> VersionView:
    """in review → approved: by a compliance reviewer other than the author, after a fresh lint with the policy
    in force now. From then on the version's text and variables are immutable; ``channel_codes`` (the codes
    Aliyun/Tencent assigned to the registered template) may be recorded at approval."""
    with ctx.db.transaction() as s:
        require_role(s, actor, *REVIEWER_ROLES)
        rec, tv = _version(s, code, version)
        if actor == tv.author:
            raise StateError(f"四眼原则：{actor} 是模板 {code} v{tv.version} 的作者，须由另一人审批",
                             f"four-eyes: {actor} wrote {code} v{tv.version}; another person must approve",
                             code="state.four_eyes")
        findings = _lint_stored(ctx, rec, tv.text, tv.variables, policy_overlay)
        tv.findings = [f.to_dict() for f in findings]
        if tv.status == TemplateStatus.IN_REVIEW.value:
            _refuse_blocks(code, tv.version, findings, "批准", "approve it")
        _move(s, ctx, rec, tv, TemplateStatus.APPROVED, actor, reviewer=actor)
        tv.reviewer = actor
        tv.approved_at = ctx.now()
        if channel_codes:
            tv.channel_codes = {**dict(tv.channel_codes or {}), **dict(channel_codes)}
        return _view(ctx, rec, tv)


def _approved_version(s: Session, code: str, version: int | None) -> tuple[TemplateRecord, TemplateVersion]:
    """The given version, or the newest approved one (what planning uses) when ``version`` is None."""
    if version is not None:
        return _version(s, code, version)
    rec = _record(s, code)
    tv = s.scalars(select(TemplateVersion).where(TemplateVersion.template_id == rec.id,
                                                 TemplateVersion.status == TemplateStatus.APPROVED.value)
                   .order_by(TemplateVersion.version.desc())).first()
    if tv is None:
        raise NotFoundError(f"模板 {code} 没有已批准的版本：请用 --version 指定版本",
                            f"template {code!r} has no approved version; give --version",
                            code="not_found.template_version")
    return rec, tv


def _template_channel_keys(ctx: AppContext) -> dict[str, str]:
    """Keys ``channel_codes`` may use: the configured template-based channels' names and their kinds. A kind whose
    adapter cannot be loaded here (its SDK not installed on this host) is accepted: only the sender needs it."""
    from dunning.channels.registry import kinds

    keys = {k: k for k in kinds() if _template_based(k) is not False}
    for name, cfg in ctx.settings.channels.items():
        if cfg.kind in keys:
            keys[name] = cfg.kind
    return keys


def template_channels(ctx: AppContext) -> list[str]:
    """The configured channels that send only registered templates (Aliyun, Tencent…): where a version needs
    provider codes. For the console's code form."""
    keys = _template_channel_keys(ctx)
    return sorted(name for name in ctx.settings.channels if name in keys)


def _template_based(kind: str) -> bool | None:
    """Whether channels of ``kind`` send only registered templates; None when this host cannot load the adapter."""
    from dunning.channels.registry import capabilities_of

    try:
        return capabilities_of(kind).template_based
    except ConfigError:
        return None


def set_channel_codes(ctx: AppContext, code: str, version: int | None = None, *, codes: Mapping[str, str],
                      actor: str) -> VersionView:
    """Record the template codes providers assigned to an approved version (``{"aliyun": "SMS_123456",
    "tencent": "1234567"}``), keyed by channel name or kind; an empty value removes that channel's code.

    The text stays immutable; only the provider codes change (merged into ``channel_codes``), with an audit
    event ``template.channel_codes`` holding before and after. ``version`` None: the newest approved version."""
    if not codes:
        raise InputError("请至少给出一个 通道=模板编号（如 --set aliyun=SMS_123456）",
                         "give at least one channel=code (e.g. --set aliyun=SMS_123456)", code="template.codes")
    allowed = _template_channel_keys(ctx)
    unknown = sorted(k for k in codes if k not in allowed)
    if unknown:
        known = "、".join(sorted(allowed)) or "（无）"
        raise InputError(f"{'、'.join(unknown)} 不是模板短信通道（可登记：{known}）；自由文本通道（SMPP、HTTP 等）不需要模板编号",
                         f"{', '.join(unknown)}: not a template-based channel (known: {', '.join(sorted(allowed))})",
                         code="template.codes")
    with ctx.db.transaction() as s:
        require_role(s, actor, *EDITOR_ROLES)
        rec, tv = _approved_version(s, code, version)
        if tv.status != TemplateStatus.APPROVED.value:
            raise StateError(f"模板 {code} v{tv.version} 当前为 {tv.status}：只有已批准的版本才能登记模板编号",
                             f"template {code} v{tv.version} is {tv.status}; only approved versions take codes",
                             code="state.template")
        before = dict(tv.channel_codes or {})
        after = dict(before)
        for key, value in codes.items():
            value = str(value).strip()
            if value:
                after[key] = value
            else:
                after.pop(key, None)
        if after == before:
            return _view(ctx, rec, tv)
        # Registering a code a channel does not have yet is immediate (the provider reviewed the template);
        # changing or removing a registered one is a request a reviewer must confirm.
        changes = any(before.get(k) not in (None, after.get(k)) for k in codes)
        if changes and not request_or_confirm(s, ctx, kind="codes", entity_id=f"{code}@{tv.version}", actor=actor,
                                              payload={k: str(v).strip() for k, v in codes.items()}):
            return replace(_view(ctx, rec, tv), pending="codes")  # applied once a reviewer confirms
        tv.channel_codes = after  # a new dict: the JSON column sees the change
        audit.record(s, at=ctx.now(), actor=actor, action="template.channel_codes", entity="template",
                     entity_id=f"{code}@{tv.version}", before={"channel_codes": before},
                     after={"channel_codes": after})
        return _view(ctx, rec, tv)


def missing_channel_codes(ctx: AppContext, s: Session, campaign_id: int, channel: str) -> list[tuple[str, int]]:
    """``(template code, version)`` of the versions a campaign's unsent messages use that have no provider code
    for ``channel`` — empty when the channel sends free text (or is not configured, or cannot be loaded here)."""
    from dunning.db.models import Message
    from dunning.domain.states import MessageState

    cfg = ctx.settings.channels.get(channel)
    # An adapter this host cannot load (a caller handing sending to a worker) is left to the sender's claim,
    # which fails such messages one by one with the same explanation.
    if cfg is None or not _template_based(cfg.kind):
        return []
    keys = (channel, cfg.kind)
    rows = s.execute(
        select(TemplateRecord.code, TemplateVersion.version, TemplateVersion.channel_codes)
        .join(TemplateVersion, TemplateVersion.template_id == TemplateRecord.id)
        .where(TemplateVersion.id.in_(
            select(Message.template_version_id).where(
                Message.campaign_id == campaign_id,
                Message.state.in_([MessageState.PLANNED.value, MessageState.QUEUED.value]),
                Message.template_version_id.is_not(None)).distinct()))
        .order_by(TemplateRecord.code, TemplateVersion.version)).all()
    return [(str(c), int(v)) for c, v, codes in rows if not provider_code(codes, keys)]


def reject(ctx: AppContext, code: str, version: int | None = None, *, actor: str, reason: str = "") -> VersionView:
    """in review → draft, with the reviewer's reason in the audit log."""
    with ctx.db.transaction() as s:
        require_role(s, actor, *REVIEWER_ROLES)
        rec, tv = _version(s, code, version)
        _move(s, ctx, rec, tv, TemplateStatus.DRAFT, actor, reason=reason)
        return _view(ctx, rec, tv)


def retire(ctx: AppContext, code: str, version: int | None = None, *, actor: str) -> VersionView:
    """Retire a version: campaigns planned after this no longer use it. An approved version is retired only
    when a reviewer (compliance) confirms another person's request: until then ``pending == "retire"``."""
    with ctx.db.transaction() as s:
        require_role(s, actor, *EDITOR_ROLES)
        rec, tv = _version(s, code, version)
        if tv.status == TemplateStatus.APPROVED.value and not request_or_confirm(
                s, ctx, kind="retire", entity_id=f"{code}@{tv.version}", actor=actor, payload={}):
            return replace(_view(ctx, rec, tv), pending="retire")
        _move(s, ctx, rec, tv, TemplateStatus.RETIRED, actor)
        return _view(ctx, rec, tv)


def get(ctx: AppContext, code: str, version: int | None = None) -> VersionView:
    """A version (the newest when ``version`` is None)."""
    with ctx.db.transaction() as s:
        rec, tv = _version(s, code, version)
        return _view(ctx, rec, tv)


def history(ctx: AppContext, code: str) -> list[VersionView]:
    """Every version of a template, newest first."""
    with ctx.db.transaction() as s:
        rec = _record(s, code)
        vs = s.scalars(select(TemplateVersion).where(TemplateVersion.template_id == rec.id)
                       .order_by(TemplateVersion.version.desc())).all()
        return [_view(ctx, rec, tv) for tv in vs]


def preview(ctx: AppContext, code: str | None = None, version: int | None = None, *, text: str | None = None,
            variables: Mapping[str, str] | None = None, profile: str = "CN", accounts: pl.DataFrame | None = None,
            policy_overlay: Path | None = None) -> list[PreviewRow]:
    """A stored version (``code``, ``version``) or an unsaved ``text`` rendered for sample accounts, each with
    its length, parts and findings."""
    if code is not None:
        with ctx.db.transaction() as s:
            rec, tv = _version(s, code, version)
            text, variables, profile = tv.text, dict(tv.variables), rec.profile
    if text is None or variables is None:
        raise InputError("请指定模板编号，或模板内容与变量", "give a template code, or a text and its variables")
    policy = policy_for(ctx, profile, policy_overlay)
    return preview_compiled(compile_template(text, variables), policy, render_context(ctx, policy), accounts,
                            visit_notice=code == VISIT_NOTICE_TEMPLATE)


def lint(ctx: AppContext, specs: Sequence[TemplateSpec], policy_overlay: Path | None = None) -> list[LintResult]:
    """Lint templates against the effective policy (settings identity + overlay), without storing anything."""
    policies = {p: policy_for(ctx, p, policy_overlay) for p in {s.profile for s in specs}}
    return lint_specs(specs, policies, None, ctx.settings)


_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def create(ctx: AppContext, *, code: str, text: str, variables: Mapping[str, str], actor: str, tone: str = "neutral",
           stage: str = "", profile: str = "CN", name: str = "") -> VersionView:
    """A new template (its first draft); a code that exists is refused, never turned into a new version of it."""
    code = code.strip()
    if not _CODE.match(code):
        raise InputError("模板代码只能用字母、数字、下划线、点或连字符（最长 64 位），例如 M1_firm_v2",
                         "template codes are letters, digits, _ . - (up to 64), e.g. M1_firm_v2",
                         code="template.code")
    with ctx.db.transaction() as s:
        if s.scalars(select(TemplateRecord.id).where(TemplateRecord.code == code)).first() is not None:
            raise InputError(f"模板 {code} 已存在：请在该模板页面修改（会生成新版本）",
                             f"template {code} exists: edit it on its page (a new version)", code="template.exists")
    return save(ctx, code=code, text=text, variables=variables, actor=actor, tone=tone, stage=stage,
                profile=profile, name=name)
