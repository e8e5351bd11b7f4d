"""message send windows, test-number samples, contact-time index

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_after", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index("ix_messages_submitting_at", ["submitting_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_submitting_at")
        batch_op.drop_column("is_test")
        batch_op.drop_column("send_before")
        batch_op.drop_column("send_after")
