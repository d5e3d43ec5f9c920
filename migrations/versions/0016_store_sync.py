"""store_syncs: each store's latest re-sync of its orders, run as a job from the dashboard

Revision ID: 0016_store_sync
Revises: 0015_review_digests
Create Date: 2026-12-05 10:00:00

"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes


revision = '0016_store_sync'
down_revision = '0015_review_digests'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'store_syncs',
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('since', trustseal.dbtypes.UTCDateTime(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=40), nullable=True),
        sa.Column('requested_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
        sa.Column('started_at', trustseal.dbtypes.UTCDateTime(), nullable=True),
        sa.Column('finished_at', trustseal.dbtypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_syncs_store_id_stores')),
        sa.PrimaryKeyConstraint('store_id', name=op.f('pk_store_syncs')),
    )


def downgrade():
    op.drop_table('store_syncs')
