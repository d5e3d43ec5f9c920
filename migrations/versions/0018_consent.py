"""suppressed_addresses (consumers who unsubscribed, for every merchant) and
review_invitations.reminded_at (the one reminder of an unused invitation)

Revision ID: 0018_consent
Revises: 0017_review_redaction
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes


revision = '0018_consent'
down_revision = '0017_review_redaction'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'suppressed_addresses',
        sa.Column('address_hash', sa.String(length=64), nullable=False),
        sa.Column('how', sa.String(length=10), nullable=False),
        sa.Column('created_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('address_hash', name=op.f('pk_suppressed_addresses')),
    )
    with op.batch_alter_table('review_invitations') as batch:
        batch.add_column(sa.Column('reminded_at', trustseal.dbtypes.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('review_invitations') as batch:
        batch.drop_column('reminded_at')
    op.drop_table('suppressed_addresses')
