"""The PostgreSQL COPY lanes (issue #23) carry every value a frame can hold unchanged, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from dunning.db.pgcopy import CHUNK_ROWS, copy_frame_in, copy_query_out

SCHEMA = {"id": pl.Int64, "txt": pl.Utf8, "flag": pl.Boolean, "at": pl.Datetime("us", "UTC"),
          "day": pl.Date, "amount": pl.Float64}
TRICKY = ["", "逾期提醒，请于 25 日前还款。", 'he said "pay", ok', "two\nlines", "a,b;c", "tab\there", "  ", "\\"]


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection]:
    c = psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"))
    c.execute("CREATE TABLE t (id bigint, txt text, flag boolean, at timestamptz, day date, amount double precision)")
    yield c
    c.close()


def _frame(n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "id": list(range(n)),
        "txt": [None if i % 9 == 0 else TRICKY[i % len(TRICKY)] for i in range(n)],
        "flag": [None if i % 7 == 0 else i % 2 == 0 for i in range(n)],
        "at": [None if i % 5 == 0 else datetime(2026, 11, 23, i % 24, i % 60, i % 60, i % 999_999, tzinfo=UTC)
               for i in range(n)],
        "day": [None if i % 4 == 0 else date(2026, 1 + i % 12, 1 + i % 28) for i in range(n)],
        "amount": [None if i % 6 == 0 else i * 1.25 for i in range(n)],
    }, schema=SCHEMA)


def test_a_frame_goes_in_and_comes_back_unchanged(conn: psycopg.Connection) -> None:
    frame = _frame(CHUNK_ROWS + 17)  # more than one chunk on the way in
    assert copy_frame_in(conn, "t", frame) == frame.height
    rows = conn.execute("SELECT id, txt, txt IS NULL FROM t WHERE id IN (0, 1, 8) ORDER BY id").fetchall()
    assert rows == [(0, None, True), (1, TRICKY[1], False), (8, "", False)]  # an empty text is not NULL
    back = copy_query_out(conn, "SELECT * FROM t WHERE id >= %s ORDER BY id", (0,), SCHEMA)
    assert_frame_equal(back, frame)


def test_parameters_are_bound_and_an_empty_result_keeps_its_schema(conn: psycopg.Connection) -> None:
    copy_frame_in(conn, "t", _frame(50))
    evil = "x'); DROP TABLE t; --"
    assert copy_query_out(conn, "SELECT id FROM t WHERE txt = %s", (evil,), {"id": pl.Int64}).height == 0
    empty = copy_query_out(conn, "SELECT * FROM t WHERE id < %s", (0,), SCHEMA)
    assert empty.schema == pl.Schema(SCHEMA) and empty.height == 0
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)


def test_read_frame_through_copy_reads_what_the_driver_reads(pg_url: str) -> None:
    """``read_frame`` takes the COPY lane (or with ``committed=True`` the Arrow lane) on PostgreSQL when the schema
    is given: same values, same order, the schema's names by position (as the row path names them), lists and text
    parameters bound, not spliced."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from dunning.db.bulk import read_frame

    frame = _frame(500)
    with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute("CREATE TABLE t (id bigint, txt text, flag boolean, at timestamptz, day date, amount float8)")
        copy_frame_in(c, "t", frame)
    engine = create_engine(pg_url)
    sql = "SELECT id AS n, txt, flag, at, day, amount FROM t WHERE id IN :ids OR txt = :t ORDER BY id"
    stmt = text(sql).bindparams(__import__("sqlalchemy").bindparam("ids", expanding=True))
    wanted = frame.filter(pl.col("id").is_in([3, 4, 250]) | (pl.col("txt") == TRICKY[1])).rename({"id": "n"})
    schema = {"n": pl.Int64, "txt": pl.Utf8, "flag": pl.Boolean, "at": pl.Datetime("us", "UTC"),
              "day": pl.Date, "amount": pl.Float64}
    with Session(engine) as s:
        got = read_frame(s, stmt, {"ids": [3, 4, 250], "t": TRICKY[1]}, schema=schema)
        arrow = read_frame(s, stmt, {"ids": [3, 4, 250], "t": TRICKY[1]}, schema=schema, committed=True)
        evil = read_frame(s, "SELECT id FROM t WHERE txt = :t", {"t": "x'); DROP TABLE t; --"},
                          schema={"id": pl.Int64})
        left = s.execute(text("SELECT count(*) FROM t")).scalar_one()
    engine.dispose()
    assert_frame_equal(got, wanted)
    assert_frame_equal(arrow, wanted)  # the Arrow lane (ADBC, a connection of its own) reads the same
    assert evil.height == 0 and left == 500
