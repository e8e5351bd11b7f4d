"""dispatch state: shared rate-limiter cells and per-campaign sender leases

Revision ID: 0005
Revises: 0004

Databases used by a dispatcher before this revision already have the table (``dunning.dispatch.state`` created
it on first use); for them the upgrade only records the revision.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("dispatch_state"):
        return
    op.create_table(
        "dispatch_state",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dispatch_state")),
    )


def downgrade() -> None:
    op.drop_table("dispatch_state")
