"""merchants.public_version: the badge's cache key, bumped by every domain that changes it

Revision ID: 0013_public_version
Revises: 0012_jobs_and_data_keys
Create Date: 2026-12-02 17:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_public_version'
down_revision = '0012_jobs_and_data_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('public_version')
