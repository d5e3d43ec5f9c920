"""feed_states, feed_entries: the Google review feeds kept between requests (each review's
rendered entry, and per merchant and feed the log leaf and public version they reflect)

Revision ID: 0029_feeds
Revises: 0028_review_imports
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa

from trustseal.dbtypes import UTCDateTime


revision = '0029_feeds'
down_revision = '0028_review_imports'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'feed_states',
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('feed', sa.String(length=20), nullable=False),
        sa.Column('format', sa.Integer(), nullable=False),
        sa.Column('log_index', sa.BigInteger(), nullable=False),
        sa.Column('public_version', sa.Integer(), nullable=False),
        sa.Column('head_sha256', sa.String(length=64), nullable=False),
        sa.Column('etag', sa.String(length=64), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.PrimaryKeyConstraint('merchant_id', 'feed'),
    )
    op.create_table(
        'feed_entries',
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('feed', sa.String(length=20), nullable=False),
        sa.Column('entry_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('review_id', sa.BigInteger(), nullable=False),
        sa.Column('written_at', UTCDateTime(), nullable=False),
        sa.Column('has_text', sa.Boolean(), nullable=False),
        sa.Column('product_id', sa.String(length=100), nullable=True),
        sa.Column('product_sha256', sa.String(length=64), nullable=True),
        sa.Column('xml', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.PrimaryKeyConstraint('merchant_id', 'feed', 'entry_id'),
    )
    op.create_index(
        'ix_feed_entries_order',
        'feed_entries',
        ['merchant_id', 'feed', 'written_at', 'entry_id'],
    )
    op.create_index(
        'ix_feed_entries_review', 'feed_entries', ['merchant_id', 'feed', 'review_id']
    )
    op.create_index(
        'ix_feed_entries_product', 'feed_entries', ['merchant_id', 'feed', 'product_id']
    )


def downgrade():
    op.drop_index('ix_feed_entries_product', table_name='feed_entries')
    op.drop_index('ix_feed_entries_review', table_name='feed_entries')
    op.drop_index('ix_feed_entries_order', table_name='feed_entries')
    op.drop_table('feed_entries')
    op.drop_table('feed_states')
