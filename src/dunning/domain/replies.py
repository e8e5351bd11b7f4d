"""Classifying a borrower's reply (MO): opt-out, dispute, promise to pay, or anything else."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

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
