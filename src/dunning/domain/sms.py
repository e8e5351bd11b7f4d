"""SMS length maths: how many billed parts a text takes, scalar and vectorised (Polars).

The countings:

* ``cn_domestic`` — Chinese carriers and SMS platforms bill every character as 1 (Chinese, Latin, digits,
  punctuation, and the 【signature】 with its brackets). ≤ 70 characters is one part; longer texts are split into
  parts of 67; 500 characters is the most a platform accepts.
* ``gsm7`` — outside China, a text made only of GSM 03.38 characters: ≤ 160 units is one part, else 153 per part;
  characters of the extension table (``^{}\\[~]|€`` and form feed) take an escape and count 2.
* ``ucs2`` — any other text outside China: ≤ 70 UTF-16 code units one part, else 67 per part; characters outside
  the Basic Multilingual Plane (emoji) are a surrogate pair and count 2.

``intl`` picks ``gsm7`` when every character allows it, else ``ucs2`` (what a handset or an SMSC does);
``intl_ascii`` and ``intl_latin1`` do the same for an SMSC whose default alphabet (``data_coding = 0``) is
IA5/ASCII or Latin-1 (one unit per character, 160/153). :func:`counting_for` maps a channel's
``default_alphabet`` to its counting.

:func:`segment` is THE segmentation: the SMPP adapter sends exactly its parts, and :func:`measure` /
:func:`length_expr` (planning's length lint and billing estimates) count exactly them. A part never splits a
GSM escape sequence or a UTF-16 surrogate pair, so a 2-unit character at a boundary moves to the next part
(which is why the part count is not always ``ceil(units / 153)``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

CN_SINGLE, CN_PART, CN_MAX = 70, 67, 500
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# GSM 03.38 basic character set (the 7-bit default alphabet) and its extension table.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
) - {"\x1b"}
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

# GSM 03.38 default alphabet indexed by septet value (0x1B escapes to the extension table), and the extension table.
GSM_TABLE = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
             "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXT_TABLE: dict[str, int] = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
                                 "]": 0x3E, "|": 0x40, "€": 0x65}
GSM_ESCAPE = 0x1B
assert len(GSM_TABLE) == 128 and set(GSM_TABLE) - {"\x1b"} == GSM_BASIC and set(GSM_EXT_TABLE) == GSM_EXTENSION

# An SMSC's default alphabet (what ``data_coding = 0`` means to it), per channel: ``default_alphabet``.
ALPHABETS = ("gsm7", "ascii", "latin1")
ASCII_CHARS = frozenset(map(chr, range(0x20, 0x7F))) | {"\n", "\r"}
LATIN1_CHARS = ASCII_CHARS | frozenset(map(chr, range(0xA0, 0x100)))
_ALPHABET_CHARS = {"gsm7": GSM_BASIC | GSM_EXTENSION, "ascii": ASCII_CHARS, "latin1": LATIN1_CHARS}

_FITS = {a: re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]*") for a, chars in _ALPHABET_CHARS.items()}

COUNTINGS = ("cn_domestic", "intl", "intl_ascii", "intl_latin1", "gsm7", "ucs2")
_COUNTING_ALPHABET = {"intl": "gsm7", "gsm7": "gsm7", "intl_ascii": "ascii", "intl_latin1": "latin1"}


@dataclass(frozen=True)
class SmsLength:
    """``units`` is what the carrier counts (characters, GSM septets or UTF-16 code units); ``parts`` is billed."""

    encoding: str  # cn_domestic | gsm7 | ucs2
    units: int
    parts: int


def parts_for(units: int, single: int, part: int) -> int:
    """Parts for ``units``: one when it fits ``single``, else ``ceil(units / part)``. An empty text is one part."""
    if units <= single:
        return 1
    return -(-units // part)


def cn_parts(n_chars: int) -> int:
    """China domestic billing: ≤ 70 characters one part, else 67 per part (signature included)."""
    return parts_for(n_chars, CN_SINGLE, CN_PART)


def is_gsm7(text: str) -> bool:
    return fits(text, "gsm7")


def gsm7_units(text: str) -> int:
    """Septets of a GSM-7 text (extension characters count 2). The caller checks :func:`is_gsm7` first."""
    return len(text) + sum(map(text.count, GSM_EXTENSION))


def ucs2_units(text: str) -> int:
    """UTF-16 code units: characters beyond U+FFFF are a surrogate pair."""
    return len(text.encode("utf-16-le")) // 2


def counting_for(alphabet: str) -> str:
    """The counting of a channel whose SMSC's default alphabet is ``alphabet`` (one of :data:`ALPHABETS`)."""
    if alphabet not in ALPHABETS:
        raise ValueError(f"unknown default alphabet {alphabet!r} (gsm7, ascii or latin1)")
    return {"gsm7": "intl", "ascii": "intl_ascii", "latin1": "intl_latin1"}[alphabet]


