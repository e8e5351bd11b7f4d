"""message_parts.status dropped: a part's delivery state is what its delivery reports say

Every receipt used to update its part row (``status``) besides storing the report and settling the message: one
more row update per message while sending, a new row version and three index entries each time on PostgreSQL
(issue #23, docs/scale.md). The state it held is derived from ``delivery_reports`` instead
(``dunning.channels.dlr.part_state``: failed once any report said failed, otherwise the latest final status),
where the settlement of multi-part messages and the message detail page now read it. Downgrade puts the
column back, filled the same way.

Revision ID: 0021
Revises: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.drop_column("status")


def downgrade() -> None:
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=True))
    same_part = ("r.message_id = message_parts.message_id AND r.channel = message_parts.channel "
                 "AND r.provider_id = message_parts.provider_id")
    op.execute(f"UPDATE message_parts SET status = COALESCE("  # nosec B608  # constant SQL, no values
               f"(SELECT 'failed' FROM delivery_reports r WHERE {same_part} AND r.status = 'failed' LIMIT 1), "
               f"(SELECT r.status FROM delivery_reports r WHERE {same_part} AND r.status <> 'unknown' "
               "ORDER BY r.id DESC LIMIT 1))")
