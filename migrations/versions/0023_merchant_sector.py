"""merchants.sector: what a shop sells, as it declares it (its analytics compare it with
its sector's certified shops once there are enough)

Revision ID: 0023_merchant_sector
Revises: 0022_resolution_kpis
Create Date: 2026-12-03 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0023_merchant_sector'
down_revision = '0022_resolution_kpis'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('merchants') as batch:
        batch.add_column(sa.Column('sector', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('merchants') as batch:
        batch.drop_column('sector')
