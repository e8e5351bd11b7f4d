"""Migration 0019 folds ``staff_lookups`` into ``verification_attempts``: a database upgraded with hotline
lookups in the current window keeps counting them per staff member (the per-user limit does not reset)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from dunning.db.engine import alembic_config, make_engine, migrate

BEFORE = "0018"  # the revision before the fold


def _upgrade_keeps_who_looked(url: str) -> list[tuple[str, str | None]]:
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), BEFORE)
        at = datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC)
        with engine.begin() as conn:
            for channel, ip in (("hotline", "10.0.0.7"), ("hotline", "10.0.0.8"), ("public", "10.0.0.7")):
                conn.execute(text("INSERT INTO verification_attempts (at, ip, phone_hash, phone_masked, outcome, "
                                  "channel) VALUES (:at, :ip, 'h', '138****8000', 'not_found', :ch)"),
                             {"at": at, "ip": ip, "ch": channel})
            conn.execute(text("INSERT INTO staff_lookups (at, username, ip, kind) VALUES "
                              "(:at, 'viewer-1', '10.0.0.7', 'hotline')"), {"at": at})
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT channel || ':' || ip, username FROM verification_attempts "
                                     "ORDER BY id")).all()
            gone = conn.execute(text("SELECT count(*) FROM information_schema.tables "
                                     "WHERE table_name = 'staff_lookups'")).scalar() if url.startswith(
                "postgresql") else conn.execute(text(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'staff_lookups'")).scalar()
        assert gone == 0
        return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


EXPECTED = [("hotline:10.0.0.7", "viewer-1"), ("hotline:10.0.0.8", None), ("public:10.0.0.7", None)]


def test_sqlite_upgrade_moves_the_staff_member_onto_the_attempt(tmp_path: Path) -> None:
    assert _upgrade_keeps_who_looked(f"sqlite:///{tmp_path / 'm.db'}") == EXPECTED


def test_postgresql_upgrade_moves_the_staff_member_onto_the_attempt(pg_url: str) -> None:
    assert _upgrade_keeps_who_looked(pg_url) == EXPECTED
