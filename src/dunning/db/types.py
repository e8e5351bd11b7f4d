"""The one timestamp column type: aware UTC in, aware UTC out, on SQLite and PostgreSQL alike.

SQLite has no time zone type: SQLAlchemy stores the wall-clock digits and reads them back naive, so every
reader had to remember that a naive value from the database is UTC. :class:`UtcDateTime` does it once: a bound
value is converted to UTC (a naive one is taken as UTC already, as the raw-SQL writers store it), stored naive
on SQLite and aware on PostgreSQL, and every value read comes back aware in UTC. The DDL is unchanged
(``DateTime(timezone=True)``), so no migration is needed and rows written before read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; a naive value is taken as UTC (how the raw-SQL writers store it)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def frame_times(dialect: str, frame: pl.DataFrame, cols: Sequence[str]) -> pl.DataFrame:
    """``frame`` with its aware timestamp columns ``cols`` as :class:`UtcDateTime` stores them, for bulk writes
    that bypass the ORM: UTC text on SQLite (what SQLAlchemy reads back and the dispatcher compares), unchanged
    datetimes elsewhere."""
    if dialect != "sqlite":
        return frame
    return frame.with_columns(pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
                              for c in cols)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` whose Python values are always aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a value written by raw SQL into a SQLite column
            value = datetime.fromisoformat(value)
        return to_utc(value)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


__all__ = ["UtcDateTime", "frame_times", "to_utc"]
