"""product_reviews, product_aggregates: a reviewer's rating of each product of the
purchase, and each product's running sums

Revision ID: 0027_product_reviews
Revises: 0026_countries_and_languages
Create Date: 2026-12-03 18:30:00

"""
from alembic import op
import sqlalchemy as sa

from trustseal.dbtypes import UTCDateTime


revision = '0027_product_reviews'
down_revision = '0026_countries_and_languages'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'product_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('review_id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.String(length=100), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('log_index', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.ForeignKeyConstraint(['review_id'], ['reviews.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('review_id', 'product_id', name='uq_product_reviews_review_product'),
    )
    op.create_index('ix_product_reviews_review_id', 'product_reviews', ['review_id'])
    op.create_index(
        'ix_product_reviews_product_id', 'product_reviews', ['merchant_id', 'product_id', 'id']
    )
    op.create_table(
        'product_aggregates',
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.String(length=100), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('sku', sa.String(length=100), nullable=True),
        sa.Column('url', sa.String(length=2000), nullable=True),
        sa.Column('image_url', sa.String(length=2000), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('rating_sum', sa.Integer(), nullable=False),
        sa.Column('dist_1', sa.Integer(), nullable=False),
        sa.Column('dist_2', sa.Integer(), nullable=False),
        sa.Column('dist_3', sa.Integer(), nullable=False),
        sa.Column('dist_4', sa.Integer(), nullable=False),
        sa.Column('dist_5', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.PrimaryKeyConstraint('merchant_id', 'product_id'),
    )


def downgrade():
    op.drop_table('product_aggregates')
    op.drop_index('ix_product_reviews_product_id', table_name='product_reviews')
    op.drop_index('ix_product_reviews_review_id', table_name='product_reviews')
    op.drop_table('product_reviews')
