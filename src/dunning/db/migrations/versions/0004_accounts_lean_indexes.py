"""accounts: drop the indexes nothing reads (phone; import_id is the unique key's leading column)

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_phone")
        batch_op.drop_index("ix_accounts_import_id")


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index("ix_accounts_import_id", ["import_id"], unique=False)
        batch_op.create_index("ix_accounts_phone", ["phone"], unique=False)
