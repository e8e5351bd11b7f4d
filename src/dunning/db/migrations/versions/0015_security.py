"""security: audit rows say how an action came; webhook replay table; CLI identities; staff lookup counters

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("via", sa.String(length=8), server_default="worker", nullable=False))
        batch_op.add_column(sa.Column("os_user", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=128), nullable=True))
    op.create_table(
        "webhook_seen",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_webhook_seen")),
    )
    op.create_index(op.f("ix_webhook_seen_seen_at"), "webhook_seen", ["seen_at"], unique=False)
    op.create_table(
        "cli_identities",
        sa.Column("os_user", sa.String(length=64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_cli_identities_user_id_users")),
        sa.PrimaryKeyConstraint("os_user", name=op.f("pk_cli_identities")),
    )
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


def downgrade() -> None:
    op.drop_index("ix_staff_lookups_ip_at", table_name="staff_lookups")
    op.drop_index("ix_staff_lookups_user_at", table_name="staff_lookups")
    op.drop_table("staff_lookups")
    op.drop_table("cli_identities")
    op.drop_index(op.f("ix_webhook_seen_seen_at"), table_name="webhook_seen")
    op.drop_table("webhook_seen")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("host")
        batch_op.drop_column("os_user")
        batch_op.drop_column("via")
