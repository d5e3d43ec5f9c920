"""review_moderation.log_index: each redaction names its review.redacted leaf, so log verify
finds a leaf whose record is gone

Revision ID: 0021_redaction_leaf
Revises: 0020_shipping
Create Date: 2026-12-03 18:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0021_redaction_leaf'
down_revision = '0020_shipping'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('review_moderation') as batch:
        batch.add_column(sa.Column('log_index', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('review_moderation') as batch:
        batch.drop_column('log_index')
