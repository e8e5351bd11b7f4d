"""The compliance policy: the shipped profile (CN or US) from YAML, overlaid by the company's own settings.

Sources, weakest first: ``dunning/data/policy/collection-sms-default.yaml`` (the researched defaults, shipped
unchanged), ``dunning/data/policy/extensions.yaml`` (word lists the lint needs that the research leaves open),
``dunning/data/policy/lexicon-classes.yaml`` (the lexicon families as structures over word classes), then the
company overlay (a YAML file or a mapping). The overlay's ``institution`` and ``signatures`` replace the settings'
defaults: the first registered signature is the one messages carry. Overlay keys:

=================  ==========================================================================================
institution        the lender's name (用于自报家门)
signatures         registered 【signature】 texts; a message's signature must be one of them
hotlines           official hotlines; ``required.contact`` wants one of them, other service numbers block
domains            the lender's own domains (links to them are allowed only when ``links.enabled``)
links              ``{enabled: bool, max_links: int}``; CN default is disabled (every link blocks)
lexicon            ``{rule_id: [words]}`` added to the shipped lexicons
lexicon_exempt     phrases that contain a forbidden word but are acceptable (e.g. a product name)
word_classes       ``{class: [words]}`` added to the lexicon's word classes (``lexicon-classes.yaml``: contact,
                   third_party, harm, legal_action, authority...)
length             ``{warn_segments, block_segments}``
tone               ``{max_exclamation_marks}``
penalty            ``{daily_rate_ceiling}`` (a daily fraction; default 24 % / 365)
frequency, caps,   kept in ``raw`` for the planning and sending services
contact_window
=================  ==========================================================================================

An unknown overlay key is an error (a misspelt ``signature:`` must not silently leave signatures unchecked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dunning.compliance.wordclasses import Lexicon, build
from dunning.errors import ConfigError

# Daily-rate ceiling: about 24 % a year (the judicial protection line for private lending) / 365 ≈ 0.0657 %/day.
DAILY_RATE_CEILING = 0.24 / 365
PROFILES = ("CN", "US")
OVERLAY_KEYS = frozenset({
    "institution", "signatures", "hotlines", "domains", "links", "lexicon", "lexicon_exempt", "length", "tone",
    "penalty", "frequency", "caps", "contact_window", "profile", "policy_id", "version", "word_classes",
})

# Lexicon families of each shipped profile → rule ids.
CN_LEXICON_RULES = {
    "threats_violence": "lexicon.threat",
    "false_legal_pressure": "lexicon.legal_pressure",
    "impersonation": "lexicon.impersonation",
    "third_party_shaming": "lexicon.third_party",
    "insults": "lexicon.insult",
    "collateral_harm": "lexicon.collateral",
    "fee_and_new_debt": "lexicon.fee",
    "platform_banned_terms": "lexicon.platform",
}
US_LEXICON_RULES = {
    "threats": "lexicon.threat",
    "unlawful_or_unintended_action": "lexicon.legal_pressure",
    "false_urgency": "lexicon.legal_pressure",
    "false_authority": "lexicon.impersonation",
    "shaming_third_party": "lexicon.third_party",
    "profanity": "lexicon.insult",
}


@dataclass(frozen=True)
class Policy:
    """Everything a rule needs, resolved: no rule reads YAML."""

    profile: str
    institution: str
    signatures: tuple[str, ...]
    hotlines: tuple[str, ...]
    domains: tuple[str, ...]
    lexicons: Mapping[str, tuple[str, ...]]
    stop_keywords: tuple[str, ...]
    dispute_keywords: tuple[str, ...]
    # Case type → keywords: a reply containing one opens a case of that type (first type in order wins).
    case_keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    counting: str = "cn_domestic"  # cn_domestic | intl
    warn_segments: int = 2
    block_segments: int = 3
    total_max: int = 500
    daily_rate_ceiling: float = DAILY_RATE_CEILING
    max_exclamations: int = 0
    signature_prefix: bool = True  # CN: 【签名】 at the start; US: the sender's name in the text
    signature_length: tuple[int, int] = (2, 12)
    links_enabled: bool = False
    max_links: int = 1
    optout_required: bool = False
    optout_forbidden: bool = False
    optout_notice: str = ""
    lexicon_exempt: tuple[str, ...] = ()
    hotline_patterns: tuple[str, ...] = ()
    secret_words: tuple[str, ...] = ()
    secret_verbs: tuple[str, ...] = ()
    personal_account_words: tuple[str, ...] = ()
    qr_words: tuple[str, ...] = ()
    im_words: tuple[str, ...] = ()
    optout_words: tuple[str, ...] = ()
    penalty_words: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    unsupported_symbols: tuple[str, ...] = ()
    max_variables: int = 10
    forbid_adjacent_variables: bool = True
    anti_fraud_hint: bool = False
    lexicon: Lexicon = field(default_factory=Lexicon)
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)


def _read(name: str) -> dict[str, Any]:
    text = resources.files("dunning.data.policy").joinpath(name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"内置策略文件 {name} 损坏", f"shipped policy file {name} is not a mapping")
    return data


@lru_cache(maxsize=1)
def _shipped() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return _read("collection-sms-default.yaml"), _read("extensions.yaml"), _read("lexicon-classes.yaml")


def _overlay(overlay: Path | str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if overlay is None:
        return {}
    if isinstance(overlay, Mapping):
        return overlay
    path = Path(overlay)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"无法读取策略覆盖文件 {path}：{exc}", f"cannot read policy overlay {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"策略覆盖文件 {path} 应为映射", f"policy overlay {path} must be a mapping")
    return loaded


def _strs(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"策略项 {key} 应为列表", f"policy key {key} must be a list")
    return tuple(str(v) for v in value)


def _section(extra: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = extra.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"策略项 {key} 应为映射", f"policy key {key} must be a mapping")
    return value


def load_policy(profile: str = "CN", overlay: Path | str | Mapping[str, Any] | None = None) -> Policy:
    """The shipped ``profile`` (``CN`` or ``US``) with the company ``overlay`` applied.

    Raises :class:`~dunning.errors.ConfigError` for an unknown profile, an unreadable overlay file, or an unknown
    overlay key.
    """
    if profile not in PROFILES:
        raise ConfigError(f"未知的合规配置 {profile}（可用：{'、'.join(PROFILES)}）", f"unknown policy profile {profile!r}")
    base, ext, classes = _shipped()
    jur: Mapping[str, Any] = base["jurisdictions"][profile]
    jext: Mapping[str, Any] = ext.get("jurisdictions", {}).get(profile, {})
    common: Mapping[str, Any] = ext.get("common", {})
    extra = _overlay(overlay)
    unknown = sorted(set(extra) - OVERLAY_KEYS)
    if unknown:
        raise ConfigError(
            f"策略覆盖中有未知的键：{'、'.join(unknown)}（可用：{'、'.join(sorted(OVERLAY_KEYS))}）",
            f"unknown policy overlay keys: {', '.join(unknown)} (known: {', '.join(sorted(OVERLAY_KEYS))})",
        )

    content: Mapping[str, Any] = jur.get("content", {})
    families = CN_LEXICON_RULES if profile == "CN" else US_LEXICON_RULES
    lex: dict[str, list[str]] = {}
    for fam, rule in families.items():
        words = content.get("forbidden_lexicon", {}).get(fam)
        if isinstance(words, list):  # the US profanity entry is a placeholder string, not a list
            lex.setdefault(rule, []).extend(str(w) for w in words)
    for source in (jext.get("lexicon") or {}, _section(extra, "lexicon")):
        for rule, words in source.items():
            if not str(rule).startswith("lexicon."):
                raise ConfigError(f"词库规则名应以 lexicon. 开头：{rule}", f"lexicon rule ids start with 'lexicon.': {rule}")
            lex.setdefault(str(rule), []).extend(_strs(words, f"lexicon.{rule}"))

    symbols: list[str] = []
    for item in content.get("forbidden_elements") or []:
        if isinstance(item, dict) and "unsupported_symbols" in item:
            symbols.extend(str(s) for s in item["unsupported_symbols"])

    replies: Mapping[str, Any] = jur.get("inbound_replies", {})
    opt: Mapping[str, Any] = jur.get("opt_out", {})
    length: Mapping[str, Any] = jur.get("length", {})
    length_over = _section(extra, "length")
    links_cfg: Mapping[str, Any] = jur.get("links", {})
    links_over = _section(extra, "links")
    if profile == "CN":
        links_enabled = links_cfg.get("default", "forbid") != "forbid"
        max_links = int(links_cfg.get("if_enabled", {}).get("max_links", 1))
    else:  # US: links only to the allowed (own) domains
        links_enabled = True
        max_links = int(content.get("links", {}).get("max_links", 1))
    sig_cfg: Mapping[str, Any] = content.get("signature", {})
    sig_len = sig_cfg.get("length", {"min": 2, "max": 12})
    templ: Mapping[str, Any] = jur.get("templates", {})
    tvars: Mapping[str, Any] = templ.get("variables", {})
    notice = ""
    for item in content.get("required") or []:
        if isinstance(item, dict) and "opt_out_notice" in item:
            notice = str(item["opt_out_notice"])
    tone = _section(extra, "tone")
    penalty = _section(extra, "penalty")

    known_classes = set((classes.get(profile) or {}).get("classes") or {})
    extra_classes = {str(k): _strs(v, f"word_classes.{k}") for k, v in _section(extra, "word_classes").items()}
    unknown_classes = sorted(set(extra_classes) - known_classes)
    if unknown_classes:
        raise ConfigError(f"策略覆盖中有未知的词类：{'、'.join(unknown_classes)}（可用：{'、'.join(sorted(known_classes))}）",
                          f"unknown word classes: {', '.join(unknown_classes)} (known: {', '.join(sorted(known_classes))})")

    raw = dict(jur)
    for key in ("frequency", "caps", "contact_window"):
        if key in extra:
            raw[key] = {**dict(raw.get(key) or {}), **dict(_section(extra, key))}

    return Policy(
        profile=profile,
        institution=str(extra.get("institution", "")),
        signatures=_strs(extra.get("signatures"), "signatures"),
        hotlines=_strs(extra.get("hotlines"), "hotlines"),
        domains=tuple(d.lower().removeprefix("https://").removeprefix("http://").strip("/")
                      for d in _strs(extra.get("domains"), "domains")),
        lexicons={k: tuple(dict.fromkeys(v)) for k, v in lex.items()},
        stop_keywords=_strs(replies.get("stop_keywords") or opt.get("keywords"), "stop_keywords"),
        dispute_keywords=_strs(replies.get("dispute_keywords"), "dispute_keywords"),
        case_keywords={str(k): _strs(v, f"case_keywords.{k}")
                       for k, v in (extra.get("case_keywords") or jext.get("case_keywords") or {}).items()},
        counting="cn_domestic" if length.get("counting") == "cn_domestic" else "intl",
        warn_segments=int(length_over.get("warn_segments", length.get("default_max_segments", 2))),
        block_segments=int(length_over.get("block_segments", length.get("hard_max_segments", 3))),
        total_max=int(length.get("total_max", 500)),
        daily_rate_ceiling=float(penalty.get("daily_rate_ceiling", DAILY_RATE_CEILING)),
        max_exclamations=int(tone.get("max_exclamation_marks",
                                      content.get("tone", {}).get("max_exclamation_marks", 0))),
        signature_prefix=profile == "CN",
        signature_length=(int(sig_len.get("min", 2)), int(sig_len.get("max", 12))),
        links_enabled=bool(links_over.get("enabled", links_enabled)),
        max_links=int(links_over.get("max_links", max_links)),
        optout_required=profile == "US",
        optout_forbidden=templ.get("opt_out_text_in_collection_templates") == "forbid",
        optout_notice=notice,
        lexicon_exempt=_strs(extra.get("lexicon_exempt"), "lexicon_exempt"),
        hotline_patterns=_strs(jext.get("hotline_patterns"), "hotline_patterns"),
        secret_words=_strs(jext.get("secret_words"), "secret_words"),
        secret_verbs=_strs(jext.get("secret_verbs"), "secret_verbs"),
        personal_account_words=_strs(jext.get("personal_account_words"), "personal_account_words"),
        qr_words=_strs(jext.get("qr_words"), "qr_words"),
        im_words=_strs(jext.get("im_words"), "im_words"),
        optout_words=_strs(jext.get("optout_words"), "optout_words"),
        penalty_words=_strs(common.get("penalty_words"), "penalty_words"),
        negations=_strs(common.get("negations"), "negations"),
        unsupported_symbols=tuple(symbols),
        max_variables=int(tvars.get("max_variables", 10)),
        forbid_adjacent_variables=bool(tvars.get("forbid_adjacent_variables", True)),
        anti_fraud_hint=bool(jur.get("anti_fraud", {}).get("must_include_verification_hint", False)),
        lexicon=build(classes.get(profile) or {}, {k: list(dict.fromkeys(v)) for k, v in lex.items()},
                      extra_classes, _strs(extra.get("lexicon_exempt"), "lexicon_exempt")),
        raw=raw,
    )
