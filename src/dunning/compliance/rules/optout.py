"""Opt-out text: ``optout.missing`` (US: every text says how to stop texts, Reg F 1006.6(e)) and
``optout.forbidden`` (CN: collection SMS are notifications; 退订 wording belongs to marketing and is forbidden by
the policy's ``opt_out_text_in_collection_templates: forbid``)."""

from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, Finding, rules_of
from dunning.compliance.policy import Policy
from dunning.compliance.rules._common import find_words, words_pattern

NAME = "optout"
RULES = rules_of(NAME)
NOTICE = r"(?i)(?:reply|text|send|respond with)\s+[\"'“]?stop\b"


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    out = []
    if policy.optout_required and not re.search(NOTICE, text):
        example = policy.optout_notice or "Reply STOP to stop texts to this number."
        out.append(Finding("optout.missing", BLOCK, 0, len(text), f"美国规则：每条短信须含退订说明，如 “{example}”。",
                           f'every text needs an opt-out notice, e.g. "{example}"'))
    if policy.optout_forbidden:
        for start, end, _w, _t in find_words(text, tuple((w, "") for w in policy.optout_words)):
            out.append(Finding("optout.forbidden", BLOCK, start, end,
                               "催收短信属于通知类，不得含“退订”等营销类字样（回复退订另行处理）。",
                               "collection SMS are notifications: no marketing opt-out wording"))
    return out


def screen_patterns(policy: Policy) -> list[str]:
    pat = words_pattern(policy.optout_words) if policy.optout_forbidden else ""
    return [pat] if pat else []


def trips(policy: Policy) -> pl.Expr:
    return ~pl.col("text").str.contains(NOTICE) if policy.optout_required else pl.lit(False)
