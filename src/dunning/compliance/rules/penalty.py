"""A stated daily penalty rate must be contractual and not above the legal ceiling (about 24 % a year)."""

from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy

RATE = r"(每日|日|每天|daily)\D{0,8}?(\d+(?:\.\d+)?)\s*%"


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    out = []
    for m in re.finditer(RATE, text, re.IGNORECASE):
        stated = float(m.group(2)) / 100
        if stated > policy.daily_rate_ceiling + 1e-12:
            out.append(Finding("penalty.excessive", BLOCK, m.start(2), m.end(),
                               f"日罚息 {m.group(2)}% 超过法定上限（约年化 24%，即日 {policy.daily_rate_ceiling:.4%}）。",
                               f"daily rate {m.group(2)}% exceeds the ceiling"))
        elif penalty is not None and abs(stated - penalty) > 1e-9:
            out.append(Finding("penalty.excessive", BLOCK, m.start(2), m.end(),
                               f"所述日罚息 {m.group(2)}% 与合同约定 {penalty:.4%} 不符。",
                               f"stated daily rate {m.group(2)}% differs from the contract's"))
    return out


def trips(policy: Policy) -> pl.Expr:
    return pl.col("text").str.contains("(?i)" + RATE)
