"""Required elements: amount, due date or days overdue, an official contact from the whitelist."""

from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy

AMOUNT = r"\d[\d,]*(\.\d+)?\s*元|¥\s*\d|\$\s?\d|RMB\s*\d"
DUE = r"\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}|逾期\s*\d+\s*天|\d+\s*days?\s+(past|overdue)|due\s+(on|by)|今天|明天"


def _contact(policy: Policy) -> str | None:
    return "|".join(re.escape(h) for h in policy.hotlines) or None


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    out = []
    end = len(text)
    if not re.search(AMOUNT, text):
        out.append(Finding("required.amount", BLOCK, 0, end, "缺少应还金额。", "the amount due is missing"))
    if not re.search(DUE, text, re.IGNORECASE):
        out.append(Finding("required.due", BLOCK, 0, end, "缺少到期日或逾期天数。", "due date or days overdue missing"))
    pat = _contact(policy)
    if pat is not None and not re.search(pat, text):
        out.append(Finding("required.contact", BLOCK, 0, end,
                           f"缺少官方联系方式（白名单：{'、'.join(policy.hotlines)}）。",
                           "no official hotline from the whitelist"))
    return out


def trips(policy: Policy) -> pl.Expr:
    t = pl.col("text")
    bad = ~t.str.contains(AMOUNT) | ~t.str.contains("(?i)" + DUE)
    pat = _contact(policy)
    if pat is not None:
        bad = bad | ~t.str.contains(pat)
    return bad
