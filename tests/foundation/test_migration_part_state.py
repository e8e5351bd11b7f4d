"""Migration 0021 drops ``message_parts.status`` (a part's state is read from its delivery reports): the part rows
stay, and a downgrade fills the column back from the reports — failed once any report said failed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from dunning.db.engine import alembic_config, make_engine
from tests.foundation.test_migration_upgrade import _seed


def test_part_states_move_to_the_reports_and_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'parts.db'}")
    cfg = alembic_config(engine)
    try:
        command.upgrade(cfg, "0020")
        _seed(engine)  # message 1
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO message_parts (id, message_id, channel, provider_id, part_no, status) "
                              "VALUES (1, 1, 'sandbox', 'a', 1, 'failed'), (2, 1, 'sandbox', 'b', 2, 'delivered'), "
                              "(3, 1, 'sandbox', 'c', 3, NULL)"))
            conn.execute(text(
                "INSERT INTO delivery_reports (channel, provider_id, message_id, status, received_at, raw) VALUES "
                "('sandbox', 'a', 1, 'failed', '2026-12-01', ''), ('sandbox', 'a', 1, 'delivered', '2026-12-01', ''),"
                "('sandbox', 'b', 1, 'unknown', '2026-12-01', ''), ('sandbox', 'b', 1, 'delivered', '2026-12-01', '')"
                ",('sandbox', 'b', 1, 'unknown', '2026-12-01', '')"))
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            cols = [r[1] for r in conn.execute(text("PRAGMA table_info(message_parts)"))]
            assert "status" not in cols
            assert conn.execute(text("SELECT count(*) FROM message_parts")).scalar() == 3
        command.downgrade(cfg, "0020")
        with engine.connect() as conn:
            got = dict(conn.execute(text("SELECT provider_id, status FROM message_parts")).all())
        assert got == {"a": "failed", "b": "delivered", "c": None}
    finally:
        engine.dispose()
