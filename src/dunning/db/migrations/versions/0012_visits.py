"""field visits: staff registry, visits, field events, safety alarms, promises to pay; accounts.address/lat/lon

Revision ID: 0012
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
    op.create_table(
        "field_staff",
        sa.Column("id", BigId, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("agency", sa.String(128), nullable=True),
        sa.Column("credential_no", sa.String(64), nullable=False),
        sa.Column("credential_valid_until", sa.Date(), nullable=False),
        sa.Column("trained_on", sa.Date(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_staff")),
        sa.UniqueConstraint("username", name=op.f("uq_field_staff_username")),
    )
    op.create_table(
        "visits",
        sa.Column("id", BigId, nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("agency", sa.String(128), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("risk_notes", sa.Text(), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("reg_no", sa.String(32), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("last_checkin_at", TS, nullable=True),
        sa.Column("next_checkin_due", TS, nullable=True),
        sa.Column("recording_confirmed", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("reg_no", name=op.f("uq_visits_reg_no")),
    )
    op.create_index(op.f("ix_visits_loan_id"), "visits", ["loan_id"])
    op.create_index(op.f("ix_visits_state"), "visits", ["state"])
    op.create_index(op.f("ix_visits_window_start"), "visits", ["window_start"])
    op.create_table(
        "visit_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_visit_events_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_events")),
    )
    op.create_index(op.f("ix_visit_events_visit_id"), "visit_events", ["visit_id"])
    op.create_table(
        "visit_alarms",
        sa.Column("id", BigId, nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("raised_by", sa.String(64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", TS, nullable=True),
        sa.Column("notified", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_visit_alarms_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_alarms")),
    )
    op.create_index(op.f("ix_visit_alarms_visit_id"), "visit_alarms", ["visit_id"])
    op.create_table(
        "promises_to_pay",
        sa.Column("id", BigId, nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises_to_pay")),
    )
    op.create_index(op.f("ix_promises_to_pay_loan_id"), "promises_to_pay", ["loan_id"])


def downgrade() -> None:
    op.drop_table("promises_to_pay")
    op.drop_table("visit_alarms")
    op.drop_table("visit_events")
    op.drop_table("visits")
    op.drop_table("field_staff")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("lon")
        batch_op.drop_column("lat")
        batch_op.drop_column("address")
