"""The effective compliance policy: the shipped profile, the institution's identity from settings, then the
company overlay file (strongest)."""

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


def render_context(ctx: AppContext) -> dict[str, str]:
    ident = ctx.settings.identity
    return {
        "institution": ident.institution,
        "hotline": ident.hotlines[0] if ident.hotlines else "",
        "app": ident.app_name,
        "signature": ident.signatures[0] if ident.signatures else ident.institution,
        "domain": ident.domain,
    }
