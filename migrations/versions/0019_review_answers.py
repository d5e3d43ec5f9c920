"""reviews: on_time, product/delivery/service ratings and recommend (0-10), all optional

Revision ID: 0019_review_answers
Revises: 0018_consent
Create Date: 2026-12-03 14:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0019_review_answers'
down_revision = '0018_consent'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reviews') as batch:
        batch.add_column(sa.Column('on_time', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('product_rating', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('delivery_rating', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('service_rating', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('recommend', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('reviews') as batch:
        for column in ('recommend', 'service_rating', 'delivery_rating', 'product_rating', 'on_time'):
            batch.drop_column(column)
