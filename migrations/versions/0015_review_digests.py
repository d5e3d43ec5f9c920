"""review_digests: the daily digest of new reviews each merchant was emailed (once a day)

Revision ID: 0015_review_digests
Revises: 0014_helpful_votes
Create Date: 2026-12-03 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes


revision = '0015_review_digests'
down_revision = '0014_helpful_votes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'review_digests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('sent_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_review_digests_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_digests')),
        sa.UniqueConstraint('merchant_id', 'day', name=op.f('uq_review_digests_merchant_id_day')),
    )


def downgrade():
    op.drop_table('review_digests')
