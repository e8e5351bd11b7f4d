"""Plain SQL for hot paths (the outbox, receipt ingestion): executemany batches through ``exec_driver_sql``.

SQLAlchemy's per-row parameter processing costs more than the database work when a statement runs for tens of
thousands of rows a second, so these paths bypass it. The SQL is portable between SQLite and PostgreSQL; the
two differences (placeholder style and how a timestamp is bound) live in :class:`Sql`.

Timestamps are bound as UTC. On SQLite that means the text form SQLAlchemy's ``DateTime`` writes
(``YYYY-MM-DD HH:MM:SS.ffffff``, UTC wall time), so rows written here compare correctly with rows written
through the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine


class Sql:
    """Dialect differences for the outbox's plain SQL."""

    def __init__(self, engine: Engine) -> None:
        self.pg = engine.dialect.name == "postgresql"
        self.placeholder = "%s" if engine.dialect.paramstyle in ("format", "pyformat") else "?"
        self._cache: dict[str, str] = {}

    def q(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's style."""
        if self.placeholder == "?":
            return sql
        out = self._cache.get(sql)
        if out is None:
            out = self._cache[sql] = sql.replace("?", self.placeholder)
        return out

    def ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        utc = value.astimezone(UTC) if value.tzinfo else value
        if self.pg:
            return utc if utc.tzinfo else utc.replace(tzinfo=UTC)
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")

    def in_list(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """An ``IN`` / ``= ANY`` predicate tail for ``values``: ``(sql, params)``."""
        if self.pg:
            return " = ANY(?)", [list(values)]
        return f" IN ({','.join('?' * len(values))})", list(values)


def run(conn: Connection, sql: Sql, statement: str, params: Sequence[Any] = ()) -> Any:
    """One execution of ``statement`` with positional ``params``."""
    return conn.exec_driver_sql(sql.q(statement), tuple(params))


def run_many(conn: Connection, sql: Sql, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """``statement`` once per row, as one executemany."""
    if rows:
        conn.exec_driver_sql(sql.q(statement), rows)


def fetch(conn: Connection, sql: Sql, statement: str, params: Sequence[Any] = ()) -> list[Any]:
    """The rows of one query as the driver's plain tuples, through the connection's own cursor (inside its
    transaction): SQLAlchemy's result rows cost more than the query itself at a hundred thousand rows."""
    cur = conn.connection.cursor()
    try:
        cur.execute(sql.q(statement), tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()
