"""The effective compliance policy: the shipped profile, the institution's identity from settings, then the
company overlay file (strongest).

One source of truth for the sender's identity: the settings' institution and signatures are defaults that an
overlay replaces, and the rendering context (the signature messages carry, the institution named in them) is read
from the effective policy — so lint, planning, preview and the console all use the overlay's signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dunning.compliance import Policy, load_policy
from dunning.services.context import AppContext
from dunning.templates.checking import identity_context, policy_overlay

__all__ = ["identity_context", "overlay_for", "policy_for", "render_context"]


def overlay_for(ctx: AppContext, overlay_file: Path | None = None) -> dict[str, Any]:
    return policy_overlay(ctx.settings.identity, overlay_file or ctx.settings.policy_overlay)


def policy_for(ctx: AppContext, profile: str | None = None, overlay_file: Path | None = None) -> Policy:
    return load_policy(profile or ctx.settings.policy_profile, overlay_for(ctx, overlay_file))


def render_context(ctx: AppContext, policy: Policy | None = None) -> dict[str, str]:
    """The rendering context of ``policy`` (default: the effective policy of the configured profile)."""
    ident = ctx.settings.identity
    return identity_context(policy or policy_for(ctx), ident.app_name, ident.institution)
