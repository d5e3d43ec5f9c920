"""hook_endpoints, hook_deliveries, hook_attempts: outgoing webhooks (a merchant's
URLs subscribed to events, each delivery and each attempt with its response code)

Revision ID: 0025_outgoing_webhooks
Revises: 0024_log_cosignatures
Create Date: 2026-12-03 17:00:00

"""
from alembic import op
import sqlalchemy as sa

from trustseal.dbtypes import UTCDateTime


revision = '0025_outgoing_webhooks'
down_revision = '0024_log_cosignatures'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'hook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('secret_sealed', sa.Text(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('deleted_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_hook_endpoints_merchant_id', 'hook_endpoints', ['merchant_id'])
    op.create_table(
        'hook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('endpoint_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['endpoint_id'], ['hook_endpoints.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_hook_deliveries_endpoint_id', 'hook_deliveries', ['endpoint_id'])
    op.create_table(
        'hook_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('attempted_at', UTCDateTime(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['hook_deliveries.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_hook_attempts_delivery_id', 'hook_attempts', ['delivery_id'])


def downgrade():
    op.drop_index('ix_hook_attempts_delivery_id', table_name='hook_attempts')
    op.drop_table('hook_attempts')
    op.drop_index('ix_hook_deliveries_endpoint_id', table_name='hook_deliveries')
    op.drop_table('hook_deliveries')
    op.drop_index('ix_hook_endpoints_merchant_id', table_name='hook_endpoints')
    op.drop_table('hook_endpoints')
