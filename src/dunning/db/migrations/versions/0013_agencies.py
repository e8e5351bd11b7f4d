"""agencies: registry, documents, tenders, lots, bids, conflicts, scores, awards, allocation periods and
allocations, agency campaigns, scorecards (issue 22)

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agencies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('legal_name', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('blacklisted', sa.Boolean(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('buckets', sa.JSON(), nullable=False),
    sa.Column('contacts', sa.JSON(), nullable=False),
    sa.Column('pipl_contract_start', sa.Date(), nullable=True),
    sa.Column('pipl_contract_end', sa.Date(), nullable=True),
    sa.Column('next_evaluation_due', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agencies')),
    sa.UniqueConstraint('name', name=op.f('uq_agencies_name'))
    )
    op.create_table('tenders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('requirements', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('evaluators', sa.JSON(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('proposed_by', sa.String(length=64), nullable=True),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenders'))
    )
    op.create_table('agency_documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_documents_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_documents'))
    )
    op.create_index(op.f('ix_agency_documents_agency_id'), 'agency_documents', ['agency_id'], unique=False)
    op.create_table('evaluator_conflicts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tender_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('evaluator', sa.String(length=64), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_evaluator_conflicts_agency_id_agencies')),
    sa.ForeignKeyConstraint(['tender_id'], ['tenders.id'], name=op.f('fk_evaluator_conflicts_tender_id_tenders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluator_conflicts')),
    sa.UniqueConstraint('tender_id', 'evaluator', 'agency_id', name=op.f('uq_evaluator_conflicts_tender_id'))
    )
    op.create_table('tender_lots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tender_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('buckets', sa.JSON(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['tender_id'], ['tenders.id'], name=op.f('fk_tender_lots_tender_id_tenders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tender_lots'))
    )
    op.create_index(op.f('ix_tender_lots_tender_id'), 'tender_lots', ['tender_id'], unique=False)
    op.create_table('allocation_periods',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('import_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('shares', sa.JSON(), nullable=False),
    sa.Column('notice_campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_allocation_periods_import_id_imports')),
    sa.ForeignKeyConstraint(['lot_id'], ['tender_lots.id'], name=op.f('fk_allocation_periods_lot_id_tender_lots')),
    sa.ForeignKeyConstraint(['notice_campaign_id'], ['campaigns.id'], name=op.f('fk_allocation_periods_notice_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocation_periods'))
    )
    op.create_index(op.f('ix_allocation_periods_lot_id'), 'allocation_periods', ['lot_id'], unique=False)
    op.create_table('bids',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tender_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('commission_rate', sa.Float(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('promised_recovery_rate', sa.Float(), nullable=False),
    sa.Column('promised_complaints_per_10k', sa.Float(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('submitted_by', sa.String(length=64), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_bids_agency_id_agencies')),
    sa.ForeignKeyConstraint(['lot_id'], ['tender_lots.id'], name=op.f('fk_bids_lot_id_tender_lots')),
    sa.ForeignKeyConstraint(['tender_id'], ['tenders.id'], name=op.f('fk_bids_tender_id_tenders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bids')),
    sa.UniqueConstraint('lot_id', 'agency_id', name=op.f('uq_bids_lot_id'))
    )
    op.create_index(op.f('ix_bids_tender_id'), 'bids', ['tender_id'], unique=False)
    op.create_table('agency_campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_campaigns_agency_id_agencies')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_agency_campaigns_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['period_id'], ['allocation_periods.id'], name=op.f('fk_agency_campaigns_period_id_allocation_periods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_campaigns')),
    sa.UniqueConstraint('campaign_id', name=op.f('uq_agency_campaigns_campaign_id'))
    )
    op.create_table('agency_scorecards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('next_share', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_scorecards_agency_id_agencies')),
    sa.ForeignKeyConstraint(['period_id'], ['allocation_periods.id'], name=op.f('fk_agency_scorecards_period_id_allocation_periods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_scorecards')),
    sa.UniqueConstraint('period_id', 'agency_id', name=op.f('uq_agency_scorecards_period_id'))
    )
    op.create_table('allocations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('loan_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('stratum', sa.String(length=128), nullable=False),
    sa.Column('bucket', sa.String(length=8), nullable=False),
    sa.Column('amount_due_fen', sa.Integer(), nullable=False),
    sa.Column('sticky', sa.Boolean(), nullable=False),
    sa.Column('recalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recall_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_allocations_agency_id_agencies')),
    sa.ForeignKeyConstraint(['period_id'], ['allocation_periods.id'], name=op.f('fk_allocations_period_id_allocation_periods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocations')),
    sa.UniqueConstraint('period_id', 'loan_id', name=op.f('uq_allocations_period_id'))
    )
    op.create_index('ix_allocations_agency', 'allocations', ['agency_id', 'period_id'], unique=False)
    op.create_table('awards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tender_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bid_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('commission_rate', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_awards_agency_id_agencies')),
    sa.ForeignKeyConstraint(['bid_id'], ['bids.id'], name=op.f('fk_awards_bid_id_bids')),
    sa.ForeignKeyConstraint(['lot_id'], ['tender_lots.id'], name=op.f('fk_awards_lot_id_tender_lots')),
    sa.ForeignKeyConstraint(['tender_id'], ['tenders.id'], name=op.f('fk_awards_tender_id_tenders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awards')),
    sa.UniqueConstraint('lot_id', 'agency_id', name=op.f('uq_awards_lot_id'))
    )
    op.create_index(op.f('ix_awards_tender_id'), 'awards', ['tender_id'], unique=False)
    op.create_table('bid_scores',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bid_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('evaluator', sa.String(length=64), nullable=False),
    sa.Column('criterion', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bid_id'], ['bids.id'], name=op.f('fk_bid_scores_bid_id_bids')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid_scores')),
    sa.UniqueConstraint('bid_id', 'evaluator', 'criterion', name=op.f('uq_bid_scores_bid_id'))
    )
    op.create_index(op.f('ix_bid_scores_bid_id'), 'bid_scores', ['bid_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_bid_scores_bid_id'), table_name='bid_scores')
    op.drop_table('bid_scores')
    op.drop_index(op.f('ix_awards_tender_id'), table_name='awards')
    op.drop_table('awards')
    op.drop_index('ix_allocations_agency', table_name='allocations')
    op.drop_table('allocations')
    op.drop_table('agency_scorecards')
    op.drop_table('agency_campaigns')
    op.drop_index(op.f('ix_bids_tender_id'), table_name='bids')
    op.drop_table('bids')
    op.drop_index(op.f('ix_allocation_periods_lot_id'), table_name='allocation_periods')
    op.drop_table('allocation_periods')
    op.drop_index(op.f('ix_tender_lots_tender_id'), table_name='tender_lots')
    op.drop_table('tender_lots')
    op.drop_table('evaluator_conflicts')
    op.drop_index(op.f('ix_agency_documents_agency_id'), table_name='agency_documents')
    op.drop_table('agency_documents')
    op.drop_table('tenders')
    op.drop_table('agencies')
