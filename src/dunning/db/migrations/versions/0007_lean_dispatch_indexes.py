"""messages / delivery_reports: lean indexes for the send path

Every state change of a message rewrote the entries of indexes nothing reads: ``ix_messages_provider`` (receipts
are matched through ``message_parts``) and the ``submitted_at`` half of ``ix_messages_phone_sent`` (readers filter
by phone only); ``ix_delivery_reports_provider_id`` was written for every receipt and never read (reports are read
by message). See docs/adr/0010-lean-dispatch-writes.md.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_provider")
        batch_op.drop_index("ix_messages_phone_sent")
        batch_op.create_index("ix_messages_phone", ["phone"], unique=False)
    with op.batch_alter_table("delivery_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_reports_provider_id")


def downgrade() -> None:
    with op.batch_alter_table("delivery_reports", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_reports_provider_id", ["provider_id"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_phone")
        batch_op.create_index("ix_messages_phone_sent", ["phone", "submitted_at"], unique=False)
        batch_op.create_index("ix_messages_provider", ["provider_id"], unique=False)
