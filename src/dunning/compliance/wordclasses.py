"""The lexicon families as structures over word classes (``data/policy/lexicon-classes.yaml``), and their matcher.

A family is found by its plain ``words``, by every word of its ``always`` classes, and by ``pairs``: a word of
class A, at most ``gap`` characters of the same clause, then a word of class B ("通知 你的 家人"). A match is not a
finding when a negation precedes it in its clause ("我司不会联系您的家人"), when a class word sits right after one
of its class's ``not_after`` contexts ("我公司" is the sender), or — for families with ``modals`` — when a modal
("有权", "可能") in the clause makes it a contract fact ("我司有权依法起诉") rather than a claim.

Two compiled forms of the same structure: a Python regex per family with those exceptions (:func:`find`, one text
at a time), and a Rust-compatible regex per family without them (:func:`screen`, a superset, for Polars over a
whole frame: a row it clears has no finding).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Lower-case ASCII only: str.lower() can change a text's length (e.g. "İ"), and spans must stay exact.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def alternation(words: Sequence[str]) -> str:
    """A regex alternation of literal words, longest first (so the longest word wins at a position)."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def words_pattern(words: Sequence[str]) -> str:
    """An alternation that ignores case for the ASCII words only: ``(?:中文词|(?i:ascii|words))``. Case folding
    applied to Chinese alternatives makes a Polars (Rust) regex markedly slower, for nothing."""
    words = [w for w in words if w]
    cjk = alternation([w for w in words if not w.isascii()])
    asc = alternation([w for w in words if w.isascii()])
    parts = [p for p in (cjk, f"(?i:{asc})" if asc else "") if p]
    return f"(?:{'|'.join(parts)})" if parts else ""


@dataclass(frozen=True)
class Family:
    rule: str
    words: tuple[str, ...] = ()
    always: tuple[str, ...] = ()  # class names
    pairs: tuple[tuple[str, str, int], ...] = ()
    modals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lexicon:
    """Every family's structure, the classes it uses, and the clause/negation settings (all hashable)."""

    families: tuple[Family, ...] = ()
    classes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    not_after: tuple[tuple[str, tuple[str, ...]], ...] = ()
    negations: tuple[str, ...] = ()
    clause_breaks: str = "，,。；;！!？?\n"
    exempt: tuple[str, ...] = ()

    def cls(self, name: str) -> tuple[str, ...]:
        return dict(self.classes).get(name, ())

    def family(self, rule: str) -> Family | None:
        return next((f for f in self.families if f.rule == rule), None)


def build(data: Mapping[str, Any], strong: Mapping[str, Sequence[str]], extra_classes: Mapping[str, Any],
          exempt: Sequence[str]) -> Lexicon:
    """The lexicon from the shipped class file ``data`` (one profile's section, or empty), the words each rule
    gets from the researched lexicon and the overlay (``strong``: folded in as plain words unless one of the
    family's classes already holds them), the overlay's class extensions and the exempt phrases."""
    classes: dict[str, list[str]] = {}
    not_after: dict[str, list[str]] = {}
    for name, spec in (data.get("classes") or {}).items():
        spec = spec if isinstance(spec, Mapping) else {"words": spec}
        classes[str(name)] = [str(w) for w in spec.get("words") or []]
        if spec.get("not_after"):
            not_after[str(name)] = [str(w) for w in spec["not_after"]]
    for name, words in extra_classes.items():
        classes.setdefault(str(name), []).extend(str(w) for w in (words or []))
    fams: dict[str, dict[str, Any]] = {str(r): dict(f or {}) for r, f in (data.get("families") or {}).items()}
    for rule in strong:
        fams.setdefault(rule, {})
    families = []
    for rule, f in fams.items():
        pairs = tuple((str(a), str(b), int(g)) for a, b, g in (f.get("pairs") or []))
        always = tuple(str(c) for c in f.get("always") or [])
        used = {c for p in pairs for c in p[:2]} | set(always)
        in_class = {w for c in used for w in classes.get(c, [])}
        words = [str(w) for w in f.get("words") or []]
        words += [w for w in strong.get(rule, []) if w not in in_class]
        families.append(Family(rule, tuple(dict.fromkeys(words)), always, pairs,
                               tuple(str(m) for m in f.get("modals") or [])))
    return Lexicon(
        families=tuple(families),
        classes=tuple((k, tuple(dict.fromkeys(v))) for k, v in classes.items()),
        not_after=tuple((k, tuple(v)) for k, v in not_after.items()),
        negations=tuple(str(n) for n in (data.get("negations") or ())),  # none: every word counts (US)
        clause_breaks=str(data.get("clause_breaks") or "，,。；;！!？?\n"),
        exempt=tuple(str(e) for e in data.get("exempt") or ()) + tuple(exempt),
    )


