"""Bulk SQL: batched writes and reads for hot paths, one statement per batch, never a commit per row.

Two kinds of helper live here. :func:`bulk_insert` / :func:`read_frame` move Polars frames in and out (COPY on
PostgreSQL, executemany on SQLite). The statement helpers (:class:`Sql`, :func:`run`, :func:`run_many`,
:func:`fetch`, :func:`fetch_rows`, :func:`insert_rows`, :func:`update_rows`) serve the outbox and receipt
ingestion with plain SQL through ``exec_driver_sql``, built from column lists (never by rewriting SQL text).
SQLAlchemy's per-row parameter processing costs more than the database work when a statement runs for tens of
thousands of rows a second, so these paths bypass it. The SQL is portable between SQLite and PostgreSQL; the
two differences (placeholder style and how a timestamp is bound) live in :class:`Sql`.

**SQLite and the GIL.** Python's ``sqlite3`` releases the GIL around every ``sqlite3_step``: once per row of an
executemany and once per row fetched. While another thread runs Python (the event loop, receipt parsing), each
of those hand-backs can wait for the interpreter's switch interval (5 ms), so a 10,000-row executemany that takes
50 ms alone took seconds in the dispatcher (measured: 20,000 rows, 0.05 s alone, 51 s beside a busy thread). The
bulk helpers below therefore send SQLite a few multi-row statements (:func:`insert_rows`,
:func:`update_rows`) and fetch large results as one JSON value (:func:`fetch_rows`); on PostgreSQL, whose driver
does not step row by row, inserts are a ``COPY`` and updates one ``UPDATE … FROM unnest(…)`` per batch
(:mod:`dunning.db.pgcopy`).

Timestamps are bound as UTC. On SQLite that means the text form SQLAlchemy's ``DateTime`` writes
(``YYYY-MM-DD HH:MM:SS.ffffff``, UTC wall time), so rows written here compare correctly with rows written
through the ORM.
"""


from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from itertools import chain
from typing import Any, cast

import polars as pl
from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Connection,
    Engine,
    Executable,
    Table,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler

from dunning.db.arrowread import arrow_frame
from dunning.db.pgcopy import column_type, copy_frame_in, copy_query_out, copy_rows_in

BATCH_ROWS = 50_000


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


def key_in(s: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any]
           ) -> ColumnElement[bool]:
    """``column IN values`` for a select of the ORM. On PostgreSQL a semi-join with ``unnest`` of one array
    parameter: hashed, or one index probe per value, whatever the table's statistics say. An ``IN`` list of
    parameters is compared value by value with every row the plan reads, and with no statistics (a table filled in
    the same transaction) the planner may read the rows through another index: 46,000 open cases × 1,000 phones
    took 0.9 s per chunk. On SQLite an ``IN`` list."""
    col = column.expression
    if s.connection().dialect.name != "postgresql":
        return col.in_(list(values))
    return col.in_(select(func.unnest(bindparam(None, list(values), type_=ARRAY(col.type)))))


def json_column(value: Any) -> Any:
    """A JSON column read with plain SQL: text on SQLite, already decoded on PostgreSQL (None if unreadable)."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


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


# Rows per multi-row statement on SQLite: well under its 32,766 bound parameters for the widest table here.
_ROWS_PER_STATEMENT = 2000


def fetch_rows(conn: Connection, sql: Sql, columns: Sequence[str], rest: str,
               params: Sequence[Any] = ()) -> list[Sequence[Any]]:
    """``SELECT <columns> <rest>`` for many rows. On SQLite the rows come back as one JSON array (one step,
    see the module docstring); JSON keeps integers, text and NULL as they are (timestamps are text there)."""
    if sql.pg:
        return fetch(conn, sql, f"SELECT {', '.join(columns)} {rest}", params)
    inner = ", ".join(f"{c} AS c{i}" for i, c in enumerate(columns))
    outer = ", ".join(f"c{i}" for i in range(len(columns)))
    row = fetch(conn, sql, f"SELECT json_group_array(json_array({outer})) FROM (SELECT {inner} {rest})", params)  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
    return json.loads(row[0][0]) if row and row[0][0] else []


def insert_rows(conn: Connection, sql: Sql, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``INSERT INTO table (columns)`` every row: multi-row ``VALUES`` statements on SQLite, ``COPY`` on
    PostgreSQL."""
    if not rows:
        return
    cols = ", ".join(columns)
    if sql.pg:
        copy_rows_in(conn.connection.dbapi_connection, table, columns, rows)
        return
    one = f"({','.join('?' * len(columns))})"
    for i in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[i:i + _ROWS_PER_STATEMENT]
        conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES {','.join([one] * len(chunk))}",  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                             tuple(chain.from_iterable(chunk)))