def fits(text: str, alphabet: str) -> bool:
    """Every character of ``text`` is in the default alphabet ``alphabet``."""
    return _FITS[alphabet].fullmatch(text) is not None


@dataclass(frozen=True)
class Segments:
    """``encoding`` is the alphabet the text goes in (``gsm7``, ``ascii``, ``latin1``) or ``ucs2``; ``parts`` the
    text of each SMS part (one part when it fits a single SMS)."""

    encoding: str
    units: int
    parts: tuple[str, ...]


# Characters that take 2 units in an encoding (found with a regex, so splitting loops per part, not per character).
_WIDE = {"gsm7": re.compile("[" + re.escape("".join(sorted(GSM_EXTENSION))) + "]"),
         "ucs2": re.compile("[\U00010000-\U0010FFFF]")}


def segment(text: str, alphabet: str = "gsm7") -> Segments:
    """Split ``text`` as it is sent: in ``alphabet`` when every character is in it (160 units, else 153 per part),
    otherwise the whole text in UCS-2 (70, else 67 UTF-16 units per part). A 2-unit character (GSM escape
    sequence, surrogate pair) never straddles two parts."""
    return _split(text, alphabet if fits(text, alphabet) else "ucs2")


def _split(text: str, encoding: str) -> Segments:
    wide_re = _WIDE.get(encoding)
    wide = [m.start() for m in wide_re.finditer(text)] if wide_re is not None else []
    n = len(text)
    units = n + len(wide)
    single, per_part = (UCS2_SINGLE, UCS2_PART) if encoding == "ucs2" else (GSM_SINGLE, GSM_PART)
    if units <= single:
        return Segments(encoding, units, (text,))
    if not wide:
        return Segments(encoding, units, tuple(text[i : i + per_part] for i in range(0, n, per_part)))
    parts: list[str] = []
    start = 0
    while start < n:
        # The longest part from ``start`` that fits: binary search on its end (units grow with it).
        lo, hi, w0 = start + 1, min(n, start + per_part), bisect_left(wide, start)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if (mid - start) + bisect_left(wide, mid) - w0 <= per_part:
                lo = mid
            else:
                hi = mid - 1
        parts.append(text[start:lo])
        start = lo
    return Segments(encoding, units, tuple(parts))


def measure(text: str, counting: str = "cn_domestic") -> SmsLength:
    """Length and parts of ``text`` under ``counting`` (one of :data:`COUNTINGS`)."""
    if counting == "cn_domestic":
        n = len(text)
        return SmsLength("cn_domestic", n, cn_parts(n))
    if counting == "gsm7" and not is_gsm7(text):
        raise ValueError("text has characters outside GSM-7")
    if counting == "ucs2":
        seg = _split(text, "ucs2")
    elif counting in _COUNTING_ALPHABET:
        seg = segment(text, _COUNTING_ALPHABET[counting])
    else:
        raise ValueError(f"unknown counting {counting!r}")
    return SmsLength(seg.encoding, seg.units, len(seg.parts))


def intl_parts(text: str) -> tuple[str, int, int]:
    """(encoding, units, parts) outside China; see :func:`measure`."""
    m = measure(text, "intl")
    return m.encoding, m.units, m.parts


# ------------------------------------------------------------------------------------------------ vectorised

_GSM_CLASS = "".join(re.escape(c) if c not in "\n\r\f" else {"\n": r"\n", "\r": r"\r", "\f": r"\f"}[c]
                     for c in sorted(GSM_BASIC | GSM_EXTENSION))
