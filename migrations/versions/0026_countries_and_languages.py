"""merchants.country_source, stores.country and stores.language: how a merchant's country
is known (nobody said, declared, or a platform account's), and the country of a store's
platform account with the language its orders default to (a VTEX account in Brazil:
Portuguese)

Revision ID: 0026_countries_and_languages
Revises: 0025_outgoing_webhooks
Create Date: 2026-12-04 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0026_countries_and_languages'
down_revision = '0025_outgoing_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    # Nothing recorded before how a merchant's country was known: every existing one is
    # the default (Peru) until staff or a platform account says otherwise.
    with op.batch_alter_table('merchants') as batch:
        batch.add_column(
            sa.Column(
                'country_source', sa.String(length=10), nullable=False, server_default='default'
            )
        )
    with op.batch_alter_table('stores') as batch:
        batch.add_column(sa.Column('country', sa.String(length=2), nullable=True))
        batch.add_column(sa.Column('language', sa.String(length=5), nullable=True))


def downgrade():
    with op.batch_alter_table('stores') as batch:
        batch.drop_column('language')
        batch.drop_column('country')
    with op.batch_alter_table('merchants') as batch:
        batch.drop_column('country_source')
