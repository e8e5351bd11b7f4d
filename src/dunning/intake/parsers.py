"""Vectorised value parsers: any string in, a value or null out (never an exception)."""

from __future__ import annotations

import polars as pl

_FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)} | {"＋": "+", "－": "-", "．": ".", "，": ",", "　": " ",
                                                             "（": "(", "）": ")", "％": "%"}

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d %H:%M:%S",
                "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def ascii_expr(col: str) -> pl.Expr:
    """Full-width digits and signs to ASCII, surrounding blanks removed."""
    return pl.col(col).cast(pl.Utf8).str.replace_many(list(_FULLWIDTH), list(_FULLWIDTH.values())).str.strip_chars()


def phone_digits_expr(col: str) -> pl.Expr:
    """Digits of a phone as written (spaces, dashes, brackets, dots removed; a leading + kept)."""
    return ascii_expr(col).str.replace_all(r"[\s\-().]", "")


def phone_expr(col: str) -> pl.Expr:
    """Mainland mobile in E.164 (``+86…``), or null when the vectorised rule cannot tell (see classify)."""
    d = phone_digits_expr(col).str.replace(r"^(\+?86|0086)(1[3-9]\d{9})$", "$2")
    return pl.when(d.str.contains(r"^1[3-9]\d{9}$")).then(pl.concat_str([pl.lit("+86"), d])).otherwise(None)


def amount_fen_expr(col: str) -> pl.Expr:
    """``¥1,234.50``, ``1234.5元``, ``￥ 800`` → fen (Int64); unparseable → null; sign kept (negative is checked)."""
    s = ascii_expr(col).str.replace_all(r"[¥￥元,\s]|RMB|CNY|人民币", "")
    f = s.cast(pl.Float64, strict=False)
    return pl.when(s.str.contains(r"^-?\d+(\.\d+)?$")).then((f * 100).round(0).cast(pl.Int64)).otherwise(None)


def date_expr(col: str) -> pl.Expr:
    """ISO, ``2026/9/30``, ``2026年9月30日``, ``20260930``, ``2026.09.30``; impossible dates → null."""
    s = ascii_expr(col).str.replace(r"\s+00:00(:00)?$", "")
    return pl.coalesce([s.str.to_date(f, strict=False) for f in DATE_FORMATS[:5]]
                       + [s.str.to_datetime(f, strict=False).dt.date() for f in DATE_FORMATS[5:]])


def rate_expr(col: str) -> pl.Expr:
    """Daily rate as a fraction: ``0.05%`` and ``0.0005`` are the same rate; blank → null."""
    s = ascii_expr(col)
    pct = s.str.ends_with("%")
    num = s.str.strip_chars_end("%").cast(pl.Float64, strict=False)
    return pl.when(pct).then(num / 100).otherwise(num)


def int_expr(col: str) -> pl.Expr:
    return ascii_expr(col).str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