def _gap(lex: Lexicon, n: int) -> str:
    return f"[^{re.escape(lex.clause_breaks)}]{{0,{n}}}?"


@lru_cache(maxsize=32)
def _python(lex: Lexicon) -> dict[str, list[tuple[re.Pattern[str], tuple[str, ...], Family]]]:
    """Per rule: ``(pattern, class names of its groups, family)``; a pair pattern has groups ``a`` and ``b``."""
    out: dict[str, list[tuple[re.Pattern[str], tuple[str, ...], Family]]] = {}
    for fam in lex.families:
        pats: list[tuple[re.Pattern[str], tuple[str, ...], Family]] = []
        singles = list(fam.words) + [w for c in fam.always for w in lex.cls(c)]
        if singles:
            pats.append((re.compile(f"(?P<a>{words_pattern(singles)})"), ("",), fam))
        for a, b, gap in fam.pairs:
            pa, pb = words_pattern(lex.cls(a)), words_pattern(lex.cls(b))
            if pa and pb:
                pats.append((re.compile(f"(?P<a>{pa}){_gap(lex, gap)}(?P<b>{pb})"), (a, b), fam))
        out[fam.rule] = pats
    return out


def _clause_start(text: str, pos: int, breaks: str) -> int:
    i = pos - 1
    while i >= 0 and text[i] not in breaks:
        i -= 1
    return i + 1


def _after_self(text: str, start: int, contexts: Sequence[str]) -> bool:
    return any(text.endswith(c, 0, start) for c in contexts)


def find(text: str, lex: Lexicon) -> Iterator[tuple[int, int, str]]:
    """Every ``(start, end, rule)`` of the lexicon families in ``text`` (spans of the whole structure)."""
    low = ascii_lower(text)
    not_after = dict(lex.not_after)
    exempt = [(m.start(), m.end()) for e in lex.exempt if e for m in re.finditer(re.escape(ascii_lower(e)), low)]
    negs = [ascii_lower(n) for n in lex.negations]
    for rule, pats in _python(lex).items():
        for pat, groups, fam in pats:
            pos = 0
            while (m := pat.search(low, pos)) is not None:
                pos = m.start() + 1
                start, end = m.start(), m.end()
                if groups == ("",) and _ascii_glued(text, start, end):
                    continue
                if any(s <= start and end <= e for s, e in exempt):
                    continue
                if any(g and _after_self(low, m.start(k), not_after.get(g, ()))
                       for k, g in zip(("a", "b"), groups, strict=False)):
                    continue
                lo = _clause_start(low, start, lex.clause_breaks)
                if any(0 <= low.find(n, lo, end) < start for n in negs):
                    continue  # a negation before the match ("不会" also when the match starts at its "会")
                contract_fact = fam.modals and groups != ("",) and not set(groups) & set(fam.always)
                if contract_fact and any(md in low[lo:end] for md in fam.modals):
                    continue
                yield start, end, rule
                pos = end


def _ascii_glued(text: str, start: int, end: int) -> bool:
    """An ASCII word matches only as a whole word ("sue" is not in "issue")."""
    word = text[start:end]
    if not word.isascii():
        return False

    def alnum(i: int) -> bool:
        return 0 <= i < len(text) and text[i].isascii() and text[i].isalnum()

    return alnum(start - 1) or alnum(end)


@lru_cache(maxsize=32)
def screen(lex: Lexicon) -> str:
    """One Rust-compatible regex over every family (no look-around, no exceptions): true on every text
    :func:`find` could find something in."""
    parts: list[str] = []
    for fam in lex.families:
        singles = list(fam.words) + [w for c in fam.always for w in lex.cls(c)]
        if singles:
            parts.append(words_pattern(singles))
        for a, b, gap in fam.pairs:
            pa, pb = words_pattern(lex.cls(a)), words_pattern(lex.cls(b))
            if pa and pb:
                breaks = re.escape(lex.clause_breaks).replace("\n", "\\n")
                parts.append(f"{pa}[^{breaks}]{{0,{gap}}}{pb}")
    return "|".join(f"(?:{p})" for p in parts if p)


def all_words(lex: Lexicon) -> list[str]:
    return sorted({w for f in lex.families for w in f.words} | {w for _c, ws in lex.classes for w in ws})


__all__ = ["Family", "Lexicon", "alternation", "ascii_lower", "build", "find", "screen", "words_pattern"]
