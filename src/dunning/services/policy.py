"""The effective compliance policy: the shipped profile, the institution's identity from settings, then the
company overlay file (strongest).

One source of truth for the sender's identity: the settings' institution and signatures are defaults that an
overlay replaces, and the rendering context (the signature messages carry, the institution named in them) is read
from the effective policy — so lint, planning, preview and the console all use the overlay's signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dunning.compliance import Policy, load_policy
from dunning.errors import ConfigError
from dunning.services.context import AppContext


def overlay_for(ctx: AppContext, overlay_file: Path | None = None) -> dict[str, Any]:
    ident = ctx.settings.identity
    overlay: dict[str, Any] = {
        "institution": ident.institution,
        "signatures": list(ident.signatures),
        "hotlines": list(ident.hotlines),
        "domains": [ident.domain] if ident.domain else [],
    }
    path = overlay_file or ctx.settings.policy_overlay
    if path is not None:
        try:
            extra = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"无法读取策略覆盖文件 {path}：{exc}", f"cannot read policy overlay {path}: {exc}") from exc
        if not isinstance(extra, dict):
            raise ConfigError(f"策略覆盖文件 {path} 应为映射", f"policy overlay {path} must be a mapping")
        overlay.update(extra)
    return overlay


def policy_for(ctx: AppContext, profile: str | None = None, overlay_file: Path | None = None) -> Policy:
    return load_policy(profile or ctx.settings.policy_profile, overlay_for(ctx, overlay_file))


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


def render_context(ctx: AppContext, policy: Policy | None = None) -> dict[str, str]:
    """The rendering context of ``policy`` (default: the effective policy of the configured profile)."""
    ident = ctx.settings.identity
    return identity_context(policy or policy_for(ctx), ident.app_name, ident.institution)
