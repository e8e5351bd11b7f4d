"""Bulk writes: one statement per batch (executemany on SQLite, COPY on PostgreSQL), never a commit per row."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Executable, Table, text
from sqlalchemy.orm import Session

from dunning.db.pgcopy import copy_frame_in

BATCH_ROWS = 50_000


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


def read_frame(session: Session, sql: str | Executable, params: dict[str, Any] | None = None,
               schema: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run a SELECT (text, or a typed SQLAlchemy select whose type processors apply) into a Polars frame."""
    stmt = text(sql) if isinstance(sql, str) else sql
    result = session.connection().execute(stmt, params or {})
    rows = result.fetchall()
    columns = list(result.keys())
    if not rows:
        return pl.DataFrame(schema=schema or {c: pl.Utf8 for c in columns})
    return pl.DataFrame([tuple(r) for r in rows], schema=schema or columns, orient="row", infer_schema_length=None)
