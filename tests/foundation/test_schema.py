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
from dunning.db.models import Base
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


def test_postgresql_migrations_match_the_models(pg_url: str) -> None:
    assert _diff(pg_url) == []

