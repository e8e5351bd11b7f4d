"""The migrations build exactly the schema the models declare: a model change without its migration (or the
reverse) would work in tests that use one and break a deployed database that uses the other."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

import dunning.db.agency_models  # noqa: F401  (agency tables: same metadata)
from dunning.db import calendar_models  # noqa: F401  (registers calendar_years on Base.metadata)
from dunning.db.engine import make_engine, migrate
from dunning.db.models import MESSAGES_FILLFACTOR, Base
from dunning.db.references import CHECKED_BY_STATEMENT, trigger_names
from dunning.dispatch.state import DISPATCH_STATE


def _declared() -> MetaData:
    """Every table the code declares: the models, and the dispatcher's own state table (kept apart so that
    channels and dispatch need not import the ORM models)."""
    meta = MetaData()
    for table in [*Base.metadata.tables.values(), DISPATCH_STATE]:
        table.to_metadata(meta)
    return meta


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), _declared()))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_the_models(tmp_path: Path) -> None:
    assert _diff(f"sqlite:///{tmp_path / 'schema.db'}") == []


def _statement_checked(diff: object) -> bool:
    """A foreign key of the models that PostgreSQL enforces with triggers instead (migration 0020)."""
    if not (isinstance(diff, tuple) and diff[0] == "add_fk"):
        return False
    fk = diff[1]
    key = (fk.table.name, fk.column_keys[0], fk.referred_table.name)
    return len(fk.column_keys) == 1 and key in CHECKED_BY_STATEMENT


def test_postgresql_migrations_match_the_models(pg_url: str) -> None:
    diff = _diff(pg_url)
    assert [d for d in diff if not _statement_checked(d)] == []
    assert len(diff) == len(CHECKED_BY_STATEMENT)  # each of those keys is missing, as a key, exactly once
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            triggers = set(conn.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").scalars())
    finally:
        engine.dispose()
    for ref in CHECKED_BY_STATEMENT:
        assert set(trigger_names(*ref)) <= triggers, ref



def test_no_index_on_messages_names_state(pg_url: str) -> None:
    """The send's updates after the claim (submitted, then the final state) change ``state``; they are HOT updates,
    which write no index entry, only while no index of ``messages`` names ``state`` (ADR 0020). Queued rows are
    found through the generated ``queued`` column's partial index instead."""
    engine = make_engine(pg_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            indexed = {str(name): str(cols) for name, cols in conn.exec_driver_sql(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = 'messages'::regclass")}
            fillfactor = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE oid = 'messages'::regclass").scalar_one()
    finally:
        engine.dispose()
    assert [n for n, d in indexed.items() if "state" in d.split(" USING ", 1)[1]] == []
    assert "WHERE queued" in indexed["ix_messages_queue"]
    assert fillfactor == [f"fillfactor={MESSAGES_FILLFACTOR}"]
