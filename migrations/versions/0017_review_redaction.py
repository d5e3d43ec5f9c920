"""reviews.text_log_index and redaction_reason: part of a review's text hidden by staff,
the new text committed to by a logged review.redacted leaf

Revision ID: 0017_review_redaction
Revises: 0016_store_sync
Create Date: 2026-12-03 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0017_review_redaction'
down_revision = '0016_store_sync'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reviews') as batch:
        batch.add_column(sa.Column('text_log_index', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('redaction_reason', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('reviews') as batch:
        batch.drop_column('redaction_reason')
        batch.drop_column('text_log_index')
