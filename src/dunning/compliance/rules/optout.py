from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy

OPTOUT = r"(?i)\bSTOP\b"


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    if policy.optout_required and not re.search(OPTOUT, text):
        return [Finding("optout.missing", BLOCK, 0, len(text), "美国规则：每条短信须含 STOP 退订说明。",
                        'US: every text needs an opt-out notice ("Reply STOP to stop texts")')]
    return []


def trips(policy: Policy) -> pl.Expr:
    if not policy.optout_required:
        return pl.lit(False)
    return ~pl.col("text").str.contains(OPTOUT)
