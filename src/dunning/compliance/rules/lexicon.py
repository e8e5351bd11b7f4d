"""Forbidden words: threats, false legal pressure, impersonation, third-party shaming, insults, collateral harm,
fees and new debt, and the terms SMS platforms reject (催款/催收/追讨).

Every word of every family is matched in one pass with Aho-Corasick (pyahocorasick per text; Polars'
``contains_any``, itself Aho-Corasick, screens a whole frame first). A word inside a phrase the company exempts
(``lexicon_exempt`` in the overlay) is not a finding.
"""

from __future__ import annotations

import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy
from dunning.compliance.rules._common import find_words, words_pattern

NAME = "lexicon"
RULES = {
    "lexicon.threat": (BLOCK, "威胁或暴力暗示", "threat or violence"),
    "lexicon.legal_pressure": (BLOCK, "不实的法律压力", "false legal pressure"),
    "lexicon.impersonation": (BLOCK, "冒充公检法、律师或监管", "impersonating police, courts, lawyers, regulators"),
    "lexicon.third_party": (BLOCK, "向第三方曝光或联系亲友", "shaming or contacting third parties"),
    "lexicon.insult": (BLOCK, "侮辱性用语", "insult"),
    "lexicon.collateral": (BLOCK, "牵连家人、子女", "harm to family or children"),
    "lexicon.fee": (BLOCK, "收费、借新还旧", "fees or new debt"),
    "lexicon.platform": (BLOCK, "短信平台禁用词（催款/催收）", "term SMS platforms reject"),
}
MESSAGES = {
    "lexicon.threat": ("含威胁或暴力暗示的用语「{w}」。", "threatening wording {w!r}"),
    "lexicon.legal_pressure": ("含不实法律压力用语「{w}」：后果只能作为合同事实陈述。",
                               "false legal pressure {w!r}: state consequences only as contract facts"),
    "lexicon.impersonation": ("含冒充公检法、律师或监管的用语「{w}」。", "impersonation wording {w!r}"),
    "lexicon.third_party": ("含向第三方曝光或联系亲友的用语「{w}」。", "third-party shaming {w!r}"),
    "lexicon.insult": ("含侮辱性用语「{w}」。", "insulting wording {w!r}"),
    "lexicon.collateral": ("含牵连家人、子女的用语「{w}」。", "collateral-harm wording {w!r}"),
    "lexicon.fee": ("含收费或借新还旧用语「{w}」。", "fee or new-debt wording {w!r}"),
    "lexicon.platform": ("含短信平台禁用词「{w}」：请改用“还款提醒”等说法。",
                         "{w!r} is rejected by SMS platforms: say 'repayment reminder'"),
}


def _entries(policy: Policy) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((w, rule) for rule, ws in policy.lexicons.items() for w in ws))


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    entries = _entries(policy)
    if not entries:
        return []
    exempt = [(s, e) for s, e, _p, _t in find_words(text, tuple((p, "") for p in policy.lexicon_exempt))]
    out = []
    for start, end, _word, rule in find_words(text, entries):
        if any(s <= start and end <= e for s, e in exempt):
            continue
        zh, en = MESSAGES.get(rule, ("含禁用词「{w}」。", "forbidden word {w!r}"))
        out.append(Finding(rule, BLOCK, start, end, zh.format(w=text[start:end]), en.format(w=text[start:end])))
    return out


def screen_patterns(policy: Policy) -> list[str]:
    """Every word of every family, for the shared one-pass screen (boundaries and exemptions: check())."""
    pat = words_pattern(sorted({w for ws in policy.lexicons.values() for w in ws}))
    return [pat] if pat else []


def trips(policy: Policy) -> pl.Expr:
    return pl.lit(False)  # everything this family finds starts with a word of screen_patterns()
