"""Migration 0022: the claim's index moves from ``(campaign_id, state, id)`` to the generated column ``queued``
(ADR 0020). An existing message gets ``queued`` from its state, the column follows every later change of state,
and a downgrade puts the old index back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

from dunning.db.engine import alembic_config, make_engine
from tests.foundation.test_migration_upgrade import _seed


def _queued(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT queued FROM messages WHERE id = 1")).scalar_one())


def test_queued_follows_the_state_and_the_index_moves_back_on_downgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    try:
        command.upgrade(cfg, "0021")
        _seed(engine)  # message 1
        with engine.begin() as conn:
            conn.execute(text("UPDATE messages SET state = 'queued' WHERE id = 1"))
        command.upgrade(cfg, "0022")
        assert _queued(engine)
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("messages")}
        assert {"ix_messages_queue", "ix_messages_campaign"} <= indexes
        assert "ix_messages_campaign_state" not in indexes
        with engine.begin() as conn:  # claimed: out of the queue
            conn.execute(text("UPDATE messages SET state = 'submitting' WHERE id = 1"))
        assert not _queued(engine)
        with engine.begin() as conn:  # put back for a retry: in the queue again
            conn.execute(text("UPDATE messages SET state = 'queued' WHERE id = 1"))
        assert _queued(engine)
        command.downgrade(cfg, "0021")
        inspector = sa.inspect(engine)
        assert "queued" not in {c["name"] for c in inspector.get_columns("messages")}
        assert "ix_messages_campaign_state" in {i["name"] for i in inspector.get_indexes("messages")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT state FROM messages WHERE id = 1")).scalar_one() == "queued"
    finally:
        engine.dispose()
