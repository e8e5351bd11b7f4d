"""visit gaps: the alert outbox of escalated visit alarms (level 2 second supervisor, level 3 emergency contacts)

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "visit_alerts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("alarm_id", BigId, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("deadline_at", TS, nullable=False),
        sa.Column("provider_id", sa.String(128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["alarm_id"], ["visit_alarms.id"], name=op.f("fk_visit_alerts_alarm_id_visit_alarms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_alerts")),
        sa.UniqueConstraint("alarm_id", "level", "phone", name=op.f("uq_visit_alerts_alarm_id")),
    )
    op.create_index(op.f("ix_visit_alerts_alarm_id"), "visit_alerts", ["alarm_id"])
    op.create_index(op.f("ix_visit_alerts_state"), "visit_alerts", ["state"])


def downgrade() -> None:
    op.drop_table("visit_alerts")
