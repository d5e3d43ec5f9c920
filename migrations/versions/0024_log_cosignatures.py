"""log_cosignatures: the witnesses' cosignatures of the log's C2SP checkpoints

Revision ID: 0024_log_cosignatures
Revises: 0023_merchant_sector
Create Date: 2026-12-03 16:00:00

"""
from alembic import op
import sqlalchemy as sa

from trustseal.dbtypes import UTCDateTime


revision = '0024_log_cosignatures'
down_revision = '0023_merchant_sector'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'log_cosignatures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tree_size', sa.BigInteger(), nullable=False),
        sa.Column('witness', sa.String(length=255), nullable=False),
        sa.Column('key_id', sa.BigInteger(), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('signed_at', UTCDateTime(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tree_size', 'witness', 'key_id'),
    )
    with op.batch_alter_table('log_cosignatures') as batch:
        batch.create_index(batch.f('ix_log_cosignatures_tree_size'), ['tree_size'], unique=False)


def downgrade():
    with op.batch_alter_table('log_cosignatures') as batch:
        batch.drop_index(batch.f('ix_log_cosignatures_tree_size'))
    op.drop_table('log_cosignatures')
