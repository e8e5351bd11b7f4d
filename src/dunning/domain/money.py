"""Money is held as integer fen (分) end to end; floats never carry amounts."""

from __future__ import annotations

import polars as pl


def format_yuan(fen: int) -> str:
    """``123450`` → ``1,234.50元``."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}元"


def yuan_expr(fen_col: str) -> pl.Expr:
    """Vectorised :func:`format_yuan`."""
    fen = pl.col(fen_col).cast(pl.Int64)
    whole = (fen // 100).cast(pl.Utf8)
    # thousands separators: reverse, group by 3, join, reverse back
    grouped = (
        whole.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse().str.strip_chars_start(",")
    )
    cents = (fen % 100).cast(pl.Utf8).str.zfill(2)
    return pl.concat_str([grouped, pl.lit("."), cents, pl.lit("元")])