def update_rows(conn: Connection, sql: Sql, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                fixed: Mapping[str, Any] | None = None, match: Mapping[str, Sequence[Any]] | None = None) -> int:
    """Update ``table`` row by row from ``rows`` = ``(id, <one value per column of columns>)``; ``fixed`` sets
    further columns to one bound value for every row, ``match`` only updates rows whose column holds one of the
    given values. SQLite: ``UPDATE … FROM`` a ``VALUES`` list, in multi-row statements; PostgreSQL: one
    ``UPDATE … FROM unnest(<typed arrays>)`` for all rows (ids must be distinct, :func:`_update_rows_pg`). Returns
    the drivers' row counts: the rows changed (on PostgreSQL with ``match``, the rows found)."""
    if not rows:
        return 0
    fixed = dict(fixed or {})
    match = dict(match or {})
    if sql.pg:
        return _update_rows_pg(conn, sql, table, columns, rows, fixed, match)
    fixed_sets = [f"{c} = ?" for c in fixed]
    fixed_params = list(fixed.values())
    conds = "".join(f" AND {table}.{c} IN ({', '.join('?' * len(v))})" for c, v in match.items())
    cond_params = [x for v in match.values() for x in v]
    # SQLite names VALUES columns column1 (the id), column2…; a statement must start with UPDATE for the
    # driver to report its row count, so no CTE to name them.
    sets = ", ".join([*(f"{c} = v.column{k + 2}" for k, c in enumerate(columns)), *fixed_sets])
    one = f"({','.join('?' * (1 + len(columns)))})"
    changed = 0
    for i in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[i:i + _ROWS_PER_STATEMENT]
        res = conn.exec_driver_sql(
            f"UPDATE {table} SET {sets} FROM (VALUES {','.join([one] * len(chunk))}) AS v "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            f"WHERE {table}.id = v.column1{conds}", (*fixed_params, *chain.from_iterable(chunk), *cond_params))
        changed += int(res.rowcount or 0)
    return changed


def _update_rows_pg(conn: Connection, sql: Sql, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                    fixed: Mapping[str, Any], match: Mapping[str, Sequence[Any]]) -> int:
    """:func:`update_rows` on PostgreSQL: one statement for the whole batch; the values travel as one typed array
    per column and are joined back row by row with unnest (an executemany would run the executor once per row).

    The rows are found by their ids alone (``id = ANY(…)``, the primary key); ``match`` is checked inside each
    assignment (a row whose column holds another value keeps its values) instead of in the ``WHERE`` clause,
    where the planner would estimate it. With the statistics autovacuum takes right after a plan (no message
    ``submitting`` yet) it estimated one row for ``state = 'submitting'`` and joined the batch to a scan of the
    ``(campaign_id, state, id)`` index — each of those rows against the whole batch: 650–1,060 ms for 2,000
    messages instead of 50–70. The count returned is of the rows found (``match`` or not)."""
    guard = " AND ".join(f"{table}.{c} IN ({', '.join('?' * len(v))})" for c, v in match.items())
    guard_params = [x for v in match.values() for x in v]
    sets: list[str] = []
    params: list[Any] = []
    for c, value in [*((c, None) for c in columns), *fixed.items()]:
        new = f"v.{c}" if c in columns else "?"
        if guard:
            sets.append(f"{c} = CASE WHEN {guard} THEN {new} ELSE {table}.{c} END")
            params.extend(guard_params)
        else:
            sets.append(f"{c} = {new}")
        if c not in columns:
            params.append(value)
    arrays = ", ".join(f"?::{column_type(table, c)}[]" for c in ("id", *columns))
    values = [list(col) for col in zip(*rows, strict=True)]
    res = conn.exec_driver_sql(
        sql.q(f"UPDATE {table} SET {', '.join(sets)} FROM unnest({arrays}) AS v(id, {', '.join(columns)}) "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
              f"WHERE {table}.id = v.id AND {table}.id = ANY(?)"),
        (*params, *values, values[0]))
    return int(res.rowcount or 0)


