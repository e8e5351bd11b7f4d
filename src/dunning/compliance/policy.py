"""The compliance policy: the shipped profile (CN or US) from YAML, overlaid by the company's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dunning.errors import ConfigError

# Daily-rate ceiling: about 24 % a year (the judicial protection ceiling for private lending) / 365.
DAILY_RATE_CEILING = 0.24 / 365


@dataclass(frozen=True)
class Policy:
    profile: str
    institution: str
    signatures: tuple[str, ...]
    hotlines: tuple[str, ...]
    domains: tuple[str, ...]
    lexicons: Mapping[str, tuple[str, ...]]
    stop_keywords: tuple[str, ...]
    dispute_keywords: tuple[str, ...]
    counting: str = "cn_domestic"
    warn_segments: int = 2
    block_segments: int = 3
    total_max: int = 500
    daily_rate_ceiling: float = DAILY_RATE_CEILING
    max_exclamations: int = 0
    optout_required: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)


# Lexicon families of the CN profile → rule ids.
CN_LEXICON_RULES = {
    "threats_violence": "lexicon.threat",
    "false_legal_pressure": "lexicon.legal_pressure",
    "impersonation": "lexicon.impersonation",
    "third_party_shaming": "lexicon.third_party",
    "insults": "lexicon.insult",
    "collateral_harm": "lexicon.collateral",
    "fee_and_new_debt": "lexicon.fee",
    "platform_banned_terms": "lexicon.fee",
}
US_LEXICON_RULES = {
    "threats": "lexicon.threat",
    "unlawful_or_unintended_action": "lexicon.legal_pressure",
    "false_authority": "lexicon.impersonation",
    "shaming_third_party": "lexicon.third_party",
    "false_urgency": "lexicon.legal_pressure",
}


def _shipped() -> dict[str, Any]:
    text = resources.files("dunning.data.policy").joinpath("collection-sms-default.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def load_policy(profile: str = "CN", overlay: Path | Mapping[str, Any] | None = None) -> Policy:
    """The shipped profile with the overlay (institution, signatures, hotlines, domains, lexicon additions)."""
    data = _shipped()
    jur = data["jurisdictions"].get(profile)
    if jur is None:
        raise ConfigError(f"未知的合规配置 {profile}（可用：CN、US）", f"unknown policy profile {profile!r}")
    extra: Mapping[str, Any]
    if overlay is None:
        extra = {}
    elif isinstance(overlay, Path):
        loaded = yaml.safe_load(overlay.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"覆盖文件 {overlay} 应为映射", f"overlay {overlay} must be a mapping")
        extra = loaded
    else:
        extra = overlay
    content = jur["content"]
    families = CN_LEXICON_RULES if profile == "CN" else US_LEXICON_RULES
    lex: dict[str, list[str]] = {}
    for fam, rule in families.items():
        words = content.get("forbidden_lexicon", {}).get(fam) or []
        if isinstance(words, list):
            lex.setdefault(rule, []).extend(str(w) for w in words)
    for rule, words in (extra.get("lexicon") or {}).items():
        lex.setdefault(rule, []).extend(words)
    replies = jur.get("inbound_replies", {})
    length = jur.get("length", {})
    opt = jur.get("opt_out", {})
    return Policy(
        profile=profile,
        institution=str(extra.get("institution", "")),
        signatures=tuple(extra.get("signatures", ())),
        hotlines=tuple(str(h) for h in extra.get("hotlines", ())),
        domains=tuple(extra.get("domains", ())),
        lexicons={k: tuple(dict.fromkeys(v)) for k, v in lex.items()},
        stop_keywords=tuple(replies.get("stop_keywords") or opt.get("keywords") or ()),
        dispute_keywords=tuple(replies.get("dispute_keywords") or ()),
        counting="cn_domestic" if profile == "CN" else "intl",
        warn_segments=int(extra.get("warn_segments", length.get("default_max_segments", 2))),
        block_segments=int(extra.get("block_segments", length.get("hard_max_segments", 3))),
        total_max=int(length.get("total_max", 500)),
        optout_required=profile == "US",
        raw=jur,
    )
