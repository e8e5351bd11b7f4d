"""PostgreSQL's fast lanes for whole frames: ``COPY … FROM STDIN`` and ``COPY (query) TO STDOUT``, in CSV.

Written by hand because no library moves a Polars frame through psycopg 3's COPY: the frame is serialised by
Polars' own (Rust) CSV writer in chunks and streamed to the server, and a query's result comes back as CSV bytes
that Polars parses in one call — no Python object per row or per cell either way (issue #23: a million
rows are a few seconds, where ``write_row`` per row or ``fetchall`` cost a Python tuple per row).

CSV conventions both ways: ``NULL`` is an unquoted ``\\N``; every string is quoted (``quote_style =
non_numeric``) on the way in, so an empty string, a string ``\\N`` and NULL stay distinct there. On the way out
an empty string stays empty; the one ambiguity is a text that is exactly the two characters ``\\N``, which reads
back as NULL (Polars cannot tell a quoted from an unquoted field) — no column we read this way holds such a value.
PostgreSQL writes booleans as ``t``/``f``, read back as Polars booleans.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

CHUNK_ROWS = 100_000
_NULL = r"\N"
_OPTIONS = f"FORMAT csv, NULL '{_NULL}'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_frame_in(dbapi_connection: Any, table: str, frame: pl.DataFrame) -> int:
    """Append every row of ``frame`` (columns named as the table's) to ``table`` in the connection's transaction."""
    if frame.is_empty():
        return 0
    cols = ", ".join(_ident(c) for c in frame.columns)
    with dbapi_connection.cursor() as cur, cur.copy(f"COPY {_ident(table)} ({cols}) FROM STDIN WITH ({_OPTIONS})") as cp:
        for start in range(0, frame.height, CHUNK_ROWS):
            chunk = frame.slice(start, CHUNK_ROWS)
            cp.write(chunk.write_csv(include_header=False, null_value=_NULL, quote_style="non_numeric")
                     .encode("utf-8"))
    return frame.height


def copy_rows_in(dbapi_connection: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY`` plain Python rows (a few columns, tens of thousands of rows: psycopg adapts each value in C)."""
    cols = ", ".join(_ident(c) for c in columns)
    with dbapi_connection.cursor() as cur, cur.copy(f"COPY {_ident(table)} ({cols}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


@functools.cache
def column_type(table: str, column: str) -> str:
    """The PostgreSQL type of a mapped column (for the casts of ``unnest`` arrays), from the models' metadata."""
    from sqlalchemy.dialects import postgresql

    from dunning.db.models import Base

    col = Base.metadata.tables[table].c[column]
    return str(col.type.compile(dialect=postgresql.dialect()))


def copy_query_out(dbapi_connection: Any, sql: str, params: Any = None,
                   schema: dict[str, Any] | None = None) -> pl.DataFrame:
    """The result of ``sql`` (a SELECT with psycopg placeholders, bound client-side) as a Polars frame.

    ``schema`` (column → Polars type) names the columns in order and fixes their types, as the ``schema`` of a
    row-oriented ``pl.DataFrame`` does; without it the query's own names are kept and Polars infers the types."""
    buf = io.BytesIO()
    header = "false" if schema else "true"
    with dbapi_connection.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH ({_OPTIONS}, HEADER {header})",
                                                    params) as cp:
        for block in cp:
            buf.write(block)
    if buf.tell() == 0:
        return pl.DataFrame(schema=schema or {})
    buf.seek(0)
    schema = schema or {}
    as_text = {c for c, t in schema.items() if t == pl.Boolean or isinstance(t, pl.Datetime) or t == pl.Datetime}
    overrides = {c: (pl.Utf8 if c in as_text else t) for c, t in schema.items()}
    frame = pl.read_csv(buf, has_header=not schema, new_columns=list(schema) or None, null_values=[_NULL],
                        schema_overrides=overrides or None, infer_schema_length=None, empty_string_is_null=False)
    if frame.is_empty() and schema:
        return pl.DataFrame(schema=schema)
    fixes = []
    for c in as_text:
        t = schema[c]
        if t == pl.Boolean:
            fixes.append(pl.col(c).replace_strict({"t": True, "f": False}, default=None, return_dtype=pl.Boolean))
        else:  # timestamptz text in the session's zone, e.g. "2026-11-23 02:00:00.5+00"
            tz = getattr(t, "time_zone", None)
            parsed = pl.col(c).str.to_datetime("%Y-%m-%d %H:%M:%S%.f%#z", time_zone="UTC", time_unit="us")
            fixes.append((parsed.dt.convert_time_zone(tz) if tz else parsed.dt.replace_time_zone(None)).alias(c))
    return frame.with_columns(fixes) if fixes else frame
