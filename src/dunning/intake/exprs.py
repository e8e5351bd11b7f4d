"""The value parsers as Polars expressions, for ``with_columns``/``select`` over a frame's text columns.

Each is the whole-column parser of :mod:`dunning.intake.parsers` applied batch by batch: any string in, a value
or null out, never an exception.
"""

from __future__ import annotations

import polars as pl

from dunning.intake.parsers import (
    PHONE_DTYPE,
    mobile_e164,
    parse_amounts,
    parse_dates,
    parse_ints,
    parse_phones,
    parse_rates,
)


def phone_check_expr(col: str, *, allow_international: bool = False) -> pl.Expr:
    """Struct ``{phone, reject}`` per row; see :func:`parse_phones`."""
    return pl.col(col).map_batches(
        lambda s: parse_phones(s, allow_international=allow_international).to_struct(s.name),
        return_dtype=PHONE_DTYPE, is_elementwise=True,
    )


def phone_expr(col: str, *, allow_international: bool = False) -> pl.Expr:
    """E.164 of numbers that can receive an SMS (mainland mobiles; international ones if allowed), else null."""
    return pl.col(col).map_batches(
        lambda s: mobile_e164(s, allow_international=allow_international),
        return_dtype=pl.Utf8, is_elementwise=True,
    )


def amount_fen_expr(col: str) -> pl.Expr:
    """Integer fen (Int64, sign kept) or null; see :func:`parse_amounts`."""
    return pl.col(col).map_batches(parse_amounts, return_dtype=pl.Int64, is_elementwise=True)


def date_expr(col: str) -> pl.Expr:
    """Date or null; see :func:`parse_dates`."""
    return pl.col(col).map_batches(parse_dates, return_dtype=pl.Date, is_elementwise=True)


def rate_expr(col: str) -> pl.Expr:
    """Daily rate as a fraction (Float64) or null; see :func:`parse_rates`."""
    return pl.col(col).map_batches(parse_rates, return_dtype=pl.Float64, is_elementwise=True)


def int_expr(col: str) -> pl.Expr:
    """Small non-negative integer (Int64) or null; see :func:`parse_ints`."""
    return pl.col(col).map_batches(parse_ints, return_dtype=pl.Int64, is_elementwise=True)