def bulk_insert(session: Session, table: Table, frame: pl.DataFrame) -> int:
    """Insert every row of ``frame`` (columns named as the table's) inside the session's transaction."""
    if frame.is_empty():
        return 0
    cols = frame.columns
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.dbapi_connection
        if not any(dtype.is_nested() or dtype == pl.Object for dtype in frame.dtypes):
            return copy_frame_in(raw, table.name, frame)  # Polars writes the CSV: no Python object per row
        with raw.cursor() as cur:
            collist = ", ".join(f'"{c}"' for c in cols)
            with cur.copy(f'COPY "{table.name}" ({collist}) FROM STDIN') as copy:
                for row in frame.iter_rows():
                    copy.write_row(row)
        return frame.height
    placeholders = ", ".join("?" for _ in cols)
    sql = f'INSERT INTO "{table.name}" ({", ".join(cols)}) VALUES ({placeholders})'  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
    dbapi: Any = conn.connection.dbapi_connection
    cur = dbapi.cursor()
    try:
        for start in range(0, frame.height, BATCH_ROWS):
            chunk = frame.slice(start, BATCH_ROWS)
            cur.executemany(sql, chunk.iter_rows())
    finally:
        cur.close()
    return frame.height


# Column types the CSV of ``COPY … TO STDOUT`` reads back exactly (see :func:`copy_query_out`).
_COPYABLE = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64, pl.Float32,
             pl.Float64, pl.Utf8, pl.Date, pl.Boolean)
# Parameter values psycopg binds client-side into a COPY exactly as the server would bind them (a naive
# datetime is left to the type processors of the ordinary path).
_PLAIN = (int, float, str, bool, date, type(None))


def read_frame(session: Session, sql: str | Executable, params: dict[str, Any] | None = None,
               schema: dict[str, Any] | None = None, *, committed: bool = False) -> pl.DataFrame:
    """Run a SELECT (text, or a typed SQLAlchemy select whose type processors apply) into a Polars frame.

    On PostgreSQL, when ``schema`` names every column's type and the parameters are plain values, the result
    comes back as one ``COPY (…) TO STDOUT`` parsed by Polars — no Python tuple per row (issue #23: the million
    accounts a plan reads took 3–5 s through ``fetchall``). With ``committed=True`` the caller says the rows were
    committed before its transaction wrote anything they depend on, and the read goes as Arrow through a connection
    of its own (:mod:`dunning.db.arrowread`, 1 s for those accounts). Otherwise the rows go through the driver."""
    stmt = text(sql) if isinstance(sql, str) else sql
    conn = session.connection()
    if (schema and conn.dialect.name == "postgresql" and isinstance(stmt, ClauseElement)
            and all(_copyable(t) for t in schema.values())):
        compiled = cast(SQLCompiler, stmt.compile(dialect=conn.dialect))
        expanded = compiled.construct_expanded_state(params or {})
        bound = expanded.parameters
        if all(_plain(v) for v in bound.values()):
            dbapi: Any = conn.connection.dbapi_connection
            if committed:
                return arrow_frame(conn.engine.url, dbapi, expanded.statement, bound, schema)
            return copy_query_out(dbapi, expanded.statement, bound, schema)
    result = conn.execute(stmt, params or {})
    rows = result.fetchall()
    columns = list(result.keys())
    if not rows:
        return pl.DataFrame(schema=schema or {c: pl.Utf8 for c in columns})
    return pl.DataFrame([tuple(r) for r in rows], schema=schema or columns, orient="row", infer_schema_length=None)


def _copyable(dtype: Any) -> bool:
    return isinstance(dtype, pl.Datetime) or dtype == pl.Datetime or any(dtype == t for t in _COPYABLE)


def _plain(value: Any) -> bool:
    if isinstance(value, datetime):
        return value.tzinfo is not None
    return isinstance(value, _PLAIN)
