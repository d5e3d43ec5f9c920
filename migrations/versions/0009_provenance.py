"""provenance of purchases and reviews, fraud signals, verified domains, unique RUC

Revision ID: 0009_provenance
Revises: 0008_hardening
Create Date: 2026-12-02 04:30:00

"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes


revision = '0009_provenance'
down_revision = '0008_hardening'
branch_labels = None
depends_on = None


def upgrade():
    # Purchases: every existing one is declared (attested = false): store orders came
    # through webhooks, whose secret the shop holds, or through fetches no longer told apart
    # from them. A store's are declared via its platform ('api' if the store row is gone).
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attested', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('origin', sa.String(length=64), nullable=False, server_default='api'))
    op.execute(
        "UPDATE purchases SET attested = false, origin = COALESCE((SELECT stores.platform "
        "FROM stores WHERE 'store:' || CAST(stores.id AS VARCHAR) = purchases.source), 'api') "
        "WHERE source LIKE 'store:%'"
    )

    op.create_table('declared_link_counts',
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.String(length=13), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_declared_link_counts_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('merchant_id', 'hour', name=op.f('pk_declared_link_counts'))
    )

    # Reviews: the provenance they were written on, and the detector's keyed hashes.
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification_level', sa.String(length=10), nullable=False, server_default='declared'))
        batch_op.add_column(sa.Column('verification_source', sa.String(length=64), nullable=False, server_default='api'))
        batch_op.add_column(sa.Column('reviewer_network', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('identity_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('text_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_reviews_merchant_created', ['merchant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_reviews_merchant_network', ['merchant_id', 'reviewer_network', 'created_at'], unique=False)
        batch_op.create_index('ix_reviews_merchant_identity', ['merchant_id', 'identity_key', 'created_at'], unique=False)
        batch_op.create_index('ix_reviews_merchant_text', ['merchant_id', 'text_key', 'created_at'], unique=False)
    # Existing reviews are declared, their source the purchase's origin (their log leaves
    # carry no verification: a verifier counts those as declared, see docs/verify.md).
    op.execute(
        "UPDATE reviews SET verification_level = 'declared', verification_source = "
        "COALESCE((SELECT purchases.origin FROM purchases "
        "WHERE purchases.id = reviews.purchase_id), 'api')"
    )
    with op.batch_alter_table('review_aggregates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared', sa.Integer(), nullable=False, server_default='0'))
    op.execute(
        "UPDATE review_aggregates SET declared = (SELECT count(*) FROM reviews "
        "WHERE reviews.merchant_id = review_aggregates.merchant_id "
        "AND reviews.status = 'published' AND reviews.verification_level = 'declared')"
    )

    # Merchants: verified domains (every existing merchant was created by staff or has
    # been public: verified), and one merchant per RUC.
    duplicates = op.get_bind().execute(
        sa.text("SELECT ruc FROM merchants WHERE ruc IS NOT NULL GROUP BY ruc HAVING count(*) > 1")
    ).fetchall()  # every existing merchant is verified: each RUC must be unique already
    if duplicates:
        raise RuntimeError(
            "several merchants share a RUC; give each its own (or none) before upgrading: "
            + ", ".join(row[0] for row in duplicates)
        )
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('domain_status', sa.String(length=10), nullable=False, server_default='verified'))
        batch_op.add_column(sa.Column('domain_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('domain_method', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('domain_verified_at', trustseal.dbtypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('domain_reason', sa.Text(), nullable=True))
    op.execute("UPDATE merchants SET domain_method = 'created', domain_verified_at = created_at")
    # One verified merchant per RUC; pending sign-ups may claim one without holding it.
    op.create_index(
        'uq_merchants_ruc_verified', 'merchants', ['ruc'], unique=True,
        postgresql_where=sa.text("domain_status = 'verified'"),
        sqlite_where=sa.text("domain_status = 'verified'"),
    )

    op.create_table('fraud_signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('review_ids', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', trustseal.dbtypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_users.id'], name=op.f('fk_fraud_signals_decided_by_staff_users')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_fraud_signals_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_signals')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_fraud_signals_dedup_key'))
    )
    with op.batch_alter_table('fraud_signals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fraud_signals_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('ix_fraud_signals_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_fraud_signals_merchant_kind_id', ['merchant_id', 'kind', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('fraud_signals', schema=None) as batch_op:
        batch_op.drop_index('ix_fraud_signals_merchant_kind_id')
        batch_op.drop_index('ix_fraud_signals_status_id')
        batch_op.drop_index(batch_op.f('ix_fraud_signals_merchant_id'))
    op.drop_table('fraud_signals')
    op.drop_table('declared_link_counts')
    op.drop_index('uq_merchants_ruc_verified', table_name='merchants')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        for column in ('domain_reason', 'domain_verified_at', 'domain_method', 'domain_token', 'domain_status'):
            batch_op.drop_column(column)
    with op.batch_alter_table('review_aggregates', schema=None) as batch_op:
        batch_op.drop_column('declared')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        for index in ('ix_reviews_merchant_text', 'ix_reviews_merchant_identity', 'ix_reviews_merchant_network', 'ix_reviews_merchant_created'):
            batch_op.drop_index(index)
        for column in ('text_key', 'identity_key', 'reviewer_network', 'verification_source', 'verification_level'):
            batch_op.drop_column(column)
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_column('origin')
        batch_op.drop_column('attested')
