"""SMS length maths: Chinese domestic counting, GSM-7 and UCS-2 (scalar and vectorised)."""

from __future__ import annotations

import math

import polars as pl

CN_SINGLE, CN_PART, CN_MAX = 70, 67, 500
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("\f^{}\\[~]|€")


def cn_parts(n_chars: int) -> int:
    """China domestic billing: every character counts 1 (signature included); ≤ 70 one part, else 67 per part."""
    if n_chars <= CN_SINGLE:
        return 1
    return math.ceil(n_chars / CN_PART)


def cn_parts_expr(col: str) -> pl.Expr:
    n = pl.col(col).str.len_chars()
    return pl.when(n <= CN_SINGLE).then(1).otherwise((n + CN_PART - 1) // CN_PART).cast(pl.Int16)


def encoding_of(text: str) -> str:
    return "gsm7" if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text) else "ucs2"


def intl_parts(text: str) -> tuple[str, int, int]:
    """(encoding, units, parts) outside China: GSM-7 160/153 (extension chars count 2) or UCS-2 70/67
    (characters outside the BMP count 2)."""
    if encoding_of(text) == "gsm7":
        units = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
        return "gsm7", units, 1 if units <= 160 else math.ceil(units / 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return "ucs2", units, 1 if units <= 70 else math.ceil(units / 67)
