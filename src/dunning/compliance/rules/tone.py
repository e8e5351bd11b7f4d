from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import Finding
from dunning.compliance.policy import Policy


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    marks = list(re.finditer(r"[!！]", text))
    if len(marks) > policy.max_exclamations:
        m = marks[0]
        return [Finding("tone.exclamation", "warn", m.start(), m.end(), "感叹号显得催逼，请改用平实语气。",
                        "exclamation marks read as pressure")]
    return []


def trips(policy: Policy) -> pl.Expr:
    return pl.col("text").str.count_matches(r"[!！]") > policy.max_exclamations
