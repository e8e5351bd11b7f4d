"""Times in frames read from the database: THE Polars helper for "naive-or-aware timestamp column → UTC".

Reads that bypass the ORM (raw SQL into Polars) get times in whatever form the driver returns them: on SQLite
the text they were stored as (naive UTC from the ORM and the dispatcher, or with an offset from bulk inserts of
zoned values), on PostgreSQL ``timestamptz`` datetimes. :func:`utc_times` turns any of those into
``Datetime("us", "UTC")`` in one vectorised pass; a naive value is UTC (what everything we store is).
"""

from __future__ import annotations

import polars as pl

__all__ = ["UTC_US", "to_utc", "utc_times"]

UTC_US = pl.Datetime("us", "UTC")

_OFFSET = r"([+-]\d\d):?(\d\d)$"


def utc_times(col: str) -> pl.Expr:
    """A column of stored times as ``Datetime("us", "UTC")``: text with or without an offset (naive = UTC), or
    datetimes with or without a zone."""
    return pl.col(col).map_batches(to_utc, return_dtype=UTC_US)


def to_utc(s: pl.Series) -> pl.Series:
    """:func:`utc_times` on a series (null, datetime or ``YYYY-MM-DD[ T]HH:MM:SS[.f][Z|±HH[:]MM]`` text).

    Raises ``TypeError`` for any other dtype; text in another shape fails the parse rather than become null."""
    if s.dtype == pl.Null:
        return s.cast(UTC_US)
    if isinstance(s.dtype, pl.Datetime):
        zoned = s if s.dtype.time_zone is not None else s.dt.replace_time_zone("UTC")
        return zoned.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if s.dtype != pl.String:
        raise TypeError(f"cannot read times from a {s.dtype} column")
    frame = s.to_frame("t").select(
        pl.col("t").str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00").alias("t"))
    c = pl.col("t")
    hours = c.str.extract(_OFFSET, 1).cast(pl.Int32)
    minutes = c.str.extract(_OFFSET, 2).cast(pl.Int32)
    offset = (hours * 60 + hours.sign() * minutes).fill_null(0)
    base = c.str.replace(_OFFSET, "").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
    return frame.select((base - pl.duration(minutes=offset)).alias(s.name)).to_series()
