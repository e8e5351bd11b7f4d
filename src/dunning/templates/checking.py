"""Template checks that need neither the database nor the services: lint a template against its profile's policy
(as its widest rendering), preview it for sample accounts, read template files, and the effective policy and
rendering identity from settings (the services add the database's view: :mod:`dunning.services.templates`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from dunning.compliance import (
    BLOCK,
    VISIT_NOTICE_TEMPLATE,
    Finding,
    Policy,
    lint_template,
    lint_text,
    load_policy,
    worst_case,
)
from dunning.config import IdentitySettings, Settings
from dunning.domain.sms import measure
from dunning.errors import ConfigError, InputError
from dunning.templates import STAGES, TONES, CompiledTemplate, TemplateSpec, parse_specs, render


@dataclass
class LintResult:
    """The lint of one template: its widest rendering's length and parts, and the findings."""

    id: str
    profile: str
    worst_case_length: int
    segments: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(f.severity == BLOCK for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The shape ``dunning templates lint --json`` prints for one template."""
        return {"id": self.id, "segments": self.segments,
                "findings": [{"rule": f.rule, "severity": f.severity, "start": f.start, "end": f.end,
                              "message_zh": f.message_zh} for f in self.findings]}


@dataclass
class PreviewRow:
    loan_id: str
    text: str
    length: int
    segments: int
    findings: list[Finding] = field(default_factory=list)


def check_meta(tone: str, stage: str, profile: str) -> None:
    if tone not in TONES:
        raise InputError(f"语气 {tone} 无效（可选：{'、'.join(TONES)}）", f"tone must be one of {', '.join(TONES)}",
                         code="template.invalid")
    if stage and stage not in STAGES:
        raise InputError(f"阶段 {stage} 无效（可选：{'、'.join(STAGES)}）", f"stage must be one of {', '.join(STAGES)}",
                         code="template.invalid")
    if profile not in ("CN", "US"):
        raise InputError(f"合规配置 {profile} 无效（可选：CN、US）", "profile must be CN or US", code="template.invalid")


def profile_context(policy: Policy, context: Mapping[str, str]) -> dict[str, str]:
    """The rendering context a template is judged with: the institution's identity; no 【】 for US texts."""
    ctx = dict(context)
    if not policy.signature_prefix:
        ctx.pop("signature", None)
    return ctx


def lint_specs(specs: Sequence[TemplateSpec], policies: Mapping[str, Policy],
               context: Mapping[str, str] | None = None, settings: Settings | None = None) -> list[LintResult]:
    """Lint templates (no database): each against the policy of its profile, as its widest rendering, every rule
    always (a variable that is no data field is a ``template.binding`` finding beside the others).

    ``context`` None: each policy's own identity (:func:`identity_context`)."""
    out = []
    for spec in specs:
        policy = policies.get(spec.profile)
        if policy is None:
            raise ConfigError(f"模板 {spec.id} 的合规配置 {spec.profile} 未加载", f"no policy for profile {spec.profile}")
        base = context if context is not None else identity_context(
            policy, settings.identity.app_name if settings else "", settings.identity.institution if settings else "")
        ctx = profile_context(policy, base)
        findings = lint_template(spec.text, spec.variables, policy, ctx, visit_notice=spec.id == VISIT_NOTICE_TEMPLATE)
        wc = worst_case(spec.text, spec.variables, policy, ctx)
        m = measure(wc, policy.counting)
        out.append(LintResult(spec.id, spec.profile, len(wc), m.parts if wc else 0, findings))
    return out


def read_specs(path: Path) -> list[TemplateSpec]:
    """Templates from a YAML file: a list of ``{id, text, variables: {name: type}}`` (optional ``profile``,
    ``tone``, ``stage``, ``description``), or a mapping with such a ``templates`` list."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"无法读取模板文件 {path}：{exc}", f"cannot read template file {path}: {exc}",
                         code="template.file") from exc
    return parse_specs(data, source=str(path))


def policy_overlay(identity: IdentitySettings, overlay_file: Path | None) -> dict[str, Any]:
    """The overlay a profile is loaded with: the institution's identity from settings, then the company overlay
    file (strongest) when there is one."""
    overlay: dict[str, Any] = {"institution": identity.institution, "signatures": list(identity.signatures),
                               "hotlines": list(identity.hotlines),
                               "domains": [identity.domain] if identity.domain else []}
    if overlay_file is not None:
        try:
            extra = yaml.safe_load(Path(overlay_file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"无法读取策略覆盖文件 {overlay_file}：{exc}",
                              f"cannot read policy overlay {overlay_file}: {exc}") from exc
        if not isinstance(extra, dict):
            raise ConfigError(f"策略覆盖文件 {overlay_file} 应为映射", f"policy overlay {overlay_file} must be a mapping")
        overlay.update(extra)
    return overlay


def identity_context(policy: Policy, app_name: str = "", default_institution: str = "") -> dict[str, str]:
    """The constants a template renders with, from the effective policy: its first registered signature (the
    message signature), institution, first hotline and domain. The settings' app name is kept while the
    institution is the settings' own; an overlay naming another institution gets ``<institution>App``."""
    app = app_name if app_name and policy.institution == default_institution else (
        f"{policy.institution}App" if policy.institution else app_name)
    return {
        "institution": policy.institution,
        "hotline": policy.hotlines[0] if policy.hotlines else "",
        "app": app,
        "signature": policy.signatures[0] if policy.signatures else "",
        "domain": policy.domains[0] if policy.domains else "",
    }


def settings_policy(settings: Settings, profile: str, overlay_file: Path | None = None) -> Policy:
    """The effective policy from settings alone (no database): the shipped profile, the institution's identity,
    then the overlay file. Same layering as :func:`dunning.services.policy.policy_for`."""
    return load_policy(profile, policy_overlay(settings.identity, overlay_file or settings.policy_overlay))


def settings_context(settings: Settings, policy: Policy | None = None) -> dict[str, str]:
    """The rendering context of ``policy`` (default: the settings' own, no overlay)."""
    ident = settings.identity
    return identity_context(policy or settings_policy(settings, settings.policy_profile), ident.app_name,
                            ident.institution)


def lint_file(path: Path, settings: Settings, overlay_file: Path | None = None) -> list[LintResult]:
    """``dunning templates lint FILE``: every template of the file against its profile's effective policy, with
    that policy's identity (the overlay's signature and institution when it names them)."""
    specs = read_specs(path)
    policies = {p: settings_policy(settings, p, overlay_file) for p in {s.profile for s in specs}}
    return lint_specs(specs, policies, None, settings)


SAMPLE_ACCOUNTS = pl.DataFrame(
    {
        "loan_id": ["L000012345", "L000067890", "L000024680", "L000013579"],
        "name": ["张三丰", None, "欧阳娜娜", "李"],
        "amount_due_fen": [123_450, 8_800, 2_599_900, 100],
        "due_date": [date(2026, 8, 31), date(2026, 12, 1), date(2026, 1, 5), date(2026, 10, 10)],
        "penalty_rate": [0.0005, 0.0003, 0.00055, None],
        "dpd": [5, 1, 95, 33],
        "product": ["消费贷", "分期贷", "装修分期", "随借随还"],
        "verify_code": ["K7M2QX", "R4TZ8W", "C3H9PV", "N6Y2DE"],
        # a visit notice's scope columns (synthetic)
        "staff": ["张伟、李娜", "欧阳娜娜、王强", "赵强、钱芳", "孙磊、周敏"],
        "reg_no": ["REG-20261205-K7M2QX", "REG-20261206-R4TZ8W", "REG-20261207-C3H9PV", "REG-20261208-N6Y2DE"],
        "visit_date": ["12月5日14:00", "12月6日09:30", "12月7日16:00", "12月8日10:00"],
    },
    schema={"loan_id": pl.Utf8, "name": pl.Utf8, "amount_due_fen": pl.Int64, "due_date": pl.Date,
            "penalty_rate": pl.Float64, "dpd": pl.Int32, "product": pl.Utf8, "verify_code": pl.Utf8,
            "staff": pl.Utf8, "reg_no": pl.Utf8, "visit_date": pl.Utf8},
)


def preview_compiled(compiled: CompiledTemplate, policy: Policy, context: Mapping[str, str],
                     accounts: pl.DataFrame | None = None, *, visit_notice: bool = False) -> list[PreviewRow]:
    """Render for sample accounts (an empty name, a large amount, a null penalty...) and lint each message
    (``visit_notice``: with the visit-notice allowance, for the visit-notice template)."""
    frame = SAMPLE_ACCOUNTS if accounts is None else accounts
    missing = [c for c in compiled.columns if c not in frame.columns]
    if missing:
        raise InputError(f"预览账户缺少列：{'、'.join(missing)}", f"preview accounts lack columns: {', '.join(missing)}")
    ctx = profile_context(policy, context)
    texts = render(frame, compiled, ctx).to_list()
    penalties = (frame["penalty_rate"].to_list() if "penalty_rate" in frame.columns else [None] * frame.height)
    ids = frame["loan_id"].to_list() if "loan_id" in frame.columns else [str(i) for i in range(frame.height)]
    out = []
    for loan_id, text, pen in zip(ids, texts, penalties, strict=True):
        m = measure(text, policy.counting)
        out.append(PreviewRow(str(loan_id), text, len(text), m.parts,
                              lint_text(text, policy, pen, visit_notice=visit_notice)))
    return out


