"""SMS length maths: how many billed parts a text takes, scalar and vectorised (Polars).

Three countings:

* ``cn_domestic`` — Chinese carriers and SMS platforms bill every character as 1 (Chinese, Latin, digits,
  punctuation, and the 【signature】 with its brackets). ≤ 70 characters is one part; longer texts are split into
  parts of 67; 500 characters is the most a platform accepts.
* ``gsm7`` — outside China, a text made only of GSM 03.38 characters: ≤ 160 units is one part, else 153 per part;
  characters of the extension table (``^{}\\[~]|€`` and form feed) take an escape and count 2.
* ``ucs2`` — any other text outside China: ≤ 70 UTF-16 code units one part, else 67 per part; characters outside
  the Basic Multilingual Plane (emoji) are a surrogate pair and count 2.

``intl`` picks ``gsm7`` when every character allows it, else ``ucs2`` (what a handset or an SMSC does).
"""

from __future__ import annotations

import re
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

COUNTINGS = ("cn_domestic", "intl", "gsm7", "ucs2")


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
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def gsm7_units(text: str) -> int:
    """Septets of a GSM-7 text (extension characters count 2). The caller checks :func:`is_gsm7` first."""
    return sum(2 if ch in GSM_EXTENSION else 1 for ch in text)


def ucs2_units(text: str) -> int:
    """UTF-16 code units: characters beyond U+FFFF are a surrogate pair."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def measure(text: str, counting: str = "cn_domestic") -> SmsLength:
    """Length and parts of ``text`` under ``counting`` (one of :data:`COUNTINGS`)."""
    if counting == "cn_domestic":
        n = len(text)
        return SmsLength("cn_domestic", n, cn_parts(n))
    if counting in ("intl", "gsm7") and is_gsm7(text):
        units = gsm7_units(text)
        return SmsLength("gsm7", units, parts_for(units, GSM_SINGLE, GSM_PART))
    if counting == "gsm7":
        raise ValueError("text has characters outside GSM-7")
    if counting not in ("intl", "ucs2"):
        raise ValueError(f"unknown counting {counting!r}")
    units = ucs2_units(text)
    return SmsLength("ucs2", units, parts_for(units, UCS2_SINGLE, UCS2_PART))


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


def length_expr(col: str | pl.Expr, counting: str = "cn_domestic") -> pl.Expr:
    """Vectorised :func:`measure`: a struct ``{encoding: Utf8, units: Int32, parts: Int32}`` per text."""
    c = pl.col(col) if isinstance(col, str) else col
    if counting == "cn_domestic":
        n = c.str.len_chars().cast(pl.Int32)
        return pl.struct(pl.lit("cn_domestic").alias("encoding"), n.alias("units"),
                         _parts_expr(n, CN_SINGLE, CN_PART).alias("parts"))
    if counting not in ("intl", "gsm7", "ucs2"):
        raise ValueError(f"unknown counting {counting!r}")
    n = c.str.len_chars().cast(pl.Int32)
    gsm_units = n + c.str.count_matches(GSM_EXT_CLASS).cast(pl.Int32)
    ucs_units = n + c.str.count_matches(ASTRAL).cast(pl.Int32)
    gsm = c.str.contains(GSM7_ONLY) if counting != "ucs2" else pl.lit(False)
    return pl.struct(
        pl.when(gsm).then(pl.lit("gsm7")).otherwise(pl.lit("ucs2")).alias("encoding"),
        pl.when(gsm).then(gsm_units).otherwise(ucs_units).alias("units"),
        pl.when(gsm).then(_parts_expr(gsm_units, GSM_SINGLE, GSM_PART))
        .otherwise(_parts_expr(ucs_units, UCS2_SINGLE, UCS2_PART)).alias("parts"),
    )


def parts_expr(col: str | pl.Expr, counting: str = "cn_domestic") -> pl.Expr:
    """Billed parts only (Int32)."""
    if counting == "cn_domestic":
        return cn_parts_expr(col)
    return length_expr(col, counting).struct.field("parts")
