"""hardening: job leases and heartbeats, mail outbox, shared rate limits, server-side
sessions, sign-in throttles, confirmed sign-ups, TOTP replay

Revision ID: 0008_hardening
Revises: 0007_accounts
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes


revision = '0008_hardening'
down_revision = '0007_accounts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=100), nullable=True))
    op.execute("UPDATE jobs SET status = 'failed' WHERE status = 'dead'")
    # Finished jobs of these kinds kept a reset link, a follow-up code or a customer's
    # email in their payload.
    op.execute(
        "DELETE FROM jobs WHERE kind IN ('accounts.reset_email', 'book.copy', 'stores.privacy') "
        "AND status IN ('done', 'failed')"
    )

    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=100), nullable=False),
    sa.Column('started_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('beat_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('jobs_done', sa.Integer(), nullable=False),
    sa.Column('jobs_failed', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('stopped_at', trustseal.dbtypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeats'))
    )
    with op.batch_alter_table('worker_heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_heartbeats_beat_at'), ['beat_at'], unique=False)

    op.create_table('mail_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=True),
    sa.Column('created_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', trustseal.dbtypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox')),
    sa.UniqueConstraint('message_id', name=op.f('uq_mail_outbox_message_id'))
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_outbox_sent_at'), ['sent_at'], unique=False)

    op.create_table('rate_limit_counters',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_counters'))
    )
    with op.batch_alter_table('rate_limit_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_limit_counters_expires_at'), ['expires_at'], unique=False)

    op.create_table('account_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('principal', sa.String(length=40), nullable=False),
    sa.Column('created_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('ended_at', trustseal.dbtypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_account_sessions'))
    )
    with op.batch_alter_table('account_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_sessions_principal'), ['principal'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_sessions_expires_at'), ['expires_at'], unique=False)

    op.create_table('sign_in_throttles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', trustseal.dbtypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_throttles'))
    )
    with op.batch_alter_table('sign_in_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_throttles_updated_at'), ['updated_at'], unique=False)

    op.create_table('signup_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=True),
    sa.Column('expires_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', trustseal.dbtypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signup_requests')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_signup_requests_token_hash'))
    )
    with op.batch_alter_table('signup_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signup_requests_expires_at'), ['expires_at'], unique=False)


def downgrade():
    for table, indexes in (
        ('signup_requests', ['ix_signup_requests_expires_at']),
        ('sign_in_throttles', ['ix_sign_in_throttles_updated_at']),
        ('account_sessions', ['ix_account_sessions_expires_at', 'ix_account_sessions_principal']),
        ('rate_limit_counters', ['ix_rate_limit_counters_expires_at']),
        ('mail_outbox', ['ix_mail_outbox_sent_at']),
        ('worker_heartbeats', ['ix_worker_heartbeats_beat_at']),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
    op.execute("UPDATE jobs SET status = 'dead' WHERE status = 'failed'")
    op.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'")
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
