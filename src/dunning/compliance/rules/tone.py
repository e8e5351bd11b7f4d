"""``tone.exclamation``: exclamation marks read as pressure (policy ``max_exclamation_marks``, 0 by default)."""

from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import WARN, Finding, rules_of
from dunning.compliance.policy import Policy

NAME = "tone"
RULES = rules_of(NAME)


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    marks = list(re.finditer(r"[!！]", text))
    if len(marks) <= policy.max_exclamations:
        return []
    first = marks[policy.max_exclamations]
    return [Finding("tone.exclamation", WARN, first.start(), marks[-1].end(),
                    f"含 {len(marks)} 个感叹号，显得催逼：请改用平实的语气。",
                    f"{len(marks)} exclamation marks read as pressure: use a plain tone")]


def screen_patterns(policy: Policy) -> list[str]:
    return ["!|！"] if policy.max_exclamations == 0 else []


def trips(policy: Policy) -> pl.Expr:
    if policy.max_exclamations == 0:
        return pl.lit(False)
    return pl.col("text").str.count_matches(r"[!！]") > policy.max_exclamations
