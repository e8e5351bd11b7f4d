"""visit notice: the campaign that notified a visit (visits.notice_campaign_id); campaigns.batch, so that one
strategy, day and import may hold more than one campaign (a visit notice per batch of approved visits)

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch", sa.String(64), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_campaigns_strategy_id", type_="unique")
        batch_op.create_unique_constraint("uq_campaigns_strategy_id", ["strategy_id", "as_of", "import_id", "batch"])
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_campaign_id", BigId, nullable=True))
        batch_op.create_foreign_key("fk_visits_notice_campaign_id_campaigns", "campaigns", ["notice_campaign_id"],
                                    ["id"])
        batch_op.create_index("ix_visits_notice_campaign_id", ["notice_campaign_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_notice_campaign_id")
        batch_op.drop_constraint("fk_visits_notice_campaign_id_campaigns", type_="foreignkey")
        batch_op.drop_column("notice_campaign_id")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint("uq_campaigns_strategy_id", type_="unique")
        batch_op.create_unique_constraint("uq_campaigns_strategy_id", ["strategy_id", "as_of", "import_id"])
        batch_op.drop_column("batch")
