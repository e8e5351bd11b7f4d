"""messages: no index names ``state``; the claim finds queued rows through the generated column ``queued``

Every change of a message's state wrote a new entry into all seven indexes of ``messages`` on PostgreSQL, because
``state`` was in ``(campaign_id, state, id)`` (issue #23, docs/scale.md). Now ``queued`` (``state = 'queued'``,
a stored generated column) carries the claim's partial index ``(campaign_id, id) WHERE queued``, and
``(campaign_id, id)`` serves the campaign's other reads. After the claim, the submitted and final updates change
no indexed column, so with room left on the page (``fillfactor``, which applies to pages written from now on)
they are HOT updates. ADR 0020.

Adding a stored column rewrites the table (PostgreSQL) or copies it (SQLite, where a stored column cannot be
added in place): minutes on a table of tens of millions of rows, once.

Revision ID: 0022
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

FILLFACTOR = 70  # dunning.db.models.MESSAGES_FILLFACTOR when this was written


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("messages", schema=None, recreate="auto" if pg else "always") as batch_op:
        batch_op.add_column(sa.Column("queued", sa.Boolean(), sa.Computed("state = 'queued'", persisted=True),
                                      nullable=False))
        batch_op.drop_index("ix_messages_campaign_state")
        batch_op.create_index("ix_messages_campaign", ["campaign_id", "id"], unique=False)
        batch_op.create_index("ix_messages_queue", ["campaign_id", "id"], unique=False,
                              postgresql_where=sa.text("queued"), sqlite_where=sa.text("queued"))
    if pg:
        op.execute(f"ALTER TABLE messages SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("ALTER TABLE messages RESET (fillfactor)")
    with op.batch_alter_table("messages", schema=None, recreate="auto" if pg else "always") as batch_op:
        batch_op.drop_index("ix_messages_queue")
        batch_op.drop_index("ix_messages_campaign")
        batch_op.create_index("ix_messages_campaign_state", ["campaign_id", "state", "id"], unique=False)
        batch_op.drop_column("queued")
