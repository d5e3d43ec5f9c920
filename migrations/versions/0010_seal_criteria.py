"""binding seal criteria: verdict provenance and dates, automatic decisions by rule

Revision ID: 0010_seal_criteria
Revises: 0009_provenance
Create Date: 2026-12-02 14:00:00

"""
from alembic import op
import sqlalchemy as sa

import trustseal.dbtypes


revision = '0010_seal_criteria'
down_revision = '0009_provenance'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('seal_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('automatic', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('rule', sa.String(length=40), nullable=True))

    with op.batch_alter_table('seal_criterion_reviews', schema=None) as batch_op:
        batch_op.alter_column('verdict', existing_type=sa.String(length=10), type_=sa.String(length=16), existing_nullable=False)
        batch_op.add_column(sa.Column('verdict_evidence_url', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('override', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('verdict_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checked_at', trustseal.dbtypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_seal_criterion_reviews_verdict_by_staff_users'), 'staff_users', ['verdict_by'], ['id'])
    # a verdict given before dates were kept dates from its last change
    op.execute("UPDATE seal_criterion_reviews SET checked_at = updated_at WHERE verdict <> 'pending'")

    op.create_table('seal_monitor_warnings',
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('created_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_seal_monitor_warnings_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('merchant_id', 'rule', 'day', name=op.f('pk_seal_monitor_warnings'))
    )

    # what certifier staff did about a book entry (a note, or the merchant contacted)
    op.create_table('book_staff_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', trustseal.dbtypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['book_entries.id'], name=op.f('fk_book_staff_notes_entry_id_book_entries')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_book_staff_notes_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_book_staff_notes'))
    )
    with op.batch_alter_table('book_staff_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_book_staff_notes_entry_id'), ['entry_id'], unique=False)


def downgrade():
    op.drop_table('seal_monitor_warnings')

    with op.batch_alter_table('book_staff_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_book_staff_notes_entry_id'))

    op.drop_table('book_staff_notes')

    with op.batch_alter_table('seal_criterion_reviews', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_seal_criterion_reviews_verdict_by_staff_users'), type_='foreignkey')
        batch_op.drop_column('checked_at')
        batch_op.drop_column('verdict_by')
        batch_op.drop_column('override')
        batch_op.drop_column('verdict_evidence_url')
        batch_op.alter_column('verdict', existing_type=sa.String(length=16), type_=sa.String(length=10), existing_nullable=False)

    with op.batch_alter_table('seal_decisions', schema=None) as batch_op:
        batch_op.drop_column('rule')
        batch_op.drop_column('automatic')
