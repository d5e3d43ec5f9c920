"""purchases: the shipment as its source reports it (carrier, tracking page, promised
delivery date, shipped time)

Revision ID: 0020_shipping
Revises: 0019_review_answers
Create Date: 2026-12-03 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes


revision = '0020_shipping'
down_revision = '0019_review_answers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('purchases') as batch:
        batch.add_column(sa.Column('carrier', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('tracking_url', sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column('promised_by', sa.Date(), nullable=True))
        batch.add_column(sa.Column('shipped_at', trustseal.dbtypes.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('purchases') as batch:
        for column in ('shipped_at', 'promised_by', 'tracking_url', 'carrier'):
            batch.drop_column(column)
