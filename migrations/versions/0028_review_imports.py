"""review_imports and imported_reviews: review files uploaded by a merchant (the file kept
until it is read, progress, the rows left out) and the reviews they brought in, shown
apart as not verified and never counted; imported_review_moderation: certifier staff's
removals and restores of them

Revision ID: 0028_review_imports
Revises: 0027_product_reviews
Create Date: 2026-12-05 10:00:00

"""
from alembic import op
import sqlalchemy as sa

from trustseal.dbtypes import UTCDateTime


revision = '0028_review_imports'
down_revision = '0027_product_reviews'
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('queued', 'running')")


def upgrade():
    op.create_table(
        'review_imports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('format', sa.String(length=20), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('delimiter', sa.String(length=1), nullable=False),
        sa.Column('date_order', sa.String(length=3), nullable=True),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('processed', sa.Integer(), nullable=False),
        sa.Column('imported', sa.Integer(), nullable=False),
        sa.Column('duplicates', sa.Integer(), nullable=False),
        sa.Column('error_count', sa.Integer(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('failure', sa.String(length=500), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_imports_merchant_id', 'review_imports', ['merchant_id'])
    # At most one import per merchant queued or running.
    op.create_index(
        'uq_review_imports_active_merchant',
        'review_imports',
        ['merchant_id'],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_table(
        'imported_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('format', sa.String(length=20), nullable=False),
        sa.Column('author', sa.String(length=80), nullable=True),
        sa.Column('rating', sa.SmallInteger(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('product_id', sa.String(length=100), nullable=True),
        sa.Column('reviewed_at', UTCDateTime(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('log_index', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('removal_reason', sa.String(length=20), nullable=True),
        sa.Column('removed_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['import_id'], ['review_imports.id']),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'merchant_id', 'fingerprint', name='uq_imported_reviews_merchant_id_fingerprint'
        ),
        sa.UniqueConstraint('log_index', name='uq_imported_reviews_log_index'),
    )
    op.create_index('ix_imported_reviews_import_id', 'imported_reviews', ['import_id'])
    op.create_index(
        'ix_imported_reviews_listing',
        'imported_reviews',
        ['merchant_id', 'reviewed_at', 'id', 'status'],
    )
    op.create_index(
        'ix_imported_reviews_product',
        'imported_reviews',
        ['merchant_id', 'product_id', 'reviewed_at', 'id', 'status'],
    )
    op.create_table(
        'imported_review_moderation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('imported_review_id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('log_index', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['imported_review_id'], ['imported_reviews.id']),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('log_index', name='uq_imported_review_moderation_log_index'),
    )
    op.create_index(
        'ix_imported_review_moderation_imported_review_id',
        'imported_review_moderation',
        ['imported_review_id'],
    )


def downgrade():
    op.drop_index(
        'ix_imported_review_moderation_imported_review_id',
        table_name='imported_review_moderation',
    )
    op.drop_table('imported_review_moderation')
    op.drop_index('ix_imported_reviews_product', table_name='imported_reviews')
    op.drop_index('ix_imported_reviews_listing', table_name='imported_reviews')
    op.drop_index('ix_imported_reviews_import_id', table_name='imported_reviews')
    op.drop_table('imported_reviews')
    op.drop_index('uq_review_imports_active_merchant', table_name='review_imports')
    op.drop_index('ix_review_imports_merchant_id', table_name='review_imports')
    op.drop_table('review_imports')
