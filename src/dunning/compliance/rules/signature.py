"""``signature.missing`` / ``signature.unregistered``.

CN: a message starts with 【签名】 and the signature is one the institution registered (2–12 characters, the
platforms' limit). US: the sender identifies itself — the institution's name (or a registered name) in the text.
"""

from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, Finding, rules_of
from dunning.compliance.policy import Policy
from dunning.compliance.rules._common import any_word_expr

NAME = "signature"
RULES = rules_of(NAME)
SIG = re.compile(r"^【([^【】]*)】")
SIG_RS = r"^【([^【】]*)】"


def _names(policy: Policy) -> list[str]:
    return [n for n in (policy.institution, *policy.signatures) if n]


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    if not policy.signature_prefix:
        names = _names(policy)
        low = text.lower()
        if names and not any(n.lower() in low for n in names):
            return [Finding("signature.missing", BLOCK, 0, len(text),
                            f"未表明发送方身份：短信中应出现 {names[0]}。",
                            f"the sender is not identified: the text should name {names[0]}")]
        return []
    m = SIG.match(text)
    if m is None or not m.group(1).strip():
        return [Finding("signature.missing", BLOCK, 0, m.end() if m else min(len(text), 1),
                        "缺少【签名】前缀：短信须以已报备的签名开头，如【阳光消费金融】。",
                        "missing 【signature】 prefix: a message starts with its registered signature")]
    sig = m.group(1)
    lo, hi = policy.signature_length
    if not lo <= len(sig) <= hi:
        return [Finding("signature.unregistered", BLOCK, 0, m.end(),
                        f"签名【{sig}】长度为 {len(sig)} 字，应为 {lo}–{hi} 字。",
                        f"signature {sig!r} has {len(sig)} characters; {lo}-{hi} allowed")]
    if policy.signatures and sig not in policy.signatures:
        return [Finding("signature.unregistered", BLOCK, 0, m.end(),
                        f"签名【{sig}】未报备（已报备：{'、'.join(policy.signatures)}）。",
                        f"signature {sig!r} is not registered (registered: {', '.join(policy.signatures)})")]
    return []


def _acceptable(policy: Policy) -> list[str]:
    lo, hi = policy.signature_length
    return [f"【{s}】" for s in policy.signatures if lo <= len(s) <= hi]


def trips(policy: Policy) -> pl.Expr:
    t = pl.col("text")
    if not policy.signature_prefix:
        names = _names(policy)
        if not names:
            return pl.lit(False)
        return ~any_word_expr("text", names)
    if policy.signatures:
        # a prefix test per registered signature: no pass over the whole text
        ok = _acceptable(policy)
        return ~pl.any_horizontal([t.str.starts_with(s) for s in ok]) if ok else pl.lit(True)
    lo, hi = policy.signature_length
    sig = t.str.slice(0, hi + 3).str.extract(SIG_RS, 1)  # the regex only ever sees the head of the text
    n = sig.str.len_chars()
    return sig.is_null() | (n < lo) | (n > hi)
