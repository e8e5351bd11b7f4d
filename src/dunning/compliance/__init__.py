"""Compliance: the policy, and the rules every template and every rendered message is checked against.

* :func:`lint_text` — one full message text (signature included) → findings.
* :func:`lint_template` — a template: its widest rendering with the signature prefixed, plus the template-only
  rules (``template.invalid``, ``template.binding``, ``template.adjacent_variables``, ``template.all_variables``,
  ``template.too_many_variables``); spans point into the template's own text. Every rule always runs: a binding
  or syntax problem is a finding beside the others, never instead of them.
* :func:`lint_messages` — a frame of rendered messages, vectorised: each rule family screens the whole frame with
  Polars expressions; only the rows a screen cannot clear are checked one by one (for exact spans).

A ``block`` finding keeps a template from approval and a message from the queue; ``warn`` is shown to reviewers.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from dunning.compliance import placeholders
from dunning.compliance.findings import BLOCK, SEVERITIES, WARN, Finding, rules_of
from dunning.compliance.policy import Policy, load_policy
from dunning.compliance.rules import FAMILIES
from dunning.compliance.rules import RULES as MESSAGE_RULES

FINDINGS_SCHEMA = {"row": pl.UInt32, "rule": pl.Utf8, "severity": pl.Utf8, "start": pl.Int64, "end": pl.Int64,
                   "message_zh": pl.Utf8, "message_en": pl.Utf8}
TEMPLATE_RULES = rules_of("template")
RULES: dict[str, tuple[str, str, str]] = {**MESSAGE_RULES, **TEMPLATE_RULES}

__all__ = ["BLOCK", "FINDINGS_SCHEMA", "RULES", "SEVERITIES", "VISIT_NOTICE_TEMPLATE", "VISIT_NOTICE_WORDS", "WARN",
           "Finding", "Policy", "blocking", "default_context", "lint_messages", "lint_template", "lint_text",
           "load_policy", "worst_case"]


def _none(policy: Policy) -> list[str]:
    return []


# A visit notice (the template kind that tells a borrower of a registered, approved visit) may state the visit as a
# fact, and carries no amount (anyone at the door may read it); for that kind alone these words are not threats and
# the amount is not required. Everything else keeps both rules unchanged.
VISIT_NOTICE_WORDS = frozenset({"上门", "登门"})
# The one template of that kind (its code in the template workflow), and the variables it may never carry: a
# notice anyone at the door may read names no debt.
VISIT_NOTICE_TEMPLATE = "visit_notice"
DEBT_VARIABLES = frozenset({"name", "amount", "amount_due", "due_date", "dpd", "days_overdue", "days_to_due", "last4",
                            "penalty_rate", "product"})


def lint_text(text: str, policy: Policy, penalty: float | None = None, *,
              visit_notice: bool = False) -> list[Finding]:
    """Every finding on one full message text (signature included), ordered by position then rule.

    ``penalty`` is the account's contractual daily penalty rate (a fraction), when known. ``visit_notice`` is the
    explicit allowance for the visit-notice kind (the caller ties it to an approved visit)."""
    found = [f for fam in FAMILIES for f in fam.check(text, policy, penalty)]
    if visit_notice:
        found = [f for f in found if f.rule != "required.amount"
                 and not (f.rule == "lexicon.threat" and text[f.start:f.end] in VISIT_NOTICE_WORDS)]
    return sorted(found, key=lambda f: (f.start, f.end, f.rule))


def blocking(findings: list[Finding]) -> bool:
    return any(f.severity == BLOCK for f in findings)


def default_context(policy: Policy) -> dict[str, str]:
    """The identity constants a template is linted with when the caller gives none: the first registered
    signature (CN only: US texts carry no 【】 prefix; none registered → none, and ``signature.missing``), the
    first hotline, the institution and ``<institution>App``."""
    ctx: dict[str, str] = {}
    if policy.signature_prefix and policy.signatures:
        ctx["signature"] = policy.signatures[0]
    if policy.hotlines:
        ctx["hotline"] = policy.hotlines[0]
    if policy.institution:
        ctx["institution"] = policy.institution
        ctx["app"] = f"{policy.institution}App"
    if policy.domains:
        ctx["domain"] = policy.domains[0]
    return ctx


def lint_template(text: str, variables: Mapping[str, str], policy: Policy,
                  context: Mapping[str, str] | None = None, *, visit_notice: bool = False) -> list[Finding]:
    """Lint a template as its widest rendering: every variable at its maximum width, the context's constants
    (defaults from :func:`default_context`) and the 【signature】 prefixed — the full text a borrower would get.

    Spans are mapped back into ``text``: a finding inside a variable's value points at its ``${name}``; a finding
    in the signature prefix points at ``(0, 0)``. A text that begins with its own 【…】 gets no second signature.

    Every rule runs whatever else is wrong: a declared variable that names no data field is a ``template.binding``
    finding and is linted at its declared type's widest value; an unknown type or an undeclared placeholder is a
    ``template.invalid`` finding and is linted as the widest text.

    ``visit_notice``: the template is the visit notice (:data:`VISIT_NOTICE_TEMPLATE`): its widest rendering is
    linted with the visit-notice allowance, and a debt variable in it (amount, name, loan, days overdue…) is a
    ``template.visit_notice_detail`` finding."""
    variables = {str(k): str(v) for k, v in variables.items()}
    out: list[Finding] = [
        Finding("template.binding", BLOCK, s, e, f"变量无法绑定：{zh}（可检查，但不能保存使用）",
                f"unbound variable: {en} (linted, but cannot be saved for use)")
        for zh, en, s, e in placeholders.binding_problems(text, variables)]
    out += [Finding("template.invalid", BLOCK, s, e, f"模板无效：{zh}", f"invalid template: {en}")
            for zh, en, s, e in placeholders.syntax_problems(text, variables)]
    sample = placeholders.sample(text, variables, {**default_context(policy), **dict(context or {})})
    for f in lint_text(sample.text, policy, None, visit_notice=visit_notice):
        start, end = sample.template_span(f.start, f.end)
        out.append(Finding(f.rule, f.severity, start, end, f.message_zh, f.message_en))
    out.extend(_structure(text, variables, policy))
    if visit_notice:
        debt = sorted(set(variables) & DEBT_VARIABLES)
        if debt:
            out.append(Finding("template.visit_notice_detail", BLOCK, 0, len(text),
                               f"外访通知不得含欠款信息：去掉变量 {'、'.join(debt)}（门口任何人都可能看到这条短信）。",
                               f"a visit notice names no debt: remove {', '.join(debt)}"))
    return sorted(out, key=lambda f: (f.start, f.end, f.rule))


def worst_case(text: str, variables: Mapping[str, str], policy: Policy,
               context: Mapping[str, str] | None = None) -> str:
    """The widest rendering :func:`lint_template` lints (signature included), whatever is wrong with the text."""
    ctx = {**default_context(policy), **dict(context or {})}
    return placeholders.sample(text, {str(k): str(v) for k, v in variables.items()}, ctx).text


def _structure(text: str, variables: Mapping[str, str], policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    matches = list(placeholders.PLACEHOLDER.finditer(text))
    if policy.forbid_adjacent_variables:
        for a, b in zip(matches, matches[1:], strict=False):
            if a.end() == b.start():
                out.append(Finding("template.adjacent_variables", BLOCK, a.start(), b.end(),
                                   f"变量 {a.group(0)} 与 {b.group(0)} 紧挨着：中间应有固定文字（平台审核要求）。",
                                   f"{a.group(0)} and {b.group(0)} are side by side: put fixed text between them"))
    literal = placeholders.PLACEHOLDER.sub("", text)
    if matches and sum(ch.isalnum() for ch in literal) < 4:
        out.append(Finding("template.all_variables", BLOCK, 0, len(text),
                           "模板几乎全由变量组成：平台不接受，且审核无从把关。",
                           "the template is (almost) all variables: it cannot be reviewed"))
    if len(variables) > policy.max_variables:
        out.append(Finding("template.too_many_variables", BLOCK, 0, len(text),
                           f"变量 {len(variables)} 个，超过 {policy.max_variables} 个上限。",
                           f"{len(variables)} variables, more than {policy.max_variables}"))
    return out


def lint_messages(frame: pl.DataFrame, policy: Policy, *, text_col: str = "text",
                  penalty_col: str | None = "penalty_rate", visit_notice_col: str | None = None) -> pl.DataFrame:
    """Lint many rendered messages. Returns one row per finding: ``row`` (UInt32 index into ``frame``), ``rule``,
    ``severity``, ``start``, ``end``, ``message_zh``, ``message_en``, ordered by row then position.

    Vectorised: every family's screen runs over the whole frame in one ``select``; the length family computes
    its findings for the frame at once; the others check one by one only the rows their screen could not clear.
    A null text is linted as an empty message. ``penalty_col`` (daily fraction) feeds ``penalty.excessive``; when
    it is None or absent, stated rates are only checked against the ceiling. ``visit_notice_col`` (Boolean)
    gives the rows the visit-notice allowance of :func:`lint_text` applies to; the caller sets it only for a
    visit notice tied to an approved visit."""
    if frame.is_empty():
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    if visit_notice_col is not None and visit_notice_col in frame.columns \
            and frame[visit_notice_col].fill_null(False).any():
        return _allow_visit_notices(lint_messages(frame, policy, text_col=text_col, penalty_col=penalty_col),
                                    frame, text_col, visit_notice_col)
    penalty = (pl.col(penalty_col).cast(pl.Float64) if penalty_col and penalty_col in frame.columns
               else pl.lit(None, pl.Float64))
    base = frame.select(pl.col(text_col).cast(pl.Utf8).fill_null("").alias("text"), penalty.alias("_penalty"))
    base = base.with_row_index("row")
    # One shared pass for the rare events of every family (forbidden words, links, mobiles...), then each
    # family's own screen; all in one select, so Polars runs them side by side.
    rare = [f"(?:{p})" for fam in FAMILIES for p in getattr(fam, "screen_patterns", _none)(policy)]
    exprs = [fam.trips(policy).fill_null(True).alias(fam.NAME) for fam in FAMILIES]
    if rare:
        exprs.append(pl.col("text").str.contains("|".join(rare)).alias("_rare"))
    screens = base.select(exprs)
    rare_rows = screens["_rare"] if rare else None
    parts: list[pl.DataFrame] = [pl.DataFrame(schema=FINDINGS_SCHEMA)]
    rows: list[tuple[int, str, str, int, int, str, str]] = []
    for fam in FAMILIES:
        mask = screens[fam.NAME]
        if mask.len() != base.height:  # a literal screen (always / never)
            mask = pl.repeat(bool(mask[0]), base.height, eager=True)
        if rare_rows is not None and getattr(fam, "screen_patterns", _none)(policy):
            mask = mask | rare_rows
        if not mask.any():
            continue
        tripped = base.filter(mask)
        if hasattr(fam, "findings_frame"):
            parts.append(fam.findings_frame(tripped, policy).cast(FINDINGS_SCHEMA))  # type: ignore[arg-type]
            continue
        if hasattr(fam, "refine"):
            tripped = fam.refine(tripped, policy)
        for row, text, pen in tripped.iter_rows():
            for f in fam.check(text, policy, pen):
                rows.append((row, f.rule, f.severity, f.start, f.end, f.message_zh, f.message_en))
    if rows:
        parts.append(pl.DataFrame(rows, schema=FINDINGS_SCHEMA, orient="row"))
    return pl.concat(parts).sort("row", "start", "end", "rule")


def _allow_visit_notices(found: pl.DataFrame, frame: pl.DataFrame, text_col: str, flag_col: str) -> pl.DataFrame:
    """``found`` without the findings the visit-notice allowance lifts, on the flagged rows only."""
    flags = frame.select(pl.col(flag_col).fill_null(False).alias("_vn"),
                         pl.col(text_col).cast(pl.Utf8).fill_null("").alias("_text")).with_row_index("row")
    lifted = pl.col("_vn") & ((pl.col("rule") == "required.amount") | (
        (pl.col("rule") == "lexicon.threat")
        & pl.col("_text").str.slice(pl.col("start"), pl.col("end") - pl.col("start"))
        .is_in(sorted(VISIT_NOTICE_WORDS))))
    return found.join(flags, on="row", how="left").filter(~lifted).select(list(FINDINGS_SCHEMA))
