"""An existing SQLite database holding data upgrades through every migration: a batch migration rebuilds a table
(copy, drop, rename), and with foreign keys enforced dropping a table that other rows refer to failed (0018
rebuilds ``campaigns``, which messages refer to)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

from dunning.db.engine import alembic_config, make_engine, migrate

START = "0017"  # before 0018 rebuilt campaigns
CHAIN = ["imports", "strategies", "campaigns", "accounts", "messages"]  # each refers to the ones before it


def _value(col: sa.Column[Any]) -> Any:
    t = col.type
    if isinstance(t, sa.DateTime):
        return datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    if isinstance(t, sa.Date):
        return date(2026, 12, 1)
    if isinstance(t, sa.Boolean):
        return False
    if isinstance(t, sa.Integer | sa.Float | sa.Numeric):
        return 1
    if isinstance(t, sa.JSON):
        return "{}"
    return f"{col.name}-1"


def _seed(engine: sa.Engine) -> None:
    """One row in each table of the chain, every required column filled, references pointing at row 1."""
    meta = sa.MetaData()
    meta.reflect(engine, only=CHAIN)
    with engine.begin() as conn:
        for name in CHAIN:
            table = meta.tables[name]
            row = {c.name: _value(c) for c in table.columns if not c.nullable}
            row["id"] = 1
            conn.execute(table.insert().values(**row))


def test_a_sqlite_database_with_rows_upgrades_to_the_newest_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        command.upgrade(alembic_config(engine), START)
        _seed(engine)
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT campaign_id FROM messages")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM campaigns")).scalar() == 1
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # enforcement is back on
    finally:
        engine.dispose()
