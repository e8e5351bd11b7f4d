from __future__ import annotations

import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy
from dunning.domain.sms import cn_parts, intl_parts


def _parts(text: str, policy: Policy) -> int:
    return cn_parts(len(text)) if policy.counting == "cn_domestic" else intl_parts(text)[2]


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    n = len(text)
    parts = _parts(text, policy)
    if n > policy.total_max:
        return [Finding("length.segments", BLOCK, policy.total_max, n, f"超过 {policy.total_max} 字上限（{n} 字）。",
                        f"longer than {policy.total_max} characters")]
    if parts > policy.block_segments:
        return [Finding("length.segments", BLOCK, 0, n, f"{n} 字，将拆为 {parts} 条（上限 {policy.block_segments} 条）。",
                        f"{parts} parts exceed {policy.block_segments}")]
    if parts > policy.warn_segments:
        return [Finding("length.segments", "warn", 0, n, f"{n} 字，将拆为 {parts} 条计费（建议不超过 {policy.warn_segments} 条）。",
                        f"{parts} parts (over {policy.warn_segments})")]
    return []


def trips(policy: Policy) -> pl.Expr:
    n = pl.col("text").str.len_chars()
    if policy.counting == "cn_domestic":
        return n > 67 * policy.warn_segments
    return n > 67  # UCS-2 worst case; GSM-7 texts are settled exactly by check()
