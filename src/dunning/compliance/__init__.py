"""Compliance: the policy and the rules every template and every rendered message is checked against."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from dunning.compliance.findings import BLOCK, WARN, Finding
from dunning.compliance.policy import Policy, load_policy
from dunning.compliance.rules import FAMILIES

FINDINGS_SCHEMA = {"row": pl.UInt32, "rule": pl.Utf8, "severity": pl.Utf8, "start": pl.Int64, "end": pl.Int64,
                   "message_zh": pl.Utf8, "message_en": pl.Utf8}

__all__ = ["BLOCK", "FINDINGS_SCHEMA", "WARN", "Finding", "Policy", "lint_messages", "lint_template", "lint_text",
           "load_policy"]


def lint_text(text: str, policy: Policy, penalty: float | None = None) -> list[Finding]:
    """Every finding on one full message text (signature included), ordered by position."""
    found = [f for fam in FAMILIES for f in fam.check(text, policy, penalty)]
    return sorted(found, key=lambda f: (f.start, f.rule))


def lint_template(text: str, variables: Mapping[str, str], policy: Policy,
                  context: Mapping[str, str] | None = None) -> list[Finding]:
    """Lint a template as its widest rendering (every variable at its maximum width, signature prefixed).

    Spans are given in the template's own text (the signature prefix removed) where a finding falls in literal text.
    """
    from dunning.templates import compile_template

    ctx = dict(context or {})
    ctx.setdefault("signature", policy.signatures[0] if policy.signatures else "签名")
    ctx.setdefault("hotline", policy.hotlines[0] if policy.hotlines else "")
    ctx.setdefault("institution", policy.institution)
    compiled = compile_template(text, variables)
    sample = compiled.worst_case_text(ctx)
    offset = len(f"【{ctx['signature']}】")
    out = []
    for f in lint_text(sample, policy, None):
        start, end = max(0, f.start - offset), max(0, f.end - offset)
        out.append(Finding(f.rule, f.severity, min(start, len(text)), min(end, len(text)), f.message_zh, f.message_en))
    return out


def lint_messages(frame: pl.DataFrame, policy: Policy, *, text_col: str = "text",
                  penalty_col: str | None = "penalty_rate") -> pl.DataFrame:
    """Lint many rendered messages: one vectorised pass decides which rows can have findings; only those are
    examined one by one for spans. Returns one row per finding (``row`` indexes ``frame``)."""
    if frame.is_empty():
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    cols = [pl.col(text_col).alias("text")]
    cols.append(pl.col(penalty_col).alias("_penalty") if penalty_col and penalty_col in frame.columns
                else pl.lit(None, pl.Float64).alias("_penalty"))
    base = frame.select(cols).with_row_index("row")
    trip = pl.any_horizontal([fam.trips(policy) for fam in FAMILIES])
    suspects = base.filter(trip.fill_null(True))
    rows: list[tuple[int, str, str, int, int, str, str]] = []
    for row, text, penalty in suspects.iter_rows():
        for f in lint_text(text or "", policy, penalty):
            rows.append((row, f.rule, f.severity, f.start, f.end, f.message_zh, f.message_en))
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA, orient="row")