GSM7_ONLY = f"^[{_GSM_CLASS}]*$"
GSM_EXT_CLASS = "[" + "".join(re.escape(c) if c != "\f" else r"\f" for c in sorted(GSM_EXTENSION)) + "]"
ASTRAL = r"[\x{10000}-\x{10FFFF}]"


def _parts_expr(units: pl.Expr, single: int, part: int) -> pl.Expr:
    return pl.when(units <= single).then(1).otherwise((units + part - 1) // part).cast(pl.Int32)


def cn_parts_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised :func:`cn_parts` over a Utf8 column (null text → null)."""
    c = pl.col(col) if isinstance(col, str) else col
    return _parts_expr(c.str.len_chars(), CN_SINGLE, CN_PART)


def _alphabet_pattern(alphabet: str) -> str:
    if alphabet == "gsm7":
        return GSM7_ONLY
    if alphabet == "ascii":
        return r"^[\x{20}-\x{7E}\n\r]*$"
    return r"^[\x{20}-\x{7E}\x{A0}-\x{FF}\n\r]*$"


def _exact_parts(alphabet: str | None) -> Callable[[pl.Series], pl.Series]:
    """Parts by :func:`segment` for the rows flagged ``r`` (a 2-unit character in a multi-part text may move a
    boundary); the other rows keep the formula's ``p``. Python runs on the flagged rows only."""
    def fix(s: pl.Series) -> pl.Series:
        df = s.struct.unnest()
        parts = df["p"]
        idx = df["r"].fill_null(False).arg_true()
        if idx.len() == 0:
            return parts
        texts = df["t"].gather(idx).to_list()
        exact = [len(segment(t, alphabet).parts) if alphabet else len(_split(t, "ucs2").parts) for t in texts]
        return parts.scatter(idx, pl.Series(exact, dtype=pl.Int32))
    return fix


def length_expr(col: str | pl.Expr, counting: str = "cn_domestic") -> pl.Expr:
    """Vectorised :func:`measure`: a struct ``{encoding: Utf8, units: Int32, parts: Int32}`` per text."""
    c = pl.col(col) if isinstance(col, str) else col
    if counting == "cn_domestic":
        n = c.str.len_chars().cast(pl.Int32)
        return pl.struct(pl.lit("cn_domestic").alias("encoding"), n.alias("units"),
                         _parts_expr(n, CN_SINGLE, CN_PART).alias("parts"))
    if counting not in COUNTINGS:
        raise ValueError(f"unknown counting {counting!r}")
    alphabet = _COUNTING_ALPHABET.get(counting)
    n = c.str.len_chars().cast(pl.Int32)
    ext = c.str.count_matches(GSM_EXT_CLASS).cast(pl.Int32) if alphabet == "gsm7" else pl.lit(0, pl.Int32)
    astral = c.str.count_matches(ASTRAL).cast(pl.Int32)
    seven_units = n + ext
    ucs_units = n + astral
    fit = c.str.contains(_alphabet_pattern(alphabet)) if alphabet else pl.lit(False)
    units = pl.when(fit).then(seven_units).otherwise(ucs_units)
    formula = (pl.when(fit).then(_parts_expr(seven_units, GSM_SINGLE, GSM_PART))
               .otherwise(_parts_expr(ucs_units, UCS2_SINGLE, UCS2_PART)))
    risky = (formula > 1) & pl.when(fit).then(ext > 0).otherwise(astral > 0)
    parts = pl.struct(c.alias("t"), formula.alias("p"), risky.alias("r")).map_batches(
        _exact_parts(alphabet), return_dtype=pl.Int32)
    return pl.struct(
        pl.when(fit).then(pl.lit(alphabet or "ucs2")).otherwise(pl.lit("ucs2")).alias("encoding"),
        units.alias("units"), parts.alias("parts"),
    )


def parts_expr(col: str | pl.Expr, counting: str = "cn_domestic") -> pl.Expr:
    """Billed parts only (Int32)."""
    if counting == "cn_domestic":
        return cn_parts_expr(col)
    return length_expr(col, counting).struct.field("parts")
