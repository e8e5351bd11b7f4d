"""Forbidden words (threats, false legal pressure, impersonation, third-party shaming, insults, collateral harm,
fees and new debt), matched with Aho-Corasick: one pass over a text for every word of every family."""

from __future__ import annotations

from functools import lru_cache

import ahocorasick
import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy

MESSAGES = {
    "lexicon.threat": ("含威胁或暴力暗示的用语「{w}」。", "threatening wording {w!r}"),
    "lexicon.legal_pressure": ("含不实法律压力用语「{w}」（仅可陈述合同事实）。", "false legal pressure {w!r}"),
    "lexicon.impersonation": ("含冒充公检法、律师或监管的用语「{w}」。", "impersonation wording {w!r}"),
    "lexicon.third_party": ("含向第三方曝光或联系亲友的用语「{w}」。", "third-party shaming {w!r}"),
    "lexicon.insult": ("含侮辱性用语「{w}」。", "insulting wording {w!r}"),
    "lexicon.collateral": ("含牵连家人、子女的用语「{w}」。", "collateral-harm wording {w!r}"),
    "lexicon.fee": ("含收费、借新还旧或平台禁用词「{w}」。", "fee / new-debt / banned term {w!r}"),
}


@lru_cache(maxsize=16)
def _automaton(items: tuple[tuple[str, tuple[str, ...]], ...]) -> ahocorasick.Automaton:
    a = ahocorasick.Automaton()
    for rule, words in items:
        for w in words:
            key = w.lower()
            rules = a.get(key)[1] if key in a else ()
            a.add_word(key, (w, (*rules, rule)))
    a.make_automaton()
    return a


def _items(policy: Policy) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((r, tuple(ws)) for r, ws in policy.lexicons.items() if ws))


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    items = _items(policy)
    if not items:
        return []
    out = []
    for end, (word, rules) in _automaton(items).iter(text.lower()):
        start = end - len(word) + 1
        if word.isascii() and word.isalpha():  # English words match whole words only
            before = text[start - 1] if start > 0 else " "
            after = text[end + 1] if end + 1 < len(text) else " "
            if before.isalpha() or after.isalpha():
                continue
        for rule in rules:
            zh, en = MESSAGES.get(rule, ("含禁用词「{w}」。", "forbidden word {w!r}"))
            out.append(Finding(rule, BLOCK, start, end + 1, zh.format(w=word), en.format(w=word)))
    return out


def trips(policy: Policy) -> pl.Expr:
    words = sorted({w for ws in policy.lexicons.values() for w in ws})
    if not words:
        return pl.lit(False)
    # Polars' contains_any is itself an Aho-Corasick matcher.
    return pl.col("text").str.contains_any(words, ascii_case_insensitive=True)
