"""verification attempts

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_masked", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_attempts")),
    )
    op.create_index("ix_verif_ip_at", "verification_attempts", ["ip", "at"])
    op.create_index("ix_verif_phone_at", "verification_attempts", ["phone_hash", "at"])


def downgrade() -> None:
    op.drop_index("ix_verif_phone_at", table_name="verification_attempts")
    op.drop_index("ix_verif_ip_at", table_name="verification_attempts")
    op.drop_table("verification_attempts")
