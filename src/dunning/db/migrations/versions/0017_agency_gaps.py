"""agency gaps: commission rates per bucket on bids and awards

Revision ID: 0017
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("bids", "awards"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("bucket_rates", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("awards", "bids"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("bucket_rates")
