"""PostgreSQL's fastest read: a query's result as Arrow, straight into Polars (issue #23).

The ADBC PostgreSQL driver (Apache Arrow's, in C++) runs the query as ``COPY … TO STDOUT (FORMAT binary)`` and
builds Arrow columns from it; Polars takes the Arrow stream without a copy. Measured on one million accounts:
about 1.1 s, against 3 s through COPY in CSV with psycopg (which hands Python one message per row) and 5 s
through ``fetchall``. No library offered this for a SQLAlchemy session, hence this short module.

It reads on a connection of its own, so it sees only *committed* rows: use it for big reads of data that was
committed before (an import's accounts), never for rows the caller's own transaction has just written.
Parameters are bound client-side by psycopg (``ClientCursor.mogrify``: quoted literals, never text splicing).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import psycopg
from sqlalchemy.engine import URL


def libpq_uri(url: URL) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…`` → ``postgresql://…``)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def arrow_frame(url: URL, dbapi_connection: psycopg.Connection[Any], sql: str, params: Any,
                schema: dict[str, Any]) -> pl.DataFrame:
    """The committed result of ``sql`` (psycopg placeholders) as a frame with ``schema``'s names (by position)
    and types."""
    import adbc_driver_manager as adbc
    import adbc_driver_postgresql

    query = psycopg.ClientCursor(dbapi_connection).mogrify(sql, params)
    db = adbc_driver_postgresql.connect(libpq_uri(url))
    try:
        conn = adbc.AdbcConnection(db)
        try:
            stmt = adbc.AdbcStatement(conn)
            try:
                stmt.set_sql_query(query)
                stream, _ = stmt.execute_query()
                frame = pl.DataFrame(stream)
            finally:
                stmt.close()
        finally:
            conn.close()
    finally:
        db.close()
    if frame.width != len(schema):
        raise ValueError(f"the query returned {frame.width} columns, the schema names {len(schema)}")
    return frame.rename(dict(zip(frame.columns, schema, strict=True))).cast(pl.Schema(schema))
