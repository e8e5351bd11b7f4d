"""``required.amount``, ``required.due``, ``required.contact``: what a borrower needs to act on the message.

The contact must be an official hotline: one from the institution's whitelist, or — when none is configured — a
number of a service shape (95xxx, 400/800, landline) rather than anyone's mobile.
"""

from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, WARN, Finding, rules_of
from dunning.compliance.policy import Policy

NAME = "required"
RULES = rules_of(NAME)
# "how to tell this message is genuine": verify through official channels / we never ask for a transfer
ANTI_FRAUD = r"核实|不会要求|谨防诈骗|防范诈骗|(?i:verify|never ask)"
AMOUNT = r"\d[\d,]*(?:\.\d+)?\s*元|[¥￥]\s*\d|\$\s?\d|(?i:RMB|CNY|USD)\s*\d"
DUE = (r"\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|逾期\s*\d+\s*天|今天|今日|明天|明日"
       r"|(?i:\d+\s*days?\s+(?:past\s+due|overdue|late)|due\s+(?:on|by|today|tomorrow)|past\s+due)")


def contact_pattern(policy: Policy) -> str | None:
    """Regex for an acceptable contact: the whitelist (with or without separators), else the hotline shapes."""
    if policy.hotlines:
        forms: set[str] = set()
        for h in policy.hotlines:
            forms.add(h)
            forms.add(re.sub(r"[\s-]", "", h))
        return "|".join(re.escape(f).replace(r"\-", "-") for f in sorted(forms, key=len, reverse=True))
    if policy.hotline_patterns:
        return "|".join(policy.hotline_patterns)
    return None


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    out = []
    end = len(text)
    if not re.search(AMOUNT, text):
        out.append(Finding("required.amount", BLOCK, 0, end, "缺少应还金额（如 1,234.50元）。",
                           "the amount due is missing (e.g. 1,234.50元 or $1,234.50)"))
    if not re.search(DUE, text):
        out.append(Finding("required.due", BLOCK, 0, end, "缺少到期日或逾期天数（如 8月31日、逾期5天）。",
                           "the due date or the days overdue are missing"))
    pat = contact_pattern(policy)
    if pat is not None and not re.search(pat, text):
        listed = "、".join(policy.hotlines) or "95xxx/400/固话"
        out.append(Finding("required.contact", BLOCK, 0, end, f"缺少官方客服电话（{listed}）。",
                           f"no official hotline ({', '.join(policy.hotlines) or '95xxx/400/landline'})"))
    if policy.anti_fraud_hint and not re.search(ANTI_FRAUD, text):
        out.append(Finding("required.anti_fraud", WARN, 0, end,
                           "缺少防诈骗提示：建议写明可凭验证码在官网或致电客服核实，我司不会要求向个人账户转账。",
                           "no anti-fraud hint: say how to verify the message and that we never ask for a transfer"))
    return out


def trips(policy: Policy) -> pl.Expr:
    t = pl.col("text")
    bad = ~t.str.contains(AMOUNT) | ~t.str.contains(DUE)
    if policy.anti_fraud_hint:
        bad = bad | ~t.str.contains(ANTI_FRAUD)
    if policy.hotlines:
        forms = sorted({f for h in policy.hotlines for f in (h, re.sub(r"[\s-]", "", h))})
        bad = bad | ~pl.any_horizontal([t.str.contains(f, literal=True) for f in forms])
    else:
        pat = contact_pattern(policy)
        if pat is not None:
            bad = bad | ~t.str.contains(pat)
    return bad
