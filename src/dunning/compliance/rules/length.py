"""``length.segments``: how many billed parts a message takes (signature included).

CN: warn above ``warn_segments`` parts (2), block above ``block_segments`` (3) or beyond 500 characters.
US: GSM-7 160/153 or UCS-2 70/67; warn above 1 part, block above 2. Findings are computed for a whole frame at
once (no row-by-row pass: a long template makes every one of its messages a finding).
"""

from __future__ import annotations

import polars as pl

from dunning.compliance.findings import BLOCK, WARN, Finding, rules_of
from dunning.compliance.policy import Policy
from dunning.domain.sms import length_expr, measure

NAME = "length"
RULES = rules_of(NAME)
_UNIT_ZH = {"cn_domestic": "字", "gsm7": "个 GSM-7 字符", "ucs2": "个 UCS-2 字符", "ascii": "个 ASCII 字符",
            "latin1": "个 Latin-1 字符"}


def _counting(policy: Policy) -> str:
    """``cn_domestic``, or the international counting of the channel's alphabet (``intl``, ``intl_ascii``,
    ``intl_latin1``; planning sets it from the channel)."""
    return policy.counting if policy.counting in ("cn_domestic", "intl_ascii", "intl_latin1") else "intl"


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    m = measure(text, _counting(policy))
    n = len(text)
    unit = _UNIT_ZH[m.encoding]
    if policy.counting == "cn_domestic" and n > policy.total_max:
        return [Finding("length.segments", BLOCK, policy.total_max, n,
                        f"共 {n} 字，超过 {policy.total_max} 字上限。", f"{n} characters, over the {policy.total_max} maximum")]
    if m.parts > policy.block_segments:
        return [Finding("length.segments", BLOCK, 0, n,
                        f"共 {m.units} {unit}，将拆为 {m.parts} 条（上限 {policy.block_segments} 条）。",
                        f"{m.units} units make {m.parts} parts (maximum {policy.block_segments})")]
    if m.parts > policy.warn_segments:
        return [Finding("length.segments", WARN, 0, n,
                        f"共 {m.units} {unit}，将拆为 {m.parts} 条计费（建议不超过 {policy.warn_segments} 条）。",
                        f"{m.units} units make {m.parts} billed parts (keep to {policy.warn_segments})")]
    return []


def trips(policy: Policy) -> pl.Expr:
    if policy.counting != "cn_domestic":
        return pl.lit(True)  # GSM-7 vs UCS-2 is decided per text by findings_frame, for the whole frame
    w = policy.warn_segments
    limit = 0 if w < 1 else 70 if w == 1 else 67 * w
    return pl.col("text").str.len_chars() > min(limit, policy.total_max)


def findings_frame(rows: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Findings for ``rows`` (columns ``row``, ``text``) without a per-row pass."""
    m = rows.select("row", pl.col("text").str.len_chars().alias("n"),
                    length_expr("text", _counting(policy)).alias("m")).unnest("m")
    over_max = (pl.col("n") > policy.total_max) if policy.counting == "cn_domestic" else pl.lit(False)
    block = over_max | (pl.col("parts") > policy.block_segments)
    warn = pl.col("parts") > policy.warn_segments
    unit = pl.col("encoding").replace_strict(_UNIT_ZH, return_dtype=pl.Utf8)
    u, p, n = (pl.col(c).cast(pl.Utf8) for c in ("units", "parts", "n"))
    out = m.filter(block | warn).select(
        pl.col("row"),
        pl.lit("length.segments").alias("rule"),
        pl.when(block).then(pl.lit(BLOCK)).otherwise(pl.lit(WARN)).alias("severity"),
        pl.when(over_max).then(pl.lit(policy.total_max)).otherwise(0).cast(pl.Int64).alias("start"),
        pl.col("n").cast(pl.Int64).alias("end"),
        pl.when(over_max).then(pl.concat_str([pl.lit("共 "), n, pl.lit(f" 字，超过 {policy.total_max} 字上限。")]))
        .when(block).then(pl.concat_str([pl.lit("共 "), u, pl.lit(" "), unit, pl.lit("，将拆为 "), p,
                                         pl.lit(f" 条（上限 {policy.block_segments} 条）。")]))
        .otherwise(pl.concat_str([pl.lit("共 "), u, pl.lit(" "), unit, pl.lit("，将拆为 "), p,
                                  pl.lit(f" 条计费（建议不超过 {policy.warn_segments} 条）。")])).alias("message_zh"),
        pl.when(over_max).then(pl.concat_str([n, pl.lit(f" characters, over the {policy.total_max} maximum")]))
        .when(block).then(pl.concat_str([u, pl.lit(" units make "), p,
                                         pl.lit(f" parts (maximum {policy.block_segments})")]))
        .otherwise(pl.concat_str([u, pl.lit(" units make "), p,
                                  pl.lit(f" billed parts (keep to {policy.warn_segments})")])).alias("message_en"),
    )
    return out
