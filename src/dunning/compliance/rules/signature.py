from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy

SIG = re.compile(r"^【([^【】]{2,16})】")


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    m = SIG.match(text)
    if m is None:
        return [Finding("signature.missing", BLOCK, 0, min(len(text), 1),
                        "缺少【签名】前缀：短信须以已报备的签名开头。", "missing 【signature】 prefix")]
    if policy.signatures and m.group(1) not in policy.signatures:
        return [Finding("signature.unregistered", BLOCK, 0, m.end(),
                        f"签名【{m.group(1)}】未报备（已报备：{'、'.join(policy.signatures)}）。",
                        f"signature {m.group(1)!r} is not registered")]
    return []


def trips(policy: Policy) -> pl.Expr:
    sig = pl.col("text").str.extract(r"^【([^【】]{2,16})】", 1)
    bad = sig.is_null()
    if policy.signatures:
        bad = bad | ~sig.is_in(list(policy.signatures))
    return bad
