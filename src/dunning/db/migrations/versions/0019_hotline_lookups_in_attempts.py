"""hotline lookups in verification_attempts: the staff member's username on the attempt (indexed with ``at`` for
the per-user limit) replaces the separate staff_lookups table, which logged the same lookup a second time

Revision ID: 0019
Revises: 0018
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_verif_user_at", ["username", "at"], unique=False)
    # Every staff lookup was also written as a hotline attempt at the same instant from the same address.
    op.execute("UPDATE verification_attempts SET username = (SELECT MIN(l.username) FROM staff_lookups l "
               "WHERE l.at = verification_attempts.at AND l.ip = verification_attempts.ip) "
               "WHERE channel = 'hotline'")
    op.drop_index("ix_staff_lookups_ip_at", table_name="staff_lookups")
    op.drop_index("ix_staff_lookups_user_at", table_name="staff_lookups")
    op.drop_table("staff_lookups")


def downgrade() -> None:
    op.create_table(
        "staff_lookups",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_lookups")),
    )
    op.create_index("ix_staff_lookups_user_at", "staff_lookups", ["username", "at"], unique=False)
    op.create_index("ix_staff_lookups_ip_at", "staff_lookups", ["ip", "at"], unique=False)
    op.execute("INSERT INTO staff_lookups (at, username, ip, kind) SELECT at, username, ip, 'hotline' "
               "FROM verification_attempts WHERE username IS NOT NULL")
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_verif_user_at")
        batch_op.drop_column("username")
