"""Classifying a borrower's reply (MO): opt-out, dispute, promise to pay, or anything else; and the case a reply
asks for (dispute, wrong person, already paid, hardship, complaint), from the policy's keywords."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import polars as pl

PROMISE = re.compile(r"(明天|今天|马上|尽快|月底|下周|周[一二三四五六日天]|\d+号|发工资).{0,6}(还|付|缴|处理)|会还|一定还")


def classify_reply(text: str, stop_keywords: Sequence[str], dispute_keywords: Sequence[str]) -> str:
    """``opt_out`` | ``dispute`` | ``promise`` | ``other``.

    A short reply that *is* a stop keyword (``TD``, ``T``, ``退订``) opts out; longer texts opt out only on the
    multi-character keywords, so that a sentence containing the letter T is not an opt-out. Disputes win over
    promises: "已还款" must open a dispute, not be read as a promise.
    """
    t = unicodedata.normalize("NFKC", text).strip()
    upper = t.upper().strip("。.!！ ")
    for kw in stop_keywords:
        k = kw.upper()
        if upper == k or (len(k) >= 2 and not k.isascii() and k in upper) or (len(k) >= 2 and k.isascii() and upper == k):
            return "opt_out"
    for kw in dispute_keywords:
        if kw in t:
            return "dispute"
    if PROMISE.search(t):
        return "promise"
    return "other"


def case_type_of(text: str, case_keywords: Mapping[str, Sequence[str]]) -> str | None:
    """The case a reply asks for: the first type (in the policy's order) one of whose keywords it contains."""
    t = unicodedata.normalize("NFKC", text)
    for kind, words in case_keywords.items():
        if any(w and w in t for w in words):
            return kind
    return None


def case_type_expr(text: pl.Expr, case_keywords: Mapping[str, Sequence[str]]) -> pl.Expr:
    """:func:`case_type_of` as a Polars expression (a batch of replies in one pass; NFKC applied by the caller)."""
    out: pl.Expr = pl.lit(None, pl.Utf8)
    for kind, words in reversed(list(case_keywords.items())):  # the first type in the policy's order wins
        hits = [w for w in words if w]
        if hits:
            out = pl.when(text.str.contains_any(hits)).then(pl.lit(kind)).otherwise(out)
    return out
